"""Read-only VNets and AKS clusters through azure-mgmt-network's async client and an ARM pipeline client."""

from __future__ import annotations

import pytest
import pytest_asyncio
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.network.aio import NetworkManagementClient

from .arm_client import call
from .helpers import ml_client, scopes, workload_credential


@pytest.fixture
def byo_vnet(sim_admin, sim_names):
    sub, rg = sim_names
    vnet = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/hub-vnet"
    remote = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/spoke"
    sim_admin.seed_vnet(vnet, ["10.10.0.0/16"],
                        subnets=[{"name": "aks", "addressPrefix": "10.10.0.0/22"},
                                 {"name": "pe", "addressPrefix": "10.10.4.0/24"}],
                        peerings=[{"name": "to-spoke", "remoteVirtualNetworkId": remote, "peeringState": "Disconnected"}])
    aks = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/aks1"
    sim_admin.seed_aks(aks, f"{vnet}/subnets/aks")
    return vnet, aks


@pytest_asyncio.fixture(loop_scope="function")  # same loop as the test using the client
async def network_client(azure_sim, sim_names):
    credential = workload_credential(azure_sim)
    client = NetworkManagementClient(credential, sim_names[0], base_url=azure_sim.url,
                                     credential_scopes=scopes(azure_sim), connection_verify=azure_sim.ca_file)
    async with credential, client:
        yield client


async def test_virtual_network_subnets_and_peerings(network_client, byo_vnet, sim_names):
    _, rg = sim_names
    vnet = await network_client.virtual_networks.get(rg, "hub-vnet")
    assert vnet.id == byo_vnet[0]
    assert vnet.address_space.address_prefixes == ["10.10.0.0/16"]
    assert [s.name for s in vnet.subnets] == ["aks", "pe"]
    subnet = await network_client.subnets.get(rg, "hub-vnet", "pe")
    assert subnet.address_prefix == "10.10.4.0/24"
    assert [s.name async for s in network_client.subnets.list(rg, "hub-vnet")] == ["aks", "pe"]
    peerings = [p async for p in network_client.virtual_network_peerings.list(rg, "hub-vnet")]
    assert [(p.name, p.peering_state) for p in peerings] == [("to-spoke", "Disconnected")]


async def test_missing_vnet_and_resource_group_are_distinguished(network_client, byo_vnet, sim_names):
    _, rg = sim_names
    with pytest.raises(ResourceNotFoundError) as missing_vnet:
        await network_client.virtual_networks.get(rg, "nope")
    with pytest.raises(ResourceNotFoundError) as missing_group:
        await network_client.virtual_networks.get("no-such-rg", "hub-vnet")
    assert missing_vnet.value.error.code == "ResourceNotFound"
    assert missing_group.value.error.code == "ResourceGroupNotFound"


async def test_aks_cluster_reports_its_agent_pool_subnet(azure_sim, byo_vnet):
    vnet, aks = byo_vnet
    async with ml_client(azure_sim) as client:
        cluster = await call(client, "GET", f"{azure_sim.url}{aks}?api-version=2025-01-01")
        with pytest.raises(HttpResponseError) as old_version:
            await call(client, "GET", f"{azure_sim.url}{aks}?api-version=2019-01-01")
    pools = cluster["properties"]["agentPoolProfiles"]
    assert [p["vnetSubnetID"] for p in pools] == [f"{vnet}/subnets/aks"]
    assert old_version.value.status_code == 400
    assert old_version.value.error.code == "NoRegisteredProviderFound"
