"""Typed spec of PrivateEndpointApproval: which pending private endpoint connections may be approved, and by whom."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Mapping

from .common import (
    CONDITION_READY,
    MIN_PENDING_SECONDS_DEFAULT,
    LocalRef,
    ResourceId,
    SpecError,
    enum_field,
    required_str,
    sub,
)

CONDITION_TARGETS_REACHABLE = "TargetsReachable"
CONDITION_TYPES = (CONDITION_READY, CONDITION_TARGETS_REACHABLE)

DEFAULT_DESCRIPTION = "Approved by promptflow-netiso"
MAX_TARGETS = 50


class ApprovalMode(StrEnum):
    APPROVE = "Approve"
    OBSERVE = "Observe"  # report what would be approved, write nothing


class Decision(StrEnum):
    """Values of status.connections[].decision."""

    APPROVED = "Approved"
    WOULD_APPROVE = "WouldApprove"
    NOT_ALLOWED = "NotAllowed"
    WAITING = "Waiting"
    UNTOUCHED = "Untouched"


@dataclass(frozen=True)
class ApprovalTarget:
    resource_id: str

    @property
    def parsed(self) -> ResourceId:
        return ResourceId.parse(self.resource_id)

    @property
    def provider_key(self) -> str:
        """Lower-cased `namespace/type`, the key of azure/pec.py's PROVIDERS."""
        return self.parsed.provider_key

    @property
    def name(self) -> str:
        """The resource's name: a bounded metric label, unlike the full ID."""
        return self.parsed.name


@dataclass(frozen=True)
class AllowPolicy:
    """Who may be approved. The API server refuses a policy that names nobody."""

    workspace_managed_network: bool = False
    subscription_ids: tuple[str, ...] = ()
    private_endpoint_id_patterns: tuple[str, ...] = ()

    @property
    def names_anyone(self) -> bool:
        return bool(self.workspace_managed_network or self.subscription_ids or self.private_endpoint_id_patterns)

    def matches_subscription(self, private_endpoint_id: str) -> bool:
        """True when the private endpoint lives in one of the allowed subscriptions (GUIDs compare case-insensitively)."""
        parts = (private_endpoint_id or "").split("/")
        if len(parts) < 3 or parts[1].lower() != "subscriptions":
            return False
        return parts[2].lower() in {s.lower() for s in self.subscription_ids}

    def matches_pattern(self, private_endpoint_id: str) -> bool:
        """True when an allowed glob matches the private endpoint ID (case-insensitive, like ARM IDs)."""
        pe = (private_endpoint_id or "").lower()
        return any(fnmatch.fnmatchcase(pe, p.lower()) for p in self.private_endpoint_id_patterns)


@dataclass(frozen=True)
class ApprovalSpec:
    targets: tuple[ApprovalTarget, ...]
    allow: AllowPolicy
    mode: ApprovalMode
    workspace_ref: LocalRef | None = None
    min_pending_seconds: int = MIN_PENDING_SECONDS_DEFAULT
    description: str = DEFAULT_DESCRIPTION

    @property
    def target_keys(self) -> frozenset[str]:
        """Lower-cased target IDs, for case-insensitive matching of connection targets (ARM IDs ignore case)."""
        return frozenset(t.resource_id.lower() for t in self.targets)

    @property
    def observe_only(self) -> bool:
        return self.mode == ApprovalMode.OBSERVE

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> "ApprovalSpec":
        spec = spec or {}
        raw_targets = spec.get("targets") or []
        if not raw_targets:
            raise SpecError("spec.targets", "must list at least one target resource")
        targets = tuple(
            ApprovalTarget(required_str(t or {}, "resourceId", f"spec.targets[{i}]")) for i, t in enumerate(raw_targets)
        )
        allow_raw = sub(spec, "allow")
        allow = AllowPolicy(
            workspace_managed_network=bool(allow_raw.get("workspaceManagedNetwork", False)),
            subscription_ids=tuple(allow_raw.get("subscriptionIds") or ()),
            private_endpoint_id_patterns=tuple(allow_raw.get("privateEndpointIdPatterns") or ()),
        )
        if not allow.names_anyone:
            raise SpecError("spec.allow", "names nobody: set workspaceManagedNetwork, subscriptionIds or "
                            "privateEndpointIdPatterns")
        ref = LocalRef.from_dict(spec["workspaceRef"], "spec.workspaceRef") if spec.get("workspaceRef") else None
        if allow.workspace_managed_network and ref is None:
            raise SpecError("spec.workspaceRef", "is required when allow.workspaceManagedNetwork is true")
        return cls(
            targets=targets,
            allow=allow,
            mode=enum_field(ApprovalMode, spec, "mode", "spec"),
            workspace_ref=ref,
            min_pending_seconds=int(spec.get("minPendingSeconds", MIN_PENDING_SECONDS_DEFAULT)),
            description=spec.get("description") or DEFAULT_DESCRIPTION,
        )
