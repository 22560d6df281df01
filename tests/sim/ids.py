"""ARM resource ID helpers. ARM compares IDs case-insensitively but echoes the casing it was given."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def key(resource_id: str) -> str:
    """Lookup key of an ID: case-insensitive, no trailing slash, leading slash ensured."""
    text = resource_id.strip().rstrip("/")
    return ("/" + text.lstrip("/")).lower()


def is_guid(text: str) -> bool:
    return bool(GUID_RE.match(text))


@dataclass(frozen=True)
class ResourceId:
    subscription: str
    resource_group: str
    namespace: str  # e.g. Microsoft.Storage
    type: str  # e.g. storageAccounts
    name: str

    @property
    def full_type(self) -> str:
        return f"{self.namespace}/{self.type}"

    def __str__(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/{self.namespace}/{self.type}/{self.name}")


_TOP_LEVEL = re.compile(
    r"^/?subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/(?P<ns>[^/]+)/(?P<type>[^/]+)/(?P<name>[^/]+)/?$",
    re.IGNORECASE,
)


def parse(resource_id: str) -> ResourceId:
    """A top-level resource ID (no child resources). Raises ValueError otherwise."""
    match = _TOP_LEVEL.match(resource_id.strip())
    if not match:
        raise ValueError(f"not a top-level ARM resource ID: {resource_id!r}")
    return ResourceId(match["sub"], match["rg"], match["ns"], match["type"], match["name"])


def stable_guid(*parts: str) -> str:
    """Deterministic GUID from names: the same seed data gives the same IDs on every run."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "promptflow-netiso-sim:" + "/".join(p.lower() for p in parts)))
