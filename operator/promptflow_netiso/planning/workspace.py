"""PromptFlowWorkspace planning, pure (no I/O, no clock): desired spec + observed Azure state -> actions + status.

Flow per reconcile (handlers/workspace.py): observe (workspace GET, the identity's role assignments at or above its
storage account when `assignment_target()` names them, provisioning poll) -> `plan()`
-> execute `Plan.actions` in order, stopping at the first failure -> apply each action's outcome with the `after_*`
helpers -> status. Deletion has its own `plan_delete()`.

This module holds the steps' order, the isolation mode and provisioning; the other steps live beside it:
planning/workspace_limits.py (service limits, checked before anything is written), planning/storage_roles.py (the
storage roles and what deletion removes), planning/approver_role.py (the approver role on PrivateEndpoint rules'
targets), planning/workspace_reasons.py (the reasons a person reads), planning/workspace_intent.py (writes recorded
before they are sent). Their public names are importable from here too.

Decisions that live here (documented for users in docs/workspace.md):
- The isolation mode is written only when it differs; with bring-your-own VNet it is never written (stays Disabled).
- Provisioning is started only when asked, not yet Active and no operation is already being followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

from ..conditions import FALSE, TRUE, UNKNOWN, condition, reason_from_code, replaced
from ..model.common import POLICY_DETACH_ON_DELETE, POLICY_MANAGE, POLICY_SKIP  # noqa: F401 (re-exported)
from ..model.workspace import (
    CONDITION_ISOLATION_APPLIED,
    CONDITION_LIMITS_SATISFIED,
    CONDITION_NETWORK_PROVISIONED,
    CONDITION_STORAGE_ROLES_ASSIGNED,
    CONDITION_WORKSPACE_FOUND,
    WorkspaceSpec,
)
from . import approver_role
from .approver_role import CONDITION_APPROVER_ROLE_ASSIGNED
# The storage roles, the service limits and the reasons live in their own modules; their public names stay
# importable from here (handlers and tests use `planning.workspace` as the workspace's one planner entry).
from .storage_roles import (  # noqa: F401 (re-exported)
    ROLE_FILE_DATA_PRIVILEGED_CONTRIBUTOR,
    ROLE_NAMES,
    ROLE_TABLE_DATA_CONTRIBUTOR,
    AssignmentLike,
    AssignmentNameFn,
    AssignRole,
    DeletePlan,
    ObservedAssignment,
    RemoveRole,
    after_role_assigned,
    desired_roles,
    plan_delete,
    plan_roles,
    role_guid,
    role_record,
)
from .workspace_limits import limit_violations, limits_summary
from .workspace_reasons import (  # noqa: F401 (the reasons of every step, re-exported)
    EVENT_DRIFT_CORRECTED,
    EVENT_ISOLATION_SET,
    EVENT_PROVISIONING_STARTED,
    EVENT_ROLE_ASSIGNED,
    EVENT_ROLE_REMOVED,
    ISOLATION_DISABLED,
    NETWORK_ACTIVE,
    REASON_ACTIVE,
    REASON_APPLIED,
    REASON_APPLYING,
    REASON_ASSIGNED,
    REASON_ASSIGNING,
    REASON_BLOCKED,
    REASON_BYO_VNET_NOT_SUPPORTED,
    REASON_ENDPOINT_NEEDS_MANAGED_VNET,
    REASON_FOUND,
    REASON_INHERITED_FROM_HUB,
    REASON_MANAGED_NETWORK_ALREADY_ENABLED,
    REASON_NOT_APPLICABLE,
    REASON_NOT_REQUESTED,
    REASON_NO_IDENTITY,
    REASON_NO_STORAGE,
    REASON_PROVISIONING,
    REASON_PROVISIONING_FAILED,
    REASON_SKIPPED,
    REASON_WAITING_FOR_WORKSPACE,
    REASON_WITHIN_LIMITS,
    WORKSPACE_KINDS_WITHOUT_BYO_VNET,
)

# Order matters: Ready carries the reason of the first step that is not True.
STEPS = (
    CONDITION_WORKSPACE_FOUND,
    CONDITION_LIMITS_SATISFIED,
    CONDITION_ISOLATION_APPLIED,
    CONDITION_NETWORK_PROVISIONED,
    CONDITION_STORAGE_ROLES_ASSIGNED,
    CONDITION_APPROVER_ROLE_ASSIGNED,
)

POLICY_DETACH = POLICY_DETACH_ON_DELETE  # the reconcile-policy values are model/common.py's ReconcilePolicy

# --- what the planner reads of the Azure layer (structural: planning imports nothing from azure/) --------------------


class ManagedNetworkLike(Protocol):
    isolation_mode: str | None
    status: str | None
    spark_ready: bool | None


class WorkspaceLike(Protocol):
    id: str
    name: str
    kind: str | None
    principal_id: str | None
    storage_account_id: str | None
    managed_network: ManagedNetworkLike | None


class ProvisionResultLike(Protocol):
    done: bool
    status: str | None
    spark_ready: bool | None


# --- actions ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetIsolationMode:
    mode: str
    previous: str
    drift: bool  # Azure moved away from a mode we had applied for this generation: someone changed it by hand

    condition_type = CONDITION_ISOLATION_APPLIED

    @property
    def event_reason(self) -> str:
        return EVENT_DRIFT_CORRECTED if self.drift else EVENT_ISOLATION_SET

    def describe(self) -> str:
        if self.drift:
            return f"isolation mode was changed to {self.previous} outside the operator; set back to {self.mode}"
        return f"isolation mode set from {self.previous} to {self.mode}"


@dataclass(frozen=True)
class StartProvisioning:
    include_spark: bool

    condition_type = CONDITION_NETWORK_PROVISIONED
    event_reason = EVENT_PROVISIONING_STARTED

    def describe(self) -> str:
        return "managed network provisioning started" + (" (with Spark)" if self.include_spark else "")


Action = SetIsolationMode | StartProvisioning | AssignRole | RemoveRole


@dataclass(frozen=True)
class Previous:
    """What the operator itself recorded earlier (status), needed to tell drift from a first apply and to follow a
    provisioning operation across restarts."""

    generation: int | None = None
    isolation_applied_generation: int | None = None  # observedGeneration of IsolationApplied when it was True
    applied_isolation_mode: str | None = None
    provisioning: Mapping | None = None  # {operationUrl, startedAt}
    role_assignments: tuple[Mapping, ...] = ()
    principal_id: str | None = None  # the identity the recorded role assignments were made for

    @classmethod
    def from_status(cls, status: Mapping | None, generation: int | None) -> "Previous":
        status = status or {}
        applied_gen = None
        for c in status.get("conditions") or ():
            if c.get("type") == CONDITION_ISOLATION_APPLIED and c.get("status") == TRUE and c.get("reason") == REASON_APPLIED:
                applied_gen = c.get("observedGeneration")
        prov = status.get("provisioning")
        return cls(
            generation=generation,
            isolation_applied_generation=applied_gen,
            applied_isolation_mode=status.get("isolationMode"),
            provisioning=prov if isinstance(prov, Mapping) and prov.get("operationUrl") else None,
            role_assignments=tuple(r for r in status.get("roleAssignments") or () if isinstance(r, Mapping)),
            principal_id=status.get("principalId"),
        )


@dataclass
class Plan:
    """Mutable on purpose: the `after_*` helpers below fold each executed action's outcome into it."""

    actions: tuple[Action, ...]
    conditions: list[dict]  # one per step in STEPS order (Ready is summarised by the handler)
    status: dict  # status fields as observed (+ records already settled); action outcomes update them
    follow_provisioning: bool = False  # an operation is running: check again soon instead of at the drift interval
    retry_after: float | None = None  # Azure's Retry-After for that next look (a floor)

    def condition(self, type_: str) -> dict | None:
        return next((c for c in self.conditions if c["type"] == type_), None)


# --- the planner -----------------------------------------------------------------------------------------------------


def plan(
    spec: WorkspaceSpec,
    ws: WorkspaceLike,
    *,
    policy: str,
    previous: Previous,
    assignment_name: AssignmentNameFn,
    assignments: Sequence[AssignmentLike] | None = None,
    provision_result: ProvisionResultLike | None = None,
    provisioning_held: str | None = None,
) -> Plan:
    """`assignments`: the identity's role assignments at or above `assignment_target()` as Azure lists them, or None
    when they could not be read (then the operator's own records in status count, as a fallback).
    `provision_result`: the poll of `previous.provisioning`, if any. `provisioning_held`: when a provisioning POST
    recorded before a crash may still run in Azure (planning/workspace_intent.py), the time it started: no new POST."""
    manage = policy != POLICY_SKIP
    actions: list[Action] = []
    status = observed_status(ws)
    conds = [condition(CONDITION_WORKSPACE_FOUND, TRUE, REASON_FOUND, f"{ws.kind or 'Default'} workspace {ws.name}")]

    violations = limit_violations(spec, ws)
    if violations:
        reason, message = violations[0][0], "; ".join(m for _, m in violations)
        conds.append(condition(CONDITION_LIMITS_SATISFIED, FALSE, reason, message))
        blocked = f"nothing is written to Azure until {CONDITION_LIMITS_SATISFIED} is True"
        conds += [condition(t, UNKNOWN, REASON_BLOCKED, blocked) for t in STEPS[2:]]
        # Keep following an operation started earlier, and keep the records of what we created (for deletion).
        status["provisioning"] = dict(previous.provisioning) if previous.provisioning else None
        status["roleAssignments"] = [dict(r) for r in previous.role_assignments]
        return Plan(tuple(actions), conds, status)
    conds.append(condition(CONDITION_LIMITS_SATISFIED, TRUE, REASON_WITHIN_LIMITS, limits_summary(spec, ws)))

    iso_cond, iso_action = _isolation(spec, ws, manage, previous)
    conds.append(iso_cond)
    if iso_action:
        actions.append(iso_action)

    prov_cond, prov_action, record, following = _provisioning(spec, ws, manage, previous, provision_result)
    if prov_action is not None and provisioning_held:
        prov_cond, prov_action, following = condition(
            CONDITION_NETWORK_PROVISIONED, UNKNOWN, REASON_PROVISIONING,
            f"managed network provisioning started at {provisioning_held} (before an operator restart) may still be "
            f"running in Azure; waiting for it instead of starting another"), None, True
    conds.append(prov_cond)
    status["provisioning"] = record
    if provision_result is not None and provisioning_succeeded(provision_result):
        status["managedNetworkStatus"] = NETWORK_ACTIVE
        if provision_result.spark_ready is not None:
            status["sparkReady"] = bool(provision_result.spark_ready)
        if provision_result.spark_ready is not None:
            status["sparkReady"] = provision_result.spark_ready
    if prov_action:
        actions.append(prov_action)

    roles_cond, role_actions, records = plan_roles(spec, ws, manage, previous, assignments, assignment_name)
    conds.append(roles_cond)
    actions += role_actions
    status["roleAssignments"] = records
    conds.append(approver_role.placeholder(spec.assigns_approver_role))  # the handler's approver hook replaces it
    return Plan(tuple(actions), conds, status, follow_provisioning=following)


def assignment_target(spec: WorkspaceSpec, ws: WorkspaceLike) -> tuple[str, str] | None:
    """(scope, principal) whose role assignments `plan()` needs, or None when it needs none (no roles wanted, no
    storage or identity, or the spec is blocked by a service limit): then no read is spent on them."""
    if not desired_roles(spec) or not ws.storage_account_id or not ws.principal_id or limit_violations(spec, ws):
        return None
    return ws.storage_account_id, ws.principal_id


def observed_status(ws: WorkspaceLike) -> dict:
    """The at-a-glance status fields, straight from the workspace as Azure reports it."""
    mn = ws.managed_network
    return {
        "workspaceResourceId": ws.id,
        "workspaceKind": ws.kind or "Default",
        "isolationMode": (mn.isolation_mode if mn and mn.isolation_mode else ISOLATION_DISABLED),
        "managedNetworkStatus": (mn.status if mn else None),
        "sparkReady": bool(mn.spark_ready) if mn and mn.spark_ready is not None else False,
        "principalId": ws.principal_id,
        "storageAccountId": ws.storage_account_id,
    }


def _isolation(spec: WorkspaceSpec, ws: WorkspaceLike, manage: bool, previous: Previous):
    if not spec.network.managed:
        return condition(CONDITION_ISOLATION_APPLIED, TRUE, REASON_NOT_APPLICABLE,
                         "bring-your-own virtual network: the managed network stays Disabled"), None
    desired = spec.network.isolation_mode.value  # type: ignore[union-attr]  (always set when managed)
    current = _isolation_of(ws)
    if current == desired:
        return condition(CONDITION_ISOLATION_APPLIED, TRUE, REASON_APPLIED, f"isolation mode {desired}"), None
    if _is_project(ws):
        return condition(CONDITION_ISOLATION_APPLIED, FALSE, REASON_INHERITED_FROM_HUB,
                         f"the hub's managed network has isolation mode {current}, the spec asks for {desired}: "
                         f"a Project workspace inherits its hub's network; change it on the hub"), None
    # Which transitions Azure allows is not part of the 2025-12-01 contract (no changeableIsolationModes there):
    # loosening is refused at admission, and if Azure refuses a change its error is reported verbatim.
    if not manage:
        return condition(CONDITION_ISOLATION_APPLIED, FALSE, REASON_SKIPPED,
                         f"Azure has isolation mode {current}, the spec asks for {desired}; "
                         "not changed because reconcile-policy is skip"), None
    drift = (previous.isolation_applied_generation is not None
             and previous.isolation_applied_generation == previous.generation
             and previous.applied_isolation_mode == desired)
    action = SetIsolationMode(mode=desired, previous=current, drift=drift)
    return condition(CONDITION_ISOLATION_APPLIED, FALSE, REASON_APPLYING, action.describe()), action


def _provisioning(spec: WorkspaceSpec, ws: WorkspaceLike, manage: bool, previous: Previous,
                  result: ProvisionResultLike | None):
    """-> (condition, action or None, provisioning record to keep or None, still following an operation)."""
    net = spec.network
    mn = ws.managed_network
    active = bool(mn and mn.status == NETWORK_ACTIVE)
    spark_ok = not net.provision.include_spark or bool(mn and mn.spark_ready)
    record = dict(previous.provisioning) if previous.provisioning else None

    if not net.managed:
        return condition(CONDITION_NETWORK_PROVISIONED, TRUE, REASON_NOT_APPLICABLE,
                         "bring-your-own virtual network: no managed network to provision"), None, None, False
    if record is not None and result is not None:
        if not result.done:
            return (condition(CONDITION_NETWORK_PROVISIONED, UNKNOWN, REASON_PROVISIONING,
                              f"managed network provisioning started at {record.get('startedAt', '?')} is running"),
                    None, record, True)
        # Finished: Location polls end with the network's {status: Active}, Azure-AsyncOperation ones with Succeeded.
        error = getattr(result, "error", None)  # azure.ml.ProvisionResult carries a failed operation's error
        if error is None and provisioning_succeeded(result):
            return condition(CONDITION_NETWORK_PROVISIONED, TRUE, REASON_ACTIVE, _active_message(result.spark_ready)), None, None, False
        # Finished without an Active network: drop the record so a later check may start a new operation.
        if error is not None:
            return (condition(CONDITION_NETWORK_PROVISIONED, FALSE, pascal(getattr(error, "code", None)), str(error)),
                    None, None, False)
        return (condition(CONDITION_NETWORK_PROVISIONED, FALSE, REASON_PROVISIONING_FAILED,
                          f"managed network provisioning finished with status {result.status or 'unknown'}"),
                None, None, False)
    if active and spark_ok:
        return condition(CONDITION_NETWORK_PROVISIONED, TRUE, REASON_ACTIVE, _active_message(mn.spark_ready)), None, None, False
    if not net.provision.enabled:
        if active:
            return condition(CONDITION_NETWORK_PROVISIONED, TRUE, REASON_ACTIVE, _active_message(mn.spark_ready)), None, None, False
        return (condition(CONDITION_NETWORK_PROVISIONED, TRUE, REASON_NOT_REQUESTED,
                          "network.provision.enabled is false: Azure creates the managed network with the first compute"),
                None, None, False)
    if record is not None:  # recorded but not polled (should not happen): keep following it
        return (condition(CONDITION_NETWORK_PROVISIONED, UNKNOWN, REASON_PROVISIONING,
                          f"managed network provisioning started at {record.get('startedAt', '?')} is running"),
                None, record, True)
    missing = "Spark is not ready" if active else f"managed network is {(mn.status if mn and mn.status else 'Inactive')}"
    if _is_project(ws):
        return (condition(CONDITION_NETWORK_PROVISIONED, FALSE, REASON_INHERITED_FROM_HUB,
                          f"{missing}: a Project workspace uses its hub's managed network; provision it on the hub"),
                None, None, False)
    if not manage:
        return (condition(CONDITION_NETWORK_PROVISIONED, FALSE, REASON_SKIPPED,
                          f"{missing}; provisioning not started because reconcile-policy is skip"), None, None, False)
    action = StartProvisioning(include_spark=net.provision.include_spark)
    return (condition(CONDITION_NETWORK_PROVISIONED, UNKNOWN, REASON_PROVISIONING, f"{missing}; starting provisioning"),
            action, None, False)


def provisioning_succeeded(result: ProvisionResultLike) -> bool:
    return result.done and (result.status or "").lower() in ("active", "succeeded", "")


def _active_message(spark_ready: bool | None) -> str:
    return "managed network is Active" + (", Spark ready" if spark_ready else "")


# An assignment at a scope applies to everything below it (subscription > resource group > resource).
# --- outcomes of executed actions (pure; the handler applies them in order) -----------------------------------------


def after_isolation_set(plan_: Plan, action: SetIsolationMode, isolation_mode: str | None) -> None:
    plan_.status["isolationMode"] = isolation_mode or action.mode
    _replace(plan_, condition(CONDITION_ISOLATION_APPLIED, TRUE, REASON_APPLIED, f"isolation mode {action.mode}"))


def after_provisioning_started(plan_: Plan, operation_url: str | None, started_at: str) -> None:
    """`operation_url` None means Azure answered 200: the network is already provisioned."""
    if operation_url:
        plan_.status["provisioning"] = {"operationUrl": operation_url, "startedAt": started_at}
        _replace(plan_, condition(CONDITION_NETWORK_PROVISIONED, UNKNOWN, REASON_PROVISIONING,
                                  f"managed network provisioning started at {started_at} is running"))
        plan_.follow_provisioning = True
    else:
        plan_.status["provisioning"] = None
        plan_.status["managedNetworkStatus"] = NETWORK_ACTIVE
        _replace(plan_, condition(CONDITION_NETWORK_PROVISIONED, TRUE, REASON_ACTIVE, _active_message(None)))


def after_failure(plan_: Plan, action: Action, code: str, text: str, passing: bool = False) -> dict:
    """The condition an Azure error leaves behind: reason is the ARM error code, message verbatim `<Code>: <msg>`.
    `passing`: throttling or a transient fault, so the outcome is Unknown rather than False."""
    c = condition(action.condition_type, UNKNOWN if passing else FALSE, pascal(code), text)
    _replace(plan_, c)
    return c


def after_assignments_unreadable(plan_: Plan, code: str, text: str, passing: bool = False) -> None:
    """The role assignments could not be listed, so the plan trusted status records. A passing fault (throttling,
    5xx) leaves that outcome standing; a lasting one (e.g. 403 on roleAssignments/read) is shown, because the
    operator cannot tell whether the roles are still granted."""
    if not passing and plan_.condition(CONDITION_STORAGE_ROLES_ASSIGNED) is not None:
        _replace(plan_, condition(CONDITION_STORAGE_ROLES_ASSIGNED, FALSE, pascal(code), text))


def unreachable_conditions(code: str, text: str, passing: bool = False) -> list[dict]:
    """Conditions when the workspace itself could not be read (not found, forbidden, throttled...). A passing fault
    leaves the other steps as they were last seen; a lasting one makes them wait."""
    if passing:
        return [condition(CONDITION_WORKSPACE_FOUND, UNKNOWN, pascal(code), text)]
    waiting = f"waiting for {CONDITION_WORKSPACE_FOUND}"
    return [condition(CONDITION_WORKSPACE_FOUND, FALSE, pascal(code), text)] + [
        condition(t, UNKNOWN, REASON_WAITING_FOR_WORKSPACE, waiting) for t in STEPS[1:]
    ]


pascal = reason_from_code  # an ARM error code as a condition reason


def _replace(plan_: Plan, new: dict) -> None:
    plan_.conditions = replaced(plan_.conditions, new)


# --- small helpers ---------------------------------------------------------------------------------------------------


def _is_project(ws: WorkspaceLike) -> bool:
    return (ws.kind or "").lower() == "project"


def _isolation_of(ws: WorkspaceLike) -> str:
    mn = ws.managed_network
    return mn.isolation_mode if mn and mn.isolation_mode else ISOLATION_DISABLED
