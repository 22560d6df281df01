"""OutboundRule handlers: keep one UserDefined rule of a workspace's managed network in line with the object.

One reconcile path (parse -> workspace gate -> observe Azure -> plan -> act -> status/Events/metrics), run by:
- create/update/resume: a change to spec, labels or annotations (kopf's diff ignores status, so our own status
  writes never retrigger it);
- drift: one timer per PromptFlowWorkspace (settings.drift_interval, jittered start) checks all of its settled rules,
  from a small copy each kept by a kopf index (no per-rule timer, no whole body kept per rule);
- while status says the rule waits (for its workspace, for Azure to finish provisioning, for a Pending private
  endpoint connection, for another operation on the managed network to end): its workspace's sleeper
  (handlers/rule_waiting.py, one task per workspace with waiting rules, not a kopf daemon per rule) runs it once the
  workspace's facts change (the workspace index wakes it: no polling) or the planner's Retry, turned into a back-off
  by planning/requeue.py, is due. Waiting is therefore not an error: no kopf TemporaryError, no Error events every
  few seconds; other Azure errors do raise TemporaryError with a delay chosen by the error kind (handlers/common.py).

Every PUT/DELETE is recorded in status.pendingWrite before it is sent (handlers/intent.py, planning/intent.py) and
settled by the next run after a crash.

Reads are shared: one LIST of a workspace's rules serves every rule of that workspace (single-flight, short-lived,
updated in place after our own writes), so a converged workspace with N rules costs O(workspaces) reads per drift
period, not O(rules) (docs/outbound-rules.md). Rule writes of one managed network go through one queue
(handlers/rule_batch.py): those queued together become one batchOutboundRules operation, so 50 rules applied together
cost a few operations, not 50, and never collide with each other's 409s.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from typing import Any, Awaitable, Callable, Mapping

import kopf

from .. import conditions, metrics
from ..compact import compact
from ..azure.errors import AzureError, ErrorKind
from ..model import arm_id
from ..model import GROUP, KIND_OUTBOUND_RULE, PLURAL_OUTBOUND_RULE, PLURAL_WORKSPACE, VERSION, WorkspaceSpec
from ..model.common import CONDITION_READY, RECONCILE_POLICY_ANNOTATION, SpecError
from ..model.outbound_rule import OutboundRuleSpec, RuleType
from ..planning import outbound_rule as planning
from ..planning.outbound_rule import Coordinates, Event, Observed, Plan, Previous, WorkspaceFacts
from ..settings import Settings
from ..planning import requeue
from ..planning.intent import STATUS_KEY as PENDING_WRITE, PendingWrite
from ..planning.requeue import Retry, Schedule
from ..planning import rule_batch as rule_batch_planning
from . import (approval, approver_role, drift_queue, intent, kopf_patches, rule_batch, rule_waiting, status_patch,
               tenancy)
from .announce import announce
from .object_state import STATES
from ..azure.limits import background
from .common import (converged, post_event, reconcile_slot, raise_for_azure_error, reconcile_policy, settings_from,
                     slot_released)

log = logging.getLogger(__name__)

# Timer intervals are decorator arguments, so they are read at import, from the same environment as memo.settings.
_SETTINGS = Settings.from_env()
# A change handler reads Azure at most this stale: enough to share one LIST among rules applied together, short
# enough that a rule made by hand moments ago is seen (and not overwritten) before our first PUT.
CHANGE_MAX_AGE = 2.0
# A drift check accepts a LIST up to one period old: with jittered timers, each workspace is listed about once per
# period however many rules it has (and each PrivateEndpoint target once, however many workspaces share it); drift
# is seen within two periods. docs/scale.md.
DRIFT_MAX_AGE = _SETTINGS.drift_interval


# --- shared reads ----------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Entry:
    at: float  # when the read was sent
    value: Any
    used: float = 0.0  # when a caller last took it


class SharedReads:
    """A per-key cache of one Azure read with single-flight: concurrent callers share one request; a caller states
    how old a value it accepts. `update()` applies our own writes to the cached value (and to a read in flight, whose
    answer may predate the write), so readers never see a rule we just wrote as missing. With `keep`, a value no
    caller took for that long is dropped: what a drift check or a batch shares is used within seconds, and keeping
    every workspace's answer until the next check only held memory (issue 13)."""

    def __init__(self, keep: float | None = None) -> None:
        self._entries: dict[Any, _Entry] = {}
        self._inflight: dict[Any, asyncio.Future] = {}
        self._late_writes: dict[Any, list[Callable[[Any], Any]]] = {}
        self._keep = keep
        self._swept = 0.0

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: Any, fetch: Callable[[], Awaitable[Any]], max_age: float) -> Any:
        now = asyncio.get_running_loop().time()
        self._sweep(now)
        entry = self._entries.get(key)
        if entry is not None and now - entry.at <= max_age:
            entry.used = now
            return entry.value
        future = self._inflight.get(key)
        if future is None:
            future = self._inflight[key] = asyncio.ensure_future(self._fetch(key, fetch))
            future.add_done_callback(lambda f: f.cancelled() or f.exception())  # never "exception not retrieved"
        return await asyncio.shield(future)  # a cancelled caller must not cancel the read the others wait for

    async def _fetch(self, key: Any, fetch: Callable[[], Awaitable[Any]]) -> Any:
        started = asyncio.get_running_loop().time()
        self._late_writes[key] = []
        try:
            value = await fetch()
            for apply in self._late_writes.get(key, []):
                value = apply(value)
            self._entries[key] = _Entry(started, value, asyncio.get_running_loop().time())
            return value
        finally:
            self._inflight.pop(key, None)
            self._late_writes.pop(key, None)

    def update(self, key: Any, apply: Callable[[Any], Any]) -> None:
        entry = self._entries.get(key)
        if entry is not None:
            entry.value = apply(entry.value)
        if key in self._late_writes:
            self._late_writes[key].append(apply)

    def put(self, key: Any, value: Any) -> None:
        """A fresh value read elsewhere."""
        now = asyncio.get_running_loop().time()
        self._entries[key] = _Entry(now, value, now)

    def forget(self, key: Any) -> None:
        self._entries.pop(key, None)

    def _sweep(self, now: float) -> None:
        """At most once per `keep`: one pass over the entries, so the cost stays linear in the workspaces."""
        if self._keep is None or now - self._swept < self._keep:
            return
        self._swept = now
        for key in [k for k, e in self._entries.items() if now - e.used > self._keep]:
            del self._entries[key]


# A drift check takes its workspace's LIST for each of its rules within seconds of each other, and the rules of a
# batch do too; a workspace's LIST (Azure's own Required rules included: dozens in AllowOnlyApprovedOutbound) is not
# worth keeping until the next check, which reads it again anyway.
RULE_LIST_KEEP = 30.0
_rule_lists = SharedReads(keep=RULE_LIST_KEEP)  # workspace key -> {rule name lower: OutboundRule}
_connection_lists = SharedReads()  # target key -> [Connection]
_network_ids = SharedReads()  # workspace key -> managedNetwork.networkId | None


def _ws_key(c: Coordinates) -> tuple[str, str, str]:
    return c.subscription_id.lower(), c.resource_group.lower(), c.workspace_name.lower()


async def _rules(azure: Any, c: Coordinates, max_age: float) -> dict[str, Any]:
    async def fetch() -> dict[str, Any]:
        return {r.name.lower(): r for r in await azure.ml.list_outbound_rules(*c.as_tuple())}
    return await _rule_lists.get(_ws_key(c), fetch, max_age)


def _remember_rule(c: Coordinates, name: str, rule: Any | None) -> None:
    def apply(rules: dict[str, Any]) -> dict[str, Any]:
        updated = {k: v for k, v in rules.items() if k != name.lower()}
        if rule is not None:
            updated[name.lower()] = rule
        return updated
    _rule_lists.update(_ws_key(c), apply)


async def _network_id(azure: Any, c: Coordinates, max_age: float) -> str | None:
    async def fetch() -> str | None:
        ws = await azure.ml.get_workspace(*c.as_tuple())
        return ws.managed_network.network_id if ws.managed_network else None
    return await _network_ids.get(_ws_key(c), fetch, max_age)


def note_workspace(subscription_id: str, resource_group: str, workspace_name: str, network_id: str | None) -> None:
    """The workspace handler read the workspace anyway: its managed network id serves the rules too (no second GET)."""
    key = _ws_key(Coordinates(subscription_id, resource_group, workspace_name))
    _network_ids.update(key, lambda _old: network_id)
    _network_ids.put(key, network_id)


async def _connections(azure: Any, target: str, max_age: float) -> list:
    return await _connection_lists.get(arm_id.key(target), lambda: azure.pec.list(target), max_age)


# --- the workspace index: readiness and coordinates of every PromptFlowWorkspace, no API calls -------------------------


@kopf.index(GROUP, VERSION, PLURAL_WORKSPACE)
async def outbound_rule_workspaces(namespace: str, name: str, spec: Mapping, status: Mapping, meta: Mapping,
                                   **_: Any) -> dict:
    STATES.prune(meta["uid"], status)  # our own status write came back: no handler may run to forget it
    facts = workspace_facts(name, spec, status, meta)
    if _last_facts.get((namespace, name)) != facts:
        _last_facts[(namespace, name)] = facts
        # The rules waiting for it run after kopf has stored the index value this handler returns.
        asyncio.get_running_loop().call_soon(rule_waiting.wake, (namespace, name))
    return {(namespace, name): facts}


_last_facts: dict[tuple[str, str], WorkspaceFacts] = {}  # (namespace, name) -> what the index last said


@kopf.on.event(GROUP, VERSION, PLURAL_WORKSPACE, when=lambda type, **_: type == "DELETED")
async def workspace_gone(namespace: str, name: str, **_: Any) -> None:
    """The workspace left the cluster (kopf has dropped it from the index by now): the rules waiting on it say so
    at once, not at their next back-off (up to a drift interval later, still saying it is being deleted)."""
    _last_facts.pop((namespace, name), None)
    rule_waiting.wake((namespace, name))


def workspace_facts(name: str, spec: Mapping, status: Mapping, meta: Mapping) -> WorkspaceFacts:
    """What a rule needs from its PromptFlowWorkspace object: Ready for the current generation, where it lives in
    Azure, and its isolation mode (Azure's, from status, else the one the spec asks for)."""
    try:
        ws = WorkspaceSpec.from_dict(spec)
    except SpecError as e:
        return WorkspaceFacts(name=name, ready=False, ready_reason="InvalidSpec", ready_message=str(e))
    ready = conditions.get(status.get("conditions"), CONDITION_READY) or {}
    current = ready.get("observedGeneration") in (None, meta.get("generation"))
    isolation = status.get("isolationMode") or (ws.network.isolation_mode.value if ws.network.isolation_mode else None)
    stuck_reason, stuck_message = planning.workspace_stuck_on(ready, current)
    return WorkspaceFacts(
        name=name,
        ready=ready.get("status") == conditions.TRUE and current,
        ready_reason=stuck_reason,
        ready_message=stuck_message,
        deleting=bool(meta.get("deletionTimestamp")),
        coordinates=Coordinates(*ws.coordinates),
        isolation_mode=isolation if ws.network.managed else None,
        managed_network=ws.network.managed,
    )


def _workspace(index: kopf.Index, namespace: str, name: str) -> WorkspaceFacts:
    found = next(iter(index.get((namespace, name), [])), None)
    return found if found is not None else WorkspaceFacts(name=name, found=False)


# --- per-object memory (this process only; status carries what must survive a restart) --------------------------------


# One entry per rule while something about it is in flight (handlers/object_state.py).


def _previous(uid: str, status: Mapping | None) -> tuple[Previous, dict]:
    STATES.prune(uid, status)
    merged = STATES.status_now(uid, status)
    return Previous.from_status(merged), merged


def _change_pending(uid: str) -> bool:
    state = STATES.peek(uid)
    return state is not None and state.change_pending


def _schedule(uid: str) -> Schedule:
    state = STATES.peek(uid)
    return state.schedule if state is not None and state.schedule is not None else Schedule()


def _reschedule(ctx: "_Context", retry: Retry) -> None:
    bases = requeue.Bases(ctx.settings.dependency_wait, ctx.settings.slow_retry)
    state = STATES.of(ctx.uid)
    schedule = requeue.next_schedule(state.schedule, retry, time.monotonic(), bases)
    state.schedule = None if schedule.retry is Retry.NONE else schedule  # converged: the drift timer is enough
    STATES.release(ctx.uid)


def _failed_reapply_due(uid: str) -> bool:
    """A rule Azure reports Failed is written again only once its USER_FIXABLE back-off is due (or its spec
    changed: then it differs and is written anyway)."""
    schedule = _schedule(uid)
    return schedule.retry is Retry.USER_FIXABLE and schedule.due(time.monotonic())


# --- one reconcile ---------------------------------------------------------------------------------------------------


class _Context:
    """Everything one run needs, from the kopf kwargs."""

    def __init__(self, kw: Mapping[str, Any], max_age: float) -> None:
        self.body, self.meta, self.uid = kw["body"], kw["meta"], kw["uid"]
        self.namespace, self.name = kw["namespace"], kw["name"]
        self.status: Mapping = kw.get("status") or {}
        self.patch: kopf.Patch = kw["patch"]
        self.settings: Settings = settings_from(kw["memo"])
        self.grants = kw.get("azure_scope_grants")
        self.azure = tenancy.azure_for(kw["memo"], self.namespace, self.grants)
        self.workspaces: kopf.Index = kw["outbound_rule_workspaces"]
        self.approvers: kopf.Index | None = kw.get("approver_role_workspaces")
        self.rules: kopf.Index | None = kw.get("rules_by_workspace")
        self.spec_raw: Mapping = kw.get("spec") or {}
        self.max_age = max_age
        # A drift check takes its reconcile slot before the rule's lock (_check_drift): queueing with the lock held
        # kept a change a person had just made to that rule waiting behind every drift check in line (tens of seconds
        # at 1,000 workspaces). A change takes the lock first and a slot only around its Azure work (_run).
        self.holds_slot = False
        self.generation = self.meta.get("generation")
        self.intent_open = False  # a pendingWrite is in status (recorded by this run or an earlier one)
        self.keep_intent = False  # its outcome is not known in this run: leave it for the next one to settle
        self.landed: list[tuple[Event, PendingWrite]] = []  # Events announcing a recorded write that landed (announce.py)


async def _reconcile(ctx: _Context) -> Plan:
    started = time.monotonic()
    error_reason = None
    try:
        async with STATES.locked(ctx.uid):
            plan = await _run(ctx)
        _reschedule(ctx, plan.retry)
        return plan
    except kopf.TemporaryError:
        error_reason = "AzureError"
        raise
    except kopf.PermanentError:
        error_reason = "InvalidSpec"
        raise
    finally:
        metrics.observe_reconcile(KIND_OUTBOUND_RULE, time.monotonic() - started, error_reason)


async def _run(ctx: _Context) -> Plan:
    previous, prev_status = _previous(ctx.uid, ctx.status)
    try:
        spec = OutboundRuleSpec.from_dict(ctx.spec_raw)
    except SpecError as e:
        bad = Plan(conditions=(conditions.condition(CONDITION_READY, False, "InvalidSpec", str(e)),))
        _write(ctx, prev_status, bad)
        raise kopf.PermanentError(str(e)) from e
    rule_name = spec.azure_rule_name(ctx.name)
    policy = reconcile_policy(ctx.meta)
    ws = _workspace(ctx.workspaces, ctx.namespace, spec.workspace_ref.name)
    args = dict(spec=spec, rule_name=rule_name, workspace=ws, previous=previous, policy=policy, generation=ctx.generation,
                reapply_failed=_failed_reapply_due(ctx.uid))

    refused = _refusal(ctx, spec, None)
    if refused is None:
        gate = planning.workspace_gate(ws, spec, rule_name, previous)
        if gate is not None:
            _write(ctx, prev_status, gate)
            return gate
        refused = _refusal(ctx, spec, ws.coordinates)
    if refused is not None:  # zero Azure requests for this object
        tenancy.report(ctx.body, prev_status.get("conditions"), refused)
        stop = Plan(conditions=(conditions.condition(CONDITION_READY, False, refused.reason, refused.message),))
        _write(ctx, prev_status, stop)
        return stop
    # Only a run that reads or writes Azure takes a reconcile slot: rules applied with their workspace settle their
    # wait at once instead of queueing (each with kopf's copy of its body) behind the workspaces' Azure work.
    async with (contextlib.nullcontext() if ctx.holds_slot else reconcile_slot(ctx.settings)):
        return await _run_azure(ctx, spec, rule_name, policy, ws, previous, prev_status, args)


async def _run_azure(ctx: _Context, spec: OutboundRuleSpec, rule_name: str, policy: str, ws: WorkspaceFacts,
                     previous: Previous, prev_status: dict, args: dict) -> Plan:
    coords = ws.coordinates
    assert coords is not None
    approver = None
    if spec.type == RuleType.PRIVATE_ENDPOINT and spec.private_endpoint is not None:
        # The approver role on the target before the rule is written (handlers/approver_role.py).
        approver = approver_role.workspace_approver(ctx.approvers, ctx.namespace, spec.workspace_ref.name)
        waiting = await _approver_role_gate(ctx, spec, approver, prev_status, policy)
        if waiting is not None:
            return waiting
    events: list[Event] = []
    try:
        if previous.pending is not None:
            ctx.max_age = 0.0  # a recorded write is settled from what Azure shows now, never from a copy
        observed, network_id = await _observe(ctx, spec, coords, rule_name)
        if previous.pending is not None:  # a write recorded before a crash: settle it from what Azure shows
            ctx.intent_open = True
            running = await _recorded_write_running(ctx, coords, rule_name, args, prev_status, observed)
            if running is not None:
                return running
            record = previous.pending
            previous, recovered = planning.recover(previous, observed.rule, planning.rule_target(coords, rule_name))
            events.extend(recovered)
            ctx.landed.extend((e, record) for e in recovered)
            args["previous"] = previous
        plan = planning.plan(observed=observed, network_id=network_id, **args)
        events.extend(plan.events)
        if plan.actions:
            plan = await _apply(ctx, spec, coords, rule_name, plan, args, events)
    except _WriteFailed as failed:
        ctx.keep_intent = True
        _write(ctx, prev_status, failed.plan)
        await _post(ctx, events + failed.events)
        if failed.error.kind is ErrorKind.CONFLICT:
            return failed.plan  # another managed-network operation runs: a wait (the waiting timer retries), no error
        raise_for_azure_error(failed.error, ctx.settings)
        raise  # unreachable: raise_for_azure_error always raises
    except AzureError as err:
        # A read failed: say so on the object, keep what we knew, retry by error kind.
        ctx.keep_intent = True
        stuck = Plan(conditions=(conditions.condition(CONDITION_READY, _unknown_or_false(err), "AzureError", str(err)),))
        _write(ctx, prev_status, stuck)
        await _post(ctx, events)
        raise_for_azure_error(err, ctx.settings)
        raise
    if approver is not None:
        plan = approver_role.explain_pending(plan, target=spec.private_endpoint.service_resource_id,
                                             workspace=spec.workspace_ref.name, approver=approver,
                                             rule_status=STATES.status_now(ctx.uid, prev_status))
    _write(ctx, prev_status, plan)
    await _post(ctx, events)
    metrics.set_last_drift_check(KIND_OUTBOUND_RULE, ctx.namespace, ctx.name, time.time())
    return plan


async def _recorded_write_running(ctx: _Context, coords: Coordinates, rule_name: str, args: dict,
                                  prev_status: Mapping, observed: Observed) -> Plan | None:
    """A write recorded before a crash whose rule Azure does not show yet, and whose operation URL says it still
    runs (a batch may show its rules only when it ends): wait for it, keep the record, send nothing."""
    pending = args["previous"].pending
    target = planning.rule_target(coords, rule_name)
    if not rule_batch_planning.may_still_run(pending, target, planning.rule_hash(observed.rule)):
        return None
    if not await ctx.azure.ml.operation_running(pending.poll_url):
        return None
    ctx.keep_intent = True
    wait = planning.plan_failure(planning.plan(observed=observed, **args),
                                 f"our {pending.operation} that writes rule {rule_name!r} is still running in Azure",
                                 conflict=True, throttled=False)
    _write(ctx, prev_status, wait)
    return wait


def _refusal(ctx: _Context, spec: OutboundRuleSpec, coords: Coordinates | None) -> Any:
    """The namespace's grant: the PrivateEndpoint target, and (once known) the workspace the rule writes to."""
    wanted = []
    if spec.private_endpoint is not None:
        wanted.append((tenancy.planning.RULE_TARGET_FIELD, spec.private_endpoint.service_resource_id))
    if coords is not None:
        wanted.append(((tenancy.planning.WORKSPACES, "spec.workspaceRef"), tenancy.planning.workspace_id(*coords.as_tuple())))
    return tenancy.refusal(ctx.grants, ctx.namespace, wanted)


async def _approver_role_gate(ctx: _Context, spec: OutboundRuleSpec, approver: Any, prev_status: Mapping,
                              policy: str) -> Plan | None:
    """None: go on and write the rule. A Plan: the rule waits for its target's approver role (already written)."""
    gate = await approver_role.rule_gate(ctx.azure, approver, spec.workspace_ref.name,
                                         spec.private_endpoint.service_resource_id,
                                         STATES.status_now(ctx.uid, prev_status), skip=policy == planning.SKIP)
    if gate.record is not None:
        ctx.patch.status["approverRole"] = gate.record
        STATES.remember(ctx.uid, {"approverRole": gate.record})
    if gate.proceed:
        return None
    wait = Plan(conditions=gate.conditions, retry=planning.Retry.DEPENDENCY, retry_message=gate.conditions[-1]["message"])
    _write(ctx, prev_status, wait)
    if gate.error is not None and gate.error.kind not in approver_role.PASSING:
        raise_for_azure_error(gate.error, ctx.settings)
    return wait


def _unknown_or_false(err: AzureError) -> str:
    return conditions.UNKNOWN if err.kind in (ErrorKind.THROTTLED, ErrorKind.TRANSIENT, ErrorKind.CONFLICT) else conditions.FALSE


async def _observe(ctx: _Context, spec: OutboundRuleSpec, coords: Coordinates, rule_name: str) -> tuple[Observed, str | None]:
    rule = (await _rules(ctx.azure, coords, ctx.max_age)).get(rule_name.lower())
    if spec.type != RuleType.PRIVATE_ENDPOINT or rule is None:
        return Observed(rule), None
    return await _with_connections(ctx, spec, coords, rule)


async def _with_connections(ctx: _Context, spec: OutboundRuleSpec, coords: Coordinates, rule: Any,
                            max_age: float | None = None) -> tuple[Observed, str | None]:
    """The PE target's connections (one shared LIST per target) and the managed network id to correlate with.
    Not being able to read the target is reported, not fatal: the rule itself is applied."""
    assert spec.private_endpoint is not None
    max_age = ctx.max_age if max_age is None else max_age
    try:
        # It rarely changes, and the workspace's own checks refresh it (note_workspace).
        network_id = await _network_id(ctx.azure, coords, max(2 * max_age, CHANGE_MAX_AGE))
        conns = await _connections(ctx.azure, spec.private_endpoint.service_resource_id, max_age)
    except AzureError as err:
        return Observed(rule, connections_error=str(err)), None
    return Observed(rule, connections=conns), network_id


class _WriteFailed(Exception):
    def __init__(self, plan: Plan, error: AzureError, events: list[Event]) -> None:
        super().__init__(str(error))
        self.plan, self.error, self.events = plan, error, events


async def _apply(ctx: _Context, spec: OutboundRuleSpec, coords: Coordinates, rule_name: str, plan: Plan,
                 args: dict, events: list[Event]) -> Plan:
    """Execute the write (in the workspace's rule queue: handlers/rule_batch.py), then plan again on what Azure
    answered: that plan has no actions when Azure took the rule as asked."""
    (put,) = plan.actions
    # Intent before action: recorded (and confirmed by the API server) before the PUT, so a crash between Azure's
    # answer and our status write leaves a record the next run settles: the rule is ours, never RuleNotOwned.
    if put.reason == "Reapplied":
        metrics.inc_failed_rule_reapplies(ctx.namespace)
    write = intent.pending("PUT", planning.rule_target(coords, put.name), planning.spec_hash(spec), put.reason, put.message)
    STATES.remember(ctx.uid, await intent.record(PLURAL_OUTBOUND_RULE, ctx.namespace, ctx.name, write))
    ctx.intent_open = True

    async def accepted(poll_url: str | None, operation: str = "PUT") -> None:
        sent = rule_batch_planning.batch_record(write, poll_url) if operation == "POST" else write
        STATES.remember(ctx.uid, await intent.record_poll_url(PLURAL_OUTBOUND_RULE, ctx.namespace, ctx.name, sent, poll_url))

    try:  # queued with the workspace's other rule writes: one batchOutboundRules operation for them (rule_batch.py)
        async with slot_released():  # minutes of waiting in Azure need no reconcile slot
            rule = await rule_batch.write(ctx.azure, coords, put.name, put.properties,
                                          batch_size=ctx.settings.rule_batch_size, on_accepted=accepted,
                                          companions=_companions(ctx))
    except AzureError as err:
        # The record stays: whether the write landed (a 5xx or a timeout may hide that it did) is settled by the next
        # run from what Azure shows, not guessed here.
        quiet = err.kind in (ErrorKind.CONFLICT, ErrorKind.THROTTLED)  # a wait, not something to alarm anyone with
        failed = planning.plan_failure(plan, str(err), conflict=err.kind is ErrorKind.CONFLICT,
                                       throttled=err.kind is ErrorKind.THROTTLED)
        raise _WriteFailed(failed, err, [] if quiet else [Event("Warning", "ApplyFailed", f"PUT rule {rule_name!r}: {err}")]) from err
    _remember_rule(coords, rule.name or rule_name, rule)
    announced = Event(put.event_type, put.reason, put.message)
    events.append(announced)
    ctx.landed.append((announced, write))
    log.info("outbound rule %s/%s: %s", ctx.namespace, ctx.name, put.message)
    observed, network_id = (Observed(rule), None)
    if spec.type == RuleType.PRIVATE_ENDPOINT:  # the write may have created the connection: read it afresh
        observed, network_id = await _with_connections(ctx, spec, coords, rule, max_age=0.0)
    after = planning.plan(observed=observed, network_id=network_id,
                          **{**args, "reapply_failed": False, "previous": dataclasses.replace(args["previous"], created=True)})
    if after.actions:
        return planning.plan_not_converged(after)
    events.extend(e for e in after.events if e not in events)
    return after


def _companions(ctx: _Context) -> int:
    """Other rules of this rule's workspace whose spec kopf has seen but not yet handled (applied together with this
    one): the first write to an idle workspace waits briefly for them to join its batch, and for nothing else."""
    workspace = (ctx.spec_raw.get("workspaceRef") or {}).get("name")
    if ctx.rules is None or not workspace:
        return 0
    count = 0
    for snapshot in ctx.rules.get((ctx.namespace, workspace), []):
        meta = snapshot["metadata"]
        if meta["uid"] == ctx.uid or meta.get("deletionTimestamp"):
            continue
        if STATES.status_now(meta["uid"], snapshot["status"]).get("observedGeneration") != meta.get("generation"):
            count += 1
    return count


# --- status, events, metrics ----------------------------------------------------------------------------------------


def _write(ctx: _Context, prev_status: Mapping, plan: Plan) -> None:
    """Patch only what differs from what the object says, or will say once our earlier writes arrive (a converged
    check writes nothing, and remembers nothing)."""
    merged = conditions.merge(prev_status.get("conditions"), plan.conditions, ctx.generation)
    desired = {**plan.status, "conditions": merged, "observedGeneration": ctx.generation}
    if ctx.intent_open and not ctx.keep_intent:
        desired[PENDING_WRITE] = None  # settled: clear the record in the same write as the outcome
        ctx.patch.status[PENDING_WRITE] = None  # always sent: kopf's body may predate our own record
    now = STATES.status_now(ctx.uid, ctx.status)
    changed = {key: value for key, value in desired.items() if now.get(key) != value or key in ctx.patch.status}
    for key, value in changed.items():
        ctx.patch.status[key] = value
    STATES.remember(ctx.uid, changed)
    ready = conditions.get(merged, CONDITION_READY) or {}
    metrics.set_object_ready(KIND_OUTBOUND_RULE, ctx.namespace, ctx.name, ready.get("status") == conditions.TRUE,
                             ready.get("reason", "Unknown"))
    if "ruleStatus" in plan.status:
        metrics.set_outbound_rule_status(ctx.namespace, ctx.name, plan.status.get("ruleStatus"))


def _restore_metrics(namespace: str, name: str, status: Mapping) -> None:
    ready = conditions.get(status.get("conditions"), CONDITION_READY) or {}
    metrics.set_object_ready(KIND_OUTBOUND_RULE, namespace, name, ready.get("status") == conditions.TRUE,
                             ready.get("reason", "Unknown"))
    if status.get("ruleStatus"):
        metrics.set_outbound_rule_status(namespace, name, status["ruleStatus"])


async def _post(ctx: _Context, events: list[Event]) -> None:
    """Events through kopf's queue, except those announcing a landed write: posted now, before kopf's status patch
    clears the record, and named after it (announce.py)."""
    landed = {id(e): record for e, record in ctx.landed}
    for e in events:
        if id(e) in landed:
            await announce(ctx.body, landed[id(e)], e.type, e.reason, e.message)
        else:
            post_event(ctx.body, e.type, e.reason, e.message)


def is_waiting(status: Mapping | None) -> bool:
    """Whether the rule waits for something that a short re-check will see (the waiting timer's filter)."""
    ready = conditions.get((status or {}).get("conditions"), CONDITION_READY) or {}
    return ready.get("status") != conditions.TRUE and ready.get("reason") in planning.WAITING_REASONS


# --- kopf handlers ----------------------------------------------------------------------------------------------------


def _settled(body: Mapping) -> bool:
    """Converged: nothing for a restarted operator to do at once (no resume handler, and not waiting: no sleeper)."""
    return converged(body.get("status"), body.get("metadata") or {})


# At start, a listed rule that is settled is indexed and done (handlers/kopf_patches.py): it neither waits at kopf's
# index gate nor goes through kopf's cause machinery. At 10,000 rules those set the peak memory and half the CPU of a
# restart, before a change made meanwhile got its turn.
kopf_patches.settled_at_listing(PLURAL_OUTBOUND_RULE, _settled)


@kopf.on.resume(GROUP, VERSION, PLURAL_OUTBOUND_RULE, when=lambda body, **_: not _settled(body))
async def resume_outbound_rule(uid: str, **kw: Any) -> None:
    """After a restart, a rule that is not converged is reconciled now. A converged one runs no handler: the index
    below gives it its metrics back, and its workspace's drift check, spread over one interval, looks at Azure."""
    await reconcile_outbound_rule(uid=uid, **kw)


@kopf.on.create(GROUP, VERSION, PLURAL_OUTBOUND_RULE)
@kopf.on.update(GROUP, VERSION, PLURAL_OUTBOUND_RULE)
async def reconcile_outbound_rule(uid: str, **kw: Any) -> None:
    STATES.of(uid).change_pending = True
    await _reconcile(_Context({**kw, "uid": uid}, CHANGE_MAX_AGE))
    STATES.of(uid).change_pending = False  # not reached on TemporaryError: kopf retries this handler, timers stand aside
    STATES.release(uid)


# --- drift: one timer per workspace checks all of its rules -------------------------------------------------------


@kopf.index(GROUP, VERSION, PLURAL_OUTBOUND_RULE)
async def rules_by_workspace(namespace: str, name: str, uid: str, body: kopf.Body, **kw: Any) -> dict:
    """Every rule by (namespace, workspaceRef.name), as a small copy (no managedFields, no kopf bookkeeping): what a
    drift check or a waiting rule's run needs (instead of a per-rule timer or daemon and the whole body kopf keeps
    for it), the targets a workspace assigns the approver role on, and what an approval policy correlates with. One
    index for all of them: kopf runs every index handler of every object before any handler at start."""
    plain = kopf_patches.raw(body)  # read at start for every rule: plain dicts, not kopf's views
    spec, meta, status = plain.get("spec") or {}, plain.get("metadata") or {}, plain.get("status") or {}
    STATES.prune(uid, status)  # our own status write came back: no handler may run to forget it (object_state.py)
    approval.note_rule(namespace, name, spec, status)  # an approval policy may wait for this rule to turn active
    if converged(status, meta) and not meta.get("deletionTimestamp"):  # after a restart: its metrics back (see resume)
        _restore_metrics(namespace, name, status)
    workspace = ((spec or {}).get("workspaceRef") or {}).get("name")
    if not workspace:
        rule_waiting.drop(uid)
        return {}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k == RECONCILE_POLICY_ANNOTATION}
    snapshot = {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": KIND_OUTBOUND_RULE,
        "metadata": {"name": name, "namespace": namespace, "uid": uid, "generation": meta.get("generation"),
                     "annotations": annotations, "deletionTimestamp": meta.get("deletionTimestamp")},
        "spec": dict(spec or {}), "status": {k: v for k, v in (status or {}).items() if k != "kopf"}}
    snapshot = compact(snapshot)  # kept for the rule's lifetime: a copy of its own, strings shared (compact.py)
    if is_waiting(status) and not meta.get("deletionTimestamp"):
        if not _waiting_kw:
            _waiting_kw.update({k: v for k, v in kw.items() if k == "memo" or isinstance(v, kopf.Index)})
        rule_waiting.note((namespace, workspace), uid, snapshot)
    else:
        rule_waiting.drop(uid)
    return {(namespace, workspace): snapshot}


# What a waiting rule's run needs besides its snapshot: the memo and kopf's indexes (the same objects for every rule).
_waiting_kw: dict[str, Any] = {}


@kopf.timer(GROUP, VERSION, PLURAL_WORKSPACE, interval=_SETTINGS.drift_interval,
            initial_delay=lambda **_: random.uniform(0.05, 1.0) * _SETTINGS.drift_interval)  # spread evenly
async def check_outbound_rules_drift(namespace: str, name: str, rules_by_workspace: kopf.Index, **kw: Any) -> None:
    """Drift of every rule of this workspace: a rule removed or changed in the portal is restored (with an Event);
    status follows Azure. The rules share one rule LIST (and one connection LIST per target), so a workspace with N
    rules costs about one read per drift interval, and 10,000 rules cost 1,000 timers, not 10,000. The timer only
    queues the check (drift_queue.py)."""
    shared = {k: v for k, v in kw.items() if k == "memo" or isinstance(v, kopf.Index)}  # no per-call objects
    drift_queue.DRIFT.submit(("rules", namespace, name),
                             lambda: check_rules(namespace, name, rules_by_workspace, shared),
                             drift_queue.workers_for(settings_from(kw["memo"]).max_reconciles))


async def check_rules(namespace: str, name: str, rules_by_workspace: kopf.Index | Mapping,
                      kw: Mapping[str, Any]) -> None:
    """One drift check of a workspace's rules, from the drift queue."""
    key = (namespace, name)
    for uid in [snapshot["metadata"]["uid"] for snapshot in rules_by_workspace.get(key, [])]:
        await _check_drift(lambda uid=uid: _indexed(rules_by_workspace, key, uid), kw)


def _indexed(rules: kopf.Index, key: tuple[str, str], uid: str) -> Mapping | None:
    return next((s for s in rules.get(key, []) if s["metadata"]["uid"] == uid), None)


async def _check_drift(current: Callable[[], Mapping | None], kw: Mapping[str, Any]) -> None:
    """Queue for a drift slot first, then read the rule as the index has it now: at 1,000 workspaces and a 60 s
    interval the queue takes minutes, and a copy read before it showed a write this process had settled meanwhile
    as still open (it was announced twice), or a spec already replaced (the check would have written the old one)."""
    if not _drift_applies(current()):  # most rules of a converging workspace wait for it: no need to queue
        return
    with background():  # paced behind changes a person made (azure/limits.py)
        async with reconcile_slot(settings_from(kw["memo"])):
            snapshot = current()
            if not _drift_applies(snapshot):
                return
            meta = snapshot["metadata"]  # type: ignore[index]
            try:
                await _reconcile_snapshot(snapshot, kw, DRIFT_MAX_AGE, holds_slot=True)
            except (kopf.TemporaryError, kopf.PermanentError) as e:
                log.warning("drift check of outbound rule %s/%s: %s", meta["namespace"], meta["name"], e)  # status says so


def _drift_applies(snapshot: Mapping | None) -> bool:
    """Not deleted or moved meanwhile (None), and not the delete or change handler's, or its workspace's sleeper's
    (rule_waiting.py)."""
    if snapshot is None:
        return False
    meta, uid = snapshot["metadata"], snapshot["metadata"]["uid"]
    return not (meta.get("deletionTimestamp") or _change_pending(uid) or is_waiting(STATES.status_now(uid, snapshot["status"])))


async def _run_waiting(snapshot: Mapping) -> None:
    """One run of a waiting rule (workspace not Ready, rule Provisioning, connection Pending), started by its
    workspace's sleeper once the workspace's facts changed or its back-off is due (planning/requeue.py).

    A rule whose workspace is Ready talks to Azure: it queues for its reconcile slot first, holding nothing else, and
    looks at the rule again after the wait (as a drift check does). With ARM's throttling about 2,000 woken rules of
    an 11,000-object converge queue at once; each used to wait with its whole reconcile built and its lock taken."""
    if not _still_waits(snapshot):
        return
    uid = snapshot["metadata"]["uid"]
    try:
        if not _workspace_lets_through(snapshot):  # it only waits on: no slot, no Azure call
            await _reconcile_snapshot(snapshot, _waiting_kw, CHANGE_MAX_AGE)
            return
        async with reconcile_slot(settings_from(_waiting_kw["memo"])):
            state = STATES.peek(uid)
            current = _latest(snapshot)
            # Someone else has the rule's lock, or waits for it (a change handler takes its slot after the lock:
            # waiting for the lock while holding a slot could leave both waiting for ever). They do the work.
            if current is None or not _still_waits(current) or (state is not None and state.users):
                return
            await _reconcile_snapshot(current, _waiting_kw, CHANGE_MAX_AGE, holds_slot=True)
    except kopf.TemporaryError as e:
        delay = float(e.delay or _SETTINGS.dependency_wait)
        STATES.of(uid).schedule = Schedule(Retry.AZURE_PROGRESS, 0, time.monotonic() + delay)
    except kopf.PermanentError:
        STATES.of(uid).schedule = Schedule(Retry.USER_FIXABLE, 0, None)  # a spec change (update handler) is the way on


def _still_waits(snapshot: Mapping) -> bool:
    """Not the delete or change handler's, and still waiting (the index drops a rule that no longer waits)."""
    meta, uid = snapshot["metadata"], snapshot["metadata"]["uid"]
    return not (meta.get("deletionTimestamp") or _change_pending(uid)) and is_waiting(STATES.status_now(uid, snapshot["status"]))


def _workspace_key(snapshot: Mapping) -> tuple[str, str]:
    ref = ((snapshot.get("spec") or {}).get("workspaceRef") or {}).get("name") or ""
    return snapshot["metadata"]["namespace"], ref


def _workspace_lets_through(snapshot: Mapping) -> bool:
    """The run goes on to Azure (planning.workspace_gate lets it pass)."""
    return _workspace(_waiting_kw["outbound_rule_workspaces"], *_workspace_key(snapshot)).lets_rules_through


def _latest(snapshot: Mapping) -> Mapping | None:
    """The rule as the rules index has it now (None: deleted or moved to another workspace meanwhile)."""
    rules = _waiting_kw.get("rules_by_workspace")
    return snapshot if rules is None else _indexed(rules, _workspace_key(snapshot), snapshot["metadata"]["uid"])


rule_waiting.serve(_run_waiting, lambda uid: _schedule(uid).due_at, _SETTINGS.drift_interval)


async def _reconcile_snapshot(snapshot: Mapping, kw: Mapping[str, Any], max_age: float, holds_slot: bool = False) -> None:
    """Reconcile a rule outside kopf's handlers, from the rules index's copy; its status written by our own patch.
    `holds_slot`: the caller (a drift check) already holds a reconcile slot."""
    meta = snapshot["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    body = kopf.Body(dict(snapshot))
    patch = kopf.Patch()
    ctx = _Context({**kw, "uid": meta["uid"], "namespace": namespace, "name": name, "body": body,
                    "meta": body.meta, "spec": body.spec, "status": snapshot["status"], "patch": patch}, max_age)
    ctx.holds_slot = holds_slot
    try:
        await _reconcile(ctx)
    finally:
        if patch.get("status"):
            try:
                await status_patch.patch_status(PLURAL_OUTBOUND_RULE, namespace, name, dict(patch["status"]))
            except status_patch.StatusPatchError as e:  # e.g. deleted meanwhile: the next check tells
                log.warning("outbound rule %s/%s: status not written: %s", namespace, name, e)


@kopf.on.delete(GROUP, VERSION, PLURAL_OUTBOUND_RULE)
async def delete_outbound_rule(uid: str, namespace: str, name: str, meta: Mapping, spec: Mapping, status: Mapping,
                               body: kopf.Body, memo: kopf.Memo, outbound_rule_workspaces: kopf.Index,
                               azure_scope_grants: kopf.Index, **_: Any) -> None:
    """Remove the rule we created (or adopted) from Azure, following the LRO, unless the control annotation says to
    leave Azure alone. Works after the PromptFlowWorkspace object is gone: status remembers the coordinates."""
    settings, azure = settings_from(memo), tenancy.azure_for(memo, namespace, azure_scope_grants)
    async with STATES.locked(uid):
        previous, _ = _previous(uid, status)
        rule_name = (spec or {}).get("ruleName") or name
        ws = _workspace(outbound_rule_workspaces, namespace, ((spec or {}).get("workspaceRef") or {}).get("name", ""))
        coords = previous.coordinates or ws.coordinates  # where we wrote it, even if the workspace object changed
        policy = reconcile_policy(meta)
        refused = coords and tenancy.refusal(azure_scope_grants, namespace, [(
            (tenancy.planning.WORKSPACES, "spec.workspaceRef"), tenancy.planning.workspace_id(*coords.as_tuple()))])
        if refused:  # the grant was narrowed since: Azure is left as it is
            post_event(body, "Warning", refused.reason, f"rule {rule_name!r} left in Azure: {refused.message}")
            policy = planning.DETACH_ON_DELETE
        observed_rule = None
        if coords is not None and previous.pending is not None:
            previous = dataclasses.replace(previous, created=True)  # a PUT or DELETE was on its way: read Azure to settle it
        if coords is not None and previous.created and policy not in (planning.SKIP, planning.DETACH_ON_DELETE):
            try:
                observed_rule = (await _rules(azure, coords, CHANGE_MAX_AGE)).get(rule_name.lower())
            except AzureError as err:
                if err.kind is not ErrorKind.NOT_FOUND:  # the workspace itself is gone: so is the rule
                    raise_for_azure_error(err, settings)
        elif previous.created and coords is None:
            post_event(body, "Warning", "NotDeleted", f"rule {rule_name!r}: Azure coordinates unknown, left in place")
        recovered: tuple[Event, ...] = ()
        record = previous.pending
        if coords is not None and record is not None:
            previous, recovered = planning.recover(previous, observed_rule, planning.rule_target(coords, rule_name))
        plan = planning.plan_delete(rule_name=rule_name, previous=previous, policy=policy, observed_rule=observed_rule)
        for e in recovered:
            assert record is not None
            await announce(body, record, e.type, e.reason, e.message)
        for action in plan.actions:
            assert coords is not None
            write = intent.pending("DELETE", planning.rule_target(coords, action.name), "", action.reason, action.message)
            STATES.remember(uid, await intent.record(PLURAL_OUTBOUND_RULE, namespace, name, write))
            try:
                await rule_batch.delete(azure, coords, action.name)  # in turn with the workspace's rule writes
            except AzureError as err:
                post_event(body, "Warning", "DeleteFailed", f"DELETE rule {action.name!r}: {err}")
                raise_for_azure_error(err, settings)
            _remember_rule(coords, action.name, None)
            await announce(body, write, "Normal", action.reason, action.message)
        for e in plan.events:
            post_event(body, e.type, e.reason, e.message)
    STATES.forget(uid)
    rule_waiting.drop(uid)
    metrics.forget_object(KIND_OUTBOUND_RULE, namespace, name)
