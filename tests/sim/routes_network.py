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


def subnet_body(vnet: VirtualNetwork, subnet: dict[str, Any]) -> dict[str, Any]:
    """Shaped like the 2025-09-01 examples; optional properties only when seeded."""
    props: dict[str, Any] = {"addressPrefix": subnet.get("addressPrefix", "10.0.0.0/24")}
    for extra in ("ipConfigurations", "delegations", "privateEndpointNetworkPolicies", "privateLinkServiceNetworkPolicies",
                  "networkSecurityGroup", "routeTable", "serviceEndpoints"):
        if extra in subnet:
            props[extra] = subnet[extra]
    props["provisioningState"] = "Succeeded"
    return {"name": subnet["name"], "id": f"{vnet.id}/subnets/{subnet['name']}", "properties": props}


def peering_body(vnet: VirtualNetwork, peering: dict[str, Any], remote: VirtualNetwork | None = None) -> dict[str, Any]:
    """`peeringState` (Initiated | Connected | Disconnected) is each side's own, independent of provisioningState."""
    remote_prefixes = {"addressPrefixes": list(remote.address_prefixes) if remote else []}
    props = {"allowForwardedTraffic": peering.get("allowForwardedTraffic", False),
             "allowGatewayTransit": peering.get("allowGatewayTransit", False),
             "allowVirtualNetworkAccess": peering.get("allowVirtualNetworkAccess", True),
             "peeringState": peering.get("peeringState", "Connected"),
             "peeringSyncLevel": peering.get("peeringSyncLevel", "FullyInSync"),
             "provisioningState": "Succeeded",
             "remoteAddressSpace": remote_prefixes,
             "remoteBgpCommunities": {"regionalCommunity": "12076:50004", "virtualNetworkCommunity": "12076:20002"},
             "remoteVirtualNetwork": {"id": peering["remoteVirtualNetworkId"]},
             "remoteVirtualNetworkAddressSpace": remote_prefixes,
             "useRemoteGateways": peering.get("useRemoteGateways", False)}
    return {"name": peering["name"], "id": f"{vnet.id}/virtualNetworkPeerings/{peering['name']}", "properties": props}


def vnet_body(vnet: VirtualNetwork, lookup=lambda vnet_id: None) -> dict[str, Any]:
    name = vnet.id.rstrip("/").rsplit("/", 1)[-1]
    props: dict[str, Any] = {"addressSpace": {"addressPrefixes": list(vnet.address_prefixes)}}
    if vnet.nat_gateway_id:
        props["defaultPublicNatGateway"] = {"id": vnet.nat_gateway_id}
    props.update({"provisioningState": "Succeeded",
                  "subnets": [subnet_body(vnet, s) for s in vnet.subnets],
                  "virtualNetworkPeerings": [peering_body(vnet, p, lookup(p["remoteVirtualNetworkId"])) for p in vnet.peerings]})
    return {"name": name, "type": VNET_TYPE, "id": vnet.id, "location": vnet.location, "properties": props}


def cluster_body(cluster: ManagedCluster) -> dict[str, Any]:
    """Shaped like the 2026-08-01 ManagedClusters_Get example; agent pools add `mode`, `type` and (when in a subnet
    of yours) `vnetSubnetID`, all in the schema."""
    name = cluster.id.rstrip("/").rsplit("/", 1)[-1]
    rg = cluster.id.split("/")[4]
    v = cluster.kubernetes_version
    pools = [{"name": p["name"], "availabilityZones": ["1", "2", "3"], "count": p.get("count", 3),
              "currentOrchestratorVersion": v, "eTag": "nvewbvoi", "maxPods": 110,
              "mode": p.get("mode", "System"), "nodeImageVersion": "AKSUbuntu-2204gen2containerd-202511.01.0",
              "orchestratorVersion": v, "osType": "Linux", "provisioningState": "Succeeded",
              "upgradeSettings": {"maxSurge": "33%"},
              "vmSize": p.get("vmSize", "Standard_D4s_v5"),
              **({"vnetSubnetID": p["vnetSubnetID"]} if p.get("vnetSubnetID") else {})}
             for p in cluster.agent_pools]
    fqdn = f"{name}-dns-1a2b3c4d.hcp.{cluster.location}.azmk8s.io"
    outbound_ip = (f"/subscriptions/{cluster.id.split('/')[2]}/resourceGroups/MC_{rg}_{name}_{cluster.location}"
                   "/providers/Microsoft.Network/publicIPAddresses/outbound-ip-1")
    return {"name": name, "type": "Microsoft.ContainerService/ManagedClusters", "eTag": "beywbwei", "id": cluster.id,
            "location": cluster.location,
            "properties": {
                "agentPoolProfiles": pools, "azurePortalFQDN": f"{name}-dns-1a2b3c4d.portal.hcp.{cluster.location}.azmk8s.io",
                "currentKubernetesVersion": v, "diskEncryptionSetID": None, "dnsPrefix": f"{name}-dns",
                "enableRBAC": True, "fqdn": fqdn, "kubernetesVersion": v,
                "linuxProfile": {"adminUsername": "azureuser", "ssh": {"publicKeys": [{"keyData": "ssh-rsa AAAA"}]}},
                "maxAgentPools": 100,
                "networkProfile": {"dnsServiceIP": "10.240.0.10", "ipFamilies": ["IPv4"],
                                   "loadBalancerProfile": {"allocatedOutboundPorts": 0,
                                                           "effectiveOutboundIPs": [{"id": outbound_ip}],
                                                           "idleTimeoutInMinutes": 30,
                                                           "outboundIPs": {"publicIPs": [{"id": outbound_ip}]}},
                                   "loadBalancerSku": "standard", "networkPlugin": cluster.network_plugin,
                                   "outboundType": "loadBalancer", "podCidr": "10.244.0.0/16",
                                   "podCidrs": ["10.244.0.0/16"],
                                   "serviceCidr": "10.240.0.0/16", "serviceCidrs": ["10.240.0.0/16"]},
                "nodeResourceGroup": f"MC_{rg}_{name}_{cluster.location}", "provisioningState": "Succeeded",
                "servicePrincipalProfile": {"clientId": "msi"},
                "upgradeSettings": {"overrideSettings": {"forceUpgrade": False, "until": None}}},
            "tags": {"createdBy": "sim"}}


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
        return json_response(200, {"value": [vnet_body(v, self._lookup) for k, v in self.w.estate.vnets.items()
                                             if k.startswith(prefix)]})

    def _lookup(self, vnet_id: str) -> VirtualNetwork | None:
        return self.w.estate.vnets.get(ids.key(vnet_id))

    async def get_vnet(self, ctx: Ctx) -> web.Response:
        return json_response(200, vnet_body(self._vnet(ctx), self._lookup))

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
        return json_response(200, {"value": [peering_body(vnet, p, self._lookup(p["remoteVirtualNetworkId"]))
                                             for p in vnet.peerings]})

    async def get_peering(self, ctx: Ctx) -> web.Response:
        vnet = self._vnet(ctx)
        for p in vnet.peerings:
            if p["name"].lower() == ctx.params["peering"].lower():
                return json_response(200, peering_body(vnet, p, self._lookup(p["remoteVirtualNetworkId"])))
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
