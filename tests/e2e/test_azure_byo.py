"""The Azure facade's bring-your-own-VNet calls against the simulator, through the real SDK pipelines (azure-mgmt-network's
async client for VNets and private endpoints, the ARM pipeline for AKS, extensions and ML computes)."""

from __future__ import annotations

import asyncio

import pytest

from promptflow_netiso.azure import AzureError, ErrorKind
from tests.e2e.test_azure_layer import operator_azure, requests_to

pytestmark = pytest.mark.e2e


@pytest.fixture
def estate(sim_admin, sim_names):
    sub, rg = sim_names
    base = f"/subscriptions/{sub}/resourceGroups/{rg}/providers"
    hub, spoke = f"{base}/Microsoft.Network/virtualNetworks/hub", f"{base}/Microsoft.Network/virtualNetworks/spoke"
    ws = sim_admin.seed_workspace(sub, rg, "ws1")
    sim_admin.seed_vnet(hub, ["10.1.0.0/16"], subnets=[{"name": "pe", "addressPrefix": "10.1.0.0/24"}],
                        peerings=[{"name": "hub-to-spoke", "remoteVirtualNetworkId": spoke, "peeringState": "Connected"}])
    sim_admin.seed_vnet(spoke, ["10.2.0.0/16"], subnets=[{"name": "aks", "addressPrefix": "10.2.0.0/22"}],
                        peerings=[{"name": "spoke-to-hub", "remoteVirtualNetworkId": hub, "peeringState": "Initiated"}])
    pe = f"{base}/Microsoft.Network/privateEndpoints/ws-pe"
    sim_admin.seed_private_endpoint(pe, f"{hub}/subnets/pe", ws["id"])
    aks = f"{base}/Microsoft.ContainerService/managedClusters/aks1"
    sim_admin.seed_aks(aks, f"{spoke}/subnets/aks")
    return {"sub": sub, "rg": rg, "ws": ws, "hub": hub, "spoke": spoke, "pe": pe, "aks": aks}


async def test_vnets_peerings_private_endpoints_and_aks_are_read(azure_sim, monkeypatch, estate):
    async with operator_azure(azure_sim, monkeypatch) as azure:
        hub = await azure.network.get_virtual_network(estate["hub"])
        spoke_peerings = await azure.network.list_peerings(estate["spoke"])
        pe = await azure.network.get_private_endpoint(estate["pe"])
        cluster = await azure.network.get_aks_cluster(estate["aks"])
        connections = await azure.computes.list_workspace_connections(estate["sub"], estate["rg"], "ws1")
    assert [(p.remote_virtual_network_id, p.peering_state) for p in hub.peerings] == [(estate["spoke"], "Connected")]
    assert [(p.remote_virtual_network_id, p.peering_state) for p in spoke_peerings] == [(estate["hub"], "Initiated")]
    assert (pe.subnet_id, pe.virtual_network_id) == (f"{estate['hub']}/subnets/pe", estate["hub"])
    assert cluster.agent_pool_subnet_ids == (f"{estate['spoke']}/subnets/aks",)
    assert [(c.private_endpoint_id, c.status) for c in connections] == [(estate["pe"], "Approved")]


async def test_public_network_access_is_patched_alone(azure_sim, monkeypatch, estate, sim_admin):
    since = sim_admin.last_request_seq()
    async with operator_azure(azure_sim, monkeypatch) as azure:
        reported = await azure.computes.set_public_network_access(estate["sub"], estate["rg"], "ws1", "Disabled")
    assert reported == "Disabled"
    assert sim_admin.workspace(estate["ws"]["id"])["body"]["properties"]["publicNetworkAccess"] == "Disabled"
    assert [r["method"] for r in requests_to(sim_admin, since, estate["sub"])] == ["PATCH"]


async def test_extension_install_is_followed_by_its_poll_url_then_the_cluster_is_attached_and_detached(
        azure_sim, monkeypatch, estate, sim_admin):
    sub, rg, aks = estate["sub"], estate["rg"], estate["aks"]
    async with operator_azure(azure_sim, monkeypatch) as azure:
        assert await azure.computes.list_extensions(aks) == []
        with pytest.raises(AzureError) as no_extension:  # Azure refuses the attach, in its own words
            await azure.computes.attach_kubernetes(sub, rg, "ws1", "too-early", "eastus", aks, "prompt")
        failed = await azure.computes.get_compute(sub, rg, "ws1", "too-early")
        url = await azure.computes.begin_install_extension(aks, "azureml", "azureml", {
            "enableInference": "True", "allowInsecureConnections": "True", "inferenceRouterServiceType": "LoadBalancer"})
        assert url and url.startswith(azure_sim.url)
        for _ in range(100):
            poll = await azure.computes.poll_extension(url)
            if poll.done:
                break
            await asyncio.sleep(0.1)
        assert (poll.done, poll.status, poll.error) == (True, "Succeeded", None)
        [ext] = await azure.computes.list_extensions(aks)
        assert (ext.name, ext.extension_type, ext.provisioning_state) == ("azureml", "microsoft.azureml.kubernetes", "Succeeded")

        compute = await azure.computes.attach_kubernetes(sub, rg, "ws1", "pf-aks", "eastus", aks, "prompt")
        assert (compute.compute_type, compute.resource_id, compute.namespace, compute.provisioning_state) == (
            "Kubernetes", aks, "prompt", "Succeeded")
        since = sim_admin.last_request_seq()
        await azure.computes.detach(sub, rg, "ws1", "pf-aks")
        assert await azure.computes.get_compute(sub, rg, "ws1", "pf-aks") is None
        await azure.computes.detach(sub, rg, "ws1", "pf-aks")  # already gone: fine
    assert failed.provisioning_state == "Failed"
    assert no_extension.value.code == "UserError"
    assert "extension (microsoft.azureml.kubernetes) is not installed" in str(no_extension.value)
    deletes = [r for r in requests_to(sim_admin, since, "/computes/pf-aks") if r["method"] == "DELETE"]
    assert [r["status"] for r in deletes] == [202, 204]


async def test_an_install_azure_refuses_reaches_the_caller_verbatim(azure_sim, monkeypatch, estate):
    async with operator_azure(azure_sim, monkeypatch) as azure:
        with pytest.raises(AzureError) as refused:
            await azure.computes.begin_install_extension(estate["aks"], "azureml", "azureml", {"enableInference": "True"})
        with pytest.raises(AzureError) as missing:
            await azure.network.get_private_endpoint(estate["pe"] + "-nope")
    assert refused.value.code == "ValidationFailed" and "allowInsecureConnections" in str(refused.value)
    assert missing.value.kind is ErrorKind.NOT_FOUND
