"""ARM resource IDs: parse the parts the Azure layer routes on (subscription, group, provider type, name)."""

from __future__ import annotations

from dataclasses import dataclass

from ..model.arm_id import ArmId
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
    """Raises AzureError(USER_FIXABLE, InvalidResourceId) for anything that is not a resource-group-level ARM ID.
    The splitting is model/arm_id.py's (the one ARM-ID type); this adds the Azure layer's error and names the parts
    it routes on, as written."""
    try:
        rid = ArmId.parse(resource_id)
        if not str(resource_id).strip().startswith("/subscriptions/") or rid.parts[4].lower() != "providers":
            raise ValueError(resource_id)
    except ValueError:
        raise AzureError(
            status=0,
            code="InvalidResourceId",
            message=f"{resource_id!r} is not an ARM resource ID (/subscriptions/<id>/resourceGroups/<group>/providers/<namespace>/<type>/<name>)",
            kind=ErrorKind.USER_FIXABLE,
        ) from None
    p = rid.parts
    return ResourceId(subscription=p[1], resource_group=p[3], namespace=p[5], type=p[6], name=p[7],
                      child_type=p[8] if len(p) >= 10 else None, child_name=p[9] if len(p) >= 10 else None)
