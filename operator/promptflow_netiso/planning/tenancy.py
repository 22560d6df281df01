"""Tenancy decisions, pure: may this object's namespace name these Azure scopes, and who owns an Azure workspace.

The admission policy (deploy/admission) refuses the same things at the API server; the operator checks again before
every Azure call because objects may predate a narrowed grant, or the cluster may not run the policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..model.common import ML_WORKSPACE_TYPE
from ..model.grant import APPROVAL_TARGETS, GRANT_NAME, KIND_GRANT, RULE_TARGETS, WORKSPACES, GrantSpec  # noqa: F401

REASON_NOT_GRANTED = "ScopeNotGranted"
REASON_CONFLICT = "Conflict"

# (grant list, field of the object it is checked against)
WORKSPACE_FIELD = (WORKSPACES, "spec.azure")
RULE_TARGET_FIELD = (RULE_TARGETS, "spec.privateEndpoint.serviceResourceId")
APPROVAL_TARGET_FIELD = (APPROVAL_TARGETS, "spec.targets[].resourceId")


def workspace_id(subscription_id: str, resource_group: str, workspace_name: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{ML_WORKSPACE_TYPE}/{workspace_name}"


@dataclass(frozen=True)
class Refusal:
    reason: str
    message: str


def check_scopes(grant: GrantSpec | None, namespace: str,
                 wanted: Iterable[tuple[tuple[str, str], str]]) -> Refusal | None:
    """`wanted`: ((grant list, object field), resource ID) pairs. The first one not granted is refused, by name."""
    for (what, field), resource_id in wanted:
        if grant is None:
            return Refusal(REASON_NOT_GRANTED,
                           f"{field}: namespace {namespace} has no {KIND_GRANT} named {GRANT_NAME!r}, so it may not "
                           f"reach {resource_id} (nothing in Azure is reachable until a cluster admin grants it)")
        if not grant.allows(what, resource_id):
            return Refusal(REASON_NOT_GRANTED,
                           f"{field}: namespace {namespace} is not granted {resource_id} (a cluster admin lists it, or "
                           f"a scope above it, in spec.{what} of {KIND_GRANT} {namespace}/{GRANT_NAME})")
    return None


@dataclass(frozen=True)
class Claim:
    """A PromptFlowWorkspace object claiming an Azure workspace."""

    namespace: str
    name: str
    uid: str
    created: str  # metadata.creationTimestamp (RFC 3339, second precision: compares as text)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


def owner(claims: Iterable[Claim]) -> Claim | None:
    """The one object that manages an Azure workspace: the oldest claim, then the smallest uid. Stable across
    operator restarts and independent of event order."""
    return min(claims, key=lambda c: (c.created, c.uid), default=None)


def conflict(claims: Iterable[Claim], uid: str, azure_id: str) -> Refusal | None:
    """Refusal for every claim but the owner's."""
    claims = list(claims)
    winner = owner(claims)
    if winner is None or winner.uid == uid:
        return None
    return Refusal(REASON_CONFLICT,
                   f"spec.azure: the Azure workspace {azure_id} is already managed by PromptFlowWorkspace {winner.ref} "
                   f"(the older object wins); this object writes nothing while that one exists")
