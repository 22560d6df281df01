"""VNet and AKS bodies into dataclasses, and resource-ID checks before any call."""

from __future__ import annotations

import pytest

from promptflow_netiso.azure import ids
from promptflow_netiso.azure.errors import AzureError, ErrorKind
from promptflow_netiso.azure.network import require_type, parse_aks_cluster, parse_virtual_network

VNET_ID = "/subscriptions/s/resourceGroups/net-rg/providers/Microsoft.Network/virtualNetworks/hub"

VNET = {
    "id": VNET_ID,
    "name": "hub",
    "location": "westeurope",
    "properties": {
        "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
        "subnets": [
            {"id": VNET_ID + "/subnets/a", "name": "a", "properties": {"addressPrefix": "10.0.1.0/24"}},
            {
                "id": VNET_ID + "/subnets/b",
                "name": "b",
                "properties": {
                    "addressPrefixes": ["10.0.2.0/24", "10.0.3.0/24"],
                    "delegations": [{"name": "d", "properties": {"serviceName": "Microsoft.ContainerInstance/containerGroups"}}],
                    "privateEndpointNetworkPolicies": "Disabled",
                },
            },
        ],
        "virtualNetworkPeerings": [
            {"id": VNET_ID + "/virtualNetworkPeerings/to-spoke", "name": "to-spoke",
             "properties": {"remoteVirtualNetwork": {"id": "/spoke"}, "peeringState": "Connected", "provisioningState": "Succeeded"}}
        ],
    },
}


def test_virtual_network():
    vnet = parse_virtual_network(VNET)
    assert vnet.address_prefixes == ("10.0.0.0/16",)
    assert [(s.name, s.address_prefixes) for s in vnet.subnets] == [("a", ("10.0.1.0/24",)), ("b", ("10.0.2.0/24", "10.0.3.0/24"))]
    assert vnet.subnets[1].delegations == ("Microsoft.ContainerInstance/containerGroups",)
    assert [(p.name, p.remote_virtual_network_id, p.peering_state) for p in vnet.peerings] == [("to-spoke", "/spoke", "Connected")]


def test_aks_cluster_subnets_deduplicated():
    subnet = VNET_ID + "/subnets/a"
    body = {
        "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks",
        "name": "aks",
        "location": "westeurope",
        "properties": {
            "provisioningState": "Succeeded",
            "agentPoolProfiles": [{"name": "sys", "vnetSubnetID": subnet}, {"name": "user", "vnetSubnetID": subnet}, {"name": "x"}],
            "networkProfile": {"networkPlugin": "azure", "outboundType": "userDefinedRouting"},
            "apiServerAccessProfile": {"enablePrivateCluster": True},
        },
    }
    aks = parse_aks_cluster(body)
    assert (aks.agent_pool_subnet_ids, aks.network_plugin, aks.outbound_type, aks.private_cluster) == ((subnet,), "azure", "userDefinedRouting", True)


def test_aks_with_managed_vnet_has_no_subnets():
    aks = parse_aks_cluster({"id": "/x", "name": "aks", "properties": {"agentPoolProfiles": [{"name": "sys"}]}})
    assert aks.agent_pool_subnet_ids == () and aks.private_cluster is False


def test_wrong_resource_type_is_user_fixable():
    with pytest.raises(AzureError) as info:
        require_type("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks", "Microsoft.Network/virtualNetworks")
    assert info.value.kind is ErrorKind.USER_FIXABLE and info.value.code == "InvalidResourceId"


def test_subnet_id_parts():
    rid = require_type(VNET_ID + "/subnets/a", "Microsoft.Network/virtualNetworks", "subnets")
    assert (rid.subscription, rid.resource_group, rid.name, rid.child_name) == ("s", "net-rg", "hub", "a")


@pytest.mark.parametrize("bad", ["", "vnet", "/subscriptions/s/resourceGroups/rg", "subscriptions/s/resourceGroups/rg/providers/A.B/c/d"])
def test_invalid_ids(bad):
    with pytest.raises(AzureError):
        ids.parse(bad)
