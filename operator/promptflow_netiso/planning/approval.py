"""PrivateEndpointApproval planning, pure (no I/O, no clock): which Pending connections to approve, what to report.

Safety lives here. Every approval passes through `decide()`, which approves a connection only when it is Pending, has
been Pending for at least the policy's minimum time (Azure's own auto-approval gets its chance first) and its requester
is one the policy names. Observe mode (and the `skip` reconcile policy) turns each approval into WouldApprove. Nothing
in this module ever asks to reject or delete anything.

Flow per check (handlers/approval.py): `plan()` -> execute `Plan.approvals` -> `finish()` with the outcomes -> status.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from enum import Enum
from typing import Iterable, Mapping, Protocol, Sequence

from ..conditions import FALSE, TRUE, condition
from ..model import arm_id
from ..model.approval import CONDITION_TARGETS_REACHABLE, MAX_AUDIT, ApprovalMode, ApprovalSpec, subscription_of
from ..model.approval import Decision as StatusDecision
from ..model.common import CONDITION_READY, KIND_APPROVAL

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


# --- one check: plan, then finish with the outcomes -----------------------------------------------------------------


@dataclass(frozen=True)
class TargetObservation:
    """One LIST of a target's private endpoint connections; `error` ("<Code>: <message>") when it failed."""

    target: str
    connections: tuple[ConnectionLike, ...] = ()
    error: str | None = None
    error_code: str | None = None
    retry_in: float | None = None  # when the read failed: how soon to try again (chosen by error kind)


@dataclass(frozen=True)
class Row:
    target: str
    connection: ConnectionLike
    decision: Decision
    first_seen_pending: dt.datetime | None
    approved_at: dt.datetime | None  # by this policy (earlier status, or recognised by our description)
    previous_decision: str | None
    needs_person: str | None = None  # "<Code>: <message>" of the 403 that blocks approving on this target
    previous_reason: str = ""
    recovered: bool = False  # our in-flight approval landed while the process that sent it was gone: record it once
    in_flight: Mapping | None = None  # status.inFlight record: an approval of ours was sent and is not settled yet
    matched: str | None = None  # recovered: which allow rule named the requester

    @property
    def key(self) -> tuple[str, str]:
        return connection_key(self.target, self.connection.name)


@dataclass(frozen=True)
class Plan:
    rows: tuple[Row, ...]
    carried: tuple[dict, ...]  # status entries of targets that could not be read this time, kept as they were
    unreachable: tuple[TargetObservation, ...]
    description: str
    targets_read: int = 0
    workspace_problem: str | None = None  # the workspace cannot vouch yet, and the policy relies on it

    @property
    def approvals(self) -> tuple[Row, ...]:
        """The only Azure writes this check may make (never for a connection whose approval is being followed)."""
        return tuple(r for r in self.rows if r.decision.verdict is Verdict.APPROVE and not _poll_url(r))

    @property
    def follows(self) -> tuple[Row, ...]:
        """Approvals sent earlier (maybe by a process since killed) whose operation is followed, never re-sent."""
        return tuple(r for r in self.rows if _poll_url(r) and (r.connection.status or "").lower() == PENDING)


def _poll_url(row: Row) -> str | None:
    url = (row.in_flight or {}).get("operationUrl")
    return url if isinstance(url, str) and url else None


def plan(
    policy: Policy,
    observations: Sequence[TargetObservation],
    previous: Iterable[Mapping] | None,
    correlation: Correlation,
    now: dt.datetime,
    blocked: Mapping[str, str] | None = None,
    in_flight: Iterable[Mapping] | None = None,
) -> Plan:
    """Decide every observed connection. `previous` is status.connections; `blocked` maps arm_key(target) to the
    403 that said this operator may not approve there (no new attempt until the handler lifts the block);
    `in_flight` is status.inFlight, the approvals sent and not settled."""
    before = {connection_key(e.get("target", ""), e.get("name", "")): e for e in previous or ()}
    flying = {connection_key(e.get("target", ""), e.get("name", "")): e for e in in_flight or ()}
    blocked = blocked or {}
    rows: list[Row] = []
    carried: list[dict] = []
    unreachable: list[TargetObservation] = []
    for obs in observations:
        if obs.error is not None:
            unreachable.append(obs)
            carried += [dict(e) for k, e in before.items() if k[0] == arm_key(obs.target)]
            continue
        for conn in sorted(obs.connections, key=lambda c: c.name.lower()):
            key = connection_key(obs.target, conn.name)
            rows.append(_row(policy, obs.target, conn, before.get(key), correlation, now,
                             blocked.get(arm_key(obs.target)), flying.get(key)))
    problem = correlation.unavailable if policy.spec.allow.workspace_managed_network else None
    return Plan(tuple(rows), tuple(carried), tuple(unreachable), policy.approval_description(),
                targets_read=len(observations) - len(unreachable), workspace_problem=problem)


def _row(policy: Policy, target: str, conn: ConnectionLike, prev: Mapping | None, correlation: Correlation,
         now: dt.datetime, block: str | None, in_flight: Mapping | None = None) -> Row:
    prev = prev or {}
    pending = (conn.status or "").lower() == PENDING
    first_seen = parse_time(prev.get("firstSeenPending")) or (whole_second_up(now) if pending else None)
    approved_at = parse_time(prev.get("approvedAt")) if prev.get("approvedAt") else None
    recovered = False
    matched = None
    if (approved_at is None and in_flight is not None and (conn.status or "").lower() == APPROVED
            and policy.carries_token(conn.description)):
        # Our recorded approval landed (its operation ended, perhaps while no process of ours watched): record it
        # once, never redo. Its Event was not posted yet: status records an approval before its Event.
        approved_at, recovered = now, True
        matched = requester_match(target, conn.private_endpoint_id or "", policy, correlation)
    decision = decide(conn, target, policy, now, correlation, first_seen)
    if in_flight is not None and pending and in_flight.get("operationUrl"):
        decision = Decision(Verdict.WAITING, f"{decision.reason}; approval sent at {in_flight.get('startedAt', '?')} "
                            "is running in Azure: following it (never sent twice)")
    block = block if decision.verdict is Verdict.APPROVE else None
    if block is not None:
        decision = Decision(Verdict.WAITING, f"{decision.reason}; {PERSON_NEEDED}: {block}")
    return Row(target, conn, decision, first_seen, approved_at, prev.get("decision"), needs_person=block,
               previous_reason=prev.get("reason") or "", recovered=recovered, in_flight=in_flight,
               matched=matched)


class OutcomeKind(Enum):
    APPROVED = "Approved"
    IN_PROGRESS = "InProgress"  # Azure answered 202: the poll URL is in status.inFlight, the next check follows it
    NOT_PENDING = "NotPending"  # PrivateEndpointConnectionStatusNotPending: someone else acted; read again
    DENIED = "Denied"  # 403: this target needs a person
    FAILED = "Failed"  # anything else: retry after a delay chosen by the error kind


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    connection: ConnectionLike | None = None  # APPROVED: as Azure returned it; NOT_PENDING: as read again
    error: str | None = None  # "<Code>: <message>", verbatim
    retry_in: float | None = None  # FAILED: seconds until the next attempt
    operation_url: str | None = None  # IN_PROGRESS: the poll URL (already written to status.inFlight)
    started_at: str | None = None  # IN_PROGRESS: when the approval was sent


@dataclass(frozen=True)
class Intervals:
    pending: float  # while a connection we may still approve is Pending
    settled: float  # when nothing is left for us to do
    blocked: float  # after a 403 / unreadable target: one attempt per this long (settings.slow_retry)
    floor: float = 1.0  # never schedule sooner than this (an eligibility time just passed must not spin)


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass
class Report:
    """Everything the handler writes after a check: status fields, conditions, Events, audit lines, the schedule."""

    connections: list[dict]
    pending_count: int
    approved_count: int
    conditions: list[dict]
    events: list[Event] = field(default_factory=list)
    audit: list[dict] = field(default_factory=list)  # one structured log record per approval
    audit_trail: list[dict] = field(default_factory=list)  # status.audit: the last MAX_AUDIT approvals
    in_flight: list[dict] = field(default_factory=list)  # status.inFlight: approvals sent and not settled
    now: dt.datetime | None = None
    approved_targets: list[str] = field(default_factory=list)  # one entry per approval made (metrics)
    denied: dict[str, str] = field(default_factory=dict)  # arm_key(target) -> 403 message: block further attempts
    next_check_in: float = 0.0

    def status_fields(self, now: dt.datetime) -> dict:
        return {
            "connections": self.connections,
            "pendingCount": self.pending_count,
            "approvedCount": self.approved_count,
            "lastCheck": rfc3339(now),
            "inFlight": self.in_flight,
            "audit": self.audit_trail,
        }


def finish(
    policy: Policy,
    plan_: Plan,
    outcomes: Mapping[tuple[str, str], Outcome],
    now: dt.datetime,
    intervals: Intervals,
    audit_trail: Iterable[Mapping] | None = None,
) -> Report:
    """Fold the approval outcomes into status entries, conditions, Events and the time of the next check.
    `audit_trail` is status.audit so far; new approvals are appended and the list is cut to MAX_AUDIT."""
    report = Report(connections=[], pending_count=0, approved_count=0, conditions=[], now=now)
    report.audit_trail = [dict(a) for a in audit_trail or () if isinstance(a, Mapping)]
    waits: list[float] = [intervals.settled]
    failures: list[str] = []
    needs_person: dict[str, str] = {}
    for row in plan_.rows:
        entry, wait = _settle(policy, row, outcomes.get(row.key), now, intervals, report, failures, needs_person)
        report.connections.append(entry)
        if wait is not None:
            waits.append(wait)
    report.connections += list(plan_.carried)
    report.audit_trail = report.audit_trail[-MAX_AUDIT:]
    for obs in plan_.unreachable:
        waits.append(obs.retry_in if obs.retry_in is not None else intervals.blocked)
    report.pending_count = sum(1 for e in report.connections if (e.get("state") or "").lower() == PENDING)
    report.approved_count = sum(1 for e in report.connections if e.get("decision") == StatusDecision.APPROVED)
    report.conditions = _conditions(policy, plan_, report, failures, needs_person)
    report.next_check_in = max(min(waits), intervals.floor)
    return report


def _settle(policy: Policy, row: Row, outcome: Outcome | None, now: dt.datetime, intervals: Intervals,
            report: Report, failures: list[str], needs_person: dict[str, str]) -> tuple[dict, float | None]:
    """One status entry, and how soon this connection wants the next check (None: it does not care)."""
    conn, d = row.connection, row.decision
    entry = _entry(row.target, conn, row.first_seen_pending, row.approved_at)
    requester = conn.private_endpoint_id or ""
    if outcome is None:
        if row.in_flight is not None and row.approved_at is None and (conn.status or "").lower() == PENDING:
            report.in_flight.append(dict(row.in_flight))  # still ours to follow (or to settle) next time
        return _unacted(policy, row, entry, now, intervals, report, needs_person)
    if outcome.kind is OutcomeKind.IN_PROGRESS:
        report.in_flight.append({"target": row.target, "name": conn.name, "startedAt": outcome.started_at or rfc3339(now),
                                 "operationUrl": outcome.operation_url})
        entry.update(decision=StatusDecision.WAITING,
                     reason=f"approval sent at {outcome.started_at or rfc3339(now)} is running in Azure; following it")
        return entry, intervals.pending
    if outcome.kind is OutcomeKind.APPROVED:
        fresh = outcome.connection or conn
        entry.update(state=fresh.status or "Approved", approvedAt=rfc3339(now), decision=StatusDecision.APPROVED,
                     reason=f"approved: {d.reason}")
        _record_approval(policy, row, report, d.reason)
        return entry, None
    if outcome.kind is OutcomeKind.NOT_PENDING:
        fresh = outcome.connection
        state = fresh.status if fresh is not None else "unknown"
        if (fresh is not None and state.lower() == APPROVED and policy.carries_token(fresh.description)
                and row.in_flight is not None):
            # Our own earlier PUT got there first (e.g. a long-running approval that outlived a restart).
            entry.update(state=state, approvedAt=rfc3339(now), decision=StatusDecision.APPROVED,
                         reason=f"approved: {d.reason}")
            _record_approval(policy, row, report, d.reason)
            return entry, None
        entry.update(state=state, decision=StatusDecision.UNTOUCHED,
                     reason=f"no longer Pending when approving ({outcome.error}); now {state}, left as it is")
        return entry, intervals.pending if state.lower() == PENDING else None
    if outcome.kind is OutcomeKind.DENIED:
        needs_person[arm_key(row.target)] = outcome.error or ""
        report.denied[arm_key(row.target)] = outcome.error or ""
        entry.update(decision=StatusDecision.WAITING, reason=f"{PERSON_NEEDED}: {outcome.error}")
        if PERSON_NEEDED not in row.previous_reason:  # one Warning when it starts, not one per attempt
            report.events.append(Event("Warning", REASON_MANUAL_APPROVAL_REQUIRED, (
                f"may not approve private endpoint connection {conn.name} on {row.target} (requested by {requester}); "
                f"a person must approve it or grant this operator the right to: {outcome.error}")))
        return entry, intervals.blocked
    failures.append(f"{conn.name} on {row.target}: {outcome.error}")
    entry.update(decision=StatusDecision.WAITING, reason=f"approval failed, will retry: {outcome.error}")
    report.events.append(Event("Warning", REASON_APPROVAL_FAILED, (
        f"approving private endpoint connection {conn.name} on {row.target} failed: {outcome.error}")))
    return entry, outcome.retry_in if outcome.retry_in is not None else intervals.pending


def _record_approval(policy: Policy, row: Row, report: Report, why: str) -> None:
    """The audit trail of one approval: an Event, a structured log record, a status.audit entry, a metric."""
    conn, requester = row.connection, row.connection.private_endpoint_id or ""
    report.approved_targets.append(row.target)
    report.events.append(Event("Normal", "Approved", (
        f"approved private endpoint connection {conn.name} on {row.target} requested by {requester} "
        f"({why}; policy {policy.reference})")))
    report.audit.append({"action": "approve", "target": row.target, "connection": conn.name, "requester": requester,
                         "policy": policy.reference, "matchedBy": why})
    report.audit_trail.append({"time": rfc3339(report.now or dt.datetime.now(dt.timezone.utc)), "target": row.target,
                               "connection": conn.name, "requester": requester, "matchedBy": why})


def _unacted(policy: Policy, row: Row, entry: dict, now: dt.datetime, intervals: Intervals, report: Report,
             needs_person: dict[str, str]) -> tuple[dict, float | None]:
    d, conn = row.decision, row.connection
    if d.verdict is Verdict.UNTOUCHED and row.approved_at is not None:
        if row.recovered:
            why = f"requester is {row.matched}" if row.matched else "this policy's recorded approval"
            _record_approval(policy, row, report, why)
            entry.update(decision=StatusDecision.APPROVED, reason=f"approved: {why}")
            return entry, None
        if (conn.status or "").lower() == APPROVED:
            kept = row.previous_reason if row.previous_reason.startswith("approved") else ""
            entry.update(decision=StatusDecision.APPROVED, reason=kept or "approved by this policy")
        else:
            entry.update(decision=StatusDecision.UNTOUCHED,
                         reason=f"approved by this policy, since then {conn.status}: left as it is")
        return entry, None
    status_decision = {
        Verdict.WOULD_APPROVE: StatusDecision.WOULD_APPROVE,
        Verdict.NOT_ALLOWED: StatusDecision.NOT_ALLOWED,
        Verdict.WAITING: StatusDecision.WAITING,
        Verdict.UNTOUCHED: StatusDecision.UNTOUCHED,
        Verdict.APPROVE: StatusDecision.WAITING,  # an approval without an outcome was not attempted this time
    }[d.verdict]
    entry.update(decision=status_decision, reason=d.reason)
    first_time = row.previous_decision != status_decision
    requester = conn.private_endpoint_id or ""
    if d.verdict is Verdict.WOULD_APPROVE and first_time:
        report.events.append(Event("Normal", "WouldApprove", (
            f"would approve private endpoint connection {conn.name} on {row.target} requested by {requester} "
            f"({d.reason})")))
    elif d.verdict is Verdict.NOT_ALLOWED and first_time:
        report.events.append(Event("Normal", "NotAllowed", (
            f"left private endpoint connection {conn.name} on {row.target} Pending: {d.reason}")))
    if row.needs_person is not None:
        needs_person[arm_key(row.target)] = row.needs_person
        return entry, intervals.blocked
    if d.verdict is Verdict.WAITING and d.eligible_at is not None:
        # Wake exactly when it becomes eligible, but look again at least every pending interval meanwhile.
        return entry, min(intervals.pending, (d.eligible_at - now).total_seconds())
    if d.verdict in (Verdict.WAITING, Verdict.APPROVE):
        return entry, intervals.pending
    # WouldApprove / NotAllowed / Untouched: nothing this operator will do changes them, so the settled pace is
    # enough (a spec change, a new PrivateEndpoint rule or a nudge triggers an immediate check anyway).
    return entry, None


def _entry(target: str, conn: ConnectionLike, first_seen: dt.datetime | None, approved_at: dt.datetime | None) -> dict:
    entry = {"target": target, "name": conn.name, "privateEndpointId": conn.private_endpoint_id or "",
             "state": conn.status or "", "requesterSubscription": subscription_of(conn.private_endpoint_id) or ""}
    if first_seen is not None:
        entry["firstSeenPending"] = rfc3339(first_seen)
    if approved_at is not None:
        entry["approvedAt"] = rfc3339(approved_at)
    return entry


def _conditions(policy: Policy, plan_: Plan, report: Report, failures: list[str],
                needs_person: dict[str, str]) -> list[dict]:
    if plan_.unreachable:
        first = plan_.unreachable[0]
        reachable = condition(CONDITION_TARGETS_REACHABLE, FALSE, first.error_code or "TargetUnreachable",
                              "; ".join(f"{o.target}: {o.error}" for o in plan_.unreachable))
    else:
        reachable = condition(CONDITION_TARGETS_REACHABLE, TRUE, "Reachable",
                              f"read the private endpoint connections of {plan_.targets_read} target(s)")
    if needs_person:
        ready = condition(CONDITION_READY, FALSE, REASON_MANUAL_APPROVAL_REQUIRED, (
            "this operator may not approve on " + "; ".join(f"{t}: {m}" for t, m in needs_person.items())
            + " - a person must approve those connections, or grant the operator the right to"))
    elif plan_.unreachable:
        ready = condition(CONDITION_READY, FALSE, reachable["reason"], reachable["message"])
    elif failures:
        ready = condition(CONDITION_READY, FALSE, REASON_APPROVAL_FAILED, "; ".join(failures))
    elif plan_.workspace_problem:
        ready = condition(CONDITION_READY, FALSE, REASON_WORKSPACE_NOT_READY, plan_.workspace_problem)
    else:
        ready = condition(CONDITION_READY, TRUE, "Observing" if policy.observe else "Ready", _summary(policy, report))
    return [ready, reachable]


def _summary(policy: Policy, report: Report) -> str:
    counts: dict[str, int] = {}
    for e in report.connections:
        counts[e.get("decision", "")] = counts.get(e.get("decision", ""), 0) + 1
    parts = [f"{n} {d}" for d, n in sorted(counts.items()) if d]
    head = "Observe mode (nothing is written); " if policy.observe else ""
    return head + (", ".join(parts) if parts else "no private endpoint connections on the targets")


def target_metrics(entries: Iterable[Mapping], now: dt.datetime) -> dict[str, tuple[dict[str, int], float]]:
    """Per target: connection counts by state and the age in seconds of the oldest Pending one (metrics.py input)."""
    result: dict[str, tuple[dict[str, int], float]] = {}
    for e in entries:
        counts, oldest = result.get(e.get("target", ""), ({}, 0.0))
        state = e.get("state") or "Unknown"
        counts[state] = counts.get(state, 0) + 1
        since = parse_time(e.get("firstSeenPending"))
        if state.lower() == PENDING and since is not None:
            oldest = max(oldest, (now - since).total_seconds())
        result[e.get("target", "")] = (counts, oldest)
    return result
