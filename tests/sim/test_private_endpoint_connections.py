"""privateEndpointConnections on the four target types, each with its own api-version and quirks."""

from __future__ import annotations

import asyncio

import pytest
from azure.core.exceptions import HttpResponseError

from .arm_client import begin, call
from .helpers import ml_client

PROVIDERS = {  # type path -> (api-version, long-running PUT, actions field)
    "Microsoft.CognitiveServices/accounts": ("2025-09-01", True, "actionsRequired"),
    "Microsoft.Search/searchServices": ("2025-05-01", False, "actionsRequired"),
    "Microsoft.Storage/storageAccounts": ("2025-01-01", False, "actionRequired"),
    "Microsoft.KeyVault/vaults": ("2024-11-01", False, "actionsRequired"),
}
FOREIGN_PE = ("/subscriptions/7e3d2c1b-aaaa-4bbb-8ccc-123456789abc/resourceGroups/other/providers/"
              "Microsoft.Network/privateEndpoints/pe-foreign")


@pytest.fixture(params=sorted(PROVIDERS), ids=lambda t: t.split("/")[0].split(".")[1])
def target(request, sim_admin, sim_names):
    sub, rg = sim_names
    resource_id = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{request.param}/tgt{sub[:6]}"
    sim_admin.seed_target(resource_id, "pending")
    conn = sim_admin.seed_connection(resource_id, FOREIGN_PE, name="pe-foreign.0f0e", status="Pending")
    return resource_id, request.param, conn


def _url(sim, resource_id: str, api: str, suffix: str = "") -> str:
    return f"{sim.url}{resource_id}/privateEndpointConnections{suffix}?api-version={api}"


async def test_approve_a_pending_connection(azure_sim, target):
    resource_id, type_path, conn = target
    api, long_running, actions_field = PROVIDERS[type_path]
    body = {"properties": {"privateLinkServiceConnectionState": {"status": "Approved", "description": "ok by test"}}}
    async with ml_client(azure_sim) as client:
        listed = await call(client, "GET", _url(azure_sim, resource_id, api))
        assert [c["name"] for c in listed["value"]] == ["pe-foreign.0f0e"]
        assert listed["value"][0]["properties"]["privateEndpoint"]["id"] == FOREIGN_PE
        if long_running:
            poller = await begin(client, "PUT", _url(azure_sim, resource_id, api, "/pe-foreign.0f0e"), body)
            assert poller.status() == "InProgress"
            approved = await poller.result()
        else:
            approved = await call(client, "PUT", _url(azure_sim, resource_id, api, "/pe-foreign.0f0e"), body)
        again = await call(client, "GET", _url(azure_sim, resource_id, api, "/pe-foreign.0f0e"))
        with pytest.raises(HttpResponseError) as not_pending:
            await begin(client, "PUT", _url(azure_sim, resource_id, api, "/pe-foreign.0f0e"), body)
    state = approved["properties"]["privateLinkServiceConnectionState"]
    assert state == {"status": "Approved", "description": "ok by test", actions_field: "None"}
    assert again["properties"]["privateLinkServiceConnectionState"]["status"] == "Approved"
    assert again["type"] == f"{type_path}/privateEndpointConnections"
    assert not_pending.value.status_code == 409
    assert not_pending.value.error.code == "PrivateEndpointConnectionStatusNotPending"


async def test_missing_connection_answers_per_provider(azure_sim, target):
    resource_id, type_path, _ = target
    api = PROVIDERS[type_path][0]
    async with ml_client(azure_sim) as client:
        if type_path == "Microsoft.KeyVault/vaults":
            assert await call(client, "GET", _url(azure_sim, resource_id, api, "/nope")) is None  # Key Vault: 204
        else:
            with pytest.raises(HttpResponseError) as err:
                await call(client, "GET", _url(azure_sim, resource_id, api, "/nope"))
            assert err.value.status_code == 404
        with pytest.raises(HttpResponseError) as put_missing:
            await call(client, "PUT", _url(azure_sim, resource_id, api, "/nope"),
                       {"properties": {"privateLinkServiceConnectionState": {"status": "Approved"}}})
    assert put_missing.value.status_code == 404


async def test_each_provider_only_accepts_its_own_api_versions(azure_sim, target):
    resource_id, type_path, _ = target
    other = {"Microsoft.Storage/storageAccounts": "2024-11-01"}.get(type_path, "2025-01-01")
    async with ml_client(azure_sim) as client:
        with pytest.raises(HttpResponseError) as err:
            await call(client, "GET", _url(azure_sim, resource_id, other))
    assert err.value.status_code == 400 and err.value.error.code == "NoRegisteredProviderFound"


async def test_missing_rights_on_the_target_is_authorization_failed(azure_sim, sim_admin, target):
    resource_id, type_path, _ = target
    api = PROVIDERS[type_path][0]
    await asyncio.to_thread(sim_admin.deny, resource_id, ["*/privateEndpointConnections/write"])
    body = {"properties": {"privateLinkServiceConnectionState": {"status": "Approved", "description": "x"}}}
    async with ml_client(azure_sim) as client:
        readable = await call(client, "GET", _url(azure_sim, resource_id, api))
        with pytest.raises(HttpResponseError) as err:
            await begin(client, "PUT", _url(azure_sim, resource_id, api, "/pe-foreign.0f0e"), body)
    assert readable["value"][0]["properties"]["privateLinkServiceConnectionState"]["status"] == "Pending"
    assert err.value.status_code == 403 and err.value.error.code == "AuthorizationFailed"


async def test_storage_rejects_states_it_does_not_have(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    storage = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/stdisc"
    await asyncio.to_thread(sim_admin.seed_target, storage, "pending")
    await asyncio.to_thread(sim_admin.seed_connection, storage, FOREIGN_PE, name="c1")
    async with ml_client(azure_sim) as client:
        with pytest.raises(HttpResponseError) as err:
            await call(client, "PUT", _url(azure_sim, storage, "2025-01-01", "/c1"),
                       {"properties": {"privateLinkServiceConnectionState": {"status": "Disconnected"}}})
    assert err.value.status_code == 400


async def test_approval_racing_with_a_change_fails_the_operation(azure_sim, sim_admin, sim_names):
    """Cognitive Services approves asynchronously: if the connection stops being Pending meanwhile, the LRO fails."""
    sub, rg = sim_names
    account = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.CognitiveServices/accounts/aoairace"
    await asyncio.to_thread(sim_admin.seed_target, account, "pending")
    await asyncio.to_thread(sim_admin.seed_connection, account, FOREIGN_PE, name="c1")
    body = {"properties": {"privateLinkServiceConnectionState": {"status": "Approved", "description": "x"}}}
    async with ml_client(azure_sim) as client:
        poller = await begin(client, "PUT", _url(azure_sim, account, "2025-09-01", "/c1"), body)
        await asyncio.to_thread(sim_admin.set_connection_state, account, "c1", "Rejected", "owner said no")
        with pytest.raises(HttpResponseError) as err:
            await poller.result()
    assert "PrivateEndpointConnectionStatusNotPending" in str(err.value)
