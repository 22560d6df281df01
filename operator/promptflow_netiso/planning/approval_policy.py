"""PrivateEndpointApproval's one decision, pure: who may be approved and why. `decide()` approves a connection only
when it is Pending, has been Pending for at least the policy's minimum time (Azure's own auto-approval gets its
chance first) and its requester is one the policy names (a declared subscription or private endpoint ID pattern,
narrowed, when asked, to the workspace's own managed-network endpoint). Observe mode and the `skip` reconcile policy
turn each approval into WouldApprove. Nothing here ever asks to reject or delete anything.

Also the small shared vocabulary of approval planning (connection states, keys, times), which planning/approval.py
re-exports."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from enum import Enum
from typing import Iterable, Mapping, Protocol

from ..model import arm_id
from ..model.approval import ApprovalMode, ApprovalSpec, subscription_of
from ..model.common import KIND_APPROVAL

PENDING, APPROVED = "pending", "approved"
IN_PROGRESS = frozenset({"creating", "updating", "deleting", "accepted"})  # provisioningState of a connection at work

# Reasons a person reads in conditions and Events (PascalCase, stable: alerts and docs refer to them).
REASON_MANUAL_APPROVAL_REQUIRED = "ManualApprovalRequired"
REASON_APPROVAL_FAILED = "ApprovalFailed"
REASON_WORKSPACE_NOT_READY = "WorkspaceNotReady"
REASON_IN_PROGRESS = "ApprovalInProgress"
PERSON_NEEDED = "a person must approve it"

# Providers cap the description (140 characters is the smallest documented limit); ours must fit whole.
MAX_DESCRIPTION = 140


class ConnectionLike(Protocol):
    """What the planner reads of azure.pec.Connection (kept structural so planning imports nothing from azure/)."""

    name: str
    private_endpoint_id: str | None
    status: str
    description: str | None
    # optional: provisioning_state (read with getattr; some providers leave it out)


arm_key = arm_id.key  # ARM IDs are case-insensitive: compared lower-cased, without a trailing slash


def connection_key(target: str, name: str) -> tuple[str, str]:
    return arm_key(target), (name or "").lower()


def rfc3339(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def whole_second_up(t: dt.datetime) -> dt.datetime:
    """Status keeps whole seconds; rounding a first sighting *up* means the minimum Pending time is never cut short
    by the truncation when the value is read back."""
    return t if t.microsecond == 0 else t.replace(microsecond=0) + dt.timedelta(seconds=1)


def parse_time(raw: object) -> dt.datetime | None:
    """An RFC3339 timestamp from status; None (treated as "not known") when absent or unreadable."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


# --- the policy and what the workspace vouches for -----------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """One PrivateEndpointApproval object as the planner sees it: its spec, its identity and its effective mode."""

    namespace: str
    name: str
    spec: ApprovalSpec
    skip: bool = False  # reconcile-policy `skip`: observe and report, write nothing (same as Observe mode)
    uid: str = ""  # metadata.uid: the attribution token is derived from it (a re-created object is another policy)

    @property
    def observe(self) -> bool:
        return self.skip or self.spec.mode == ApprovalMode.OBSERVE

    @property
    def reference(self) -> str:
        return f"{KIND_APPROVAL} {self.namespace}/{self.name}"

    @property
    def token(self) -> str:
        """`[pfn-<10 hex>]`: a short hash of this object's UID. It opens every description this policy writes, so it
        survives any truncation and no other policy (`app` vs `app2`, or a long name cut at 140) shares it."""
        digest = hashlib.sha256((self.uid or self.reference).encode()).hexdigest()[:10]
        return f"[pfn-{digest}]"

    def approval_description(self) -> str:
        """What the approval PUT writes on the connection: the token first, the user's text, then the operator and
        this object, so whoever looks at the target in the portal can tell who approved it and why."""
        suffix = f" (promptflow-netiso, {self.reference})"
        text = self.spec.description.strip()
        room = MAX_DESCRIPTION - len(self.token) - 1 - len(suffix)
        if len(text) > room:  # the user's text gives way first, then (very long names) the end of the reference
            text = text[: max(room - 3, 0)].rstrip() + "..." if room > 3 else ""
        full = f"{self.token} {text}{suffix}" if text else f"{self.token}{suffix}"
        return full if len(full) <= MAX_DESCRIPTION else full[: MAX_DESCRIPTION - 3].rstrip() + "..."

    def carries_token(self, description: str | None) -> bool:
        """Exact prefix test, never a substring one. On its own this proves nothing (a person can copy the text):
        an approval is only claimed when status also holds this policy's in-flight record for that connection."""
        return (description or "").strip().lower().startswith(self.token.lower())


@dataclass(frozen=True)
class Correlation:
    """What the policy's PromptFlowWorkspace vouches for: per target of one of its PrivateEndpoint OutboundRules, the
    private endpoint its managed network creates for that rule. Those live in a Microsoft-owned subscription, so a
    subscription allow-list cannot express them. Built by the handler from Kubernetes state; pure data here."""

    workspace: str | None = None
    unavailable: str | None = None  # why the workspace cannot vouch for anyone yet; None when it can
    endpoint_names: frozenset[tuple[str, str]] = frozenset()  # (arm_key(target), lower-case private endpoint name)

    def vouches_for(self, target: str, private_endpoint_id: str) -> bool:
        if self.unavailable is not None:
            return False
        name = private_endpoint_name(private_endpoint_id)
        return name is not None and (arm_key(target), name) in self.endpoint_names


def private_endpoint_name(private_endpoint_id: str) -> str | None:
    """The lower-case name of a Microsoft.Network/privateEndpoints resource ID; None for any other kind of ID."""
    parts = arm_key(private_endpoint_id).split("/")
    shape = len(parts) == 9 and parts[0] == "" and parts[1] == "subscriptions" and parts[3] == "resourcegroups"
    if not shape or parts[5:8] != ["providers", "microsoft.network", "privateendpoints"] or not parts[8]:
        return None
    return parts[8]


def managed_network_endpoint_name(rule_name: str, managed_network_id: str) -> str:
    """The private endpoint a managed network creates for a PrivateEndpoint rule: `<rule>_<first 8 hex of the
    network ID>` (a rule Azure created already ends with it). Lower-case, for comparison."""
    suffix = "_" + managed_network_id.replace("-", "")[:8].lower()
    rule = rule_name.lower()
    return rule if rule.endswith(suffix) else rule + suffix


@dataclass(frozen=True)
class WorkspaceIdentity:
    """What a PromptFlowWorkspace says about its Azure workspace (the handler reads it from a kopf index)."""

    resource_id: str  # status.workspaceResourceId, else derived from spec.azure
    found: bool  # the workspace handler has found the Azure workspace
    managed_network_id: str | None = None  # status.managedNetworkId when the workspace handler reports it


def workspace_identity(spec: Mapping | None, status: Mapping | None) -> WorkspaceIdentity | None:
    """None for a spec too broken to name an Azure workspace."""
    spec, status = spec or {}, status or {}
    rid = status.get("workspaceResourceId")
    found = isinstance(rid, str) and bool(rid)
    if not found:
        az = spec.get("azure") or {}
        if not all(az.get(k) for k in ("subscriptionId", "resourceGroup", "workspaceName")):
            return None
        rid = (f"/subscriptions/{az['subscriptionId']}/resourceGroups/{az['resourceGroup']}"
               f"/providers/Microsoft.MachineLearningServices/workspaces/{az['workspaceName']}")
    mnid = status.get("managedNetworkId")
    return WorkspaceIdentity(rid, found, mnid if isinstance(mnid, str) and mnid else None)


@dataclass(frozen=True)
class PrivateEndpointRule:
    """A PrivateEndpoint OutboundRule object, as far as correlation needs it."""

    workspace: str  # spec.workspaceRef.name
    azure_rule_name: str
    target: str  # spec.privateEndpoint.serviceResourceId
    status: str | None = None  # status.ruleStatus

    @property
    def active(self) -> bool:
        return (self.status or "").lower() == "active"


def private_endpoint_rule(name: str, spec: Mapping | None, status: Mapping | None) -> PrivateEndpointRule | None:
    """None for FQDN / ServiceTag rules and for specs too broken to say which workspace or target they mean."""
    spec, status = spec or {}, status or {}
    pe = spec.get("privateEndpoint") or {}
    workspace = (spec.get("workspaceRef") or {}).get("name")
    target = pe.get("serviceResourceId")
    if spec.get("type") != "PrivateEndpoint" or not workspace or not target:
        return None
    return PrivateEndpointRule(
        workspace=workspace,
        azure_rule_name=status.get("azureRuleName") or spec.get("ruleName") or name,
        target=target,
        status=status.get("ruleStatus"),
    )


def correlate(workspace: str, identity: WorkspaceIdentity | None, managed_network_id: str | None,
              rules: Iterable[PrivateEndpointRule], namespace: str = "") -> Correlation:
    """What the workspace vouches for. `managed_network_id` is the workspace's managedNetwork.networkId (from its
    status, or read from Azure by the handler). Deliberately strict: without the network ID nobody is vouched for,
    because `<rule>_<any 8 hex>` could be another workspace's endpoint with a rule of the same name."""
    if identity is None or not identity.found:
        where = f" in namespace {namespace}" if namespace else ""
        return Correlation(workspace=workspace, unavailable=(
            f"PromptFlowWorkspace {workspace}{where} is missing or has not found its Azure workspace yet"))
    if not managed_network_id:
        return Correlation(workspace=workspace, unavailable=f"workspace {workspace} has no managed network yet")
    names = {(arm_key(r.target), managed_network_endpoint_name(r.azure_rule_name, managed_network_id))
             for r in rules if r.workspace == workspace}
    return Correlation(workspace=workspace, endpoint_names=frozenset(names))


# --- the one decision -----------------------------------------------------------------------------------------------


class Verdict(Enum):
    APPROVE = "Approve"  # approve now (status shows Approved once Azure accepted it)
    WOULD_APPROVE = "WouldApprove"  # Observe mode: everything matched, nothing written
    NOT_ALLOWED = "NotAllowed"  # Pending, but the requester is nobody the policy names
    WAITING = "Waiting"  # allowed, but Pending for less than the minimum time (or a person must act)
    UNTOUCHED = "Untouched"  # not Pending: Approved, Rejected and Disconnected are never touched


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    eligible_at: dt.datetime | None = None  # WAITING on time: when the minimum Pending time is over


def requester_match(target: str, private_endpoint_id: str, policy: Policy, correlation: Correlation) -> str | None:
    """Which declared allow rule names this requester (a phrase for reasons and audit), or None. Only what a person
    wrote down (subscriptionIds, privateEndpointIdPatterns) can allow; a name match with the workspace's rules is a
    label here, and a further condition in `decide()` when allow.workspaceManagedNetwork asks for it."""
    allow = policy.spec.allow
    matched = None
    if allow.matches_subscription(private_endpoint_id):
        matched = f"allowed subscription {subscription_of(private_endpoint_id)}"
    else:
        pattern = allow.matching_pattern(private_endpoint_id)
        if pattern is not None:
            matched = f"allowed pattern {pattern}"
    if matched is not None and correlation.vouches_for(target, private_endpoint_id):
        matched += f", named like workspace {correlation.workspace}'s managed network endpoint"
    return matched


def decide(
    connection: ConnectionLike,
    target: str,
    policy: Policy,
    now: dt.datetime,
    correlation: Correlation,
    first_seen_pending: dt.datetime | None,
) -> Decision:
    """The only path to an approval. `first_seen_pending` is when this operator first saw the connection Pending
    (kept in status so a restart does not reset the clock); None means "just now"."""
    state = (connection.status or "").lower()
    if state != PENDING:
        return Decision(Verdict.UNTOUCHED, f"{connection.status or 'no state'}: only Pending connections are acted on")
    pe_id = connection.private_endpoint_id or ""
    if not pe_id:
        return Decision(Verdict.NOT_ALLOWED, "the connection names no private endpoint, so its requester is unknown")
    matched = requester_match(target, pe_id, policy, correlation)
    if matched is None:
        return Decision(Verdict.NOT_ALLOWED, f"requester {pe_id} (subscription {subscription_of(pe_id) or 'unknown'}) "
                        "is not in allow.subscriptionIds or allow.privateEndpointIdPatterns")
    if policy.spec.allow.workspace_managed_network and not correlation.vouches_for(target, pe_id):
        if correlation.unavailable is not None:
            # Not a verdict on the requester yet: the workspace cannot say what its endpoints are called.
            return Decision(Verdict.WAITING, f"requester is {matched}; waiting for the workspace to narrow the "
                            f"policy ({correlation.unavailable})")
        return Decision(Verdict.NOT_ALLOWED, f"requester {pe_id} is {matched.split(',')[0]}, but "
                        f"allow.workspaceManagedNetwork narrows the policy to workspace {correlation.workspace}'s "
                        "managed network endpoints and this one is not named like them")
    since = first_seen_pending or now
    eligible_at = since + dt.timedelta(seconds=policy.spec.min_pending_seconds)
    if policy.spec.min_pending_seconds > 0 and now < eligible_at:
        left = (eligible_at - now).total_seconds()
        return Decision(
            Verdict.WAITING,
            f"requester is {matched}; Pending since {rfc3339(since)}, eligible in {left:.0f}s "
            f"(minPendingSeconds {policy.spec.min_pending_seconds} gives Azure's auto-approval its chance first)",
            eligible_at,
        )
    busy = (getattr(connection, "provisioning_state", None) or "").lower()
    if busy in IN_PROGRESS:
        # An update is under way (perhaps our own PUT from before a restart): approving now would race it.
        return Decision(Verdict.WAITING, f"requester is {matched}; provisioningState {busy}: waiting for Azure to finish")
    if policy.observe:
        why = "reconcile-policy skip" if policy.skip else "Observe mode"
        return Decision(Verdict.WOULD_APPROVE, f"requester is {matched}; {why}: not approved")
    return Decision(Verdict.APPROVE, f"requester is {matched}")
