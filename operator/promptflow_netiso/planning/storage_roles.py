"""The storage roles of a workspace's identity, pure (no I/O, no clock): which roles are wanted, what Azure already
grants, what to assign, how each outcome is recorded, and what deletionPolicy Delete removes.

- File Data Privileged Contributor always; Table Data Contributor only with the managed VNet (Azure's
  bring-your-own-VNet guidance asks for the File role alone, so no more than that is granted: least privilege).
- An assignment of the same role to the same principal at the storage account or any parent scope counts as done.
- Assignments are judged from Azure's list, not from status: one the operator recorded that has gone (deleted by
  hand) is assigned again and announced as drift; status records only tell drift from a first assignment.
- Records of assignments the operator created stay listed even when no longer wanted, so Delete can remove them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

from ..conditions import FALSE, TRUE, condition, replaced
from ..model import arm_id
from ..model.common import POLICY_DETACH_ON_DELETE, POLICY_SKIP
from ..model.workspace import CONDITION_STORAGE_ROLES_ASSIGNED, DeletionPolicy, WorkspaceSpec
from .workspace_reasons import (
    EVENT_DRIFT_CORRECTED,
    EVENT_ROLE_ASSIGNED,
    EVENT_ROLE_REMOVED,
    REASON_ASSIGNED,
    REASON_ASSIGNING,
    REASON_NO_IDENTITY,
    REASON_NO_STORAGE,
    REASON_NOT_REQUESTED,
    REASON_SKIPPED,
)

# Built-in role definition IDs (FACTS.md; same values as azure/roles.py, a unit test keeps them equal).
ROLE_FILE_DATA_PRIVILEGED_CONTRIBUTOR = "69566ab7-960f-475b-8e7c-b3118f30c6bd"
ROLE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
ROLE_NAMES = {
    ROLE_FILE_DATA_PRIVILEGED_CONTRIBUTOR: "Storage File Data Privileged Contributor",
    ROLE_TABLE_DATA_CONTRIBUTOR: "Storage Table Data Contributor",
}


# --- what the planner reads of the Azure layer (structural: planning imports nothing from azure/) --------------------


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


class _WorkspaceLike(Protocol):
    principal_id: str | None
    storage_account_id: str | None


class _PreviousLike(Protocol):
    role_assignments: tuple[Mapping, ...]
    principal_id: str | None


# --- actions ---------------------------------------------------------------------------------------------------------


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


# --- the planner -----------------------------------------------------------------------------------------------------


def desired_roles(spec: WorkspaceSpec) -> tuple[str, ...]:
    if not spec.storage_roles.assign:
        return ()
    if spec.network.managed:
        return ROLE_FILE_DATA_PRIVILEGED_CONTRIBUTOR, ROLE_TABLE_DATA_CONTRIBUTOR
    return (ROLE_FILE_DATA_PRIVILEGED_CONTRIBUTOR,)


def plan_roles(spec: WorkspaceSpec, ws: _WorkspaceLike, manage: bool, previous: _PreviousLike,
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
    actions: list[AssignRole] = []
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


def _vanished(role: str, scope: str, principal: str, ours: str, previous: _PreviousLike) -> str | None:
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


def after_role_assigned(plan_: Any, action: AssignRole, name: str, created: bool, ours: str) -> None:
    """`created` False with another name: an equivalent assignment existed (409 RoleAssignmentExists) and counts."""
    records = plan_.status.setdefault("roleAssignments", [])
    records[:] = [r for r in records if _lower(r.get("name")) != _lower(name)]
    records.append(role_record(action.scope, action.role_id, name, created_by_operator=created or _lower(name) == _lower(ours)))
    if not any(isinstance(a, AssignRole) and not _has(records, a.role_id, a.scope) for a in plan_.actions):
        roles = [a for a in ROLE_NAMES if _has(records, a, action.scope)]
        names = ", ".join(ROLE_NAMES[r] for r in roles)
        plan_.conditions = replaced(plan_.conditions, condition(CONDITION_STORAGE_ROLES_ASSIGNED, TRUE, REASON_ASSIGNED,
                                                                f"{names} on {_short(action.scope)}"))


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
    if policy == POLICY_DETACH_ON_DELETE:
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


def _lower(value: object) -> str:
    return str(value or "").lower()


_short = arm_id.name_of  # the last segment of an ARM ID: what a person recognises in a message
