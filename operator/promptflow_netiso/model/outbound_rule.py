"""Typed spec of OutboundRule: one user-defined outbound rule of a workspace's managed network."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Mapping

from .common import (
    CONDITION_READY,
    LocalRef,
    ResourceId,
    SpecError,
    enum_field,
    optional_str,
    required_str,
    sub,
)

CONDITION_WORKSPACE_READY = "WorkspaceReady"
CONDITION_APPLIED = "Applied"
CONDITION_NO_EFFECT = "NoEffect"  # a warning: the rule exists but the isolation mode makes it irrelevant
CONDITION_TYPES = (CONDITION_READY, CONDITION_WORKSPACE_READY, CONDITION_APPLIED, CONDITION_NO_EFFECT)

# The only category users own; Required/Recommended/Dependency rules belong to Azure.
USER_DEFINED_CATEGORY = "UserDefined"


class RuleType(StrEnum):
    FQDN = "FQDN"
    PRIVATE_ENDPOINT = "PrivateEndpoint"
    SERVICE_TAG = "ServiceTag"


class Protocol(StrEnum):
    TCP = "TCP"
    UDP = "UDP"
    ICMP = "ICMP"
    ANY = "*"


class RuleAction(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True)
class PrivateEndpointDestination:
    service_resource_id: str
    subresource_target: str
    spark_enabled: bool = False

    def to_azure(self) -> dict[str, Any]:
        return {
            "serviceResourceId": self.service_resource_id,
            "subresourceTarget": self.subresource_target,
            "sparkEnabled": self.spark_enabled,
        }


@dataclass(frozen=True)
class ServiceTagDestination:
    service_tag: str
    protocol: Protocol
    port_ranges: str
    action: RuleAction = RuleAction.ALLOW
    # No addressPrefixes: Azure fills it from the service tag (read-only at 2025-12-01); the CRD refuses it.

    def to_azure(self) -> dict[str, Any]:
        return {
            "serviceTag": self.service_tag,
            "protocol": self.protocol.value,
            "portRanges": self.port_ranges,
            "action": self.action.value,
        }


@dataclass(frozen=True)
class OutboundRuleSpec:
    workspace_ref: LocalRef
    type: RuleType
    rule_name: str | None = None
    fqdn: str | None = None
    private_endpoint: PrivateEndpointDestination | None = None
    service_tag: ServiceTagDestination | None = None
    adopt: bool = False

    def azure_rule_name(self, metadata_name: str) -> str:
        """The rule's name in Azure: spec.ruleName, else the object's name."""
        return self.rule_name or metadata_name

    def to_azure_properties(self) -> dict[str, Any]:
        """The ARM rule body's `properties` (api-version 2025-12-01); the destination is a string for FQDN rules
        and an object for the other types."""
        return {"type": self.type.value, "category": USER_DEFINED_CATEGORY, "destination": self._destination()}

    def display_destination(self) -> str:
        """A short human-readable destination for `status.destination` (a printer column)."""
        if self.type == RuleType.FQDN:
            return self.fqdn or ""
        if self.type == RuleType.PRIVATE_ENDPOINT and self.private_endpoint:
            pe = self.private_endpoint
            try:
                name = ResourceId.parse(pe.service_resource_id).name
            except ValueError:
                name = pe.service_resource_id.rstrip("/").rsplit("/", 1)[-1]
            return f"{name}/{pe.subresource_target}"
        if self.type == RuleType.SERVICE_TAG and self.service_tag:
            st = self.service_tag
            return f"{st.service_tag} {st.protocol.value}/{st.port_ranges} {st.action.value}"
        return ""

    def _destination(self) -> str | dict[str, Any]:
        if self.type == RuleType.FQDN:
            return self.fqdn or ""
        if self.type == RuleType.PRIVATE_ENDPOINT:
            return self.private_endpoint.to_azure()  # type: ignore[union-attr]
        return self.service_tag.to_azure()  # type: ignore[union-attr]

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> "OutboundRuleSpec":
        spec = spec or {}
        rule_type = enum_field(RuleType, spec, "type", "spec")
        fqdn = optional_str(spec, "fqdn")
        pe = _private_endpoint(spec) if "privateEndpoint" in spec else None
        st = _service_tag(spec) if "serviceTag" in spec else None
        present = {RuleType.FQDN: fqdn is not None, RuleType.PRIVATE_ENDPOINT: pe is not None,
                   RuleType.SERVICE_TAG: st is not None}
        for kind, is_set in present.items():
            key = _DESTINATION_FIELD[kind]
            if kind == rule_type and not is_set:
                raise SpecError(f"spec.{key}", f"is required when type is {rule_type.value}")
            if kind != rule_type and is_set:
                raise SpecError(f"spec.{key}", f"must not be set when type is {rule_type.value}")
        return cls(
            workspace_ref=LocalRef.from_dict(spec.get("workspaceRef"), "spec.workspaceRef"),
            type=rule_type,
            rule_name=optional_str(spec, "ruleName"),
            fqdn=fqdn,
            private_endpoint=pe,
            service_tag=st,
            adopt=bool(spec.get("adopt", False)),
        )


_DESTINATION_FIELD = {RuleType.FQDN: "fqdn", RuleType.PRIVATE_ENDPOINT: "privateEndpoint",
                      RuleType.SERVICE_TAG: "serviceTag"}


def _private_endpoint(spec: Mapping[str, Any]) -> PrivateEndpointDestination:
    pe = sub(spec, "privateEndpoint")
    return PrivateEndpointDestination(
        service_resource_id=required_str(pe, "serviceResourceId", "spec.privateEndpoint"),
        subresource_target=required_str(pe, "subresourceTarget", "spec.privateEndpoint"),
        spark_enabled=bool(pe.get("sparkEnabled", False)),
    )


def _service_tag(spec: Mapping[str, Any]) -> ServiceTagDestination:
    st = sub(spec, "serviceTag")
    return ServiceTagDestination(
        service_tag=required_str(st, "serviceTag", "spec.serviceTag"),
        protocol=enum_field(Protocol, st, "protocol", "spec.serviceTag"),
        port_ranges=required_str(st, "portRanges", "spec.serviceTag"),
        action=enum_field(RuleAction, st, "action", "spec.serviceTag", RuleAction.ALLOW),
    )
