"""Read-only views of customer networking: virtual networks (bring-your-own-VNet mode) and AKS clusters (Kubernetes
deployment target). VNets, subnets and peerings through azure-mgmt-network's async client; AKS through the ARM
pipeline (no allowed SDK dependency covers Microsoft.ContainerService).
"""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError as CoreAzureError

from ..model import arm_id
from . import errors, ids
from .arm import ArmClient
from .errors import AzureError, ErrorKind
from .pipeline import operation_option
from .sdk import PerSubscription

if TYPE_CHECKING:
    from azure.mgmt.network.aio import NetworkManagementClient

# azure-mgmt-network's models are about 43 MB of Python objects: imported (off the event loop) on the first VNet,
# subnet, peering or private endpoint read, so an operator that never needs one (managed networks only) never pays.
SDK_MODULE = "azure.mgmt.network.aio"

# Pinned, not the SDK's newest default (azure-mgmt-network 33.1 defaults to 2026-03-01): sovereign clouds get new
# network API versions months later. Versions of the official examples (FACTS.md).
NETWORK_API_VERSION = "2025-09-01"
PRIVATE_ENDPOINT_API_VERSION = "2025-05-01"
AKS_API_VERSION = "2026-08-01"


@dataclass(frozen=True)
class Subnet:
    id: str
    name: str
    address_prefixes: tuple[str, ...]
    delegations: tuple[str, ...] = ()  # service names, e.g. Microsoft.ContainerInstance/containerGroups
    private_endpoint_network_policies: str | None = None


@dataclass(frozen=True)
class Peering:
    id: str
    name: str
    remote_virtual_network_id: str | None
    peering_state: str | None  # Initiated | Connected | Disconnected
    provisioning_state: str | None = None


@dataclass(frozen=True)
class VirtualNetwork:
    id: str
    name: str
    location: str | None
    address_prefixes: tuple[str, ...]
    subnets: tuple[Subnet, ...] = ()
    peerings: tuple[Peering, ...] = ()


@dataclass(frozen=True)
class PrivateEndpoint:
    id: str
    name: str
    subnet_id: str | None  # the subnet its network interface lives in

    @property
    def virtual_network_id(self) -> str | None:
        return vnet_of_subnet(self.subnet_id)


vnet_of_subnet = arm_id.vnet_of_subnet  # `.../virtualNetworks/<vnet>/subnets/<subnet>` -> the VNet's ID


@dataclass(frozen=True)
class AksCluster:
    id: str
    name: str
    location: str | None
    agent_pool_subnet_ids: tuple[str, ...]  # vnetSubnetID of each agent pool (empty: AKS-managed VNet)
    network_plugin: str | None
    outbound_type: str | None
    private_cluster: bool
    provisioning_state: str | None = None


def _strs(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def parse_subnet(body: dict) -> Subnet:
    props = body.get("properties") or {}
    prefixes = _strs(props.get("addressPrefixes")) or ((props["addressPrefix"],) if props.get("addressPrefix") else ())
    delegations = tuple(
        str((d.get("properties") or {}).get("serviceName")) for d in props.get("delegations") or [] if isinstance(d, dict)
    )
    return Subnet(
        id=body.get("id", ""),
        name=body.get("name", ""),
        address_prefixes=prefixes,
        delegations=delegations,
        private_endpoint_network_policies=props.get("privateEndpointNetworkPolicies"),
    )


def parse_peering(body: dict) -> Peering:
    props = body.get("properties") or {}
    return Peering(
        id=body.get("id", ""),
        name=body.get("name", ""),
        remote_virtual_network_id=(props.get("remoteVirtualNetwork") or {}).get("id"),
        peering_state=props.get("peeringState"),
        provisioning_state=props.get("provisioningState"),
    )


def parse_virtual_network(body: dict) -> VirtualNetwork:
    props = body.get("properties") or {}
    return VirtualNetwork(
        id=body.get("id", ""),
        name=body.get("name", ""),
        location=body.get("location"),
        address_prefixes=_strs((props.get("addressSpace") or {}).get("addressPrefixes")),
        subnets=tuple(parse_subnet(s) for s in props.get("subnets") or [] if isinstance(s, dict)),
        peerings=tuple(parse_peering(p) for p in props.get("virtualNetworkPeerings") or [] if isinstance(p, dict)),
    )


def parse_aks_cluster(body: dict) -> AksCluster:
    props = body.get("properties") or {}
    pools = [p for p in props.get("agentPoolProfiles") or [] if isinstance(p, dict)]
    network = props.get("networkProfile") or {}
    api_server = props.get("apiServerAccessProfile") or {}
    return AksCluster(
        id=body.get("id", ""),
        name=body.get("name", ""),
        location=body.get("location"),
        agent_pool_subnet_ids=tuple(dict.fromkeys(str(p["vnetSubnetID"]) for p in pools if p.get("vnetSubnetID"))),
        network_plugin=network.get("networkPlugin"),
        outbound_type=network.get("outboundType"),
        private_cluster=bool(api_server.get("enablePrivateCluster")),
        provisioning_state=props.get("provisioningState"),
    )


def parse_private_endpoint(body: dict) -> PrivateEndpoint:
    props = body.get("properties") or {}
    return PrivateEndpoint(id=body.get("id", ""), name=body.get("name", ""),
                           subnet_id=(props.get("subnet") or {}).get("id"))


def require_type(resource_id: str, resource_type: str, child_type: str | None = None) -> ids.ResourceId:
    rid = ids.parse(resource_id)
    if rid.resource_type.lower() != resource_type.lower() or (rid.child_type or "").lower() != (child_type or "").lower():
        wanted = resource_type + (f"/{child_type}" if child_type else "")
        raise AzureError(status=0, code="InvalidResourceId", message=f"{resource_id!r} is not a {wanted} ID", kind=ErrorKind.USER_FIXABLE)
    return rid


def _raw_json(pipeline_response: Any, _deserialized: Any, _headers: Any) -> dict:
    """`cls` hook of the SDK: keep ARM's JSON, parsed by the same functions the unit tests feed."""
    return pipeline_response.http_response.json()


class Network:
    def __init__(self, clients: PerSubscription[NetworkManagementClient], arm: ArmClient) -> None:
        self._clients = clients
        self._arm = arm

    async def _client(self, subscription: str) -> NetworkManagementClient:
        await asyncio.to_thread(importlib.import_module, SDK_MODULE)  # once; then a dict look-up
        return self._clients.get(subscription)

    async def get_virtual_network(self, vnet_id: str) -> VirtualNetwork:
        rid = require_type(vnet_id, "Microsoft.Network/virtualNetworks")
        try:
            body = await (await self._client(rid.subscription)).virtual_networks.get(
                rid.resource_group, rid.name, api_version=NETWORK_API_VERSION, cls=_raw_json, **operation_option("vnet.get")
            )
        except CoreAzureError as exc:
            raise errors.from_exception(exc, "vnet.get") from exc
        return parse_virtual_network(body)

    async def get_subnet(self, subnet_id: str) -> Subnet:
        rid = require_type(subnet_id, "Microsoft.Network/virtualNetworks", "subnets")
        try:
            body = await (await self._client(rid.subscription)).subnets.get(
                rid.resource_group, rid.name, rid.child_name, api_version=NETWORK_API_VERSION, cls=_raw_json, **operation_option("subnet.get")
            )
        except CoreAzureError as exc:
            raise errors.from_exception(exc, "subnet.get") from exc
        return parse_subnet(body)

    async def list_peerings(self, vnet_id: str) -> list[Peering]:
        rid = require_type(vnet_id, "Microsoft.Network/virtualNetworks")
        try:
            pager = (await self._client(rid.subscription)).virtual_network_peerings.list(
                rid.resource_group, rid.name, api_version=NETWORK_API_VERSION, **operation_option("vnetPeering.list")
            )
            return [parse_peering(p.as_dict()) async for p in pager]
        except CoreAzureError as exc:
            raise errors.from_exception(exc, "vnetPeering.list") from exc

    async def get_private_endpoint(self, pe_id: str) -> PrivateEndpoint:
        rid = require_type(pe_id, "Microsoft.Network/privateEndpoints")
        try:
            body = await (await self._client(rid.subscription)).private_endpoints.get(
                rid.resource_group, rid.name, api_version=PRIVATE_ENDPOINT_API_VERSION, cls=_raw_json,
                **operation_option("privateEndpoint.get")
            )
        except CoreAzureError as exc:
            raise errors.from_exception(exc, "privateEndpoint.get") from exc
        return parse_private_endpoint(body)

    async def get_aks_cluster(self, cluster_id: str) -> AksCluster:
        rid = require_type(cluster_id, "Microsoft.ContainerService/managedClusters")
        body = await self._arm.get_json(rid.top_level_id, operation="aks.get", api_version=AKS_API_VERSION)
        return parse_aks_cluster(body)
