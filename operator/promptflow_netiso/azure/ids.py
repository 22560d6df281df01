"""ARM resource IDs: parse the parts the Azure layer routes on (subscription, group, provider type, name)."""

from __future__ import annotations

from dataclasses import dataclass

from azure.mgmt.core.tools import parse_resource_id

from .errors import AzureError, ErrorKind


@dataclass(frozen=True)
class ResourceId:
    subscription: str
    resource_group: str
    namespace: str  # Microsoft.Network
    type: str  # virtualNetworks
    name: str
    child_type: str | None = None  # subnets (first child level only)
    child_name: str | None = None

    @property
    def resource_type(self) -> str:
        """"Microsoft.Network/virtualNetworks" (the top-level type, as the provider table keys it)."""
        return f"{self.namespace}/{self.type}"

    @property
    def top_level_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/{self.namespace}/{self.type}/{self.name}"
        )


def parse(resource_id: str) -> ResourceId:
    """Raises AzureError(USER_FIXABLE, InvalidResourceId) for anything that is not a resource-group-level ARM ID."""
    parts = parse_resource_id((resource_id or "").strip().rstrip("/"))
    required = ("subscription", "resource_group", "namespace", "type", "name")
    if not all(parts.get(k) for k in required) or not str(resource_id).strip().startswith("/subscriptions/"):
        raise AzureError(
            status=0,
            code="InvalidResourceId",
            message=f"{resource_id!r} is not an ARM resource ID (/subscriptions/<id>/resourceGroups/<group>/providers/<namespace>/<type>/<name>)",
            kind=ErrorKind.USER_FIXABLE,
        )
    return ResourceId(
        subscription=str(parts["subscription"]),
        resource_group=str(parts["resource_group"]),
        namespace=str(parts["namespace"]),
        type=str(parts["type"]),
        name=str(parts["name"]),
        child_type=str(parts["child_type_1"]) if parts.get("child_type_1") else None,
        child_name=str(parts["child_name_1"]) if parts.get("child_name_1") else None,
    )
