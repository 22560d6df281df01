"""Typed spec of PrivateEndpointApproval: which pending private endpoint connections may be approved, and by whom."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Mapping

from .arm_id import ArmId
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
MAX_AUDIT = 20  # status.audit keeps the most recent approvals only (the log and Events keep every one)

# A pattern names its subscription literally: `*` in the subscription segment would reach every tenant's endpoints.
LITERAL_SUBSCRIPTION_RE = r"(?i)^/subscriptions/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/"
PATTERN_NEEDS_SUBSCRIPTION = (
    "must start with /subscriptions/<subscription GUID>/ with the subscription written out (no wildcard): "
    "a wildcard subscription would approve private endpoints of every Azure customer")
NEEDS_REQUESTERS = (
    "must name the requesters: set subscriptionIds or privateEndpointIdPatterns (workspaceManagedNetwork only "
    "narrows them, a name proves nothing; Observe mode shows each Pending requester's subscription)")


def pattern_problem(pattern: str) -> str | None:
    """Why a privateEndpointIdPatterns entry is refused (same rule as the CRD's CEL), or None when it is fine."""
    if not re.match(LITERAL_SUBSCRIPTION_RE, pattern or ""):
        return PATTERN_NEEDS_SUBSCRIPTION
    return None


def segment_match(pattern: str, resource_id: str) -> bool:
    """Glob over an ARM ID one path segment at a time, case-insensitive: `*` and `?` never cross a `/`, and the
    pattern must have exactly as many segments as the ID (unlike fnmatch, whose `*` matches across segments)."""
    p_parts = (pattern or "").strip().rstrip("/").lower().split("/")
    r_parts = (resource_id or "").strip().rstrip("/").lower().split("/")
    if len(p_parts) != len(r_parts) or pattern_problem(pattern) is not None:
        return False
    return all(fnmatch.fnmatchcase(r, p) for p, r in zip(p_parts, r_parts))


def subscription_of(resource_id: str | None) -> str | None:
    """The subscription GUID of an ARM ID (lower-case), None when the ID does not start with one."""
    if not (resource_id or "").startswith("/"):
        return None
    return ArmId.of(resource_id).subscription


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
        """Whether a person declared requesters. workspaceManagedNetwork does not count: it only narrows."""
        return bool(self.subscription_ids or self.private_endpoint_id_patterns)

    def matches_subscription(self, private_endpoint_id: str) -> bool:
        """True when the private endpoint lives in one of the allowed subscriptions (GUIDs compare case-insensitively)."""
        sub_id = subscription_of(private_endpoint_id)
        return sub_id is not None and sub_id in {s.lower() for s in self.subscription_ids}

    def matching_pattern(self, private_endpoint_id: str) -> str | None:
        """The first allowed pattern that matches the private endpoint ID segment by segment, or None."""
        return next((p for p in self.private_endpoint_id_patterns if segment_match(p, private_endpoint_id)), None)

    def matches_pattern(self, private_endpoint_id: str) -> bool:
        return self.matching_pattern(private_endpoint_id) is not None


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
            raise SpecError("spec.allow", NEEDS_REQUESTERS)
        for i, pattern in enumerate(allow.private_endpoint_id_patterns):
            problem = pattern_problem(pattern)
            if problem is not None:
                raise SpecError(f"spec.allow.privateEndpointIdPatterns[{i}]", problem)
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
