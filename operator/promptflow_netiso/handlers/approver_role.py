"""The approver role (planning/approver_role.py) as the workspace and OutboundRule handlers use it: small hooks, so
the decisions stay in the planner and those handlers change by a call each.

- `read_assignments()`: the workspace identity's role assignments, listed once per subscription at, above and below
  it (the same read the storage roles need, widened), instead of once per target.
- `reconcile_workspace()`: judge every PrivateEndpoint rule's target against that list, assign what is missing,
  record the assignments in status.roleAssignments (so deletionPolicy Delete removes the ones the operator made).
- `rule_gate()`: before a PrivateEndpoint rule is written, make sure its target's assignment exists (one PUT under
  the deterministic name; none when the rule's status already records it).
- `explain_pending()`: a Pending connection's condition names the cause.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Awaitable, Callable, Mapping, Sequence

import kopf

from .. import conditions
from ..azure.errors import AzureError, ErrorKind
from ..azure.roles import assignment_name
from ..model import GROUP, PLURAL_WORKSPACE, VERSION, WorkspaceSpec
from ..model.common import CONDITION_READY, SpecError
from ..model.outbound_rule import CONDITION_APPLIED
from ..planning import approver_role as planning
from ..planning import workspace_intent
from ..planning.approver_role import WorkspaceApprover
from ..planning.intent import STATUS_KEY as PENDING_WRITE
from ..planning.intent import PendingWrite
from . import intent
from .announce import announce

log = logging.getLogger(__name__)
PASSING = (ErrorKind.THROTTLED, ErrorKind.TRANSIENT, ErrorKind.CONFLICT, ErrorKind.UNKNOWN)


# --- the workspace side -----------------------------------------------------------------------------------------------


async def read_assignments(azure: Any, spec: WorkspaceSpec, ws: Any, targets: Sequence[str],
                           logger: logging.Logger) -> tuple[list | None, AzureError | None]:
    """One list per subscription (the workspace's, plus any other a target lives in); the storage roles' planner
    reads the same list (it keeps only what covers the storage account)."""
    if not ws.principal_id:
        return None, None
    found: list = []
    try:
        for scope in planning.listing_scopes(ws.id, targets):
            found += await azure.roles.list_for_principal(scope, ws.principal_id, below=True)
    except AzureError as err:
        logger.warning("could not list the workspace identity's role assignments: %s", err)
        return None, err
    return found, None


async def reconcile_workspace(body: Any, plan: Any, spec: WorkspaceSpec, ws: Any, targets: Sequence[str],
                              observed: list | None, manage: bool, azure: Any, logger: logging.Logger,
                              recorded: Sequence[Mapping] | None,
                              record: Callable[[PendingWrite], Awaitable[Any]] | None = None) -> AzureError | None:
    """Fold the approver role into the workspace's plan (its condition and status records), assigning what is
    missing. `recorded` is status.roleAssignments as last written. Returns the first Azure error, like the
    workspace's own actions. `record` writes status.pendingWrite (confirmed) before each PUT: a PUT that lands
    before a crash is settled by the next run from the identity's assignments (planning/workspace_intent.py),
    which posts its Event then, once."""
    records = plan.status.get("roleAssignments") or []
    previous = [r for r in recorded or () if isinstance(r, Mapping)]
    wp = planning.plan_for_workspace(wanted=spec.assigns_approver_role, manage=manage, principal_id=ws.principal_id,
                                     targets=targets, observed=observed, previous=previous,
                                     assignment_name=assignment_name)
    error: AzureError | None = None
    for action in list(wp.actions):
        ours = assignment_name(action.scope, planning.ROLE_APPROVER, action.principal_id)
        write = intent.pending("PUT", workspace_intent.role_target(action.scope, ours), workspace_intent.role_hash(ours),
                               action.event_reason, action.describe())
        if record is not None:
            await record(write)
        try:
            res = await azure.roles.ensure(action.scope, planning.ROLE_APPROVER, action.principal_id)
        except AzureError as err:
            planning.after_failure(wp, action, err.code, str(err), passing=err.kind in PASSING)
            logger.warning("assigning %s on %s failed: %s", planning.ROLE_NAME, action.scope, err)
            if record is not None:  # kept when Azure may have accepted it (settled next run), else cleared
                plan.status[PENDING_WRITE] = write.to_status() if err.kind in PASSING else None
            error = err
            break
        if record is not None:
            plan.status[PENDING_WRITE] = None
        planning.after_assigned(wp, action, res.name, res.created, ours, len(targets))
        if res.created:
            await announce(body, write, "Normal", action.event_reason, action.describe())
    plan.status["roleAssignments"] = [r for r in records if not planning.is_approver_record(r)] + wp.records
    plan.conditions = [c for c in plan.conditions if c["type"] != planning.CONDITION_APPROVER_ROLE_ASSIGNED]
    plan.conditions.append(wp.condition)
    return error


# --- the OutboundRule side -------------------------------------------------------------------------------------------


@kopf.index(GROUP, VERSION, PLURAL_WORKSPACE)
async def approver_role_workspaces(namespace: str, name: str, spec: Mapping, status: Mapping, **_: Any) -> dict:
    try:
        wanted = WorkspaceSpec.from_dict(spec).assigns_approver_role
    except SpecError:
        wanted = False
    return {(namespace, name): planning.workspace_approver(wanted, status)}


def workspace_approver(index: Any, namespace: str, workspace: str) -> WorkspaceApprover:
    if index is None:
        return WorkspaceApprover()
    return next(iter(index.get((namespace, workspace), [])), None) or WorkspaceApprover()


@dataclasses.dataclass(frozen=True)
class Gate:
    """What the rule handler does: write `record` to status.approverRole (if any), and either proceed or stop with
    `conditions` (a wait) and, for an Azure failure, `error` to retry on."""

    proceed: bool
    record: dict | None = None
    conditions: tuple[dict, ...] = ()
    error: AzureError | None = None


async def rule_gate(azure: Any, approver: WorkspaceApprover, workspace: str, target: str,
                    rule_status: Mapping | None, skip: bool) -> Gate:
    if not approver.wanted or skip:
        return Gate(True)
    if not approver.principal_id:
        return _wait(planning.REASON_WAITING, planning.waiting_message(
            workspace, "the workspace's managed identity is not known yet"))
    if planning.rule_record_matches(rule_status, target, approver.principal_id) or approver.covered(target):
        return Gate(True)  # recorded by this rule or found by the workspace's drift check: no write needed
    try:
        res = await azure.roles.ensure(target, planning.ROLE_APPROVER, approver.principal_id)
    except AzureError as err:
        if err.code in planning.OTHER_TENANT_CODES:
            # The role cannot help across tenants: write the rule; its Pending connection names the cause.
            rec = {**planning.rule_record(target, approver.principal_id, "", False), "otherTenant": True}
            return Gate(True, record=rec)
        message = planning.not_assignable_message(target, str(err), err.code)
        reason = planning.REASON_WAITING if err.kind in PASSING else planning.REASON_NOT_ASSIGNED
        return dataclasses.replace(_wait(reason, message, passing=err.kind in PASSING), error=err)
    return Gate(True, record=planning.rule_record(target, approver.principal_id, res.name, res.created))


def _wait(reason: str, message: str, passing: bool = True) -> Gate:
    status = conditions.UNKNOWN if passing else conditions.FALSE
    return Gate(False, conditions=(
        conditions.condition(CONDITION_APPLIED, conditions.UNKNOWN, planning.REASON_WAITING, message),
        conditions.condition(CONDITION_READY, status if reason != planning.REASON_WAITING else conditions.FALSE,
                             reason, message),
    ))


def explain_pending(plan: Any, *, target: str, workspace: str, approver: WorkspaceApprover,
                    rule_status: Mapping | None) -> Any:
    """A rule whose connection is Pending: Ready's message says why (role missing, other tenant, a person)."""
    ready = next((c for c in plan.conditions if c.get("type") == CONDITION_READY), None)
    if ready is None or ready.get("reason") != "PrivateEndpointPending":
        return plan
    cause = planning.pending_cause(target=target, workspace=workspace, approver=approver, rule_status=rule_status)
    head = ready["message"].split(": approve it on the target", 1)[0]
    new = {**ready, "message": f"{head}: {cause}"}
    return dataclasses.replace(plan, conditions=tuple(new if c is ready else c for c in plan.conditions),
                               retry_message=new["message"])
