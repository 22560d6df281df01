"""AzureScopeGrant: which Azure scopes the objects of one namespace may name, declared by a cluster admin.

One grant per namespace, named `default` (the CRD refuses other names): the ValidatingAdmissionPolicy binding reads
exactly that object from the admitted object's namespace (`paramRef.name`, namespace unset), and the operator reads
the same one. Namespace users cannot write it: the shipped editor role does not include the kind.

A scope is an ARM ID prefix: `/subscriptions/<guid>`, `.../resourceGroups/<rg>`, or a resource ID (or a prefix of
one). `/` is every scope (an explicit opt-out for single-tenant clusters). Comparison is case-insensitive, as ARM's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .arm_id import ArmId
from .common import GROUP, GUID_RE, SpecError

KIND_GRANT = "AzureScopeGrant"
PLURAL_GRANT = "azurescopegrants"
SHORT_NAME_GRANT = "pfgrant"
GRANT_NAME = "default"
MAX_SCOPES = 50
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"

# What each list governs: the field of the admitted object it is checked against (used in messages).
WORKSPACES, RULE_TARGETS, APPROVAL_TARGETS = "workspaces", "outboundRuleTargets", "approvalTargets"

_GUID = GUID_RE[1:-1]
# A scope: the whole tenant ('/'), a subscription, a resource group, or a longer resource-ID prefix. No trailing '/'.
SCOPE_RE = (rf"(?i)^(/|/subscriptions/{_GUID}(/resourceGroups/[-\w._()]{{1,90}}"
            rf"(/providers/[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)+(/[^/]+)*)?)?)$")
GRANT_LABEL = f"{GROUP}/grant"


def covers(scope: str, resource_id: str) -> bool:
    """Whether `scope` contains `resource_id` (ARM IDs compare case-insensitively; '/' contains everything)."""
    return ArmId.of(scope).covers(resource_id)


@dataclass(frozen=True)
class GrantIdentity:
    """The namespace's own Azure identity: a ServiceAccount of the grant's namespace, and the client ID (and tenant)
    of the Entra ID application / managed identity whose federated credential trusts that ServiceAccount. Both are
    the admin's choice (in the grant), not the namespace's: editing a ServiceAccount cannot switch identities."""

    service_account_name: str
    client_id: str
    tenant_id: str | None = None


@dataclass(frozen=True)
class GrantSpec:
    workspaces: tuple[str, ...] = ()
    outbound_rule_targets: tuple[str, ...] = ()
    approval_targets: tuple[str, ...] = ()
    identity: GrantIdentity | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "GrantSpec":
        data = data or {}

        def scopes(key: str) -> tuple[str, ...]:
            value = data.get(key) or []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise SpecError(f"spec.{key}", "must be a list of ARM scopes")
            return tuple(value)

        identity = None
        raw = data.get("identity")
        if isinstance(raw, Mapping) and raw.get("serviceAccountName"):
            if not raw.get("clientId"):
                raise SpecError("spec.identity.clientId", "is required with spec.identity.serviceAccountName")
            identity = GrantIdentity(str(raw["serviceAccountName"]), str(raw["clientId"]), raw.get("tenantId") or None)
        return cls(scopes(WORKSPACES), scopes(RULE_TARGETS), scopes(APPROVAL_TARGETS), identity)

    def scopes(self, what: str) -> tuple[str, ...]:
        return {WORKSPACES: self.workspaces, RULE_TARGETS: self.outbound_rule_targets,
                APPROVAL_TARGETS: self.approval_targets}[what]

    def allows(self, what: str, resource_id: str) -> bool:
        return any(covers(s, resource_id) for s in self.scopes(what))
