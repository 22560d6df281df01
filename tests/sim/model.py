"""The simulated Azure estate: plain dataclasses keyed case-insensitively, snapshot-able to JSON.

Only the simulator's event loop touches it; no locks needed.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from . import ids


@dataclass
class ResourceGroup:
    subscription_id: str
    name: str
    location: str = "eastus"


@dataclass
class Subscription:
    id: str
    display_name: str = ""


@dataclass
class OutboundRule:
    name: str
    type: str  # FQDN | PrivateEndpoint | ServiceTag
    destination: Any  # str for FQDN, dict otherwise
    category: str = "UserDefined"  # Required | Recommended | UserDefined | Dependency
    status: str = "Inactive"  # Inactive | Active | Provisioning | Deleting | Failed
    error_information: str | None = None
    fqdns: list[str] = field(default_factory=list)


@dataclass
class Workspace:
    subscription_id: str
    resource_group: str
    name: str
    kind: str = "Default"  # Default | Hub | Project
    location: str = "eastus"
    principal_id: str = ""
    tenant_id: str = ""
    workspace_id: str = ""
    storage_account: str = ""
    key_vault: str = ""
    container_registry: str | None = None
    application_insights: str = ""
    hub_id: str | None = None  # Project workspaces: their hub, whose managed network they share
    isolation_mode: str = "Disabled"
    network_id: str = ""
    network_status: str | None = None  # None while Disabled; Inactive until provisioned; then Active
    spark_ready: bool = False
    firewall_sku: str = "Standard"
    public_network_access: str = "Enabled"
    monitoring: dict[str, bool] = field(default_factory=dict)  # managedNetwork.enableFirewallLog / enableNetworkMonitor
    rules: dict[str, OutboundRule] = field(default_factory=dict)  # key: rule name lowercased
    user_assigned_identities: dict[str, dict[str, str]] = field(default_factory=dict)
    extra_properties: dict[str, Any] = field(default_factory=dict)  # unmodelled properties, echoed verbatim
    tags: dict[str, str] = field(default_factory=dict)
    busy_operation: str | None = None  # the managed-network write in flight (409 for others)
    updating: bool = False  # properties.provisioningState reads Updating during a PATCH

    @property
    def id(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.MachineLearningServices/workspaces/{self.name}")


@dataclass
class Connection:
    """A private endpoint connection on a target resource."""

    name: str
    private_endpoint_id: str
    status: str = "Pending"
    description: str = ""
    actions_required: str = "None"
    provisioning_state: str = "Succeeded"
    group_ids: list[str] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)
    requested_by_rule: str | None = None  # "<workspace id>|<rule name>" when a managed-network rule created it


@dataclass
class Resource:
    """Any other ARM resource: PE targets (accounts, search, storage, vaults) and plain scopes (e.g. DocumentDB)."""

    id: str
    location: str = "eastus"
    kind: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    pe_behaviour: str = "auto-approve"  # auto-approve | pending | reject
    approve_after_s: float = 0.5
    connections: dict[str, Connection] = field(default_factory=dict)  # key: connection name lowercased

    @property
    def rid(self) -> ids.ResourceId:
        return ids.parse(self.id)


@dataclass
class RoleAssignment:
    name: str
    scope: str
    role_definition_id: str
    principal_id: str
    principal_type: str = "ServicePrincipal"
    description: str | None = None
    created_on: float = field(default_factory=time.time)

    @property
    def id(self) -> str:
        return f"{self.scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{self.name}"


@dataclass
class VirtualNetwork:
    id: str
    location: str = "eastus"
    address_prefixes: list[str] = field(default_factory=lambda: ["10.0.0.0/16"])
    subnets: list[dict[str, Any]] = field(default_factory=list)  # {name, addressPrefix, delegations?, ...}
    peerings: list[dict[str, Any]] = field(default_factory=list)  # {name, remoteVirtualNetworkId, peeringState}
    nat_gateway_id: str | None = None  # properties.defaultPublicNatGateway


@dataclass
class ManagedCluster:
    id: str
    location: str = "eastus"
    kubernetes_version: str = "1.32.0"
    agent_pools: list[dict[str, Any]] = field(default_factory=list)  # {name, vnetSubnetID, count, vmSize, mode}
    network_plugin: str = "azure"


@dataclass
class PrivateEndpoint:
    """A customer's private endpoint (Microsoft.Network/privateEndpoints) in one subnet, connected to one resource.
    A workspace target makes it show among the workspace's own privateEndpointConnections."""

    id: str
    subnet_id: str
    target_id: str = ""
    group_ids: list[str] = field(default_factory=lambda: ["amlworkspace"])
    connection_name: str = ""
    status: str = "Approved"  # the connection's privateLinkServiceConnectionState.status
    description: str = "Auto-Approved"
    location: str = "eastus"


@dataclass
class ClusterExtension:
    """Microsoft.KubernetesConfiguration/extensions on a cluster (AKS or Arc)."""

    cluster_id: str
    name: str
    extension_type: str = "microsoft.azureml.kubernetes"
    provisioning_state: str = "Succeeded"  # Creating while its install runs
    release_namespace: str = "azureml"
    configuration_settings: dict[str, str] = field(default_factory=dict)
    version: str = "1.1.60"
    release_train: str = "stable"
    auto_upgrade_minor_version: bool = True
    fail_with: str | None = None  # admin: the install ends Failed with this message
    created_at: float = field(default_factory=time.time)

    @property
    def id(self) -> str:
        return f"{self.cluster_id.rstrip('/')}/providers/Microsoft.KubernetesConfiguration/extensions/{self.name}"


@dataclass
class MlCompute:
    """workspaces/{ws}/computes/{name}; only computeType Kubernetes is modelled."""

    workspace_id: str
    name: str
    resource_id: str
    namespace: str = "default"
    compute_type: str = "Kubernetes"
    provisioning_state: str = "Succeeded"
    description: str | None = None
    location: str = "eastus"
    created_on: float = field(default_factory=time.time)
    modified_on: float = field(default_factory=time.time)
    instance_types: dict[str, Any] | None = None
    default_instance_type: str | None = None

    @property
    def id(self) -> str:
        return f"{self.workspace_id}/computes/{self.name}"


@dataclass
class Deny:
    """Caller lacks rights: 403 AuthorizationFailed for matching actions under a scope prefix."""

    scope_prefix: str
    actions: list[str]  # fnmatch patterns over action names, e.g. Microsoft.Authorization/roleAssignments/*
    principal_id: str | None = None  # None: every caller


@dataclass
class Estate:
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    resource_groups: dict[str, ResourceGroup] = field(default_factory=dict)  # key: "sub/rg" lowercased
    workspaces: dict[str, Workspace] = field(default_factory=dict)  # key: ids.key(id)
    resources: dict[str, Resource] = field(default_factory=dict)
    role_assignments: dict[str, RoleAssignment] = field(default_factory=dict)  # key: ids.key(assignment id)
    vnets: dict[str, VirtualNetwork] = field(default_factory=dict)
    clusters: dict[str, ManagedCluster] = field(default_factory=dict)
    private_endpoints: dict[str, PrivateEndpoint] = field(default_factory=dict)
    extensions: dict[str, ClusterExtension] = field(default_factory=dict)  # key: ids.key(extension id)
    computes: dict[str, MlCompute] = field(default_factory=dict)  # key: ids.key(compute id)
    principals: dict[str, str] = field(default_factory=dict)  # object id (lower) -> principalType
    denies: list[Deny] = field(default_factory=list)

    # ---- lookups -------------------------------------------------------------------------------------------
    def subscription(self, sub: str) -> Subscription | None:
        return self.subscriptions.get(sub.lower())

    def resource_group(self, sub: str, rg: str) -> ResourceGroup | None:
        return self.resource_groups.get(f"{sub}/{rg}".lower())

    def workspace(self, sub: str, rg: str, name: str) -> Workspace | None:
        return self.workspaces.get(ids.key(f"/subscriptions/{sub}/resourceGroups/{rg}/providers/"
                                           f"Microsoft.MachineLearningServices/workspaces/{name}"))

    def resource(self, resource_id: str) -> Resource | None:
        return self.resources.get(ids.key(resource_id))

    def scope_exists(self, scope: str) -> bool:
        """Subscription, resource group or any known resource (role assignments need an existing scope)."""
        parts = [p for p in scope.strip("/").split("/") if p]
        if len(parts) < 2 or parts[0].lower() != "subscriptions" or not self.subscription(parts[1]):
            return False
        if len(parts) == 2:
            return True
        if len(parts) < 4 or parts[2].lower() != "resourcegroups" or not self.resource_group(parts[1], parts[3]):
            return False
        if len(parts) == 4:
            return True
        k = ids.key(scope)
        return any(k in table for table in (self.workspaces, self.resources, self.vnets, self.clusters,
                                            self.private_endpoints))

    # ---- persistence (standalone --state-file) -------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def restore(cls, data: dict[str, Any]) -> "Estate":
        def table(name: str, typ, nested=None) -> dict[str, Any]:
            out = {}
            for k, value in (data.get(name) or {}).items():
                value = dict(value)
                if nested:
                    for field_name, field_type in nested.items():
                        value[field_name] = {nk: field_type(**nv) for nk, nv in (value.get(field_name) or {}).items()}
                value.pop("busy_operation", None)  # operations do not survive a restart
                value.pop("updating", None)
                out[k] = typ(**value)
            return out

        return cls(
            subscriptions=table("subscriptions", Subscription),
            resource_groups=table("resource_groups", ResourceGroup),
            workspaces=table("workspaces", Workspace, {"rules": OutboundRule}),
            resources=table("resources", Resource, {"connections": Connection}),
            role_assignments=table("role_assignments", RoleAssignment),
            vnets=table("vnets", VirtualNetwork),
            clusters=table("clusters", ManagedCluster),
            private_endpoints=table("private_endpoints", PrivateEndpoint),
            extensions=table("extensions", ClusterExtension),
            computes=table("computes", MlCompute),
            principals=dict(data.get("principals") or {}),
            denies=[Deny(**d) for d in data.get("denies") or []],
        )
