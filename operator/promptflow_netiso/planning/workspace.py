"""PromptFlowWorkspace planning, pure (no I/O, no clock): desired spec + observed Azure state -> actions + status.

Flow per reconcile (handlers/workspace.py): observe (workspace GET, the identity's role assignments at or above its
storage account when `assignment_target()` names them, provisioning poll) -> `plan()`
-> execute `Plan.actions` in order, stopping at the first failure -> apply each action's outcome with the helpers at
the bottom of this module -> status. Deletion has its own `plan_delete()`. The approver role on PrivateEndpoint rules'
targets is planned in planning/approver_role.py (its condition joins STEPS).

Decisions that live here (documented for users in docs/workspace.md):
- Service limits are checked before anything is written; a violation blocks every write with a clear reason.
- The isolation mode is written only when it differs; with bring-your-own VNet it is never written (stays Disabled).
- Provisioning is started only when asked, not yet Active and no operation is already being followed.
- Storage roles: File Data Privileged Contributor always; Table Data Contributor only with the managed VNet (Azure's
  bring-your-own-VNet guidance asks for the File role alone, so we grant no more than that: least privilege).
- An assignment of the same role to the same principal at the storage account or any parent scope counts as done.
- Role assignments are judged from Azure's list, not from status: one the operator recorded that has gone (deleted
  by hand) is assigned again and announced as drift; status records only tell drift from a first assignment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Protocol, Sequence

from ..conditions import FALSE, TRUE, UNKNOWN, condition
from ..model import arm_id
from ..model.common import POLICY_DETACH_ON_DELETE, POLICY_MANAGE, POLICY_SKIP  # noqa: F401 (re-exported)
from ..model.workspace import (
    CONDITION_ISOLATION_APPLIED,
    CONDITION_LIMITS_SATISFIED,
    CONDITION_NETWORK_PROVISIONED,
    CONDITION_STORAGE_ROLES_ASSIGNED,
    CONDITION_WORKSPACE_FOUND,
    DeletionPolicy,
    DeploymentTargetType,
    WorkspaceSpec,
)
from . import approver_role
from .approver_role import CONDITION_APPROVER_ROLE_ASSIGNED

# Order matters: Ready carries the reason of the first step that is not True.
STEPS = (
    CONDITION_WORKSPACE_FOUND,
    CONDITION_LIMITS_SATISFIED,
    CONDITION_ISOLATION_APPLIED,
    CONDITION_NETWORK_PROVISIONED,
    CONDITION_STORAGE_ROLES_ASSIGNED,
    CONDITION_APPROVER_ROLE_ASSIGNED,
)

# Built-in role definition IDs (FACTS.md; same values as azure/roles.py, a unit test keeps them equal).
ROLE_FILE_DATA_PRIVILEGED_CONTRIBUTOR = "69566ab7-960f-475b-8e7c-b3118f30c6bd"
ROLE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
ROLE_NAMES = {
    ROLE_FILE_DATA_PRIVILEGED_CONTRIBUTOR: "Storage File Data Privileged Contributor",
    ROLE_TABLE_DATA_CONTRIBUTOR: "Storage Table Data Contributor",
}

POLICY_DETACH = POLICY_DETACH_ON_DELETE  # the reconcile-policy values are model/common.py's ReconcilePolicy
ISOLATION_DISABLED = "Disabled"
NETWORK_ACTIVE = "Active"
WORKSPACE_KINDS_WITHOUT_BYO_VNET = ("hub", "project")  # lower-cased: ARM kinds are case-insensitive

# Reasons a person reads in conditions, Events and alerts (PascalCase, stable).
REASON_FOUND = "Found"
REASON_WITHIN_LIMITS = "WithinLimits"
REASON_BYO_VNET_NOT_SUPPORTED = "BringYourOwnVnetNotSupportedForKind"
REASON_ENDPOINT_NEEDS_MANAGED_VNET = "ManagedOnlineEndpointRequiresManagedVnet"
REASON_MANAGED_NETWORK_ALREADY_ENABLED = "ManagedNetworkAlreadyEnabled"
REASON_BLOCKED = "LimitsNotSatisfied"
REASON_WAITING_FOR_WORKSPACE = "WaitingForWorkspace"
REASON_APPLIED = "Applied"
REASON_APPLYING = "Applying"
REASON_NOT_APPLICABLE = "NotApplicable"
REASON_SKIPPED = "ReconcileSkipped"
REASON_INHERITED_FROM_HUB = "InheritedFromHub"
REASON_ACTIVE = "Active"
REASON_NOT_REQUESTED = "NotRequested"
REASON_PROVISIONING = "Provisioning"
REASON_PROVISIONING_FAILED = "ProvisioningFailed"
REASON_ASSIGNED = "Assigned"
REASON_ASSIGNING = "Assigning"
REASON_NO_STORAGE = "NoLinkedStorageAccount"
REASON_NO_IDENTITY = "NoManagedIdentity"

# Event reasons for Azure writes.
EVENT_ISOLATION_SET = "IsolationModeSet"
EVENT_DRIFT_CORRECTED = "DriftCorrected"
EVENT_PROVISIONING_STARTED = "ProvisioningStarted"
EVENT_ROLE_ASSIGNED = "RoleAssigned"
EVENT_ROLE_REMOVED = "RoleAssignmentRemoved"


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


class AssignmentLike(Protocol):
    name: str
    role_definition_id: str
    scope: str
    principal_id: str


@dataclass(frozen=True)
class ObservedAssignment:
    """A role assignment of the workspace identity as Azure lists it (role_definition_id may be a full ARM ID)."""

    name: str
    role_definition_id: str
    scope: str
    principal_id: str


AssignmentNameFn = Callable[[str, str, str], str]  # (scope, role_id, principal_id) -> deterministic GUID


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


@dataclass(frozen=True)
class AssignRole:
    scope: str
    role_id: str
    principal_id: str
    vanished: str | None = None  # drift: name of the recorded assignment that is no longer in Azure (deleted by hand)

    condition_type = CONDITION_STORAGE_ROLES_ASSIGNED

    @property
    def event_reason(self) -> str:
        return EVENT_DRIFT_CORRECTED if self.vanished else EVENT_ROLE_ASSIGNED

    def describe(self) -> str:
        role = ROLE_NAMES.get(self.role_id, self.role_id)
        if self.vanished:
            return (f"{role} assignment {self.vanished} on {_short(self.scope)} was removed outside the operator; "
                    f"assigned again to the workspace identity {self.principal_id}")
        return f"{role} assigned to the workspace identity {self.principal_id} on {_short(self.scope)}"


@dataclass(frozen=True)
class RemoveRole:
    scope: str
    name: str
    role_id: str

    condition_type = CONDITION_STORAGE_ROLES_ASSIGNED
    event_reason = EVENT_ROLE_REMOVED

    def describe(self) -> str:
        role = f" ({ROLE_NAMES.get(self.role_id, self.role_id)})" if self.role_id else ""
        return f"role assignment {self.name}{role} removed from {_short(self.scope)}"


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
    conds.append(condition(CONDITION_LIMITS_SATISFIED, TRUE, REASON_WITHIN_LIMITS, _limits_summary(spec, ws)))

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

    roles_cond, role_actions, records = _storage_roles(spec, ws, manage, previous, assignments, assignment_name)
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


def limit_violations(spec: WorkspaceSpec, ws: WorkspaceLike) -> list[tuple[str, str]]:
    """The service limits the spec would break, as (reason, message); empty when the spec is possible."""
    found: list[tuple[str, str]] = []
    if spec.network.managed:
        return found
    kind = (ws.kind or "Default").lower()
    if kind in WORKSPACE_KINDS_WITHOUT_BYO_VNET:
        found.append((REASON_BYO_VNET_NOT_SUPPORTED,
                      f"{ws.kind} workspaces cannot use a bring-your-own virtual network (Azure's prompt flow "
                      "guidance: hub and lean (project) workspaces support only the managed virtual network); "
                      "use network.mode ManagedVirtualNetwork"))
    if spec.deployment_target.type == DeploymentTargetType.MANAGED_ONLINE_ENDPOINT:
        found.append((REASON_ENDPOINT_NEEDS_MANAGED_VNET,
                      "a managed online endpoint deployment target requires a managed virtual network; "
                      "with a bring-your-own virtual network set deploymentTarget.type Kubernetes and aksClusterId"))
    current = _isolation_of(ws)
    if current != ISOLATION_DISABLED:
        found.append((REASON_MANAGED_NETWORK_ALREADY_ENABLED,
                      f"the workspace already has a managed virtual network (isolation mode {current}) and Azure "
                      "cannot disable it, so it cannot switch to a bring-your-own virtual network"))
    return found


def _limits_summary(spec: WorkspaceSpec, ws: WorkspaceLike) -> str:
    target = spec.deployment_target
    if spec.network.managed:
        where = "managed virtual network"
    else:
        where = f"bring-your-own virtual network {_short(spec.network.virtual_network_id or '')}"
    if target.type == DeploymentTargetType.KUBERNETES:
        deploy = f"deployments to AKS cluster {_short(target.aks_cluster_id or '')} as compute {target.compute_name}"
    else:
        deploy = "deployments to managed online endpoints"
    return f"{ws.kind or 'Default'} workspace, {where}, {deploy}"


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


def desired_roles(spec: WorkspaceSpec) -> tuple[str, ...]:
    if not spec.storage_roles.assign:
        return ()
    if spec.network.managed:
        return ROLE_FILE_DATA_PRIVILEGED_CONTRIBUTOR, ROLE_TABLE_DATA_CONTRIBUTOR
    return (ROLE_FILE_DATA_PRIVILEGED_CONTRIBUTOR,)


def _storage_roles(spec: WorkspaceSpec, ws: WorkspaceLike, manage: bool, previous: Previous,
                   observed: Sequence[AssignmentLike] | None, assignment_name: AssignmentNameFn):
    """-> (condition, actions, status records). Records of assignments the operator created stay listed even when no
    longer wanted, so a Delete policy can still remove them."""
    roles = desired_roles(spec)
    kept = [dict(r) for r in previous.role_assignments if r.get("createdByOperator")]
    if not roles:
        return (condition(CONDITION_STORAGE_ROLES_ASSIGNED, TRUE, REASON_NOT_REQUESTED, "storageRoles.assign is false"),
                [], kept)
    scope, principal = ws.storage_account_id, ws.principal_id
    if not scope:
        return (condition(CONDITION_STORAGE_ROLES_ASSIGNED, FALSE, REASON_NO_STORAGE,
                          "the workspace has no linked storage account"), [], kept)
    if not principal:
        return (condition(CONDITION_STORAGE_ROLES_ASSIGNED, FALSE, REASON_NO_IDENTITY,
                          "the workspace has no system-assigned managed identity to grant storage roles to"), [], kept)

    records: list[dict] = []
    actions: list[Action] = []
    missing_roles: list[str] = []
    for role in roles:
        ours = assignment_name(scope, role, principal)
        found = _find_assignment(role, scope, principal, ours, observed, previous.role_assignments)
        if found is not None:
            records.append(found)
            continue
        missing_roles.append(role)
        if manage:
            vanished = _vanished(role, scope, principal, ours, previous) if observed is not None else None
            actions.append(AssignRole(scope=scope, role_id=role, principal_id=principal, vanished=vanished))
    # Keep records of our own earlier assignments that are not in the desired set any more (e.g. another principal),
    # for deletion. With Azure's list at hand, our records of the desired grants are replaced by what it says: a stale
    # record of an assignment deleted by hand must not stand in for it.
    replaced = {_lower(r["name"]) for r in records}
    if observed is not None:
        replaced |= {_lower(assignment_name(scope, r, principal)) for r in roles}
    records += [r for r in kept if _lower(r.get("name")) not in replaced]

    if not missing_roles:
        names = ", ".join(ROLE_NAMES[r] for r in roles)
        return condition(CONDITION_STORAGE_ROLES_ASSIGNED, TRUE, REASON_ASSIGNED, f"{names} on {_short(scope)}"), [], records
    missing = ", ".join(ROLE_NAMES[r] for r in missing_roles)
    if not manage:
        return (condition(CONDITION_STORAGE_ROLES_ASSIGNED, FALSE, REASON_SKIPPED,
                          f"missing {missing} on {_short(scope)}; not assigned because reconcile-policy is skip"),
                [], records)
    return (condition(CONDITION_STORAGE_ROLES_ASSIGNED, FALSE, REASON_ASSIGNING, f"assigning {missing} on {_short(scope)}"),
            actions, records)


def _vanished(role: str, scope: str, principal: str, ours: str, previous: Previous) -> str | None:
    """The name of the assignment status recorded as granting `role` on `scope` to this same identity, which Azure
    no longer lists: someone deleted it. None for a first assignment (or a new identity)."""
    same_identity = not previous.principal_id or _lower(previous.principal_id) == _lower(principal)
    for r in previous.role_assignments:
        if role_guid(r.get("roleDefinitionId")) != role or not _covers(r.get("scope") or "", scope) or not r.get("name"):
            continue
        # Our own names encode the principal; someone else's equivalent counted for the identity status named.
        if (_lower(r["name"]) == _lower(ours)) if r.get("createdByOperator") else same_identity:
            return str(r["name"])
    return None


def _find_assignment(role: str, scope: str, principal: str, ours: str, observed: Sequence[AssignmentLike] | None,
                     recorded: Iterable[Mapping]) -> dict | None:
    """The status record of an assignment that already grants `role` on `scope`, or None when one is needed."""
    if observed is not None:
        granting = [a for a in observed if _lower(a.principal_id) == _lower(principal)
                    and role_guid(a.role_definition_id) == role and _covers(a.scope, scope)]
        # Ours first (it carries our deterministic name, so this also survives a crash between the PUT and the status
        # write): its record must stay, or deletionPolicy Delete would forget it beside someone else's equivalent.
        granting.sort(key=lambda a: _lower(a.name) != _lower(ours))
        if not granting:
            return None
        a = granting[0]
        return role_record(a.scope, role, a.name, created_by_operator=_lower(a.name) == _lower(ours))
    # Could not be read this time: trust what the operator recorded for this very scope and role.
    for r in recorded:
        if role_guid(r.get("roleDefinitionId")) == role and arm_id.same(r.get("scope"), scope):
            if not r.get("createdByOperator") or _lower(r.get("name")) == _lower(ours):
                return dict(r)
    return None


def _has(records: Sequence[Mapping], role: str, scope: str) -> bool:
    return any(role_guid(r.get("roleDefinitionId")) == role and _covers(r.get("scope") or "", scope) for r in records)


# An assignment at a scope applies to everything below it (subscription > resource group > resource).
_covers = arm_id.covers


# --- outcomes of executed actions (pure; the handler applies them in order) -----------------------------------------


def role_record(scope: str, role_id: str, name: str, created_by_operator: bool) -> dict:
    return {
        "name": name,
        "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{role_id}",
        "scope": scope,
        "createdByOperator": created_by_operator,
    }


def role_guid(role_definition_id: str | None) -> str:
    return _lower(role_definition_id).rstrip("/").rsplit("/", 1)[-1]


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


def after_role_assigned(plan_: Plan, action: AssignRole, name: str, created: bool, ours: str) -> None:
    """`created` False with another name: an equivalent assignment existed (409 RoleAssignmentExists) and counts."""
    records = plan_.status.setdefault("roleAssignments", [])
    records[:] = [r for r in records if _lower(r.get("name")) != _lower(name)]
    records.append(role_record(action.scope, action.role_id, name, created_by_operator=created or _lower(name) == _lower(ours)))
    if not any(isinstance(a, AssignRole) and not _has(records, a.role_id, a.scope) for a in plan_.actions):
        roles = [a for a in ROLE_NAMES if _has(records, a, action.scope)]
        _replace(plan_, condition(CONDITION_STORAGE_ROLES_ASSIGNED, TRUE, REASON_ASSIGNED,
                                  f"{', '.join(ROLE_NAMES[r] for r in roles)} on {_short(action.scope)}"))


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


def pascal(code: str | None) -> str:
    """Kubernetes wants reasons in CamelCase letters and digits; ARM codes mostly are already."""
    cleaned = "".join(ch for ch in (code or "") if ch.isalnum())
    if not cleaned:
        return "AzureError"
    return cleaned[0].upper() + cleaned[1:]


def _replace(plan_: Plan, new: dict) -> None:
    plan_.conditions = [new if c["type"] == new["type"] else c for c in plan_.conditions]


# --- deletion --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeletePlan:
    actions: tuple[RemoveRole, ...]
    summary: str  # one line for the Event posted when the object goes


def plan_delete(spec: WorkspaceSpec | None, policy: str, recorded: Iterable[Mapping]) -> DeletePlan:
    """Retain (default), `detach-on-delete` and `skip` leave Azure untouched. Delete removes only the role assignments
    the operator created; the workspace itself is never deleted."""
    if policy == POLICY_SKIP:
        return DeletePlan((), "reconcile-policy skip: Azure left untouched")
    if policy == POLICY_DETACH:
        return DeletePlan((), "reconcile-policy detach-on-delete: Azure left untouched")
    if spec is None or spec.deletion_policy != DeletionPolicy.DELETE:
        return DeletePlan((), "deletionPolicy Retain: Azure left untouched")
    seen: set[str] = set()
    actions = []
    for r in recorded:
        name, scope = r.get("name"), r.get("scope")
        if not r.get("createdByOperator") or not name or not scope or _lower(name) in seen:
            continue
        seen.add(_lower(name))
        actions.append(RemoveRole(scope=scope, name=name, role_id=role_guid(r.get("roleDefinitionId"))))
    if not actions:
        return DeletePlan((), "deletionPolicy Delete: no role assignment created by the operator to remove; workspace kept")
    return DeletePlan(tuple(actions), f"deletionPolicy Delete: removed {len(actions)} role assignment(s) created by the operator; workspace kept")


# --- small helpers ---------------------------------------------------------------------------------------------------


def _is_project(ws: WorkspaceLike) -> bool:
    return (ws.kind or "").lower() == "project"


def _isolation_of(ws: WorkspaceLike) -> str:
    mn = ws.managed_network
    return mn.isolation_mode if mn and mn.isolation_mode else ISOLATION_DISABLED


def _lower(value: object) -> str:
    return str(value or "").lower()


_short = arm_id.name_of  # the last segment of an ARM ID: what a person recognises in a message
