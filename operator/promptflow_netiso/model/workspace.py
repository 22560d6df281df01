"""Typed spec of PromptFlowWorkspace: which Azure ML workspace, and how its network isolation should look."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Mapping

from .common import (
    CONDITION_READY,
    MIN_PENDING_SECONDS_DEFAULT,
    ML_WORKSPACE_TYPE,
    SpecError,
    enum_field,
    optional_str,
    required_str,
    sub,
)

CONDITION_WORKSPACE_FOUND = "WorkspaceFound"
CONDITION_LIMITS_SATISFIED = "LimitsSatisfied"
CONDITION_ISOLATION_APPLIED = "IsolationApplied"
CONDITION_NETWORK_PROVISIONED = "NetworkProvisioned"
CONDITION_STORAGE_ROLES_ASSIGNED = "StorageRolesAssigned"
CONDITION_APPROVER_ROLE_ASSIGNED = "ApproverRoleAssigned"
# Bring-your-own VNet with an AKS deployment target (planning/byo_network.py).
CONDITION_NETWORK_VERIFIED = "NetworkVerified"
CONDITION_EXTENSION_READY = "ExtensionReady"
CONDITION_COMPUTE_ATTACHED = "ComputeAttached"
BYO_CONDITION_TYPES = (CONDITION_NETWORK_VERIFIED, CONDITION_EXTENSION_READY, CONDITION_COMPUTE_ATTACHED)
CONDITION_TYPES = (
    CONDITION_READY,
    CONDITION_WORKSPACE_FOUND,
    CONDITION_LIMITS_SATISFIED,
    CONDITION_ISOLATION_APPLIED,
    CONDITION_NETWORK_PROVISIONED,
    CONDITION_STORAGE_ROLES_ASSIGNED,
    CONDITION_APPROVER_ROLE_ASSIGNED,
    *BYO_CONDITION_TYPES,
)


class NetworkMode(StrEnum):
    MANAGED = "ManagedVirtualNetwork"
    BRING_YOUR_OWN = "BringYourOwnVirtualNetwork"


class IsolationMode(StrEnum):
    """Azure's `managedNetwork.isolationMode` values a user may ask for (`Disabled` is Azure's own starting point)."""

    ALLOW_INTERNET_OUTBOUND = "AllowInternetOutbound"
    ALLOW_ONLY_APPROVED_OUTBOUND = "AllowOnlyApprovedOutbound"


class DeploymentTargetType(StrEnum):
    MANAGED_ONLINE_ENDPOINT = "ManagedOnlineEndpoint"
    KUBERNETES = "Kubernetes"


class PublicNetworkAccess(StrEnum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"


class InferenceRouterServiceType(StrEnum):
    LOAD_BALANCER = "LoadBalancer"
    NODE_PORT = "NodePort"
    CLUSTER_IP = "ClusterIP"


class DeletionPolicy(StrEnum):
    RETAIN = "Retain"
    DELETE = "Delete"


@dataclass(frozen=True)
class AzureWorkspace:
    """Coordinates of the Azure ML workspace (immutable once set)."""

    subscription_id: str
    resource_group: str
    workspace_name: str

    @property
    def resource_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/{ML_WORKSPACE_TYPE}/{self.workspace_name}"
        )


@dataclass(frozen=True)
class Provisioning:
    enabled: bool = False
    include_spark: bool = False


@dataclass(frozen=True)
class NetworkSpec:
    mode: NetworkMode = NetworkMode.MANAGED
    # None with bring-your-own VNet; AllowInternetOutbound when managed and left out (Azure's least disruptive mode).
    isolation_mode: IsolationMode | None = IsolationMode.ALLOW_INTERNET_OUTBOUND
    provision: Provisioning = field(default_factory=Provisioning)
    virtual_network_id: str | None = None
    public_network_access: PublicNetworkAccess | None = None  # None: not managed by the operator

    @property
    def managed(self) -> bool:
        return self.mode == NetworkMode.MANAGED


@dataclass(frozen=True)
class StorageRoles:
    assign: bool = True


@dataclass(frozen=True)
class ApproverRole:
    """Assign Azure AI Enterprise Network Connection Approver to the workspace identity on each PrivateEndpoint
    rule's target, so that Azure approves the managed network's private endpoints by itself."""

    assign: bool = False


@dataclass(frozen=True)
class AutoApproval:
    """`auto: true` is kept for compatibility and means the same as approverRole.assign: the operator approves
    nothing itself for it (minPendingSeconds is no longer used)."""

    auto: bool = False
    min_pending_seconds: int = MIN_PENDING_SECONDS_DEFAULT


DEFAULT_COMPUTE_NAME = "promptflow-aks"
DEFAULT_COMPUTE_NAMESPACE = "default"  # Azure ML's own default for a Kubernetes compute
DEFAULT_EXTENSION_NAME = "azureml"
DEFAULT_EXTENSION_NAMESPACE = "azureml"  # where the extension's release lives on the cluster


@dataclass(frozen=True)
class ExtensionSpec:
    """The Azure ML cluster extension (type microsoft.azureml.kubernetes): verified always, installed only when
    `install` is set, with the inference settings prompt flow deployments need."""

    install: bool = False
    name: str = DEFAULT_EXTENSION_NAME
    release_namespace: str = DEFAULT_EXTENSION_NAMESPACE
    router_service_type: InferenceRouterServiceType = InferenceRouterServiceType.LOAD_BALANCER
    internal_load_balancer: bool = True  # a private IP in the VNet: what a network-isolated workspace wants
    allow_insecure_connections: bool = False
    ssl_secret: str | None = None  # Kubernetes secret (in the release namespace) with the HTTPS certificate
    ssl_cname: str | None = None
    high_availability: bool = True

    def configuration_settings(self) -> dict[str, str]:
        """configurationSettings as Azure's "deploy the Azure ML extension" guidance names them (string values)."""
        settings = {
            "enableInference": "True",
            "inferenceRouterServiceType": self.router_service_type.value,
            "allowInsecureConnections": str(self.allow_insecure_connections),
            "inferenceRouterHA": str(self.high_availability),
        }
        if self.internal_load_balancer and self.router_service_type == InferenceRouterServiceType.LOAD_BALANCER:
            settings["internalLoadBalancerProvider"] = "azure"
        if self.ssl_secret:
            settings["sslSecret"] = self.ssl_secret
        if self.ssl_cname:
            settings["sslCname"] = self.ssl_cname
        return settings


@dataclass(frozen=True)
class DeploymentTarget:
    type: DeploymentTargetType = DeploymentTargetType.MANAGED_ONLINE_ENDPOINT
    aks_cluster_id: str | None = None
    compute_name: str = DEFAULT_COMPUTE_NAME
    namespace: str = DEFAULT_COMPUTE_NAMESPACE  # Kubernetes namespace Azure ML deploys into
    extension: ExtensionSpec = field(default_factory=ExtensionSpec)


@dataclass(frozen=True)
class WorkspaceSpec:
    azure: AzureWorkspace
    network: NetworkSpec = field(default_factory=NetworkSpec)
    storage_roles: StorageRoles = field(default_factory=StorageRoles)
    private_endpoint_approval: AutoApproval = field(default_factory=AutoApproval)
    deployment_target: DeploymentTarget = field(default_factory=DeploymentTarget)
    deletion_policy: DeletionPolicy = DeletionPolicy.RETAIN
    approver_role: ApproverRole = field(default_factory=ApproverRole)

    @property
    def assigns_approver_role(self) -> bool:
        """approverRole.assign, or the older privateEndpointApproval.auto that now means the same."""
        return self.approver_role.assign or self.private_endpoint_approval.auto

    @property
    def coordinates(self) -> tuple[str, str, str]:
        """(subscription ID, resource group, workspace name): the arguments of every azure.ml call."""
        a = self.azure
        return a.subscription_id, a.resource_group, a.workspace_name

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> "WorkspaceSpec":
        spec = spec or {}
        az = spec.get("azure")
        if not isinstance(az, Mapping):
            raise SpecError("spec.azure", "is required")
        azure = AzureWorkspace(
            subscription_id=required_str(az, "subscriptionId", "spec.azure"),
            resource_group=required_str(az, "resourceGroup", "spec.azure"),
            workspace_name=required_str(az, "workspaceName", "spec.azure"),
        )
        return cls(
            azure=azure,
            network=_network(sub(spec, "network")),
            storage_roles=StorageRoles(assign=bool(sub(spec, "storageRoles").get("assign", True))),
            private_endpoint_approval=_auto_approval(sub(spec, "privateEndpointApproval")),
            deployment_target=_deployment_target(sub(spec, "deploymentTarget")),
            deletion_policy=enum_field(DeletionPolicy, spec, "deletionPolicy", "spec", DeletionPolicy.RETAIN),
            approver_role=ApproverRole(assign=bool(sub(spec, "approverRole").get("assign", False))),
        )


def _network(net: Mapping[str, Any]) -> NetworkSpec:
    mode = enum_field(NetworkMode, net, "mode", "spec.network", NetworkMode.MANAGED)
    isolation = None
    if mode == NetworkMode.MANAGED:
        isolation = enum_field(
            IsolationMode, net, "isolationMode", "spec.network", IsolationMode.ALLOW_INTERNET_OUTBOUND
        )
    vnet = optional_str(net, "virtualNetworkId")
    if mode == NetworkMode.BRING_YOUR_OWN and vnet is None:
        raise SpecError("spec.network.virtualNetworkId", "is required when mode is BringYourOwnVirtualNetwork")
    prov = sub(net, "provision")
    pna = enum_field(PublicNetworkAccess, net, "publicNetworkAccess", "spec.network", None) if net.get("publicNetworkAccess") else None
    return NetworkSpec(
        mode=mode,
        isolation_mode=isolation,
        provision=Provisioning(
            enabled=bool(prov.get("enabled", False)), include_spark=bool(prov.get("includeSpark", False))
        ),
        virtual_network_id=vnet,
        public_network_access=pna,
    )


def _auto_approval(pea: Mapping[str, Any]) -> AutoApproval:
    return AutoApproval(
        auto=bool(pea.get("auto", False)),
        min_pending_seconds=int(pea.get("minPendingSeconds", MIN_PENDING_SECONDS_DEFAULT)),
    )


def _deployment_target(dt: Mapping[str, Any]) -> DeploymentTarget:
    kind = enum_field(
        DeploymentTargetType, dt, "type", "spec.deploymentTarget", DeploymentTargetType.MANAGED_ONLINE_ENDPOINT
    )
    aks = optional_str(dt, "aksClusterId")
    if kind == DeploymentTargetType.KUBERNETES and aks is None:
        raise SpecError("spec.deploymentTarget.aksClusterId", "is required when type is Kubernetes")
    ext = sub(dt, "extension")
    inference = sub(ext, "inference")
    extension = ExtensionSpec(
        install=bool(ext.get("install", False)),
        name=optional_str(ext, "name") or DEFAULT_EXTENSION_NAME,
        release_namespace=optional_str(ext, "releaseNamespace") or DEFAULT_EXTENSION_NAMESPACE,
        router_service_type=enum_field(InferenceRouterServiceType, inference, "routerServiceType",
                                       "spec.deploymentTarget.extension.inference",
                                       InferenceRouterServiceType.LOAD_BALANCER),
        internal_load_balancer=bool(inference.get("internalLoadBalancer", True)),
        allow_insecure_connections=bool(inference.get("allowInsecureConnections", False)),
        ssl_secret=optional_str(inference, "sslSecret"),
        ssl_cname=optional_str(inference, "sslCname"),
        high_availability=bool(inference.get("highAvailability", True)),
    )
    return DeploymentTarget(type=kind, aks_cluster_id=aks,
                            compute_name=optional_str(dt, "computeName") or DEFAULT_COMPUTE_NAME,
                            namespace=optional_str(dt, "namespace") or DEFAULT_COMPUTE_NAMESPACE,
                            extension=extension)
