"""Names, patterns and small value types shared by the three kinds.

The regular expressions here are the single source of truth: the CRD schema (schema.py) embeds them in CEL rules and
the Python models use them to parse ARM resource IDs, so admission and the operator agree on what is valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Mapping

from .arm_id import ArmId

GROUP = "netiso.promptflow.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "promptflow"

KIND_WORKSPACE = "PromptFlowWorkspace"
KIND_OUTBOUND_RULE = "OutboundRule"
KIND_APPROVAL = "PrivateEndpointApproval"
KINDS = (KIND_WORKSPACE, KIND_OUTBOUND_RULE, KIND_APPROVAL)

PLURAL_WORKSPACE = "promptflowworkspaces"
PLURAL_OUTBOUND_RULE = "outboundrules"
PLURAL_APPROVAL = "privateendpointapprovals"
PLURALS = {KIND_WORKSPACE: PLURAL_WORKSPACE, KIND_OUTBOUND_RULE: PLURAL_OUTBOUND_RULE, KIND_APPROVAL: PLURAL_APPROVAL}
SINGULARS = {kind: kind.lower() for kind in KINDS}
SHORT_NAMES = {KIND_WORKSPACE: "pfws", KIND_OUTBOUND_RULE: "pfor", KIND_APPROVAL: "pfpea"}

RECONCILE_POLICY_ANNOTATION = f"{GROUP}/reconcile-policy"


class ReconcilePolicy(StrEnum):
    """Azure Service Operator's meaning: `skip` observes and reports but writes nothing to Azure;
    `detach-on-delete` manages normally but leaves Azure untouched when the object is deleted."""

    MANAGE = "manage"
    SKIP = "skip"
    DETACH_ON_DELETE = "detach-on-delete"


POLICY_MANAGE = ReconcilePolicy.MANAGE
POLICY_SKIP = ReconcilePolicy.SKIP
POLICY_DETACH_ON_DELETE = ReconcilePolicy.DETACH_ON_DELETE
RECONCILE_POLICIES = tuple(p.value for p in ReconcilePolicy)

# Condition types every kind carries; kind-specific ones live next to each spec.
CONDITION_READY = "Ready"

# --- patterns (RE2-compatible: the API server evaluates them in CEL) ---------------------------------------------
GUID_RE = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# Azure resource group names: letters, digits, '-', '_', '.', '(', ')'; 1..90 chars; not ending in '.'.
RESOURCE_GROUP_RE = r"^[-\w._()]{0,89}[-\w_()]$"
# Azure ML workspace and outbound rule names (Microsoft.MachineLearningServices).
AZURE_NAME_RE = r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$"
# A Kubernetes object name in the same namespace (RFC 1123 subdomain).
K8S_NAME_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# Host name: at least two labels, the last starting with a letter (so bare IPs are refused), an optional single
# leading '*.' label. Scheme, path, port and inner wildcards are refused by more specific rules first.
_LABEL = r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?"
FQDN_RE = rf"^(\*\.)?({_LABEL}\.)+[a-zA-Z]([-a-zA-Z0-9]{{0,61}}[a-zA-Z0-9])?$"
# "443", "80,443", "8000-8080", "80,8000-8080" or "*" (any port). Numeric bounds are checked separately. Spaces
# after commas are allowed: Azure accepts them (the Azure ML SDK's own example is "80, 443, 8080-8089").
PORT_RANGES_RE = r"^(\*|[0-9]{1,5}(-[0-9]{1,5})?( ?, ?[0-9]{1,5}(-[0-9]{1,5})?)*)$"
SERVICE_TAG_RE = r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)?$"
SUBRESOURCE_RE = r"^[a-zA-Z][a-zA-Z0-9_]{0,63}$"

_GUID = GUID_RE[1:-1]
_RG = r"[-\w._()]{1,90}"
_NS = r"[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)+"


def arm_id_re(provider_type: str | None = None, *, escape: bool = True) -> str:
    """Case-insensitive regex for a top-level ARM resource ID, optionally of one `Namespace/type` (ARM IDs are
    case-insensitive, so `microsoft.network/VIRTUALNETWORKS` is the same resource type). With escape=False,
    `provider_type` is a regex (an alternation of several types)."""
    if provider_type is None:
        tail = rf"{_NS}/[A-Za-z][A-Za-z0-9]*"
    else:
        tail = re.escape(provider_type) if escape else provider_type
    return rf"(?i)^/subscriptions/{_GUID}/resourceGroups/{_RG}/providers/{tail}/[^/]{{1,260}}$"


ANY_ARM_ID_RE = arm_id_re()
VIRTUAL_NETWORK_TYPE = "Microsoft.Network/virtualNetworks"
AKS_CLUSTER_TYPE = "Microsoft.ContainerService/managedClusters"
ML_WORKSPACE_TYPE = "Microsoft.MachineLearningServices/workspaces"

# Resource types whose private endpoint connections PrivateEndpointApproval may approve. azure/pec.py keeps one
# provider entry per type (keys lower-cased); a unit test asserts both lists agree.
APPROVAL_TARGET_TYPES = (
    "Microsoft.CognitiveServices/accounts",
    "Microsoft.Search/searchServices",
    "Microsoft.Storage/storageAccounts",
    "Microsoft.KeyVault/vaults",
)

MIN_PENDING_SECONDS_DEFAULT = 120
MIN_PENDING_SECONDS_MAX = 86400


class SpecError(ValueError):
    """A spec the API server would have refused (or a partial dict in a test). `field` is the JSON path."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class LocalRef:
    """Reference to an object of another kind in the same namespace."""

    name: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, field: str) -> "LocalRef":
        name = (data or {}).get("name")
        if not isinstance(name, str) or not name:
            raise SpecError(f"{field}.name", "is required")
        return cls(name=name)


@dataclass(frozen=True)
class ResourceId:
    """A parsed top-level ARM resource ID."""

    subscription_id: str
    resource_group: str
    namespace: str
    type: str
    name: str

    @property
    def provider_type(self) -> str:
        """`Namespace/type` as written in the ID (compare with `provider_key` for case-insensitivity)."""
        return f"{self.namespace}/{self.type}"

    @property
    def provider_key(self) -> str:
        """Lower-cased `namespace/type`: the key of azure/pec.py's PROVIDERS table."""
        return self.provider_type.lower()

    @classmethod
    def parse(cls, resource_id: str) -> "ResourceId":
        """A top-level resource ID as the spec's fields must hold it (ANY_ARM_ID_RE, the CRD's rule); its parts as
        model/arm_id.py splits them."""
        if not re.match(ANY_ARM_ID_RE, resource_id or ""):
            raise ValueError(f"not an ARM resource ID: {resource_id!r}")
        p = ArmId.of(resource_id).parts  # (subscriptions, sub, resourceGroups, rg, providers, ns, type, name)
        return cls(p[1], p[3], p[5], p[6], p[7])


def reconcile_policy_of(annotations: Mapping[str, str] | None) -> ReconcilePolicy:
    """What the operator obeys: absent means `manage`; letter case and surrounding space are forgiven; an unknown
    value is treated as `skip`, so a typo never causes writes (docs/workspace.md, docs/outbound-rules.md)."""
    raw = str((annotations or {}).get(RECONCILE_POLICY_ANNOTATION) or ReconcilePolicy.MANAGE).strip().lower()
    return ReconcilePolicy(raw) if raw in RECONCILE_POLICIES else ReconcilePolicy.SKIP


def parse_reconcile_policy(annotations: Mapping[str, str] | None) -> ReconcilePolicy:
    """The object's reconcile policy; absent means `manage`. An unknown value raises SpecError so the handler
    reports it instead of guessing (the API server cannot validate annotations)."""
    raw = (annotations or {}).get(RECONCILE_POLICY_ANNOTATION)
    if raw is None or raw == "":
        return ReconcilePolicy.MANAGE
    try:
        return ReconcilePolicy(raw)
    except ValueError:
        raise SpecError(
            f"metadata.annotations[{RECONCILE_POLICY_ANNOTATION}]",
            f"unsupported value {raw!r}; use one of {', '.join(RECONCILE_POLICIES)}",
        ) from None


def enum_field(enum: type[StrEnum], data: Mapping[str, Any], key: str, field: str, default: StrEnum | None = None):
    """Read an enum-valued field; a missing one takes `default` (SpecError when there is none)."""
    raw = data.get(key)
    if raw is None:
        if default is None:
            raise SpecError(f"{field}.{key}", "is required")
        return default
    try:
        return enum(raw)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise SpecError(f"{field}.{key}", f"unsupported value {raw!r}; use one of {allowed}") from None


def required_str(data: Mapping[str, Any], key: str, field: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise SpecError(f"{field}.{key}", "is required")
    return value


def optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def sub(data: Mapping[str, Any] | None, key: str) -> Mapping[str, Any]:
    """A nested object, `{}` when absent (the API server fills defaults; partial dicts in tests leave them out)."""
    value = (data or {}).get(key)
    return value if isinstance(value, Mapping) else {}
