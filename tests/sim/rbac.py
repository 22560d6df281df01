"""Azure RBAC for principals that opted in (a namespace's own identity, docs/tenancy.md): a request is allowed when the
caller holds a role assignment at or above the request's scope whose role's actions include the request's action.

The operator's default identity (and any client registered without `rbac`) keeps the simpler model of the deny
rules (seeding.is_denied), so existing tests need no role assignments. Role actions follow the built-in role
definitions' `actions` / `notActions` (control plane only; data-plane roles grant no ARM actions).
"""

from __future__ import annotations

import fnmatch

from . import ids

# role definition GUID -> (actions, notActions), as Azure's built-in definitions list them
ROLE_ACTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": (("*",), ()),  # Owner
    "b24988ac-6180-42a0-ab88-20f7382dd24c": (("*",), (  # Contributor
        "Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
        "Microsoft.Authorization/elevateAccess/Action")),
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": (("*/read",), ()),  # Reader
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": (("*/read", "Microsoft.Authorization/*"), ()),  # User Access Administrator
}
# Polling a long-running operation is allowed to whoever started it; ARM does not evaluate RBAC on it.
UNCHECKED_ACTIONS = ("microsoft.resources/operations/read",)


def _matches(action: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)


def _covers(assigned_scope: str, scope: str) -> bool:
    a, s = ids.key(assigned_scope).rstrip("/"), ids.key(scope).rstrip("/")
    return s == a or s.startswith(a + "/")


def allows(estate, principal_id: str, action: str, scope: str) -> bool:
    if action.lower() in UNCHECKED_ACTIONS:
        return True
    principal = principal_id.lower()
    for a in estate.role_assignments.values():
        if a.principal_id.lower() != principal or not _covers(a.scope, scope):
            continue
        actions, not_actions = ROLE_ACTIONS.get(a.role_definition_id.rsplit("/", 1)[-1].lower(), ((), ()))
        if _matches(action, actions) and not _matches(action, not_actions):
            return True
    return False
