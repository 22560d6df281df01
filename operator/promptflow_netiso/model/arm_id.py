"""ARM resource IDs and scopes as one small immutable value, pure (no I/O, no Azure SDK): the one place that knows
how they are spelled, split and compared. Model, planning and the Azure layer all use it.

An ARM ID names a scope: the tenant root `/`, a subscription, a resource group, or a resource, whose children follow
as `<type>/<name>` pairs:

    /subscriptions/<sub>/resourceGroups/<rg>/providers/<Namespace>/<type>/<name>[/<childType>/<childName>]...

Azure compares IDs case-insensitively and tolerates a trailing `/`; so does `ArmId` (equality and hashing use `key`,
the lower-cased form), while `str()` keeps the letter case as written, for messages and requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ArmId:
    text: str  # as written: a leading '/', no trailing '/', no surrounding space ("/" for the tenant root)
    parts: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", tuple(p for p in self.text.split("/") if p))

    # --- making one ---------------------------------------------------------------------------------------------

    @classmethod
    def of(cls, value: "str | ArmId | None") -> "ArmId":
        """Lenient: whatever a user, a status record or Azure wrote (surrounding space, a trailing or missing
        leading '/', doubled slashes)."""
        if isinstance(value, ArmId):
            return value
        parts = [p for p in str(value or "").strip().split("/") if p]
        return cls("/" + "/".join(parts))

    @classmethod
    def parse(cls, value: "str | ArmId | None") -> "ArmId":
        """Strict: a resource ID below a resource group (`.../providers/<Namespace>/<type>/<name>`); ValueError
        otherwise, naming the expected shape."""
        rid = cls.of(value)
        if rid.subscription is None or rid.resource_group is None or rid.provider_namespace is None or not rid.name \
                or len(rid.parts) < 8 or len(rid.parts) % 2 != 0:
            raise ValueError(f"{str(value or '')!r} is not an ARM resource ID (/subscriptions/<id>/resourceGroups/"
                             "<group>/providers/<Namespace>/<type>/<name>)")
        return rid

    @classmethod
    def resource(cls, subscription: str, resource_group: str, resource_type: str, name: str) -> "ArmId":
        """`/subscriptions/<sub>/resourceGroups/<rg>/providers/<Namespace/type>/<name>`."""
        return cls.of(f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{resource_type}/{name}")

    # --- comparing ----------------------------------------------------------------------------------------------

    @property
    def key(self) -> str:
        """The lower-cased ID: what equality, hashing and dictionary keys use."""
        return self.text.lower()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ArmId) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __str__(self) -> str:
        return self.text

    def covers(self, other: "str | ArmId") -> bool:
        """Whether this scope contains `other` (itself included), whole segments only: an assignment or grant at
        a scope applies to everything below it; '/' covers everything."""
        mine, theirs = self.key.rstrip("/"), ArmId.of(other).key
        return theirs == mine or theirs.startswith(mine + "/") or mine == ""

    # --- its parts ----------------------------------------------------------------------------------------------

    def _after(self, segment: str) -> str | None:
        lowered = [p.lower() for p in self.parts]
        if segment in lowered:
            i = lowered.index(segment)
            if i + 1 < len(self.parts):
                return self.parts[i + 1]
        return None

    @property
    def subscription(self) -> str | None:
        """The subscription ID, lower-cased (a GUID), or None when the ID does not start with one."""
        if len(self.parts) >= 2 and self.parts[0].lower() == "subscriptions":
            return self.parts[1].lower()
        return None

    @property
    def subscription_scope(self) -> "ArmId | None":
        return ArmId(f"/subscriptions/{self.subscription}") if self.subscription else None

    @property
    def resource_group(self) -> str | None:
        if self.subscription is None or len(self.parts) < 4 or self.parts[2].lower() != "resourcegroups":
            return None
        return self.parts[3]

    @property
    def provider_namespace(self) -> str | None:
        """`Microsoft.Network` of `.../providers/Microsoft.Network/virtualNetworks/...` (the last provider)."""
        lowered = [p.lower() for p in self.parts]
        if "providers" not in lowered:
            return None
        i = len(lowered) - 1 - lowered[::-1].index("providers")
        return self.parts[i + 1] if i + 1 < len(self.parts) else None

    @property
    def resource_type(self) -> str | None:
        """`Namespace/type` of the top-level resource, as written: `Microsoft.Network/virtualNetworks` for a
        VNet and for its subnets alike (compare with `type_key`)."""
        lowered = [p.lower() for p in self.parts]
        if "providers" not in lowered:
            return None
        i = lowered.index("providers")
        if i + 2 >= len(self.parts):
            return None
        return f"{self.parts[i + 1]}/{self.parts[i + 2]}"

    @property
    def type_key(self) -> str:
        """The lower-cased `namespace/type` of the top-level resource: the key of provider tables."""
        return (self.resource_type or "").lower()

    @property
    def top_level(self) -> "ArmId":
        """The top-level resource of a child ID (a subnet's VNet), or the ID itself."""
        lowered = [p.lower() for p in self.parts]
        if "providers" not in lowered:
            return self
        i = lowered.index("providers")
        return ArmId("/" + "/".join(self.parts[: i + 4])) if len(self.parts) > i + 4 else self

    @property
    def name(self) -> str:
        """The last segment: the resource's (or child's) name."""
        return self.parts[-1] if self.parts else ""

    @property
    def last_type(self) -> str | None:
        """The type segment before the name (`subnets` for a subnet, `virtualNetworks` for a VNet)."""
        return self.parts[-2] if len(self.parts) >= 2 else None

    @property
    def parent(self) -> "ArmId | None":
        """One `<type>/<name>` pair up (a subnet -> its VNet; an extension resource -> the resource it extends);
        None for a top-level resource, a resource group or above."""
        lowered = [p.lower() for p in self.parts]
        if "providers" not in lowered or len(self.parts) <= lowered.index("providers") + 4:
            return None
        up = list(self.parts[:-2])
        if len(up) >= 2 and up[-2].lower() == "providers":  # `.../<resource>/providers/<Namespace>`
            up = up[:-2]
        return ArmId("/" + "/".join(up))

    def child(self, child_type: str, name: str) -> "ArmId":
        return ArmId(f"{self.text.rstrip('/')}/{child_type.strip('/')}/{name.strip('/')}")

    def parent_of_type(self, child_type: str, parent_type: str) -> "ArmId | None":
        """The parent when this is a `<child_type>` below a `<parent_type>` (e.g. subnets below virtualNetworks)."""
        parent = self.parent
        if parent is None or (self.last_type or "").lower() != child_type.lower() \
                or (parent.last_type or "").lower() != parent_type.lower():
            return None
        return parent

    @property
    def label(self) -> str:
        """`<resource group>/<name>`: what a person recognises, unambiguous within a subscription."""
        rg, name = self.resource_group, self.name
        return f"{rg}/{name}" if rg and name != rg else name


# --- the same, for plain strings (status records, spec fields, Azure's answers) -------------------------------------


def key(value: "str | ArmId | None") -> str:
    """The comparison key of an ID ('' for none)."""
    return ArmId.of(value).key if value else ""


def same(a: "str | ArmId | None", b: "str | ArmId | None") -> bool:
    return key(a) == key(b)


def covers(scope: "str | ArmId | None", resource_id: "str | ArmId | None") -> bool:
    """Whether `scope` contains `resource_id`; nothing covers or is covered by an empty ID."""
    if not scope or not resource_id:
        return False
    return ArmId.of(scope).covers(resource_id)


def name_of(value: "str | ArmId | None") -> str:
    """The last segment of an ID: what a person recognises in a message ('' for none)."""
    return ArmId.of(value).name if value else ""


def label(value: "str | ArmId | None") -> str:
    return ArmId.of(value).label if value else ""


def vnet_of_subnet(subnet_id: "str | ArmId | None") -> str | None:
    """`.../virtualNetworks/<vnet>/subnets/<subnet>` -> `.../virtualNetworks/<vnet>` (None for anything else)."""
    if not subnet_id:
        return None
    vnet = ArmId.of(subnet_id).parent_of_type("subnets", "virtualNetworks")
    return str(vnet) if vnet is not None else None
