"""OutboundRule planning, pure (no I/O, no clock): desired rule + its workspace + what Azure holds -> a Plan.

Correctness of the kind lives here:
- ownership: only UserDefined rules are ever written; a same-named UserDefined rule that existed before our first PUT
  is a person's rule and is refused unless `spec.adopt`; Required/Recommended/Dependency rules are never touched;
- no write when Azure already matches (comparison is normalised the way ARM normalises: case-insensitive names and
  IDs, order-insensitive port lists and prefixes), so a converged rule costs reads only;
- status mirrors Azure (rule status, category, errorInformation verbatim, PE connection state on the target).

Flow per run (handlers/outbound_rule.py): `plan()` -> execute `Plan.actions` -> after a write, `plan()` again on
what Azure answered (it has no actions then) -> write its status/conditions, post Events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Protocol, Sequence

from ..conditions import FALSE, TRUE, UNKNOWN, condition
from . import intent, workspace_reasons
from .intent import PendingWrite
from .requeue import Retry  # noqa: F401  (re-exported: the planner's answer, obeyed via planning/requeue.py)
from ..model import arm_id
from ..model.common import CONDITION_READY, POLICY_DETACH_ON_DELETE, POLICY_MANAGE, POLICY_SKIP
from ..model.outbound_rule import (
    CONDITION_APPLIED,
    CONDITION_NO_EFFECT,
    CONDITION_WORKSPACE_READY,
    USER_DEFINED_CATEGORY,
    OutboundRuleSpec,
    RuleType,
)

MANAGE, SKIP, DETACH_ON_DELETE = POLICY_MANAGE, POLICY_SKIP, POLICY_DETACH_ON_DELETE  # model/common.py's values

# Azure's isolation modes as reported by the workspace (`Disabled` = no managed network at all).
ALLOW_INTERNET = "AllowInternetOutbound"
ALLOW_ONLY_APPROVED = "AllowOnlyApprovedOutbound"

# Status keys the operator keeps for itself: the ownership record and where the rule lives in Azure (so deletion
# works after the PromptFlowWorkspace object is gone).
STATUS_CREATED = "created"
STATUS_AZURE = "azure"

# Rule statuses in which Azure is still working: look again soon.
IN_PROGRESS_RULE_STATUSES = frozenset({"provisioning", "deleting"})
# Ready reasons of a rule that waits for something a short re-check will see (the handler's "waiting" timer runs
# only while Ready carries one of these): its workspace, Azure finishing a rule, a person approving a connection.
WAITING_REASONS = frozenset({"WorkspaceNotFound", "WorkspaceNotReady", "WorkspaceDeleting", "RuleProvisioning",
                             "RuleDeleting", "PrivateEndpointPending", "WaitingForManagedNetwork",
                             "WaitingForApproverRole"})
CONNECTION_BLOCKING_STATES = {"pending": "PrivateEndpointPending", "rejected": "PrivateEndpointRejected",
                              "disconnected": "PrivateEndpointDisconnected"}


class RuleLike(Protocol):
    """What the planner reads of azure.ml.OutboundRule (structural: planning imports nothing from azure/)."""

    name: str
    type: str | None
    category: str | None
    status: str | None
    destination: Any
    error_information: Any


class ConnectionLike(Protocol):
    """What the planner reads of azure.pec.Connection."""

    name: str
    target: str
    private_endpoint_id: str | None
    status: str | None


# --- inputs ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coordinates:
    subscription_id: str
    resource_group: str
    workspace_name: str

    def as_tuple(self) -> tuple[str, str, str]:
        return self.subscription_id, self.resource_group, self.workspace_name

    def to_status(self) -> dict[str, str]:
        return {"subscriptionId": self.subscription_id, "resourceGroup": self.resource_group,
                "workspaceName": self.workspace_name}

    @classmethod
    def from_status(cls, raw: Any) -> "Coordinates | None":
        if not isinstance(raw, Mapping):
            return None
        values = [raw.get(k) for k in ("subscriptionId", "resourceGroup", "workspaceName")]
        if not all(isinstance(v, str) and v for v in values):
            return None
        return cls(*values)


@dataclass(frozen=True)
class WorkspaceFacts:
    """What a rule needs to know about its PromptFlowWorkspace object (the handler builds it from a kopf index)."""

    name: str
    found: bool = True
    ready: bool = False
    # The workspace's own Ready reason/message, repeated to the user when it is stuck ("" while it is on its way:
    # workspace_stuck_on).
    ready_reason: str = ""
    ready_message: str = ""
    deleting: bool = False
    coordinates: Coordinates | None = None
    # Isolation as Azure reports it (workspace status), else as the workspace spec asks; None = no managed network.
    isolation_mode: str | None = None
    managed_network: bool = True  # False for BringYourOwnVirtualNetwork workspaces

    @property
    def lets_rules_through(self) -> bool:
        """Found, not being deleted, Ready, with coordinates: its rules may go on to Azure (workspace_gate)."""
        return self.found and not self.deleting and self.ready and self.coordinates is not None


# The workspace's Ready reasons that mean it is on its way. They change at each of its steps, so a rule does not
# repeat them: a rule waiting for a workspace is written once, not once per step of the workspace (and its sleeper is
# not woken by each step). A stuck workspace's reason and message are repeated: they say what to fix.
WORKSPACE_PROGRESS_REASONS = frozenset({
    "", "Reconciling", workspace_reasons.REASON_PROVISIONING, workspace_reasons.REASON_APPLYING,
    workspace_reasons.REASON_ASSIGNING, workspace_reasons.REASON_WAITING_FOR_WORKSPACE})


def workspace_stuck_on(ready: Mapping | None, current: bool) -> tuple[str, str]:
    """(reason, message) of a workspace's Ready condition to repeat on its rules: ("", "") while it is on its way
    (Ready not written yet, or not for its latest generation, or a progress reason)."""
    ready = ready or {}
    reason = ready.get("reason", "")
    if not current or ready.get("status") == TRUE or reason in WORKSPACE_PROGRESS_REASONS:
        return "", ""
    return reason, ready.get("message", "")


@dataclass(frozen=True)
class Previous:
    """What the object's status (or this process's memory of its last write, which is fresher) says already."""

    created: bool = False  # our PUT succeeded once (or we adopted): the Azure rule is ours to restore and delete
    coordinates: Coordinates | None = None
    applied_generation: int | None = None  # observedGeneration of an Applied=True condition
    reasons: Mapping[str, str] = field(default_factory=dict)  # condition type -> reason (for one-shot Events)
    pending: PendingWrite | None = None  # a write recorded before it was sent and not yet known to have landed

    @classmethod
    def from_status(cls, status: Mapping[str, Any] | None) -> "Previous":
        status = status or {}
        reasons: dict[str, str] = {}
        applied_generation = None
        for c in status.get("conditions") or []:
            if isinstance(c, Mapping) and c.get("type"):
                reasons[c["type"]] = f"{c.get('status')}/{c.get('reason')}"
                if c["type"] == CONDITION_APPLIED and c.get("status") == TRUE:
                    applied_generation = c.get("observedGeneration")
        return cls(
            created=bool(status.get(STATUS_CREATED)),
            coordinates=Coordinates.from_status(status.get(STATUS_AZURE)),
            applied_generation=applied_generation,
            reasons=reasons,
            pending=PendingWrite.from_status(status),
        )

    def had(self, type_: str, status: str, reason: str) -> bool:
        return self.reasons.get(type_) == f"{status}/{reason}"


@dataclass(frozen=True)
class Observed:
    """Azure as read in this run. `rule` is the same-named rule or None; `connections` are the PE target's
    connections (None when not read, e.g. not a PE rule); `connections_error` is why they could not be read."""

    rule: RuleLike | None
    connections: Sequence[ConnectionLike] | None = None
    connections_error: str | None = None


# --- outputs --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PutRule:
    name: str
    properties: dict[str, Any]
    reason: str  # Event reason once the PUT succeeded: Created | Updated | DriftCorrected | DriftRestored | Reapplied
    message: str
    event_type: str = "Normal"


@dataclass(frozen=True)
class DeleteRule:
    name: str
    reason: str
    message: str


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class Plan:
    actions: tuple[PutRule | DeleteRule, ...] = ()
    conditions: tuple[dict, ...] = ()
    status: Mapping[str, Any] = field(default_factory=dict)
    events: tuple[Event, ...] = ()
    retry: Retry = Retry.NONE
    retry_message: str = ""

    @property
    def ready(self) -> dict:
        return next(c for c in self.conditions if c["type"] == CONDITION_READY)


# --- comparison -----------------------------------------------------------------------------------------------------


def _norm(value: Any) -> str:
    return str(value or "").strip().rstrip("/").lower()


def _port_set(value: Any) -> frozenset[str]:
    return frozenset(p.strip() for p in str(value or "").split(",") if p.strip())


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def owned_destination(rule_type: Any, destination: Any) -> Any:
    """The destination fields a user owns, normalised the way ARM treats them. Server-filled and read-only fields
    (a ServiceTag rule's `addressPrefixes`, a PrivateEndpoint rule's `sparkStatus`, `fqdns`) are left out: they are
    never compared and never sent (FACTS.md, 2025-12-01)."""
    kind = _norm(rule_type)
    if kind == _norm(RuleType.FQDN.value):
        return _norm(destination) if isinstance(destination, str) else None
    if not isinstance(destination, Mapping):
        return None
    if kind == _norm(RuleType.PRIVATE_ENDPOINT.value):
        return {"serviceResourceId": arm_id.key(destination.get("serviceResourceId")),
                "subresourceTarget": _norm(destination.get("subresourceTarget")),
                "sparkEnabled": _bool(destination.get("sparkEnabled"))}
    return {"serviceTag": _norm(destination.get("serviceTag")), "protocol": _norm(destination.get("protocol")),
            "portRanges": sorted(_port_set(destination.get("portRanges"))),
            "action": _norm(destination.get("action") or "Allow")}


def destination_matches(spec: OutboundRuleSpec, destination: Any) -> bool:
    """Whether Azure's destination equals the spec's in the fields the user owns (see `owned_destination`)."""
    want = owned_destination(spec.type.value, spec.to_azure_properties()["destination"])
    return owned_destination(spec.type.value, destination) == want


def spec_hash(spec: OutboundRuleSpec) -> str:
    """The hash recorded before a PUT (planning/intent.py): type, category and owned destination fields."""
    return intent.body_hash([_norm(spec.type.value), _norm(USER_DEFINED_CATEGORY),
                             owned_destination(spec.type.value, spec.to_azure_properties()["destination"])])


def rule_hash(rule: RuleLike | None) -> str | None:
    """The same hash of a rule as Azure holds it; None when absent."""
    if rule is None:
        return None
    return intent.body_hash([_norm(rule.type), _norm(rule.category), owned_destination(rule.type, rule.destination)])


def rule_target(coordinates: Coordinates, rule_name: str) -> str:
    """The ARM path of a rule: the `target` of its recorded writes."""
    return (f"/subscriptions/{coordinates.subscription_id}/resourceGroups/{coordinates.resource_group}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{coordinates.workspace_name}/outboundRules/{rule_name}")


def recover(previous: Previous, rule: RuleLike | None, target: str) -> tuple[Previous, tuple[Event, ...]]:
    """Settle a write recorded before a crash (planning/intent.py), from the rule as Azure shows it now.

    A recorded PUT means the planner had decided the rule was absent or ours before sending it, so a same-named
    UserDefined rule found now is ours (never `RuleNotOwned`); when it holds exactly what we sent, the write landed
    and its Event, which the crashed process never posted, is posted now. A recorded DELETE landed when the rule is
    gone. Either way the record is settled (the returned Previous has none); planning then goes on as usual, so a
    write that did not land is planned again, not replayed blind."""
    pending = previous.pending
    if pending is None:
        return previous, ()
    settled = replace(previous, pending=None)
    if not pending.is_for(pending.operation, target):
        return settled, ()  # recorded for another rule name (spec.ruleName changed): nothing to settle here
    outcome = intent.resolve(pending, observed_hash=rule_hash(rule))
    events: tuple[Event, ...] = ()
    if outcome is intent.Outcome.LANDED and pending.event_reason:
        events = (Event("Normal", pending.event_reason, pending.event_message),)
    # PUT, or POST: the rule went in a batchOutboundRules operation (planning/rule_batch.py); both write this rule.
    if pending.operation.upper() in ("PUT", "POST") and rule is not None and _norm(rule.category) == _norm(USER_DEFINED_CATEGORY):
        settled = replace(settled, created=True)
    return settled, events


def rule_matches(spec: OutboundRuleSpec, rule: RuleLike) -> bool:
    return (
        _norm(rule.type) == _norm(spec.type.value)
        and _norm(rule.category) == _norm(USER_DEFINED_CATEGORY)
        and destination_matches(spec, rule.destination)
    )


def managed_endpoint_name(rule_name: str, network_id: str | None) -> str | None:
    """The name Azure gives the private endpoint a managed network creates for a PrivateEndpoint rule:
    `<rule name>_<first 8 hex digits of managedNetwork.networkId>` (a rule name that already ends with that suffix,
    as system rules do, is used as is). None when the network id is not known."""
    if not network_id:
        return None
    suffix = "_" + network_id.replace("-", "")[:8].lower()
    rule = rule_name.lower()
    return rule if rule.endswith(suffix) else rule + suffix


def find_connection(connections: Iterable[ConnectionLike], rule_name: str,
                    network_id: str | None = None) -> ConnectionLike | None:
    """The target's connection that this rule's managed private endpoint requested, correlated by the private
    endpoint's *name* (the last segment of its ID, see `managed_endpoint_name`). Without the network id, any
    `<rule name>_<8 hex>` endpoint matches. Among several (an old endpoint and a new one), prefer a
    non-Disconnected one, then the last listed."""
    exact = managed_endpoint_name(rule_name, network_id)
    loose = re.compile(re.escape(rule_name.lower()) + r"_[0-9a-f]{8}")
    found = [
        c for c in connections
        if (_pe_name(c.private_endpoint_id) == exact if exact else bool(loose.fullmatch(_pe_name(c.private_endpoint_id))))
    ]
    live = [c for c in found if _norm(c.status) != "disconnected"]
    return (live or found or [None])[-1]


def _pe_name(private_endpoint_id: str | None) -> str:
    return _norm(private_endpoint_id).rsplit("/", 1)[-1]


# --- the plan -------------------------------------------------------------------------------------------------------


def plan(
    *,
    spec: OutboundRuleSpec,
    rule_name: str,
    workspace: WorkspaceFacts,
    observed: Observed | None,
    previous: Previous,
    policy: str,
    generation: int | None,
    network_id: str | None = None,
    reapply_failed: bool = True,
) -> Plan:
    """Decide what to write and what to report. `observed` may be None only when the workspace gate blocks (the
    handler reads Azure only when `workspace_gate()` returns None). A rule Azure reports `Failed` is written again
    (a PUT is what makes Azure retry, e.g. once a missing target exists), except right after our own write
    (`reapply_failed=False`): then the failure is the answer to report."""
    blocked = workspace_gate(workspace, spec, rule_name, previous)
    if blocked is not None:
        return blocked
    if observed is None:
        raise ValueError("observed Azure state is required once the workspace is Ready")
    assert workspace.coordinates is not None  # a Ready workspace has coordinates (workspace_gate checks)
    base = _base_status(spec, rule_name, workspace.coordinates)
    ws_ready = condition(CONDITION_WORKSPACE_READY, TRUE, "WorkspaceReady", f"PromptFlowWorkspace {workspace.name} is Ready")
    no_effect = _no_effect(spec, workspace)
    rule = observed.rule

    # Ownership first: never write over somebody else's rule.
    refusal = _refusal(spec, rule_name, rule, previous)
    if refusal is not None:
        reason, message = refusal
        applied = condition(CONDITION_APPLIED, FALSE, reason, message)
        events = () if previous.had(CONDITION_APPLIED, FALSE, reason) else (Event("Warning", reason, message),)
        status = {**base, STATUS_CREATED: previous.created, **_mirror(rule)}
        return _finish((ws_ready, applied, no_effect), status, events, Retry.USER_FIXABLE, message)

    owned = previous.created or (rule is not None and spec.adopt)
    matches = rule is not None and rule_matches(spec, rule)
    events: list[Event] = []
    if rule is not None and not previous.created and spec.adopt:
        events.append(Event("Normal", "Adopted", f"took over the existing UserDefined rule {rule_name!r} (spec.adopt)"))

    failed_again = matches and reapply_failed and owned and _norm(rule.status) == "failed"
    if not matches or failed_again:
        put = (_put_for(spec, rule_name, rule, previous, generation) if not matches else
               PutRule(rule_name, spec.to_azure_properties(), "Reapplied", f"{_failed_message(rule_name, rule)}; applied again",
                       "Warning"))
        if policy == SKIP:
            message = f"reconcile-policy is skip: nothing written; Azure differs ({put.message})"
            applied = condition(CONDITION_APPLIED, FALSE, "ReconcileSkipped", message)
            status = {**base, STATUS_CREATED: owned, **_mirror(rule)}
            return _finish((ws_ready, applied, no_effect), status, tuple(events), Retry.NONE, "")
        applied = condition(CONDITION_APPLIED, UNKNOWN, "Applying", put.message)
        status = {**base, STATUS_CREATED: owned, **_mirror(rule)}
        return Plan(actions=(put,), conditions=_with_ready((ws_ready, applied, no_effect)), status=status,
                    events=tuple(events), retry=Retry.AZURE_PROGRESS, retry_message=put.message)

    assert rule is not None
    applied = condition(CONDITION_APPLIED, TRUE, "Applied", f"UserDefined rule {rule_name!r} in Azure matches the spec")
    status = {**base, STATUS_CREATED: owned, **_mirror(rule)}
    retry, retry_message, extra = Retry.NONE, "", []
    if spec.type == RuleType.PRIVATE_ENDPOINT:
        status["privateEndpointConnection"], extra, retry, retry_message = _connection(spec, rule_name, observed, network_id)
    rule_status = _norm(rule.status)
    if rule_status == "failed":
        message = _failed_message(rule_name, rule)
        extra = [condition(CONDITION_READY, FALSE, "RuleFailed", message)]
        retry, retry_message = Retry.USER_FIXABLE, message
    elif rule_status in IN_PROGRESS_RULE_STATUSES:
        message = f"rule {rule_name!r} is {rule.status} in Azure"
        extra = [condition(CONDITION_READY, FALSE, f"Rule{rule.status}", message)]
        retry, retry_message = Retry.AZURE_PROGRESS, message
    if no_effect["status"] == TRUE and not previous.had(CONDITION_NO_EFFECT, TRUE, no_effect["reason"]):
        events.append(Event("Warning", CONDITION_NO_EFFECT, no_effect["message"]))
    ready = condition(CONDITION_READY, TRUE, "Ready", f"rule {rule_name!r} is {rule.status} in Azure")
    return _finish((ws_ready, applied, no_effect), status, tuple(events), retry, retry_message, extra or [ready])


def workspace_gate(workspace: WorkspaceFacts, spec: OutboundRuleSpec, rule_name: str, previous: Previous) -> Plan | None:
    """A waiting Plan when the workspace object does not let the rule proceed (missing, deleting, not Ready); None
    when it does. Waiting is not a failure: a short re-check, no Azure call, the reason in plain words."""
    if workspace.lets_rules_through:
        return None
    if not workspace.found:
        reason, message = "WorkspaceNotFound", f"waiting for PromptFlowWorkspace {workspace.name} (not found in this namespace)"
    elif workspace.deleting:
        reason, message = "WorkspaceDeleting", f"PromptFlowWorkspace {workspace.name} is being deleted"
    else:
        if workspace.ready_reason:
            detail = f": {workspace.ready_message}" if workspace.ready_message else ""
            why = f"{workspace.ready_reason}{detail}"
        else:
            why = "on its way; its Ready condition tells how far"
        reason, message = "WorkspaceNotReady", f"waiting for PromptFlowWorkspace {workspace.name} to be Ready ({why})"
    ws = condition(CONDITION_WORKSPACE_READY, FALSE, reason, message)
    applied = condition(CONDITION_APPLIED, UNKNOWN, "WaitingForWorkspace", message)
    status: dict[str, Any] = {"azureRuleName": rule_name, "destination": spec.display_destination(),
                              STATUS_CREATED: previous.created}
    coordinates = workspace.coordinates or previous.coordinates
    if coordinates is not None:
        status[STATUS_AZURE] = coordinates.to_status()
    return Plan(conditions=_with_ready((ws, applied)), status=status, retry=Retry.DEPENDENCY, retry_message=message)


def plan_failure(written: Plan, error_text: str, conflict: bool, throttled: bool) -> Plan:
    """The report when a planned write failed. A managed-network conflict or throttling is a wait (Unknown, not an
    error the user must act on); anything else shows Azure's `<Code>: <message>` verbatim."""
    if conflict:
        applied = condition(CONDITION_APPLIED, UNKNOWN, "WaitingForManagedNetwork",
                            f"another operation is in progress on the managed network; retrying ({error_text})")
        retry = Retry.AZURE_PROGRESS
    elif throttled:
        applied = condition(CONDITION_APPLIED, UNKNOWN, "Throttled", error_text)
        retry = Retry.AZURE_PROGRESS
    else:
        applied = condition(CONDITION_APPLIED, FALSE, "AzureError", error_text)
        retry = Retry.USER_FIXABLE
    kept = tuple(c for c in written.conditions if c["type"] not in (CONDITION_READY, CONDITION_APPLIED))
    return Plan(conditions=_with_ready(kept + (applied,)), status=written.status, retry=retry, retry_message=error_text)


def plan_not_converged(after: Plan) -> Plan:
    """Azure accepted our PUT but answers with a rule that still differs from the spec: report it and let the next
    check try again, instead of writing in a loop."""
    put = next(a for a in after.actions if isinstance(a, PutRule))
    message = (f"Azure accepted the PUT of rule {put.name!r} but reports a different rule than requested; "
               f"the next drift check writes it again")
    applied = condition(CONDITION_APPLIED, FALSE, "NotConverged", message)
    kept = tuple(c for c in after.conditions if c["type"] not in (CONDITION_READY, CONDITION_APPLIED))
    return Plan(conditions=_with_ready(kept + (applied,)), status=after.status, events=after.events,
                retry=Retry.USER_FIXABLE, retry_message=message)


def plan_delete(*, rule_name: str, previous: Previous, policy: str, observed_rule: RuleLike | None) -> Plan:
    """Deleting the object removes the Azure rule it created or adopted, unless the control annotation says to leave
    Azure alone (`detach-on-delete`, and `skip`, which never writes). Never deletes a rule that is not ours."""
    if policy in (SKIP, DETACH_ON_DELETE):
        return Plan(events=(Event("Normal", "Detached", f"rule {rule_name!r} left in Azure (reconcile-policy {policy})"),))
    if not previous.created:
        return Plan()  # never created (waiting, refused, or skipped): nothing of ours in Azure
    if observed_rule is None:
        return Plan()  # already gone
    if _norm(observed_rule.category) != _norm(USER_DEFINED_CATEGORY):
        return Plan(events=(Event("Warning", "NotDeleted",
                                  f"rule {rule_name!r} is now a {observed_rule.category} rule owned by Azure; left in place"),))
    return Plan(actions=(DeleteRule(rule_name, "Deleted", f"deleted rule {rule_name!r} from Azure"),))


# --- helpers --------------------------------------------------------------------------------------------------------


def _refusal(spec: OutboundRuleSpec, rule_name: str, rule: RuleLike | None, previous: Previous) -> tuple[str, str] | None:
    if rule is None:
        return None
    if _norm(rule.category) != _norm(USER_DEFINED_CATEGORY):
        return ("SystemRuleConflict",
                f"Azure already has a {rule.category} rule named {rule_name!r}; it belongs to Azure and is never "
                f"modified by the operator. Choose another spec.ruleName.")
    if not previous.created and not spec.adopt:
        return ("RuleNotOwned",
                f"a UserDefined rule named {rule_name!r} already exists in Azure and was not created by this "
                f"operator; set spec.adopt: true to take it over, or choose another spec.ruleName.")
    return None


def _put_for(spec: OutboundRuleSpec, rule_name: str, rule: RuleLike | None, previous: Previous,
             generation: int | None) -> PutRule:
    properties = spec.to_azure_properties()
    if rule is None and previous.created:
        return PutRule(rule_name, properties, "DriftRestored",
                       f"rule {rule_name!r} was removed from Azure outside the operator; restored")
    if rule is None:
        return PutRule(rule_name, properties, "Created", f"created rule {rule_name!r} ({spec.display_destination()})")
    if previous.created and previous.applied_generation is not None and previous.applied_generation == generation:
        return PutRule(rule_name, properties, "DriftCorrected",
                       f"rule {rule_name!r} was changed in Azure outside the operator; restored to the spec")
    return PutRule(rule_name, properties, "Updated", f"updated rule {rule_name!r} ({spec.display_destination()})")


def _base_status(spec: OutboundRuleSpec, rule_name: str, coordinates: Coordinates) -> dict[str, Any]:
    return {"azureRuleName": rule_name, "destination": spec.display_destination(), STATUS_AZURE: coordinates.to_status()}


def _mirror(rule: RuleLike | None) -> dict[str, Any]:
    """Azure's view of the rule, verbatim (None clears the field when the rule is absent)."""
    if rule is None:
        return {"ruleStatus": None, "category": None, "errorInformation": None}
    return {"ruleStatus": rule.status, "category": rule.category, "errorInformation": _error_text(rule.error_information)}


def _error_text(info: Any) -> str | None:
    if info is None or info == "":
        return None
    if isinstance(info, str):
        return info
    if isinstance(info, Mapping) and ("code" in info or "message" in info):
        return f"{info.get('code', '')}: {info.get('message', '')}".strip(": ")
    return str(info)


def _failed_message(rule_name: str, rule: RuleLike) -> str:
    info = _error_text(rule.error_information)
    return f"rule {rule_name!r} is Failed in Azure" + (f": {info}" if info else "")


def _no_effect(spec: OutboundRuleSpec, workspace: WorkspaceFacts) -> dict:
    """A warning, not a failure: the rule is applied but the workspace's isolation mode makes it irrelevant."""
    if not workspace.managed_network or workspace.isolation_mode in (None, "Disabled"):
        return condition(CONDITION_NO_EFFECT, TRUE, "NoManagedNetwork",
                         f"PromptFlowWorkspace {workspace.name} has no managed virtual network; outbound rules have no effect")
    if spec.type != RuleType.PRIVATE_ENDPOINT and workspace.isolation_mode == ALLOW_INTERNET:
        return condition(CONDITION_NO_EFFECT, TRUE, ALLOW_INTERNET,
                         f"{spec.type.value} rules have no effect under AllowInternetOutbound (all outbound traffic is "
                         f"allowed); they take effect when the workspace uses AllowOnlyApprovedOutbound")
    return condition(CONDITION_NO_EFFECT, FALSE, "Effective", f"the rule applies under {workspace.isolation_mode}")


def _connection(spec: OutboundRuleSpec, rule_name: str, observed: Observed, network_id: str | None):
    """(status.privateEndpointConnection, extra conditions, retry, retry message) for a PrivateEndpoint rule."""
    target = spec.private_endpoint.service_resource_id if spec.private_endpoint else ""
    if observed.connections_error:
        # The rule is applied; not being able to read the target only hides the connection state. Say so.
        info = {"target": target, "name": None, "state": None, "privateEndpointId": None}
        return info, [condition(CONDITION_READY, TRUE, "Applied",
                                f"connection state unknown: cannot read the target ({observed.connections_error})")], \
            Retry.NONE, ""
    conn = find_connection(observed.connections or (), rule_name, network_id)
    if conn is None:
        return None, [], Retry.NONE, ""
    info = {"target": target, "name": conn.name, "state": conn.status, "privateEndpointId": conn.private_endpoint_id}
    reason = CONNECTION_BLOCKING_STATES.get(_norm(conn.status))
    if reason is None:
        return info, [], Retry.NONE, ""
    message = (f"private endpoint connection {conn.name!r} on {_resource_name(target)} is {conn.status}"
               + (": approve it on the target (or with a PrivateEndpointApproval)" if reason == "PrivateEndpointPending" else ""))
    retry = Retry.CONNECTION if reason == "PrivateEndpointPending" else Retry.USER_FIXABLE
    return info, [condition(CONDITION_READY, FALSE, reason, message)], retry, message


def _resource_name(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


def _with_ready(conds: Sequence[dict], override: Sequence[dict] = ()) -> tuple[dict, ...]:
    """Append Ready: an explicit override (rule/connection state) wins, else the first non-True step."""
    ready = next((c for c in override if c["type"] == CONDITION_READY), None)
    if ready is None:
        for c in conds:
            if c["type"] in (CONDITION_WORKSPACE_READY, CONDITION_APPLIED) and c["status"] != TRUE:
                ready = condition(CONDITION_READY, c["status"], c["reason"], c.get("message", ""))
                break
        else:
            ready = condition(CONDITION_READY, TRUE, "Ready", "")
    return tuple(conds) + (ready,)


def _finish(conds, status, events, retry, retry_message, override=()) -> Plan:
    return Plan(conditions=_with_ready(conds, override), status=status, events=tuple(events), retry=retry,
                retry_message=retry_message)
