"""Read-only network and AKS resources for bring-your-own-VNet checks, and resource groups."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import ids
from .armhttp import Ctx, json_response, not_found
from .constants import AKS_API_VERSIONS, NETWORK_API_VERSIONS, RESOURCES_API_VERSIONS
from .model import ManagedCluster, VirtualNetwork
from .router import RG, Router
from .world import World

VNET = RG + r"/providers/Microsoft\.Network/virtualNetworks/(?P<vnet>[^/]+)"
AKS = RG + r"/providers/Microsoft\.ContainerService/managedClusters/(?P<cluster>[^/]+)"
VNET_TYPE = "Microsoft.Network/virtualNetworks"


def _etag(obj: Any) -> str:
    return f'W/"{abs(hash(repr(obj))) % 10**12:012d}"'


def subnet_body(vnet: VirtualNetwork, subnet: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {"provisioningState": "Succeeded", "addressPrefix": subnet.get("addressPrefix", "10.0.0.0/24"),
                             "delegations": subnet.get("delegations", []),
                             "privateEndpointNetworkPolicies": subnet.get("privateEndpointNetworkPolicies", "Disabled"),
                             "privateLinkServiceNetworkPolicies": subnet.get("privateLinkServiceNetworkPolicies", "Enabled")}
    for extra in ("networkSecurityGroup", "routeTable", "serviceEndpoints"):
        if extra in subnet:
            props[extra] = subnet[extra]
    return {"name": subnet["name"], "id": f"{vnet.id}/subnets/{subnet['name']}", "etag": _etag(subnet),
            "type": f"{VNET_TYPE}/subnets", "properties": props}


def peering_body(vnet: VirtualNetwork, peering: dict[str, Any]) -> dict[str, Any]:
    props = {"provisioningState": "Succeeded", "peeringState": peering.get("peeringState", "Connected"),
             "peeringSyncLevel": peering.get("peeringSyncLevel", "FullyInSync"),
             "remoteVirtualNetwork": {"id": peering["remoteVirtualNetworkId"]},
             "allowVirtualNetworkAccess": peering.get("allowVirtualNetworkAccess", True),
             "allowForwardedTraffic": peering.get("allowForwardedTraffic", False),
             "allowGatewayTransit": peering.get("allowGatewayTransit", False),
             "useRemoteGateways": peering.get("useRemoteGateways", False)}
    return {"name": peering["name"], "id": f"{vnet.id}/virtualNetworkPeerings/{peering['name']}", "etag": _etag(peering),
            "type": f"{VNET_TYPE}/virtualNetworkPeerings", "properties": props}


def vnet_body(vnet: VirtualNetwork) -> dict[str, Any]:
    name = vnet.id.rstrip("/").rsplit("/", 1)[-1]
    return {"name": name, "id": vnet.id, "etag": _etag(vnet.address_prefixes), "type": VNET_TYPE,
            "location": vnet.location,
            "properties": {"provisioningState": "Succeeded", "resourceGuid": "00000000-0000-0000-0000-000000000000",
                           "addressSpace": {"addressPrefixes": list(vnet.address_prefixes)},
                           "subnets": [subnet_body(vnet, s) for s in vnet.subnets],
                           "virtualNetworkPeerings": [peering_body(vnet, p) for p in vnet.peerings],
                           "enableDdosProtection": False}}


def cluster_body(cluster: ManagedCluster) -> dict[str, Any]:
    name = cluster.id.rstrip("/").rsplit("/", 1)[-1]
    pools = [{"name": p["name"], "count": p.get("count", 1), "vmSize": p.get("vmSize", "Standard_D4s_v5"),
              "mode": p.get("mode", "System"), "osType": "Linux", "type": "VirtualMachineScaleSets",
              "provisioningState": "Succeeded", "orchestratorVersion": cluster.kubernetes_version,
              **({"vnetSubnetID": p["vnetSubnetID"]} if p.get("vnetSubnetID") else {})}
             for p in cluster.agent_pools]
    return {"id": cluster.id, "name": name, "type": "Microsoft.ContainerService/ManagedClusters",
            "location": cluster.location, "identity": {"type": "SystemAssigned"},
            "properties": {"provisioningState": "Succeeded", "powerState": {"code": "Running"},
                           "kubernetesVersion": cluster.kubernetes_version, "dnsPrefix": name,
                           "agentPoolProfiles": pools,
                           "networkProfile": {"networkPlugin": cluster.network_plugin, "serviceCidr": "10.240.0.0/16",
                                              "dnsServiceIP": "10.240.0.10", "outboundType": "loadBalancer"},
                           "oidcIssuerProfile": {"enabled": True}, "securityProfile": {"workloadIdentity": {"enabled": True}}}}


class NetworkRoutes:
    def __init__(self, world: World):
        self.w = world

    def register(self, router: Router) -> None:
        n, a = NETWORK_API_VERSIONS, AKS_API_VERSIONS
        router.add("network.vnets.list", "GET", RG + r"/providers/Microsoft\.Network/virtualNetworks", self.list_vnets, n, VNET_TYPE)
        router.add("network.vnet.get", "GET", VNET, self.get_vnet, n, VNET_TYPE)
        router.add("network.subnets.list", "GET", VNET + "/subnets", self.list_subnets, n, f"{VNET_TYPE}/subnets")
        router.add("network.subnet.get", "GET", VNET + r"/subnets/(?P<subnet>[^/]+)", self.get_subnet, n, f"{VNET_TYPE}/subnets")
        router.add("network.peerings.list", "GET", VNET + "/virtualNetworkPeerings", self.list_peerings, n,
                   f"{VNET_TYPE}/virtualNetworkPeerings")
        router.add("network.peering.get", "GET", VNET + r"/virtualNetworkPeerings/(?P<peering>[^/]+)", self.get_peering, n,
                   f"{VNET_TYPE}/virtualNetworkPeerings")
        router.add("aks.cluster.get", "GET", AKS, self.get_cluster, a, "Microsoft.ContainerService/managedClusters")
        router.add("resources.group.get", "GET", RG, self.get_group, RESOURCES_API_VERSIONS, "Microsoft.Resources/resourceGroups")

    def _vnet(self, ctx: Ctx) -> VirtualNetwork:
        sub, rg, name = ctx.params["sub"], ctx.params["rg"], ctx.params["vnet"]
        self.w.require_resource_group(sub, rg)
        vnet = self.w.estate.vnets.get(ids.key(f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{VNET_TYPE}/{name}"))
        if vnet is None:
            raise not_found(VNET_TYPE, name, rg)
        return vnet

    async def list_vnets(self, ctx: Ctx) -> web.Response:
        self.w.require_resource_group(ctx.params["sub"], ctx.params["rg"])
        prefix = f"/subscriptions/{ctx.params['sub']}/resourcegroups/{ctx.params['rg']}/".lower()
        return json_response(200, {"value": [vnet_body(v) for k, v in self.w.estate.vnets.items() if k.startswith(prefix)]})

    async def get_vnet(self, ctx: Ctx) -> web.Response:
        return json_response(200, vnet_body(self._vnet(ctx)))

    async def list_subnets(self, ctx: Ctx) -> web.Response:
        vnet = self._vnet(ctx)
        return json_response(200, {"value": [subnet_body(vnet, s) for s in vnet.subnets]})

    async def get_subnet(self, ctx: Ctx) -> web.Response:
        vnet = self._vnet(ctx)
        for s in vnet.subnets:
            if s["name"].lower() == ctx.params["subnet"].lower():
                return json_response(200, subnet_body(vnet, s))
        raise not_found(f"{VNET_TYPE}/subnets", ctx.params["subnet"], ctx.params["rg"])

    async def list_peerings(self, ctx: Ctx) -> web.Response:
        vnet = self._vnet(ctx)
        return json_response(200, {"value": [peering_body(vnet, p) for p in vnet.peerings]})

    async def get_peering(self, ctx: Ctx) -> web.Response:
        vnet = self._vnet(ctx)
        for p in vnet.peerings:
            if p["name"].lower() == ctx.params["peering"].lower():
                return json_response(200, peering_body(vnet, p))
        raise not_found(f"{VNET_TYPE}/virtualNetworkPeerings", ctx.params["peering"], ctx.params["rg"])

    async def get_cluster(self, ctx: Ctx) -> web.Response:
        sub, rg, name = ctx.params["sub"], ctx.params["rg"], ctx.params["cluster"]
        self.w.require_resource_group(sub, rg)
        cluster = self.w.estate.clusters.get(ids.key(
            f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}"))
        if cluster is None:
            raise not_found("Microsoft.ContainerService/managedClusters", name, rg)
        return json_response(200, cluster_body(cluster))

    async def get_group(self, ctx: Ctx) -> web.Response:
        self.w.require_resource_group(ctx.params["sub"], ctx.params["rg"])
        group = self.w.estate.resource_group(ctx.params["sub"], ctx.params["rg"])
        assert group is not None
        return json_response(200, {"id": f"/subscriptions/{group.subscription_id}/resourceGroups/{group.name}",
                                   "name": group.name, "type": "Microsoft.Resources/resourceGroups",
                                   "location": group.location, "properties": {"provisioningState": "Succeeded"}})
