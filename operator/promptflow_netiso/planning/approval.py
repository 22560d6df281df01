"""PrivateEndpointApproval planning, pure (no I/O, no clock): which Pending connections to approve, what to report.

Safety lives here. Every approval passes through `decide()`, which approves a connection only when it is Pending, has
been Pending for at least the policy's minimum time (Azure's own auto-approval gets its chance first) and its requester
is one the policy names. Observe mode (and the `skip` reconcile policy) turns each approval into WouldApprove. Nothing
in this module ever asks to reject or delete anything.

Flow per check (handlers/approval.py): `plan()` -> execute `Plan.approvals` -> `finish()` with the outcomes -> status.

The decision itself (`decide()`, the `Policy` it reads, what a workspace vouches for) lives in
planning/approval_policy.py; its names are importable from here too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from typing import Iterable, Mapping, Sequence

from ..conditions import FALSE, TRUE, condition
from ..model.approval import CONDITION_TARGETS_REACHABLE, MAX_AUDIT, subscription_of
from ..model.approval import Decision as StatusDecision
from ..model.common import CONDITION_READY
from .approval_policy import (  # noqa: F401 (the decision and the shared vocabulary, re-exported)
    APPROVED,
    IN_PROGRESS,
    MAX_DESCRIPTION,
    PENDING,
    PERSON_NEEDED,
    REASON_APPROVAL_FAILED,
    REASON_IN_PROGRESS,
    REASON_MANUAL_APPROVAL_REQUIRED,
    REASON_WORKSPACE_NOT_READY,
    arm_key,
    connection_key,
    ConnectionLike,
    correlate,
    Correlation,
    decide,
    Decision,
    managed_network_endpoint_name,
    parse_time,
    Policy,
    private_endpoint_name,
    private_endpoint_rule,
    PrivateEndpointRule,
    requester_match,
    rfc3339,
    Verdict,
    whole_second_up,
    workspace_identity,
    WorkspaceIdentity,
)


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
