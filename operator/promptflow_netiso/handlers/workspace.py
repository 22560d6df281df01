"""PromptFlowWorkspace handlers: parse -> observe Azure -> plan (planning/workspace.py) -> act -> status, Events, metrics.

One `reconcile()` serves create, update (spec or reconcile-policy changes only), resume and the drift timer; a
per-object lock keeps them from overlapping, so a write is never issued twice for one decision. Provisioning is
followed, not awaited: its poll URL goes to status.provisioning at once, and every later run (also after a restart)
polls it instead of starting again. With approverRole.assign (or the older privateEndpointApproval.auto) the workspace
identity gets the approver role on its PrivateEndpoint rules' targets (handlers/approver_role.py); the operator
approves nothing itself for it. Deletion follows the declared policy and is bounded in time.
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

from .. import conditions, metrics
from ..azure.errors import AzureError, ErrorKind
from ..azure.limits import background
from ..azure.ml import workspace_path
from ..azure.roles import assignment_name
from ..model import (
    GROUP,
    KIND_WORKSPACE,
    PLURAL_APPROVAL,
    PLURAL_WORKSPACE,
    RECONCILE_POLICY_ANNOTATION,
    VERSION,
)
from ..model.common import CONDITION_READY, SpecError
from ..model.workspace import NetworkMode, WorkspaceSpec
from ..planning import byo_network as byo_planning
from ..planning import workspace as planning
from ..planning import workspace_intent
from ..planning.intent import STATUS_KEY as PENDING_WRITE
from ..planning.intent import PendingWrite
from ..planning.workspace import AssignRole, Plan, Previous, SetIsolationMode, StartProvisioning
from ..settings import Settings
from . import (approver_role, byo_network, drift_queue, intent, kopf_patches, outbound_rule, role_removal, status_patch,
               tenancy)
from .announce import announce, announce_settled
from .object_state import STATES
from .common import SKIP, converged, post_event, reconcile_slot, raise_for_azure_error, reconcile_policy, settings_from

log = logging.getLogger(__name__)

# kopf needs the timer interval when the module is imported; the environment is set before the process starts.
DRIFT_INTERVAL = max(Settings.from_env().drift_interval, 1.0)
# A deletion that keeps failing (Azure unreachable, rights withdrawn) is released after this long, with a Warning
# Event naming what was left behind. A person can release it at once with reconcile-policy detach-on-delete.
DELETE_GIVE_UP_AFTER = 3600.0
PASSING_KINDS = (ErrorKind.THROTTLED, ErrorKind.TRANSIENT, ErrorKind.CONFLICT, ErrorKind.UNKNOWN)


# --- per-object in-memory state -------------------------------------------------------------------------------------


def _effective_status(body: kopf.Body) -> dict:
    """Status as this process last wrote it: kopf's view can lag our own patch by a watch event, and acting on the
    older view could start provisioning twice. After a restart nothing is in flight and status (fresh) is the truth.
    One store for every kind (handlers/object_state.py); what the body already shows is forgotten."""
    uid = body.meta["uid"]
    STATES.prune(uid, body.status)
    return STATES.status_now(uid, body.status)


def _now() -> str:
    return conditions.now_rfc3339()


# --- triggers ----------------------------------------------------------------------------------------------------


def _spec_or_policy_changed(old: Mapping | None, new: Mapping | None, **_: Any) -> bool:
    """Labels and other annotations (kubectl's last-applied, Argo CD's tracking) are no reason to call Azure."""
    old, new = old or {}, new or {}
    policy = lambda body: ((body.get("metadata") or {}).get("annotations") or {}).get(RECONCILE_POLICY_ANNOTATION)  # noqa: E731
    return old.get("spec") != new.get("spec") or policy(old) != policy(new)


def _drift_initial_delay(**_: Any) -> float:
    """Spread the first drift checks of many objects (operator start) over one interval."""
    return random.uniform(0.5, 1.0) * DRIFT_INTERVAL


@kopf.on.resume(GROUP, VERSION, PLURAL_WORKSPACE)
async def workspace_resume(body: kopf.Body, **kw: Any) -> None:
    """After a restart: a converged workspace only gets its metrics back; its drift check (spread over one interval)
    looks at Azure. Anything else is reconciled now."""
    if converged(body.status, body.meta):
        ns, name, status = body.meta["namespace"], body.meta["name"], body.status
        ready = conditions.get(status.get("conditions"), CONDITION_READY) or {}
        metrics.set_object_ready(KIND_WORKSPACE, ns, name, True, ready.get("reason", "Unknown"))
        metrics.set_managed_network_status(ns, name, status.get("managedNetworkStatus"))
        return
    await workspace_reconcile(body=body, **kw)


@kopf.on.create(GROUP, VERSION, PLURAL_WORKSPACE)
@kopf.on.update(GROUP, VERSION, PLURAL_WORKSPACE, when=_spec_or_policy_changed)
async def workspace_reconcile(body: kopf.Body, memo: kopf.Memo, patch: kopf.Patch, logger: logging.Logger,
                              rules_by_workspace: kopf.Index, azure_scope_grants: kopf.Index,
                              azure_workspace_claims: kopf.Index, **_: Any) -> None:
    await reconcile(body, memo, patch, logger, rules_by_workspace, drift=False,
                    tenancy_indexes=(azure_scope_grants, azure_workspace_claims))


kopf_patches.bodies_kept(PLURAL_WORKSPACE)  # for its timers, kopf keeps each workspace's last body


# idle: a drift check waits until the object has been quiet for a whole interval (no overlap with a change handler
# that is still retrying); timers never overlap themselves. The timer only queues the check (drift_queue.py).
@kopf.timer(GROUP, VERSION, PLURAL_WORKSPACE, interval=DRIFT_INTERVAL, idle=DRIFT_INTERVAL,
            initial_delay=_drift_initial_delay)
async def workspace_drift(body: kopf.Body, memo: kopf.Memo, logger: logging.Logger, rules_by_workspace: kopf.Index,
                          azure_scope_grants: kopf.Index, azure_workspace_claims: kopf.Index, **_: Any) -> None:
    indexes = (azure_scope_grants, azure_workspace_claims)
    drift_queue.DRIFT.submit(("workspace", body.meta["namespace"], body.meta["name"]),
                             lambda: check_drift(body, memo, logger, rules_by_workspace, indexes),
                             drift_queue.workers_for(settings_from(memo).max_reconciles))


async def check_drift(body: kopf.Body, memo: kopf.Memo, logger: logging.Logger, rules: kopf.Index | Mapping,
                      tenancy_indexes: tuple) -> float | None:
    """One drift check, from the drift queue: `body` is kopf's live body of the workspace (as of now, not as of
    the timer). Its status is written by our own patch, as kopf would have after the handler. Returns the delay of
    a retry the check asks for (following a provisioning operation, an Azure error), as kopf's timer honoured it."""
    if body.meta.get("deletionTimestamp"):  # the delete handler has it
        return None
    patch = kopf.Patch()
    try:
        with background():  # paced behind changes a person made (azure/limits.py)
            await reconcile(body, memo, patch, logger, rules, drift=True, tenancy_indexes=tenancy_indexes)
        return None
    except kopf.TemporaryError as e:  # an Azure error (a Warning Event, as kopf's own report was), or a wait
        (logger.warning if e.__cause__ is not None else logger.info)("drift check: %s (again in %.0f s)", e, e.delay or 0)
        return float(e.delay or settings_from(memo).transient_retry)
    except kopf.PermanentError as e:
        logger.warning("drift check: %s", e)
        return None
    finally:
        if patch.get("status"):
            ns, name = body.meta["namespace"], body.meta["name"]
            try:
                await status_patch.patch_status(PLURAL_WORKSPACE, ns, name, dict(patch["status"]))
            except status_patch.StatusPatchError as e:  # e.g. deleted meanwhile: the next check tells
                logger.warning("status not written: %s", e)


# --- one reconcile ------------------------------------------------------------------------------------------------


async def reconcile(body: kopf.Body, memo: kopf.Memo, patch: kopf.Patch, logger: logging.Logger,
                    rules: kopf.Index | Mapping, drift: bool, tenancy_indexes: tuple = (None, None)) -> None:
    started = time.monotonic()
    ns, name = body.meta["namespace"], body.meta["name"]
    settings = settings_from(memo)
    async with reconcile_slot(settings), STATES.locked(body.meta["uid"]):
        error_reason = None
        try:
            ready = await _reconcile_locked(body, memo, patch, logger, rules, settings, drift, tenancy_indexes)
            error_reason = None if ready["status"] == conditions.TRUE else ready["reason"]
        except kopf.TemporaryError as e:
            # An Azure error carries its code; following a running provisioning operation is no error.
            error_reason = getattr(e.__cause__, "code", None)
            raise
        finally:
            metrics.observe_reconcile(KIND_WORKSPACE, time.monotonic() - started, error_reason)
            if drift:
                metrics.set_last_drift_check(KIND_WORKSPACE, ns, name, time.time())


async def _reconcile_locked(body: kopf.Body, memo: kopf.Memo, patch: kopf.Patch, logger: logging.Logger,
                            rules: kopf.Index | Mapping, settings: Settings, drift: bool,
                            tenancy_indexes: tuple = (None, None)) -> dict:
    ns, name, generation = body.meta["namespace"], body.meta["name"], body.meta.get("generation")
    status = _effective_status(body)
    policy = reconcile_policy(body.meta)
    try:
        spec = WorkspaceSpec.from_dict(body.spec)
    except SpecError as e:
        return _write(body, memo, patch, status, {}, [], drift, ready=conditions.condition("Ready", False, "InvalidSpec", str(e)))

    grants, claims = tenancy_indexes
    refused = tenancy.workspace_refusal(grants, claims, ns, body.meta["uid"], spec)
    if refused is not None:  # not granted, or another object owns this Azure workspace: zero Azure requests
        tenancy.report(body, status.get("conditions"), refused)
        return _write(body, memo, patch, status, {}, [], drift,
                      ready=conditions.condition("Ready", False, refused.reason, refused.message))

    await _remove_legacy_auto_approval(memo, ns, name, body.meta["uid"], logger)
    targets = approver_role.planning.targets_of(rules.get((ns, name), []), name)  # rules by workspace: its PrivateEndpoint rules' targets

    azure = tenancy.azure_for(memo, ns, grants)
    sub, rg, ws_name = spec.coordinates
    previous = Previous.from_status(status, generation)

    try:
        ws = await azure.ml.get_workspace(sub, rg, ws_name)
    except AzureError as err:
        passing = err.kind in PASSING_KINDS
        ready = _write(body, memo, patch, status, {}, planning.unreachable_conditions(err.code, str(err), passing), drift)
        raise_for_azure_error(err, settings)
        return ready  # not reached
    outbound_rule.note_workspace(sub, rg, ws_name, ws.managed_network.network_id if ws.managed_network else None)

    result, poll_error = None, None
    if previous.provisioning:
        try:
            result = await azure.ml.poll_provision(previous.provisioning["operationUrl"])
        except AzureError as err:
            if err.kind is ErrorKind.NOT_FOUND:
                # The operation expired (long downtime): forget it; the workspace itself says whether it is Active.
                logger.info("provisioning operation is no longer known to Azure (%s); reading the workspace instead", err.code)
                previous = dataclasses.replace(previous, provisioning=None)
            else:
                poll_error = err  # keep the record and follow it next time; the other steps go on meanwhile

    if spec.assigns_approver_role:  # one list per subscription serves the storage roles and every target
        assignments, roles_error = await approver_role.read_assignments(azure, spec, ws, targets, logger)
    else:
        assignments, roles_error = await _read_assignments(azure, spec, ws, logger)

    # A write recorded before a crash (planning/intent.py): settle it from what Azure shows, before planning anew.
    mn = ws.managed_network
    recorded = PendingWrite.from_status(status)
    settled = workspace_intent.settle(
        recorded, workspace_path=workspace_path(sub, rg, ws_name),
        isolation_mode=mn.isolation_mode if mn else None, network_active=bool(mn and mn.status == planning.NETWORK_ACTIVE),
        provisioning_followed=previous.provisioning is not None,
        assignment_names=[a.name for a in assignments] if assignments is not None else None,
        age_s=_age(recorded))
    plan = planning.plan(spec, ws, policy=policy, previous=previous, assignment_name=assignment_name,
                         assignments=assignments, provision_result=result,
                         provisioning_held=settled.keep.started_at if settled.provisioning_running and settled.keep else None)
    if settled.outcome is not None:
        plan.status.update(settled.status)
        await announce_settled(body, recorded, settled.events)
    if roles_error is not None:
        planning.after_assignments_unreadable(plan, roles_error.code, str(roles_error),
                                              passing=roles_error.kind in PASSING_KINDS)
    failure = await _execute(body, memo, plan, spec, azure, ns, name, logger)
    if failure is None and not planning.limit_violations(spec, ws):
        failure = await approver_role.reconcile_workspace(body, plan, spec, ws, targets, assignments, policy != SKIP,
                                                          azure, logger, status.get("roleAssignments"),
                                                          lambda write: _record(body.meta["uid"], ns, name, write))
    byo_follow, byo_error = (False, None) if spec.network.managed else await _reconcile_byo(
        body, plan, spec, ws, azure, status, policy, logger)
    status = _effective_status(body)  # now with any record written before a write
    ready = _write(body, memo, patch, status, plan.status, plan.conditions, drift)
    metrics.set_managed_network_status(ns, name, plan.status.get("managedNetworkStatus"))

    error = failure or poll_error or roles_error or byo_error
    if error is not None:
        raise_for_azure_error(error, settings)
    if byo_follow:
        raise kopf.TemporaryError("waiting for the AKS target's extension install or attach to finish in Azure "
                                  "(not a failure)", delay=settings.transient_retry)
    if plan.follow_provisioning:
        # Not an error: the operation runs in Azure; look again when Azure's Retry-After says (else soon; kopf keeps
        # this retry across restarts).
        retry_after = plan.retry_after if plan.retry_after is not None else getattr(result, "retry_after", None)
        raise kopf.TemporaryError("waiting for managed network provisioning to finish in Azure (not a failure)",
                                  delay=retry_after if retry_after else settings.transient_retry)
    return ready


async def _reconcile_byo(body: kopf.Body, plan: Plan, spec: WorkspaceSpec, ws: Any, azure: Any, status: Mapping,
                         policy: str, logger: logging.Logger) -> tuple[bool, AzureError | None]:
    """Bring-your-own VNet: the AKS target's steps (handlers/byo_network.py) join the plan's conditions and status."""
    if planning.limit_violations(spec, ws):
        plan.conditions += byo_planning.blocked_conditions()
        plan.status["deploymentTarget"] = status.get("deploymentTarget")  # kept for deletion
        return False, None
    ns, name = body.meta["namespace"], body.meta["name"]
    conds, fields, follow, error = await byo_network.reconcile(
        body, spec, ws, azure, status, policy != planning.POLICY_SKIP,
        lambda f: _patch_workspace_status(ns, name, f, logger),
        lambda f: _record_fields(body.meta["uid"], ns, name, f), _now, logger)
    plan.conditions += conds
    plan.status.update(fields)
    return follow, error


async def _read_assignments(azure: Any, spec: WorkspaceSpec, ws: Any,
                            logger: logging.Logger) -> tuple[list | None, AzureError | None]:
    """What Azure really grants the workspace identity at or above its storage account (one read), so an assignment
    deleted by hand is noticed. Not needed -> (None, None). Unreadable -> (None, error): the plan falls back to the
    operator's own records this time, and the error decides when to look again."""
    target = planning.assignment_target(spec, ws)
    if target is None:
        return None, None
    try:
        return await azure.roles.list_for_principal(*target), None
    except AzureError as err:
        logger.warning("could not list the workspace identity's role assignments: %s", err)
        return None, err


def _age(pending: PendingWrite | None) -> float | None:
    if pending is None:
        return None
    try:
        started = dt.datetime.fromisoformat(pending.started_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (dt.datetime.now(dt.timezone.utc) - started).total_seconds()


def _intent_for(action: Any, ws_path: str) -> PendingWrite:
    """What is recorded in status before `action` is sent (planning/workspace_intent.py)."""
    if isinstance(action, SetIsolationMode):
        return intent.pending("PATCH", ws_path, workspace_intent.isolation_hash(action.mode),
                              action.event_reason, action.describe())
    if isinstance(action, StartProvisioning):
        return intent.pending("POST", workspace_intent.provision_target(ws_path),
                              workspace_intent.provision_hash(action.include_spark), action.event_reason, action.describe())
    name = assignment_name(action.scope, action.role_id, action.principal_id)
    return intent.pending("PUT", workspace_intent.role_target(action.scope, name), workspace_intent.role_hash(name),
                          action.event_reason, action.describe())


async def _record(uid: str, ns: str, name: str, write: PendingWrite, extra: dict | None = None) -> None:
    STATES.remember(uid, await intent.record(PLURAL_WORKSPACE, ns, name, write, extra))


async def _record_fields(uid: str, ns: str, name: str, fields: dict) -> None:
    """Status fields that must be confirmed before an Azure write is sent (the BYO compute PUT's record)."""
    STATES.remember(uid, await intent.record_fields(PLURAL_WORKSPACE, ns, name, fields))


async def _execute(body: kopf.Body, memo: kopf.Memo, plan: Plan, spec: WorkspaceSpec, azure: Any, ns: str, name: str,
                   logger: logging.Logger) -> AzureError | None:
    """Run the actions in order; stop at the first failure (later steps depend on earlier ones) and return it.
    Each write is recorded in status before it is sent (intent before action); the record is cleared with the
    outcome, or kept when Azure may have accepted it after all (a 409, 5xx or timeout), for the next run to settle."""
    sub, rg, ws_name = spec.coordinates
    for action in plan.actions:
        write = _intent_for(action, workspace_path(sub, rg, ws_name))
        await _record(body.meta["uid"], ns, name, write)
        announced = False
        try:
            if isinstance(action, SetIsolationMode):
                updated = await azure.ml.set_isolation_mode(sub, rg, ws_name, action.mode)
                mn = updated.managed_network
                planning.after_isolation_set(plan, action, mn.isolation_mode if mn else None)
            elif isinstance(action, StartProvisioning):
                started_at = _now()
                url = await azure.ml.begin_provision(sub, rg, ws_name, action.include_spark)
                planning.after_provisioning_started(plan, url, started_at)
                plan.retry_after = getattr(url, "retry_after", None)
                if url:
                    # Persist before anything else can fail: a crash now must not lead to a second start. From here
                    # the operation is followed by its poll URL: the record of the POST is done with (announced
                    # first: the record names the Event).
                    await announce(body, write, "Normal", action.event_reason, action.describe())
                    announced = True
                    early = {"provisioning": plan.status["provisioning"], PENDING_WRITE: None}
                    await _patch_workspace_status(ns, name, early, logger)
                    STATES.remember(body.meta["uid"], early)
            elif isinstance(action, AssignRole):
                res = await azure.roles.ensure(action.scope, action.role_id, action.principal_id)
                ours = assignment_name(action.scope, action.role_id, action.principal_id)
                planning.after_role_assigned(plan, action, res.name, res.created, ours)
                if not res.created:
                    logger.info("%s already granted by assignment %s; not ours, left alone",
                                planning.ROLE_NAMES.get(action.role_id, action.role_id), res.name)
                    plan.status[PENDING_WRITE] = None
                    continue
            else:  # pragma: no cover - RemoveRole only comes from plan_delete
                raise TypeError(f"unexpected action {action!r}")
        except AzureError as err:
            planning.after_failure(plan, action, err.code, str(err), passing=err.kind in PASSING_KINDS)
            logger.warning("%s failed: %s", type(action).__name__, err)
            # Refused outright: nothing of it can have landed. Otherwise Azure may have accepted it: the record stays for
            # the next run to settle (set here, as an earlier action of this run may have cleared the field).
            plan.status[PENDING_WRITE] = write.to_status() if err.kind in PASSING_KINDS else None
            return err
        plan.status[PENDING_WRITE] = None
        if not announced:
            await announce(body, write, "Normal", action.event_reason, action.describe())
    return None


def _write(body: kopf.Body, memo: kopf.Memo, patch: kopf.Patch, previous: Mapping, fields: Mapping,
           step_conditions: list[dict], drift: bool, ready: dict | None = None) -> dict:
    """Patch only what changed (a converged check writes nothing: when it ran is a metric, not status), post a
    Warning Event when a step turns bad, update metrics. Returns the Ready condition."""
    generation = body.meta.get("generation")
    ns, name = body.meta["namespace"], body.meta["name"]
    merged = conditions.merge(previous.get("conditions"), step_conditions, generation)
    byo = ((body.spec or {}).get("network") or {}).get("mode") == NetworkMode.BRING_YOUR_OWN
    ready = ready or conditions.ready_summary(merged, planning.STEPS + (byo_planning.STEPS if byo else ()))
    merged = conditions.merge(merged, [ready], generation)
    new = {**fields, "observedGeneration": generation, "conditions": merged}
    if previous.get("lastDriftCheck") is not None:
        new["lastDriftCheck"] = None  # written by earlier versions on every check; removed once, never again
    changed = {key: value for key, value in new.items() if previous.get(key) != value}
    patch.status.update(changed)
    STATES.remember(body.meta["uid"], changed)

    before = {c.get("type"): c for c in previous.get("conditions") or ()}
    for c in step_conditions:
        old = before.get(c["type"], {})
        if c["status"] != conditions.TRUE and (old.get("status"), old.get("reason"), old.get("message")) != (c["status"], c["reason"], c["message"]):
            if c["reason"] not in (planning.REASON_APPLYING, planning.REASON_ASSIGNING, planning.REASON_PROVISIONING,
                                   planning.REASON_WAITING_FOR_WORKSPACE, planning.REASON_BLOCKED) \
                    and c["reason"] not in byo_planning.QUIET_REASONS:
                post_event(body, "Warning", c["reason"], f"{c['type']}: {c['message']}")
    metrics.set_object_ready(KIND_WORKSPACE, ns, name, ready["status"] == conditions.TRUE, ready["reason"])
    return ready


# --- deletion ------------------------------------------------------------------------------------------------------


@kopf.on.delete(GROUP, VERSION, PLURAL_WORKSPACE)
async def workspace_delete(body: kopf.Body, memo: kopf.Memo, logger: logging.Logger, runtime: dt.timedelta,
                           azure_scope_grants: kopf.Index, **_: Any) -> None:
    ns, name = body.meta["namespace"], body.meta["name"]
    settings = settings_from(memo)
    async with STATES.locked(body.meta["uid"]):
        status = _effective_status(body)
        policy = reconcile_policy(body.meta)
        try:
            spec: WorkspaceSpec | None = WorkspaceSpec.from_dict(body.spec)
        except SpecError:
            spec = None  # nothing reliable to act on: treated as Retain
        # A `<workspace>-auto` PrivateEndpointApproval left by an older version: ownerReferences would let the garbage
        # collector do this; deleting explicitly works without it too.
        await _delete_auto_approval(ns, f"{name}-auto", body.meta["uid"], logger)

        refused = spec and tenancy.refusal(azure_scope_grants, ns, [(tenancy.planning.WORKSPACE_FIELD,
                                                                      tenancy.planning.workspace_id(*spec.coordinates))])
        if refused:  # the grant was narrowed since: Azure is left as it is (treated as Retain)
            post_event(body, "Warning", refused.reason, f"nothing deleted in Azure: {refused.message}")
            spec = None
        detached: dict = {}  # status fields saying the compute is detached, carried by the next status write
        try:
            detached = await byo_network.delete(body, spec, policy not in (planning.POLICY_SKIP, planning.POLICY_DETACH),
                                                status, tenancy.azure_for(memo, ns, azure_scope_grants),
                                                lambda write: _record(body.meta["uid"], ns, name, write))
        except AzureError as err:
            if runtime.total_seconds() < DELETE_GIVE_UP_AFTER:
                post_event(body, "Warning", "DeleteFailed",
                           f"{err}. Will retry; to leave Azure as it is, annotate {RECONCILE_POLICY_ANNOTATION}=detach-on-delete")
                raise_for_azure_error(err, settings)
            post_event(body, "Warning", "DeletionAbandoned", f"gave up detaching the Kubernetes compute ({err})")

        status = _effective_status(body)
        if detached:  # the detach's own record is done with
            status = {**status, **detached, PENDING_WRITE: None}
        dp = planning.plan_delete(spec, policy, workspace_intent.with_unsettled_assignment(
            PendingWrite.from_status(status), status.get("roleAssignments") or ()))
        await role_removal.remove(body, dp, status, tenancy.azure_for(memo, ns, azure_scope_grants),
                                  lambda write, extra: _record(body.meta["uid"], ns, name, write, {**detached, **extra}),
                                  give_up=runtime.total_seconds() >= DELETE_GIVE_UP_AFTER,
                                  runtime_s=runtime.total_seconds(), settings=settings)
        STATES.forget(body.meta["uid"])
        metrics.forget_object(KIND_WORKSPACE, ns, name)


# --- the legacy auto-approval object ---------------------------------------------------------------------------------


async def _remove_legacy_auto_approval(memo: kopf.Memo, namespace: str, workspace: str, uid: str,
                                       logger: logging.Logger) -> None:
    """Older versions kept a PrivateEndpointApproval `<workspace>-auto` for privateEndpointApproval.auto; it approved
    by name alone. Delete it (only when this workspace owns it) once per process; the approver role replaces it."""
    if memo.get("legacy_auto_approval_checked"):
        return
    await _delete_auto_approval(namespace, f"{workspace}-auto", uid, logger)
    memo["legacy_auto_approval_checked"] = True


# --- Kubernetes API calls of this module (the child approval: the sync client, always in a worker thread) ----------


class KubeError(Exception):
    pass


async def _call(method: str, *args: Any, **kwargs: Any) -> Any:
    from kubernetes.client.exceptions import ApiException

    try:
        api = await status_patch.custom_objects()
        return await asyncio.to_thread(getattr(api, method), *args, **kwargs)
    except ApiException as e:
        if e.status == 404:
            return None
        raise KubeError(f"{e.status} {e.reason}: {(e.body or '')[:500]}") from e
    except Exception as e:  # connection refused, TLS, config: report, do not crash the handler
        raise KubeError(f"{type(e).__name__}: {e}") from e


async def _delete_auto_approval(namespace: str, name: str, owner_uid: str, logger: logging.Logger,
                                raise_errors: bool = False) -> None:
    """Delete `<workspace>-auto` only when this workspace owns it (a person may have made one by that name)."""
    try:
        obj = await _call("get_namespaced_custom_object", GROUP, VERSION, namespace, PLURAL_APPROVAL, name)
        if obj is None:
            return
        owners = (obj.get("metadata") or {}).get("ownerReferences") or []
        if not any(o.get("uid") == owner_uid for o in owners):
            logger.info("PrivateEndpointApproval %s/%s is not owned by this workspace; left alone", namespace, name)
            return
        await _call("delete_namespaced_custom_object", GROUP, VERSION, namespace, PLURAL_APPROVAL, name)
    except KubeError as e:
        if raise_errors:  # the caller reports it and tries again next time
            raise
        logger.warning("could not delete PrivateEndpointApproval %s/%s: %s", namespace, name, e)


async def _patch_workspace_status(namespace: str, name: str, status: dict, logger: logging.Logger) -> None:
    """A status write ahead of kopf's end-of-handler patch, for facts that must survive a crash right now."""
    try:
        await status_patch.patch_status(PLURAL_WORKSPACE, namespace, name, status)  # kopf's session (kube_writes.py)
    except status_patch.StatusPatchError as e:  # kopf's own patch follows shortly; only the crash window stays open
        logger.warning("early status write failed: %s", e)
