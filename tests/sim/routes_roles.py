"""Microsoft.Authorization/roleAssignments at 2022-04-01: synchronous PUT (201 created, 200 unchanged), GET,
DELETE, list at a scope; 409 RoleAssignmentExists for the same role, principal and scope under another name.

List filters are ARM's documented ones (REST reference and the Azure RBAC REST guide), and nothing else:
  (none)                               at, above and below the scope
  atScope()                            at or above the scope
  principalId eq '{id}'                that principal (user, group or service principal), at, above and below
  assignedTo('{id}')                   that user or service principal, including its groups' assignments
  atScope() and assignedTo('{id}')     both
Any other filter (e.g. atScope() and principalId eq ..., which real ARM refuses) is 400 UnsupportedQuery. The
simulator has no groups, so assignedTo matches the principal's own assignments. Lists are paged (SimConfig.page_size)
with a nextLink that carries the filter, so clients' nextLink handling is exercised."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from aiohttp import web

from . import ids
from .armhttp import ArmError, Ctx, bad_request, json_response
from .constants import AUTHORIZATION_API_VERSIONS, BUILTIN_ROLES
from .model import RoleAssignment
from .router import Router
from .world import World

TYPE = "Microsoft.Authorization/roleAssignments"
SCOPE = r"(?P<scope>(?:/[^/]+)*?)"
BASE = SCOPE + r"/providers/Microsoft\.Authorization/roleAssignments"
_ID = r"'(?P<{}>[^']+)'"
_AT_SCOPE = r"atScope\(\)"
_ASSIGNED_TO = r"assignedTo\(" + _ID.format("assigned") + r"\)"
FILTERS = [re.compile(rf"^\s*{f}\s*$", re.IGNORECASE) for f in (
    "",
    _AT_SCOPE,
    r"principalId\s+eq\s+" + _ID.format("principal"),
    _ASSIGNED_TO,
    rf"{_AT_SCOPE}\s+and\s+{_ASSIGNED_TO}",
    rf"{_ASSIGNED_TO}\s+and\s+{_AT_SCOPE}",
)]
ROLE_DEF_RE = re.compile(r"^(/subscriptions/[^/]+)?/providers/Microsoft\.Authorization/roleDefinitions/(?P<id>[^/]+)$",
                         re.IGNORECASE)


def covers(assigned_scope: str, scope: str) -> bool:
    """An assignment applies at its scope and below it; compared by whole path segments."""
    a, s = ids.key(assigned_scope).rstrip("/"), ids.key(scope).rstrip("/")
    return s == a or s.startswith(a + "/")


def parse_filter(flt: str) -> tuple[bool, str | None]:
    """-> (at or above the scope only, principal the assignments must belong to), or 400 UnsupportedQuery."""
    for pattern in FILTERS:
        match = pattern.match(flt)
        if match:
            groups = match.groupdict()
            return "atscope()" in flt.replace(" ", "").lower(), groups.get("principal") or groups.get("assigned")
    raise ArmError(400, "UnsupportedQuery", f"The filter '{flt}' is not supported. Supported filters are either "
                                            "'atScope()' or 'principalId eq '{value}' or assignedTo('{value}')'.")


def assignment_body(a: RoleAssignment) -> dict[str, Any]:
    return {"properties": {"roleDefinitionId": a.role_definition_id, "principalId": a.principal_id,
                           "principalType": a.principal_type, "scope": a.scope},
            "id": a.id, "type": TYPE, "name": a.name}


class RoleAssignmentRoutes:
    def __init__(self, world: World):
        self.w = world

    def register(self, router: Router) -> None:
        versions = AUTHORIZATION_API_VERSIONS
        one = BASE + r"/(?P<name>[^/]+)"
        router.add("roles.list", "GET", BASE, self.list, versions, TYPE, scope_group="scope")
        router.add("roles.get", "GET", one, self.get, versions, TYPE, scope_group="scope")
        router.add("roles.put", "PUT", one, self.put, versions, TYPE, scope_group="scope")
        router.add("roles.delete", "DELETE", one, self.delete, versions, TYPE, scope_group="scope")

    def _scope(self, ctx: Ctx) -> str:
        scope = ctx.params["scope"] or "/"
        parts = [p for p in scope.strip("/").split("/") if p]
        if len(parts) >= 2 and parts[0].lower() == "subscriptions":
            self.w.require_subscription(parts[1])
        if len(parts) >= 4 and parts[2].lower() == "resourcegroups":
            self.w.require_resource_group(parts[1], parts[3])
        if not self.w.estate.scope_exists(scope):
            raise ArmError(404, "ResourceNotFound", f"The scope '{scope}' was not found.")
        return scope

    def _key(self, scope: str, name: str) -> str:
        return ids.key(f"{scope.rstrip('/')}/providers/{TYPE}/{name}")

    async def get(self, ctx: Ctx) -> web.Response:
        scope = self._scope(ctx)
        found = self.w.estate.role_assignments.get(self._key(scope, ctx.params["name"]))
        if found is None:
            raise ArmError(404, "RoleAssignmentNotFound", f"The role assignment '{ctx.params['name']}' is not found.")
        return json_response(200, assignment_body(found))

    async def list(self, ctx: Ctx) -> web.Response:
        scope = self._scope(ctx)
        flt = ctx.request.query.get("$filter", "")  # aiohttp has decoded it already
        at_scope, principal = parse_filter(flt)
        matching = [
            a for a in sorted(self.w.estate.role_assignments.values(), key=lambda a: (a.created_on, a.name))
            # atScope(): at or above the scope; otherwise also below it.
            if (covers(a.scope, scope) or (not at_scope and covers(scope, a.scope)))
            and (principal is None or a.principal_id.lower() == principal.lower())
        ]
        try:
            start = max(0, int(ctx.request.query.get("$skipToken", "0")))
        except ValueError:
            raise ArmError(400, "InvalidSkipToken", "The $skipToken is not valid.") from None
        size = max(1, self.w.config.page_size)
        body: dict[str, Any] = {"value": [assignment_body(a) for a in matching[start:start + size]]}
        if start + size < len(matching):
            query = {"$skipToken": str(start + size)}
            if flt:
                query["$filter"] = quote(flt, safe="")
            body["nextLink"] = ctx.url(ctx.request.path, **query)
        return json_response(200, body)

    async def put(self, ctx: Ctx) -> web.Response:
        scope = self._scope(ctx)
        name = ctx.params["name"]
        if not ids.is_guid(name):
            raise bad_request(f"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.",
                              code="InvalidRoleAssignmentId")
        props = (await ctx.json()).get("properties")
        if not isinstance(props, dict):
            raise bad_request("The request body must contain 'properties'.")
        role_def, principal = props.get("roleDefinitionId", ""), props.get("principalId", "")
        match = ROLE_DEF_RE.match(role_def or "")
        if not match or match["id"].lower() not in BUILTIN_ROLES:
            raise bad_request(f"The specified role definition with ID '{role_def}' does not exist.",
                              code="RoleDefinitionDoesNotExist")
        if not ids.is_guid(principal or ""):
            raise bad_request(f"The principal ID '{principal}' is not valid.", code="InvalidPrincipalId")
        principal_type = self.w.estate.principals.get(principal.lower())
        if principal_type is None:
            raise bad_request(f"Principal {principal.replace('-', '')} does not exist in the directory "
                              f"{self.w.tenant_id}. Check that you have the correct principal ID. If you are creating "
                              "this principal and then immediately assigning a role, this error might be related to a "
                              "replication delay.", code="PrincipalNotFound")
        key = self._key(scope, name)
        existing = self.w.estate.role_assignments.get(key)
        if existing is not None:
            if (existing.principal_id.lower() != principal.lower()
                    or existing.role_definition_id.rsplit("/", 1)[-1].lower() != match["id"].lower()):
                raise ArmError(409, "RoleAssignmentUpdateNotPermitted",
                               "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.")
            return json_response(200, assignment_body(existing))
        for other in self.w.estate.role_assignments.values():
            if (ids.key(other.scope) == ids.key(scope) and other.principal_id.lower() == principal.lower()
                    and other.role_definition_id.rsplit("/", 1)[-1].lower() == match["id"].lower()):
                raise ArmError(409, "RoleAssignmentExists", "The role assignment already exists.")
        created = RoleAssignment(name=name, scope=scope if scope.startswith("/") else "/" + scope,
                                 role_definition_id=role_def, principal_id=principal,
                                 principal_type=props.get("principalType") or principal_type,
                                 description=props.get("description"))
        self.w.estate.role_assignments[key] = created
        return json_response(201, assignment_body(created))

    async def delete(self, ctx: Ctx) -> web.Response:
        scope = self._scope(ctx)
        found = self.w.estate.role_assignments.pop(self._key(scope, ctx.params["name"]), None)
        if found is None:
            return json_response(204)
        return json_response(200, assignment_body(found))
