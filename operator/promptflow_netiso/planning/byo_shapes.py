"""What the bring-your-own-VNet planner works with, pure: what it reads of Azure (structural protocols, the
`Observed` state, the status.deploymentTarget record as `Previous`), the actions it may plan, its `Plan`, and the
reasons and Events a person reads. planning/byo_network.py plans with these; planning/byo_network_check.py verifies
the network; both re-export nothing of their own here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol, Sequence

from ..conditions import reason_from_code, replaced
from ..model import arm_id
from ..model.workspace import CONDITION_COMPUTE_ATTACHED, CONDITION_EXTENSION_READY, CONDITION_NETWORK_VERIFIED

STEPS = (CONDITION_NETWORK_VERIFIED, CONDITION_EXTENSION_READY, CONDITION_COMPUTE_ATTACHED)
AZUREML_EXTENSION_TYPE = "microsoft.azureml.kubernetes"
CONNECTED, APPROVED, SUCCEEDED = "connected", "approved", "succeeded"
RUNNING_STATES = frozenset({"creating", "updating", "accepted", "inprogress", "running", "provisioning"})

REASON_VERIFIED = "Verified"
REASON_NO_WORKSPACE_ENDPOINT = "NoWorkspacePrivateEndpointInVnet"
REASON_AKS_NOT_IN_VNET = "AksNotInWorkspaceVnet"
REASON_AKS_MANAGED_VNET = "AksUsesManagedVnet"
REASON_PEERING_INCOMPLETE = "VnetPeeringNotConnected"
REASON_NOT_PEERED = "VnetsNotPeered"
REASON_SETTING_ACCESS = "SettingPublicNetworkAccess"
REASON_SKIPPED = "ReconcileSkipped"
REASON_READY = "Succeeded"
REASON_INSTALLING = "Installing"
REASON_NOT_INSTALLED = "ExtensionNotInstalled"
REASON_EXTENSION_FAILED = "ExtensionFailed"
REASON_ATTACHED = "Attached"
REASON_ATTACHING = "Attaching"
REASON_WAITING = "WaitingForPrerequisites"
REASON_COMPUTE_TAKEN = "ComputeNameTaken"
REASON_COMPUTE_FAILED = "ComputeFailed"
REASON_BLOCKED = "LimitsNotSatisfied"

# In-progress reasons: no Warning Event for these.
QUIET_REASONS = frozenset({REASON_SETTING_ACCESS, REASON_INSTALLING, REASON_ATTACHING, REASON_WAITING, REASON_BLOCKED})

EVENT_ACCESS_SET = "PublicNetworkAccessSet"
EVENT_EXTENSION_STARTED = "ExtensionInstallStarted"
EVENT_COMPUTE_ATTACHED = "ComputeAttached"
EVENT_COMPUTE_DETACHED = "ComputeDetached"
EVENT_DRIFT_CORRECTED = "DriftCorrected"


# --- what the planner reads (structural: planning imports nothing from azure/) ---------------------------------------


class PeeringLike(Protocol):
    remote_virtual_network_id: str | None
    peering_state: str | None


class VnetLike(Protocol):
    id: str
    peerings: Sequence[PeeringLike]


class ConnectionLike(Protocol):
    name: str
    private_endpoint_id: str | None
    status: str | None


class ClusterLike(Protocol):
    id: str
    agent_pool_subnet_ids: Sequence[str]


class ExtensionLike(Protocol):
    name: str
    extension_type: str | None
    provisioning_state: str | None
    error: str | None


class PollLike(Protocol):
    done: bool
    status: str | None


class ComputeLike(Protocol):
    id: str
    compute_type: str | None
    resource_id: str | None
    namespace: str | None
    provisioning_state: str | None
    errors: Sequence[str]


@dataclass(frozen=True)
class ReadError:
    """An Azure read that failed: the condition of its step carries Azure's words."""

    code: str
    text: str
    passing: bool = False  # throttling / transient: Unknown rather than False


@dataclass
class Observed:
    public_network_access: str | None = None  # as the workspace GET reports it
    vnet: VnetLike | None = None  # the spec's VNet (with its peerings)
    connections: Sequence[ConnectionLike] = ()
    endpoint_vnets: Mapping[str, str | None] = field(default_factory=dict)  # private endpoint ID (lower) -> VNet ID
    cluster: ClusterLike | None = None
    other_vnets: Mapping[str, VnetLike] = field(default_factory=dict)  # VNet ID (lower) -> VNet, for peering checks
    extensions: Sequence[ExtensionLike] | None = None
    extension_poll: PollLike | None = None
    compute: ComputeLike | None = None
    network_error: ReadError | None = None
    extension_error: ReadError | None = None
    compute_error: ReadError | None = None


@dataclass(frozen=True)
class Previous:
    """status.deploymentTarget as the operator last wrote it."""

    record: Mapping = field(default_factory=dict)

    @property
    def extension_operation(self) -> Mapping | None:
        op = self.record.get("extensionOperation")
        return op if isinstance(op, Mapping) and op.get("operationUrl") else None

    @property
    def compute_ours(self) -> bool:
        return bool(self.record.get("computeAttachedByOperator"))

    @property
    def extension_ours(self) -> bool:
        return bool(self.record.get("extensionInstalledByOperator"))

    @classmethod
    def from_status(cls, status: Mapping | None) -> "Previous":
        rec = (status or {}).get("deploymentTarget")
        return cls(rec if isinstance(rec, Mapping) else {})


# --- actions ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetPublicNetworkAccess:
    value: str
    previous: str | None
    summary: str = ""  # what NetworkVerified says once it is set

    condition_type = CONDITION_NETWORK_VERIFIED
    event_reason = EVENT_ACCESS_SET

    def describe(self) -> str:
        return f"workspace publicNetworkAccess set from {self.previous or 'unset'} to {self.value}"


@dataclass(frozen=True)
class InstallExtension:
    cluster_id: str
    name: str
    release_namespace: str
    settings: Mapping[str, str]

    condition_type = CONDITION_EXTENSION_READY
    event_reason = EVENT_EXTENSION_STARTED

    def describe(self) -> str:
        return (f"installing the Azure ML extension {self.name} ({AZUREML_EXTENSION_TYPE}) on AKS cluster "
                f"{label(self.cluster_id)}")


@dataclass(frozen=True)
class AttachCompute:
    name: str
    cluster_id: str
    namespace: str
    drift: str | None = None  # why an existing attachment is written again

    condition_type = CONDITION_COMPUTE_ATTACHED

    @property
    def event_reason(self) -> str:
        return EVENT_DRIFT_CORRECTED if self.drift else EVENT_COMPUTE_ATTACHED

    def describe(self) -> str:
        done = f"AKS cluster {label(self.cluster_id)} attached as Kubernetes compute {self.name} (namespace {self.namespace})"
        return f"{self.drift}; {done}" if self.drift else done


@dataclass(frozen=True)
class DetachCompute:
    name: str
    cluster_id: str | None

    condition_type = CONDITION_COMPUTE_ATTACHED
    event_reason = EVENT_COMPUTE_DETACHED

    def describe(self) -> str:
        return f"Kubernetes compute {self.name} detached (underlyingResourceAction=Detach; the AKS cluster is kept)"


Action = SetPublicNetworkAccess | InstallExtension | AttachCompute


@dataclass
class Plan:
    actions: tuple[Action, ...]
    conditions: list[dict]  # STEPS order
    record: dict  # status.deploymentTarget
    public_network_access: str | None = None  # status.publicNetworkAccess
    follow: bool = False  # an install or attach is running: look again soon

    def condition(self, type_: str) -> dict | None:
        return next((c for c in self.conditions if c["type"] == type_), None)


# --- small helpers ---------------------------------------------------------------------------------------------------


vnet_of_subnet = arm_id.vnet_of_subnet
label = arm_id.label  # `<resource group>/<name>`: what a person recognises, unambiguous within a subscription
pascal = reason_from_code  # an ARM error code as a condition reason


def replace_condition(plan_: Plan, new: dict) -> None:
    plan_.conditions = replaced(plan_.conditions, new)


def lower(value: object) -> str:
    return str(value or "").lower()
