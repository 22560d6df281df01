"""PrivateEndpointApproval handlers: watch the targets' private endpoint connections, approve what the policy allows.

Shape (why it differs a little from the other kinds): the check interval adapts - short while a connection we may
approve is Pending, long when all is settled - so one kopf timer per object runs the check and, inside the handler,
sleeps until the next check is due or a nudge arrives (a spec change, a PrivateEndpoint rule turning Active, the
workspace's identity appearing). The timer is the only writer of status, so two checks of one object never race,
and kopf applies `patch.status` after every check. The decisions live in planning/approval.py; this module observes
(one shared LIST per target), executes the approvals, and writes status, Events, audit log lines and metrics.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import random
import time
from typing import Any, Mapping

import kopf

from .. import audit, conditions, metrics
from ..azure.errors import AzureError, ErrorKind
from ..model import GROUP, KIND_APPROVAL, PLURAL_APPROVAL, PLURAL_WORKSPACE, VERSION
from ..model.approval import ApprovalSpec
from ..model.common import ResourceId, SpecError
from ..planning import approval as planning
from ..planning.approval import Correlation, Intervals, Outcome, OutcomeKind, Policy, TargetObservation
from ..settings import Settings
from . import tenancy
from .object_state import STATES
from .common import SKIP, azure_from, post_event, reconcile_policy, retry_delay, settings_from
from .status_patch import StatusPatchError, patch_status

log = logging.getLogger(__name__)

NOT_PENDING_CODE = "PrivateEndpointConnectionStatusNotPending"
MIN_GAP = 1.0  # seconds between two checks of one object, however many nudges arrive (kopf timer interval)
SHARED_READ_MAX_AGE = 1.0  # a LIST younger than this is reused by other policies watching the same target


# --- wake-ups: nudge(target) and the per-object schedule -------------------------------------------------------------


@dataclasses.dataclass
class _Schedule:
    """In-memory state of one PrivateEndpointApproval (lost on restart on purpose: status carries what matters)."""

    wake: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    due: float | None = None  # loop time of the next check; None: derive it from status (first run after start)
    blocked: dict[str, tuple[float, str]] = dataclasses.field(default_factory=dict)  # target key -> (until, 403 text)
    targets: frozenset[str] = frozenset()
    workspace: tuple[str, str] | None = None


def nudge(target_resource_id: str) -> None:
    """Ask every PrivateEndpointApproval watching this target to check it now (e.g. a PrivateEndpoint rule to it just
    turned Active). Sync and non-blocking; call it from the operator's event loop thread."""
    key = planning.arm_key(target_resource_id)
    for s in _all_schedules():
        if key in s.targets:
            s.wake.set()


def _nudge_workspace(namespace: str, workspace: str) -> None:
    for s in _all_schedules():
        if s.workspace == (namespace, workspace):
            s.wake.set()


def _schedule_of(uid: str) -> _Schedule:
    """Kept in the one per-object store (handlers/object_state.py) for as long as the object exists."""
    state = STATES.of(uid)
    if not isinstance(state.kind_state, _Schedule):
        state.kind_state = _Schedule()
    return state.kind_state


def _all_schedules() -> list[_Schedule]:
    return [st.kind_state for st in STATES.values() if isinstance(st.kind_state, _Schedule)]


async def _wait_until_due(s: _Schedule, stopped: Any) -> None:
    """Sleep until the check is due, a nudge arrives, or kopf stops this timer (object deleted, operator exiting)."""
    loop = asyncio.get_running_loop()
    delay = 0.0 if s.due is None else s.due - loop.time()
    if delay > 0 and not s.wake.is_set():
        waiters = {asyncio.ensure_future(s.wake.wait()), asyncio.ensure_future(stopped.wait())}
        _, pending = await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        for w in pending:
            w.cancel()
    s.wake.clear()


def _first_due(status: Mapping, meta: Mapping, settings: Settings) -> float:
    """After a (re)start: continue the schedule status implies instead of re-reading every target at once."""
    loop_now = asyncio.get_running_loop().time()
    last = planning.parse_time(status.get("lastCheck"))
    if last is None or status.get("observedGeneration") != meta.get("generation"):
        return loop_now
    interval = settings.approval_pending_interval if status.get("pendingCount") else settings.approval_settled_interval
    age = (dt.datetime.now(dt.timezone.utc) - last).total_seconds()
    return loop_now + max(0.0, interval - age) * random.uniform(0.8, 1.0)  # jitter spreads a restart's reads


# --- kopf indexes: what workspaces and PrivateEndpoint rules say, without API calls ----------------------------------


_last_seen: dict[tuple[str, str, str], object] = {}  # one small entry per workspace / PE rule seen by this process


def _changed(kind: str, namespace: str, name: str, value: object) -> bool:
    """Whether an indexed object says something new (indexes see every status write; most change nothing for us)."""
    key = (kind, namespace, name)
    if _last_seen.get(key, _MISSING) == value:
        return False
    _last_seen[key] = value
    return True


_MISSING = object()


@kopf.index(GROUP, VERSION, PLURAL_WORKSPACE)
async def approval_workspaces(namespace: str, name: str, spec: Mapping, status: Mapping, **_: Any) -> dict:
    identity = planning.workspace_identity(spec, status)
    if _changed("workspace", namespace, name, identity):
        _nudge_workspace(namespace, name)  # its identity appeared or changed: policies relying on it look again
    return {(namespace, name): identity}


def note_rule(namespace: str, name: str, spec: Mapping, status: Mapping) -> None:
    """Called by the rules' index (handlers/outbound_rule.py `rules_by_workspace`) on every rule event: a
    PrivateEndpoint rule that just turned active asks the policies watching its target to check soon."""
    rule = planning.private_endpoint_rule(name, spec, status)
    if rule is not None and _changed("rule", namespace, name, rule) and rule.active:
        nudge(rule.target)


def _private_endpoint_rules(rules: kopf.Index | Mapping, namespace: str, workspace: str) -> list:
    """The workspace's PrivateEndpoint rules, from the small copies `rules_by_workspace` keeps of every rule."""
    found = []
    for copy in rules.get((namespace, workspace), []):
        rule = planning.private_endpoint_rule(copy["metadata"]["name"], copy["spec"], copy["status"])
        if rule is not None:
            found.append(rule)
    return found


_network_ids: dict[str, str] = {}  # arm_key(workspace ID) -> managedNetwork.networkId (fixed once it exists)


async def _correlation(azure: Any, namespace: str, spec: ApprovalSpec, workspaces: kopf.Index,
                       rules: kopf.Index) -> Correlation:
    """What the policy's workspace vouches for (only read when allow.workspaceManagedNetwork asks for it)."""
    if spec.workspace_ref is None or not spec.allow.workspace_managed_network:
        return Correlation()
    ws = spec.workspace_ref.name
    identity = next((i for i in workspaces.get((namespace, ws), []) if i is not None), None)
    pe_rules = _private_endpoint_rules(rules, namespace, ws)
    try:
        network_id = await _managed_network_id(azure, identity) if identity and identity.found else None
    except AzureError as e:
        return Correlation(workspace=ws, unavailable=f"reading workspace {ws}'s managed network failed: {e}")
    return planning.correlate(ws, identity, network_id, pe_rules, namespace)


async def _managed_network_id(azure: Any, identity: planning.WorkspaceIdentity) -> str | None:
    """From the workspace's status when it reports it, else one GET of the workspace (cached: the ID never changes)."""
    if identity.managed_network_id:
        return identity.managed_network_id
    key = planning.arm_key(identity.resource_id)
    if key not in _network_ids:
        rid = ResourceId.parse(identity.resource_id)
        workspace = await azure.ml.get_workspace(rid.subscription_id, rid.resource_group, rid.name)
        network_id = workspace.managed_network.network_id if workspace.managed_network else None
        if not network_id:
            return None  # no managed network yet: ask again next time
        _network_ids[key] = network_id
    return _network_ids[key]


# --- shared reads: one LIST per target per check, shared by every policy watching it --------------------------------


class _SharedReads:
    def __init__(self) -> None:
        self._inflight: dict[str, asyncio.Future] = {}
        self._fresh: dict[str, tuple[float, list]] = {}

    async def list(self, azure: Any, target: str) -> list:
        key = planning.arm_key(target)
        loop = asyncio.get_running_loop()
        cached = self._fresh.get(key)
        if cached is not None and loop.time() - cached[0] < SHARED_READ_MAX_AGE:
            return cached[1]
        if key not in self._inflight:
            self._inflight[key] = asyncio.ensure_future(self._read(azure, target, key))
        return await asyncio.shield(self._inflight[key])

    async def _read(self, azure: Any, target: str, key: str) -> list:
        try:
            connections = list(await azure.pec.list(target))
            self._fresh[key] = (asyncio.get_running_loop().time(), connections)
            return connections
        finally:
            self._inflight.pop(key, None)

    def invalidate(self, target: str) -> None:
        """After a write on the target the cached LIST is stale for everyone."""
        self._fresh.pop(planning.arm_key(target), None)


_reads = _SharedReads()


# --- handlers --------------------------------------------------------------------------------------------------------


@kopf.on.update(GROUP, VERSION, PLURAL_APPROVAL)
async def approval_changed(uid: str, **_: Any) -> None:
    """Spec, labels or annotations changed: check now (the timer does the work, so status has a single writer)."""
    _schedule_of(uid).wake.set()


@kopf.timer(GROUP, VERSION, PLURAL_APPROVAL, interval=MIN_GAP, initial_delay=lambda **_: random.uniform(0, MIN_GAP))
async def approval_check(body: kopf.Body, uid: str, memo: kopf.Memo, patch: kopf.Patch, stopped: Any,
                         logger: logging.Logger, approval_workspaces: kopf.Index,
                         rules_by_workspace: kopf.Index, azure_scope_grants: kopf.Index,
                         **_: Any) -> None:
    settings = settings_from(memo)
    s = _schedule_of(uid)
    if s.due is None:
        s.due = _first_due(body.status, body.meta, settings)
    await _wait_until_due(s, stopped)
    if stopped:
        return
    started = time.monotonic()
    # body/meta/spec/status of timers are live views: after the wait they show the object as it is now.
    namespace, name = body.meta["namespace"], body.meta["name"]
    try:
        spec = ApprovalSpec.from_dict(body.spec)
    except SpecError as e:
        _write_invalid_spec(patch, body, str(e))
        s.due = asyncio.get_running_loop().time() + settings.approval_settled_interval
        metrics.set_object_ready(KIND_APPROVAL, namespace, name, False, "InvalidSpec")
        metrics.observe_reconcile(KIND_APPROVAL, time.monotonic() - started, "InvalidSpec")
        return
    refused = tenancy.refusal(azure_scope_grants, namespace,
                              [(tenancy.planning.APPROVAL_TARGET_FIELD, t.resource_id) for t in spec.targets])
    if refused is not None:  # zero Azure requests for this object (docs/tenancy.md)
        tenancy.report(body, body.status.get("conditions"), refused)
        _write_refused(patch, body, refused)
        s.due = asyncio.get_running_loop().time() + settings.approval_settled_interval
        metrics.set_object_ready(KIND_APPROVAL, namespace, name, False, refused.reason)
        metrics.observe_reconcile(KIND_APPROVAL, time.monotonic() - started, refused.reason)
        return
    azure = tenancy.azure_for(memo, namespace, azure_scope_grants)
    policy = Policy(namespace, name, spec, skip=reconcile_policy(body.meta) == SKIP, uid=uid)
    s.targets = spec.target_keys
    s.workspace = (namespace, spec.workspace_ref.name) if spec.workspace_ref else None
    correlation = await _correlation(azure, namespace, spec, approval_workspaces, rules_by_workspace)
    report = await check(memo, policy, body.status, correlation, s, settings, azure)
    _write_status(patch, body, report)
    if report.audit:
        # The approval goes on record in status before its Event and audit line, so a crash right now cannot make
        # the next process announce it a second time (it finds approvedAt and no in-flight record).
        await _early_status(policy, dict(patch.status), logger)
    for event in report.events:
        post_event(body, event.type, event.reason, event.message)
    for record in report.audit:
        audit.record("privateEndpointConnectionApproved", record)
    _record_metrics(policy, report)
    s.due = asyncio.get_running_loop().time() + report.next_check_in
    ready = report.conditions[0]
    metrics.observe_reconcile(KIND_APPROVAL, time.monotonic() - started,
                              None if ready["status"] == conditions.TRUE else ready["reason"])
    logger.debug("approval check done: %d pending, %d approved, next in %.1fs",
                 report.pending_count, report.approved_count, report.next_check_in)


@kopf.on.delete(GROUP, VERSION, PLURAL_APPROVAL, optional=True)
async def approval_deleted(uid: str, namespace: str, name: str, **_: Any) -> None:
    """Approvals are never undone (nothing is ever rejected or deleted): forgetting the object is all there is."""
    STATES.forget(uid)
    metrics.forget_object(KIND_APPROVAL, namespace, name)


# --- one check ---------------------------------------------------------------------------------------------------------


async def check(memo: kopf.Memo, policy: Policy, status: Mapping, correlation: Correlation, s: _Schedule,
                settings: Settings, azure: Any = None) -> planning.Report:
    """Observe every target, plan, approve, and fold the outcomes into a report. No Kubernetes writes here.
    `azure`: the facade of the object's namespace (handlers/tenancy.py); the operator's by default."""
    azure = azure or azure_from(memo)
    loop_now = asyncio.get_running_loop().time()
    s.blocked = {k: v for k, v in s.blocked.items() if v[0] > loop_now}
    observations = await asyncio.gather(*(_observe(azure, t.resource_id, settings) for t in policy.spec.targets))
    now = dt.datetime.now(dt.timezone.utc)
    plan = planning.plan(policy, observations, status.get("connections"), correlation, now,
                         {k: v[1] for k, v in s.blocked.items()}, in_flight=status.get("inFlight"))
    outcomes = await _approve_all(azure, policy, plan, settings)
    intervals = Intervals(pending=settings.approval_pending_interval, settled=settings.approval_settled_interval,
                          blocked=settings.slow_retry, floor=MIN_GAP)
    report = planning.finish(policy, plan, outcomes, now, intervals, audit_trail=status.get("audit"))
    for key, text in report.denied.items():
        s.blocked[key] = (loop_now + settings.slow_retry, text)  # one attempt per slow_retry, not a retry storm
    return report


async def _observe(azure: Any, target: str, settings: Settings) -> TargetObservation:
    try:
        return TargetObservation(target, tuple(await _reads.list(azure, target)))
    except AzureError as e:
        return TargetObservation(target, error=str(e), error_code=e.code, retry_in=retry_delay(e, settings))


class _InFlight:
    """status.inFlight while a check runs: every approval is on record before its PUT is sent, and a long-running
    one's poll URL before anything waits on it (merge patches replace the list whole; the timer is its only writer)."""

    def __init__(self, policy: Policy, plan: planning.Plan) -> None:
        self.policy = policy
        self.records: dict[tuple[str, str], dict] = {r.key: dict(r.in_flight) for r in plan.rows if r.in_flight}
        self._lock = asyncio.Lock()

    async def put(self, key: tuple[str, str], record: dict) -> None:
        async with self._lock:
            self.records[key] = record
            await patch_status(PLURAL_APPROVAL, self.policy.namespace, self.policy.name,
                               {"inFlight": list(self.records.values())})


async def _approve_all(azure: Any, policy: Policy, plan: planning.Plan,
                       settings: Settings) -> dict[tuple[str, str], Outcome]:
    """Targets in parallel, connections of one target one after another (a provider serialises them anyway).
    Approvals already sent (status.inFlight with a poll URL) are followed, never sent again."""
    by_target: dict[str, list[planning.Row]] = {}
    for row in plan.approvals:
        by_target.setdefault(planning.arm_key(row.target), []).append(row)
    flying = _InFlight(policy, plan)

    async def one_target(rows: list[planning.Row]) -> list[tuple[tuple[str, str], Outcome]]:
        results: list[tuple[tuple[str, str], Outcome]] = []
        denied: Outcome | None = None
        for row in rows:
            # After a 403 the same rights are missing for the rest of this target: do not knock again.
            outcome = denied or await _approve(azure, row, plan.description, settings, flying)
            denied = outcome if outcome.kind is OutcomeKind.DENIED else None
            results.append((row.key, outcome))
        return results

    outcomes: dict[tuple[str, str], Outcome] = {}
    follows = [_follow(azure, row, settings) for row in plan.follows]
    for results in await asyncio.gather(*(one_target(rows) for rows in by_target.values()), *follows):
        outcomes.update(results)
    return outcomes


async def _follow(azure: Any, row: planning.Row, settings: Settings) -> list[tuple[tuple[str, str], Outcome]]:
    """One poll of an approval sent earlier (by this process or one since killed)."""
    url = (row.in_flight or {}).get("operationUrl") or ""
    started = (row.in_flight or {}).get("startedAt")
    try:
        result = await azure.pec.poll_approve(row.connection, url)
    except AzureError as e:
        if e.kind is ErrorKind.NOT_FOUND:  # the operation expired: the connection itself says how it ended
            return [(row.key, Outcome(OutcomeKind.NOT_PENDING, await _read_again(azure, row), error=str(e)))]
        return [(row.key, Outcome(OutcomeKind.IN_PROGRESS, error=str(e), operation_url=url, started_at=started))]
    finally:
        _reads.invalidate(row.target)
    if result is None:
        return [(row.key, Outcome(OutcomeKind.IN_PROGRESS, operation_url=url, started_at=started))]
    return [(row.key, Outcome(OutcomeKind.APPROVED, result))]


async def _approve(azure: Any, row: planning.Row, description: str, settings: Settings, flying: _InFlight) -> Outcome:
    started = planning.rfc3339(dt.datetime.now(dt.timezone.utc))
    try:
        await flying.put(row.key, {"target": row.target, "name": row.connection.name, "startedAt": started})
    except StatusPatchError as e:
        # Without the record a crash could not tell our approval from a person's: do not send it now.
        return Outcome(OutcomeKind.FAILED, error=f"could not record the approval in status first: {e}",
                       retry_in=settings.transient_retry)
    try:
        begun = await azure.pec.begin_approve(row.connection, description)
        if begun.poll_url is not None:
            record = {"target": row.target, "name": row.connection.name, "startedAt": started,
                      "operationUrl": begun.poll_url}
            try:
                await flying.put(row.key, record)
            except StatusPatchError as e:
                log.warning("could not record the poll URL of approving %s: %s", row.connection.name, e)
            # Poll once right away (often done already); otherwise the next check follows the recorded URL.
            try:
                result = await azure.pec.poll_approve(row.connection, begun.poll_url)
            except AzureError as e:  # sent and running: whatever the poll said, never send it again
                return Outcome(OutcomeKind.IN_PROGRESS, error=str(e), operation_url=begun.poll_url, started_at=started)
            if result is None:
                return Outcome(OutcomeKind.IN_PROGRESS, operation_url=begun.poll_url, started_at=started)
            return Outcome(OutcomeKind.APPROVED, result)
        return Outcome(OutcomeKind.APPROVED, begun.connection)
    except AzureError as e:
        if e.code == NOT_PENDING_CODE:
            return Outcome(OutcomeKind.NOT_PENDING, await _read_again(azure, row), error=str(e))
        if e.status == 403:
            return Outcome(OutcomeKind.DENIED, error=str(e))
        return Outcome(OutcomeKind.FAILED, error=str(e), retry_in=retry_delay(e, settings))
    finally:
        _reads.invalidate(row.target)


async def _read_again(azure: Any, row: planning.Row) -> Any | None:
    """`PrivateEndpointConnectionStatusNotPending`: someone else acted first; report what the connection is now."""
    try:
        return await azure.pec.get(row.target, row.connection.name)
    except AzureError as e:
        log.info("reading %s on %s again after NotPending failed: %s", row.connection.name, row.target, e)
        return None


# --- writing status and metrics -------------------------------------------------------------------------------------


def _write_status(patch: kopf.Patch, body: kopf.Body, report: planning.Report) -> None:
    generation = body.meta.get("generation")
    now = dt.datetime.now(dt.timezone.utc)
    for key, value in report.status_fields(now).items():
        patch.status[key] = value
    patch.status["observedGeneration"] = generation
    patch.status["conditions"] = conditions.merge(body.status.get("conditions"), report.conditions, generation)


def _write_refused(patch: kopf.Patch, body: kopf.Body, refused: Any) -> None:
    generation = body.meta.get("generation")
    patch.status["observedGeneration"] = generation
    patch.status["conditions"] = conditions.merge(
        body.status.get("conditions"), [conditions.condition("Ready", False, refused.reason, refused.message)], generation)


async def _early_status(policy: Policy, status: dict, logger: logging.Logger) -> None:
    try:
        await patch_status(PLURAL_APPROVAL, policy.namespace, policy.name, status)
    except StatusPatchError as e:  # kopf's own patch follows at once; only the crash window stays open
        logger.warning("early status write failed: %s", e)


def _write_invalid_spec(patch: kopf.Patch, body: kopf.Body, message: str) -> None:
    generation = body.meta.get("generation")
    patch.status["observedGeneration"] = generation
    patch.status["conditions"] = conditions.merge(
        body.status.get("conditions"), [conditions.condition("Ready", False, "InvalidSpec", message)], generation)


def _record_metrics(policy: Policy, report: planning.Report) -> None:
    ns, name = policy.namespace, policy.name
    now = dt.datetime.now(dt.timezone.utc)
    per_target = planning.target_metrics(report.connections, now)
    for t in policy.spec.targets:
        counts, oldest = per_target.get(t.resource_id, ({}, 0.0))
        metrics.set_private_endpoint_connections(ns, name, t.resource_id, counts, oldest)
    metrics.retain_private_endpoint_targets(ns, name, [t.resource_id for t in policy.spec.targets])
    for target in report.approved_targets:
        metrics.inc_private_endpoint_approvals(ns, name, target)
    ready = report.conditions[0]
    metrics.set_object_ready(KIND_APPROVAL, ns, name, ready["status"] == conditions.TRUE, ready["reason"])
    metrics.set_last_drift_check(KIND_APPROVAL, ns, name, time.time())
