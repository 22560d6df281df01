"""Role assignments (Microsoft.Authorization 2022-04-01) through azure-mgmt-authorization's async client.

Names are deterministic (uuid5 of scope, role and principal), so a retry after a crash finds the assignment it
already made instead of creating a second one, and an assignment under another name (made by a person, or by the
portal) is reported as existing (409 RoleAssignmentExists) and never touched. `list_for_principal` is how a drift check
sees what Azure really holds (one read), instead of trusting what the operator wrote down earlier.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass

from azure.core.exceptions import AzureError as CoreAzureError
from azure.mgmt.authorization.v2022_04_01.aio import AuthorizationManagementClient
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

from ..model.arm_id import ArmId
from . import errors
from .errors import AzureError, ErrorKind
from .limits import subscription_of
from .pipeline import operation_option
from .sdk import PerSubscription

log = logging.getLogger(__name__)

API_VERSION = "2022-04-01"
ROLE_STORAGE_FILE_DATA_PRIVILEGED_CONTRIBUTOR = "69566ab7-960f-475b-8e7c-b3118f30c6bd"
ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
# Lets the workspace identity approve its managed network's private endpoints on AI dependency resources (FACTS.md).
ROLE_AI_NETWORK_CONNECTION_APPROVER = "b556d68e-0be0-4f35-a333-ad7ee1ce17ea"

# Fixed forever: changing it would make the operator forget which assignments it created.
_NAMES = uuid.uuid5(uuid.NAMESPACE_URL, "https://netiso.promptflow.dev/role-assignments")
_EXISTING_ID = re.compile(r"ID of the existing role assignment is ([0-9a-fA-F]{32}|[0-9a-fA-F-]{36})")


@dataclass(frozen=True)
class Assignment:
    """A role assignment as ARM lists it; role_definition_id is the full roleDefinitions ID, scope has a leading '/'."""

    name: str
    role_definition_id: str
    scope: str
    principal_id: str


@dataclass(frozen=True)
class EnsureResult:
    name: str  # our deterministic name, or the existing assignment's name when ARM tells it (409)
    created: bool  # True: the assignment under our name exists (made now, or by an earlier run of the operator)


def normalize_scope(scope: str) -> str:
    return str(ArmId.of(scope))


def role_guid(role_id: str) -> str:
    """A role definition GUID from either the GUID or a full roleDefinitions ID."""
    return role_id.strip().rstrip("/").rsplit("/", 1)[-1].lower()


def assignment_name(scope: str, role_id: str, principal_id: str) -> str:
    """Deterministic: same scope, role and principal (in any letter case) -> same GUID."""
    key = "|".join((normalize_scope(scope).lower(), role_guid(role_id), principal_id.strip().lower()))
    return str(uuid.uuid5(_NAMES, key))


def role_definition_id(scope: str, role_id: str) -> str:
    if role_id.strip().startswith("/"):
        return role_id.strip()
    return f"/subscriptions/{subscription_of(scope)}/providers/Microsoft.Authorization/roleDefinitions/{role_guid(role_id)}"


def covers(assigned_scope: str, scope: str) -> bool:
    """An assignment applies to its own scope and everything below it (subscription > resource group > resource)."""
    return ArmId.of(assigned_scope).covers(scope)


def principal_filter(principal_id: str, below: bool = False) -> str:
    """ARM's documented filter for "this principal's assignments at or above the scope" (Azure RBAC REST guide:
    atScope() and assignedTo('{objectId}')). principalId eq would also list assignments below the scope.
    `below`: assignedTo('{objectId}') alone, which lists at, above and below the scope."""
    if below:
        return f"assignedTo('{principal_id.strip()}')"
    return f"atScope() and assignedTo('{principal_id.strip()}')"


def existing_assignment_name(message: str) -> str | None:
    """ARM's RoleAssignmentExists message names the existing assignment (32 hex digits, or a dashed GUID)."""
    match = _EXISTING_ID.search(message or "")
    return str(uuid.UUID(match.group(1))) if match else None


class RoleAssignments:
    def __init__(self, clients: PerSubscription[AuthorizationManagementClient]) -> None:
        self._clients = clients

    def _client(self, scope: str) -> AuthorizationManagementClient:
        sub = subscription_of(scope)
        if not sub:
            raise AzureError(status=0, code="InvalidScope", message=f"{scope!r} is not inside a subscription", kind=ErrorKind.USER_FIXABLE)
        return self._clients.get(sub)

    async def ensure(self, scope: str, role_id: str, principal_id: str) -> EnsureResult:
        """PUT the assignment under its deterministic name. 201/200: ours. 409 RoleAssignmentExists: the same role
        is already granted under another name; that counts as done and is not ours (created=False)."""
        scope = normalize_scope(scope)
        name = assignment_name(scope, role_id, principal_id)
        parameters = RoleAssignmentCreateParameters(
            role_definition_id=role_definition_id(scope, role_id),
            principal_id=principal_id,
            principal_type="ServicePrincipal",  # a workspace identity; also avoids the replication-delay 400
        )
        try:
            await self._client(scope).role_assignments.create(
                scope.lstrip("/"), name, parameters, **operation_option("roleAssignment.put")
            )
        except CoreAzureError as exc:
            err = errors.from_exception(exc, "roleAssignment.put")
            if err.code == "RoleAssignmentExists":
                existing = existing_assignment_name(err.message) or await self._find_existing(scope, role_id, principal_id)
                return EnsureResult(name=existing or name, created=False)
            raise err from exc
        return EnsureResult(name=name, created=True)

    async def list_for_principal(self, scope: str, principal_id: str, below: bool = False) -> list[Assignment]:
        """The assignments that grant `principal_id` something at `scope` or above it (resource group, subscription,
        management group): one GET, plus one per further page (nextLink). As ARM's assignedTo() does, this includes
        assignments to groups the principal belongs to (their principal_id is the group's); callers match the
        principal themselves. Anything below the scope is dropped here even if a server were to send it, unless
        `below` asks for those too (one list of a subscription then covers every resource in it)."""
        scope = normalize_scope(scope)
        found: list[Assignment] = []
        try:
            pager = self._client(scope).role_assignments.list_for_scope(
                scope.lstrip("/"), filter=principal_filter(principal_id, below), **operation_option("roleAssignment.list")
            )
            async for item in pager:
                assigned = normalize_scope(item.scope or "")
                if covers(assigned, scope) or (below and covers(scope, assigned)):
                    found.append(Assignment(name=item.name or "", role_definition_id=item.role_definition_id or "",
                                            scope=assigned, principal_id=item.principal_id or ""))
        except CoreAzureError as exc:
            raise errors.from_exception(exc, "roleAssignment.list") from exc
        return found

    async def _find_existing(self, scope: str, role_id: str, principal_id: str) -> str | None:
        """The name of the equivalent assignment, for status; best effort (the grant itself is already in place)."""
        wanted_role = role_guid(role_id)
        try:
            pager = self._client(scope).role_assignments.list_for_scope(
                scope.lstrip("/"), filter=f"principalId eq '{principal_id}'", **operation_option("roleAssignment.list")
            )
            async for assignment in pager:
                same_scope = ArmId.of(assignment.scope) == ArmId.of(scope)
                if same_scope and role_guid(assignment.role_definition_id or "") == wanted_role:
                    return assignment.name
        except CoreAzureError as exc:
            log.info("could not look up the existing role assignment at %s: %s", scope, errors.from_exception(exc))
        return None

    async def get(self, scope: str, name: str) -> Assignment | None:
        """One assignment by name (None when it does not exist): how a DELETE recorded before a crash is settled."""
        scope = normalize_scope(scope)
        try:
            item = await self._client(scope).role_assignments.get(scope.lstrip("/"), name,
                                                                  **operation_option("roleAssignment.get"))
        except CoreAzureError as exc:
            err = errors.from_exception(exc, "roleAssignment.get")
            if err.kind is ErrorKind.NOT_FOUND:
                return None
            raise err from exc
        return Assignment(name=item.name or name, role_definition_id=item.role_definition_id or "",
                          scope=normalize_scope(item.scope or scope), principal_id=item.principal_id or "")

    async def delete(self, scope: str, name: str) -> None:
        """Delete by name; an assignment that is already gone counts as deleted."""
        scope = normalize_scope(scope)
        try:
            await self._client(scope).role_assignments.delete(scope.lstrip("/"), name, **operation_option("roleAssignment.delete"))
        except CoreAzureError as exc:
            err = errors.from_exception(exc, "roleAssignment.delete")
            if err.kind is not ErrorKind.NOT_FOUND:
                raise err from exc
