"""Each facade call against an in-memory ARM: the request it makes and how it reads the answer."""

from __future__ import annotations

import json

import pytest

from promptflow_netiso.azure.errors import AzureError, ErrorKind
from promptflow_netiso.azure.ml import workspace_path
from promptflow_netiso.azure.pec import Connection
from promptflow_netiso.azure.roles import ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR, assignment_name

from .examples import response_body
from .fake_arm import ARM, FakeArm, Reply, arm_error, fake_azure

WS = workspace_path("sub-1", "rg", "ws")
STORAGE = "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1"
PRINCIPAL = "ce2ce14e-85d7-4629-bdbc-454d0519d987"


def body_of(request) -> dict:
    raw = request.content if hasattr(request, "content") else request.body  # azure.core.rest vs legacy requests
    return json.loads(raw)


# --- Machine Learning -------------------------------------------------------------------------------
async def test_provision_returns_location_to_store_and_polls_once():
    location = f"{ARM}/subscriptions/sub-1/providers/Microsoft.MachineLearningServices/locations/x/mfeOperationResults/p1"
    arm = (
        FakeArm()
        .on("POST", WS + "/provisionManagedNetwork", Reply(202, None, {"Location": location, "Retry-After": "30"}))
        .on("GET", "/subscriptions/sub-1/providers/Microsoft.MachineLearningServices/locations/x/mfeOperationResults/p1",
            Reply(202, None, {"Location": location, "Retry-After": "20"}), Reply(200, {"status": "Active", "sparkReady": True}))
    )
    async with fake_azure(arm) as azure:
        url = await azure.ml.begin_provision("sub-1", "rg", "ws", include_spark=True)
        assert url == location and url.retry_after == 30.0  # the first poll waits for the 202's Retry-After
        first = await azure.ml.poll_provision(url)
        second = await azure.ml.poll_provision(url)
    assert body_of(arm.calls("POST")[0]) == {"includeSpark": True}
    assert (first.done, second.done, second.status, second.spark_ready) == (False, True, "Active", True)
    assert (first.retry_after, second.retry_after) == (20.0, None)  # every poll's Retry-After reaches the handler
    assert arm.sleeps == []  # never waits: the handler requeues


async def test_provision_done_at_once_returns_none():
    arm = FakeArm().on("POST", WS + "/provisionManagedNetwork", Reply(200, response_body("ml/provisionManagedNetwork_2025-12-01.json")))
    async with fake_azure(arm) as azure:
        assert await azure.ml.begin_provision("sub-1", "rg", "ws", include_spark=False) is None


async def test_poll_url_from_status_must_be_arm():
    arm = FakeArm()
    async with fake_azure(arm) as azure:
        with pytest.raises(AzureError) as info:
            await azure.ml.poll_provision("https://attacker.example/collect")
    assert info.value.code == "UntrustedUrl" and arm.requests == []


async def test_set_isolation_mode_patches_then_reads_back():
    ws_after = {"id": WS, "name": "ws", "properties": {"managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"}}}
    arm = FakeArm().on("PATCH", WS, Reply(200, ws_after)).on("GET", WS, Reply(200, ws_after))
    async with fake_azure(arm) as azure:
        ws = await azure.ml.set_isolation_mode("sub-1", "rg", "ws", "AllowOnlyApprovedOutbound")
    assert body_of(arm.calls("PATCH")[0]) == {"properties": {"managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"}}}
    assert ws.managed_network.isolation_mode == "AllowOnlyApprovedOutbound"


async def test_missing_rule_is_none_and_deleting_it_is_done():
    rule = WS + "/outboundRules/gone"
    arm = FakeArm().on("GET", rule, arm_error(404, "NotFound", "no rule")).on("DELETE", rule, arm_error(404, "NotFound", "no rule"))
    async with fake_azure(arm) as azure:
        assert await azure.ml.get_outbound_rule("sub-1", "rg", "ws", "gone") is None
        await azure.ml.delete_outbound_rule("sub-1", "rg", "ws", "gone")


async def test_delete_rule_follows_lro():
    rule = WS + "/outboundRules/r"
    op = "/subscriptions/sub-1/operationResults/del"
    arm = FakeArm().on("DELETE", rule, Reply(202, None, {"Location": ARM + op})).on("GET", op, Reply(202, None, {"Location": ARM + op}), Reply(204))
    async with fake_azure(arm) as azure:
        await azure.ml.delete_outbound_rule("sub-1", "rg", "ws", "r")
    assert len(arm.calls("GET", op)) == 2


async def test_missing_workspace_is_not_found_verbatim():
    message = "The Resource 'Microsoft.MachineLearningServices/workspaces/ws' under resource group 'rg' was not found."
    arm = FakeArm().on("GET", WS, arm_error(404, "ResourceNotFound", message))
    async with fake_azure(arm) as azure:
        with pytest.raises(AzureError) as info:
            await azure.ml.get_workspace("sub-1", "rg", "ws")
    assert info.value.kind is ErrorKind.NOT_FOUND and str(info.value) == f"ResourceNotFound: {message}"


async def test_concurrent_rule_write_conflict_is_a_wait():
    arm = FakeArm().on("PUT", WS + "/outboundRules/r", arm_error(409, "AnotherOperationInProgress", "Another operation is in progress."))
    async with fake_azure(arm) as azure:
        with pytest.raises(AzureError) as info:
            await azure.ml.put_outbound_rule("sub-1", "rg", "ws", "r", {"type": "FQDN", "destination": "x.example.com"})
    assert info.value.kind is ErrorKind.CONFLICT


# --- Role assignments (azure-mgmt-authorization) ----------------------------------------------------
async def test_role_assignment_created_under_deterministic_name():
    name = assignment_name(STORAGE, ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR, PRINCIPAL)
    path = f"{STORAGE}/providers/Microsoft.Authorization/roleAssignments/{name}"
    arm = FakeArm().on("PUT", path, lambda req: Reply(201, {"id": path, "name": name, "properties": body_of(req)["properties"]}))
    async with fake_azure(arm) as azure:
        result = await azure.roles.ensure(STORAGE, ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR, PRINCIPAL)
    assert (result.name, result.created) == (name, True)
    request = arm.calls("PUT")[0]
    assert request.url.startswith(f"{ARM}{STORAGE}/providers/") and "api-version=2022-04-01" in request.url
    props = body_of(request)["properties"]
    assert props["roleDefinitionId"] == f"/subscriptions/sub-1/providers/Microsoft.Authorization/roleDefinitions/{ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR}"
    assert (props["principalId"], props["principalType"]) == (PRINCIPAL, "ServicePrincipal")


async def test_role_assignment_existing_under_another_name_counts_as_done():
    name = assignment_name(STORAGE, ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR, PRINCIPAL)
    message = "The role assignment already exists. The ID of the existing role assignment is 0e1a0f4a9d4c4a4e9d4b2d5c1e8f7a6b."
    arm = FakeArm().on("PUT", f"{STORAGE}/providers/Microsoft.Authorization/roleAssignments/{name}", arm_error(409, "RoleAssignmentExists", message))
    async with fake_azure(arm) as azure:
        result = await azure.roles.ensure(STORAGE, ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR, PRINCIPAL)
    assert (result.name, result.created) == ("0e1a0f4a-9d4c-4a4e-9d4b-2d5c1e8f7a6b", False)


async def test_role_assignment_existing_name_looked_up_when_the_message_lacks_it():
    name = assignment_name(STORAGE, ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR, PRINCIPAL)
    base = f"{STORAGE}/providers/Microsoft.Authorization/roleAssignments"
    role_def = f"/subscriptions/sub-1/providers/Microsoft.Authorization/roleDefinitions/{ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR}"

    def assignment(n, role, scope=STORAGE):
        return {"id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{n}", "name": n,
                "properties": {"roleDefinitionId": role, "principalId": PRINCIPAL, "scope": scope}}

    listed = {"value": [assignment("other-role", role_def.replace(ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR, "acdd72a7-3385-48ef-bd42-f606fba81ae7")),
                        assignment("at-rg", role_def, "/subscriptions/sub-1/resourceGroups/rg"),
                        assignment("by-hand", role_def)]}
    arm = (
        FakeArm()
        .on("PUT", f"{base}/{name}", arm_error(409, "RoleAssignmentExists", "The role assignment already exists."))
        .on("GET", base, Reply(200, listed))
    )
    async with fake_azure(arm) as azure:
        result = await azure.roles.ensure(STORAGE, ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR, PRINCIPAL)
    assert (result.name, result.created) == ("by-hand", False)
    assert f"principalId eq '{PRINCIPAL}'" in __import__("urllib.parse").parse.unquote(arm.calls("GET", base)[0].url)


async def test_role_assignment_delete_of_missing_is_done_and_403_is_verbatim():
    path = f"{STORAGE}/providers/Microsoft.Authorization/roleAssignments/abc"
    arm = FakeArm().on("DELETE", path, arm_error(404, "RoleAssignmentNotFound", "gone"), arm_error(403, "AuthorizationFailed", "no delete for you"))
    async with fake_azure(arm) as azure:
        await azure.roles.delete(STORAGE, "abc")
        with pytest.raises(AzureError) as info:
            await azure.roles.delete(STORAGE, "abc")
    assert str(info.value) == "AuthorizationFailed: no delete for you" and info.value.kind is ErrorKind.USER_FIXABLE


# --- Private endpoint connections --------------------------------------------------------------------
SEARCH = "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Search/searchServices/srch"
AOAI = "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/aoai"


def pending(target: str, name: str = "pe1") -> Connection:
    return Connection(id=f"{target}/privateEndpointConnections/{name}", name=name, target=target, private_endpoint_id="/pe",
                      status="Pending", description="", provisioning_state="Succeeded")


async def test_approve_non_lro_provider_puts_approved_state():
    approved = response_body("pec/search_get_2025-05-01.json")
    arm = FakeArm().on("PUT", f"{SEARCH}/privateEndpointConnections/pe1", Reply(200, approved))
    async with fake_azure(arm) as azure:
        conn = await azure.pec.approve(pending(SEARCH), "Approved by promptflow-netiso")
    request = arm.calls("PUT")[0]
    assert "api-version=2025-05-01" in request.url
    assert body_of(request) == {"properties": {"privateLinkServiceConnectionState": {"status": "Approved", "description": "Approved by promptflow-netiso"}}}
    assert conn.status == "Approved"


async def test_approve_cognitive_services_follows_202():
    path = f"{AOAI}/privateEndpointConnections/pe1"
    op = "/subscriptions/sub-1/providers/Microsoft.CognitiveServices/locations/x/operationResults/o"
    approved = response_body("pec/cognitiveservices_get_2025-09-01.json")
    arm = (
        FakeArm()
        .on("PUT", path, Reply(202, response_body("pec/cognitiveservices_put_2025-09-01.json", "202"), {"Location": ARM + op}))
        .on("GET", op, Reply(202, None, {"Location": ARM + op}), Reply(200))
        .on("GET", path, Reply(200, approved))
    )
    async with fake_azure(arm) as azure:
        conn = await azure.pec.approve(pending(AOAI), "ok")
    assert conn.status == "Approved" and len(arm.calls("GET", op)) == 2


async def test_begin_approve_returns_the_poll_url_at_once_and_poll_follows_it():
    path = f"{AOAI}/privateEndpointConnections/pe1"
    op = "/subscriptions/sub-1/providers/Microsoft.CognitiveServices/locations/x/operationResults/o"
    approved = response_body("pec/cognitiveservices_get_2025-09-01.json")
    arm = (
        FakeArm()
        .on("PUT", path, Reply(202, response_body("pec/cognitiveservices_put_2025-09-01.json", "202"), {"Location": ARM + op}))
        .on("GET", op, Reply(202, None, {"Location": ARM + op}), Reply(200, approved))
    )
    async with fake_azure(arm) as azure:
        started = await azure.pec.begin_approve(pending(AOAI), "ok")
        assert started.connection is None and started.poll_url == ARM + op
        assert len(arm.calls("GET", op)) == 0  # nothing waits before the caller has recorded the URL
        assert await azure.pec.poll_approve(pending(AOAI), started.poll_url) is None  # still running
        conn = await azure.pec.poll_approve(pending(AOAI), started.poll_url)
        with pytest.raises(AzureError) as foreign:
            await azure.pec.poll_approve(pending(AOAI), "https://evil.example/op")
    assert conn.status == "Approved" and len(arm.calls("PUT")) == 1
    assert foreign.value.code == "UntrustedUrl"


async def test_begin_approve_of_a_synchronous_provider_returns_the_connection():
    approved = response_body("pec/search_get_2025-05-01.json")
    arm = FakeArm().on("PUT", f"{SEARCH}/privateEndpointConnections/pe1", Reply(200, approved))
    async with fake_azure(arm) as azure:
        started = await azure.pec.begin_approve(pending(SEARCH), "ok")
    assert started.poll_url is None and started.connection.status == "Approved"


async def test_approve_not_pending_is_a_conflict():
    arm = FakeArm().on("PUT", f"{SEARCH}/privateEndpointConnections/pe1",
                       arm_error(400, "PrivateEndpointConnectionStatusNotPending", "The connection is not in Pending state."))
    async with fake_azure(arm) as azure:
        with pytest.raises(AzureError) as info:
            await azure.pec.approve(pending(SEARCH), "ok")
    assert (info.value.kind, info.value.code) == (ErrorKind.CONFLICT, "PrivateEndpointConnectionStatusNotPending")


async def test_list_connections_key_vault_204_is_empty_and_get_204_is_none():
    vault = "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"
    arm = FakeArm().on("GET", f"{vault}/privateEndpointConnections", Reply(204)).on("GET", f"{vault}/privateEndpointConnections/x", Reply(204))
    async with fake_azure(arm) as azure:
        assert await azure.pec.list(vault) == []
        assert await azure.pec.get(vault, "x") is None


async def test_list_connections_storage_example():
    item = response_body("pec/storage_get_2025-01-01.json")
    arm = FakeArm().on("GET", f"{STORAGE}/privateEndpointConnections", Reply(200, {"value": [item]}))
    async with fake_azure(arm) as azure:
        [conn] = await azure.pec.list(STORAGE)
    assert (conn.target, conn.status, conn.actions_required) == (STORAGE, "Approved", "None")
    assert "api-version=2025-01-01" in arm.calls()[0].url


# --- Network (azure-mgmt-network) and AKS ------------------------------------------------------------
VNET = "/subscriptions/sub-2/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/hub"


async def test_virtual_network_via_sdk_with_pinned_api_version(metric_calls):
    arm = FakeArm().on("GET", VNET, Reply(200, {"id": VNET, "name": "hub", "location": "westeurope",
                                                "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": []}}))
    async with fake_azure(arm) as azure:
        vnet = await azure.network.get_virtual_network(VNET)
    assert vnet.address_prefixes == ("10.0.0.0/16",)
    assert "api-version=2025-09-01" in arm.calls()[0].url and arm.calls()[0].headers["Authorization"].startswith("Bearer ")
    assert metric_calls.requests == [("vnet.get", "200")]


async def test_subnet_and_peerings_via_sdk():
    page2 = f"{ARM}{VNET}/virtualNetworkPeerings?api-version=2025-09-01&$skiptoken=2"
    peering = {"name": "p", "id": VNET + "/virtualNetworkPeerings/p", "properties": {"peeringState": "Connected", "remoteVirtualNetwork": {"id": "/r"}}}
    arm = (
        FakeArm()
        .on("GET", VNET + "/subnets/a", Reply(200, {"id": VNET + "/subnets/a", "name": "a", "properties": {"addressPrefix": "10.0.1.0/24"}}))
        .on("GET", VNET + "/virtualNetworkPeerings", Reply(200, {"value": [peering], "nextLink": page2}), Reply(200, {"value": [dict(peering, name="q")]}))
    )
    async with fake_azure(arm) as azure:
        subnet = await azure.network.get_subnet(VNET + "/subnets/a")
        peerings = await azure.network.list_peerings(VNET)
    assert subnet.address_prefixes == ("10.0.1.0/24",)
    assert [p.name for p in peerings] == ["p", "q"]


async def test_missing_vnet_is_not_found_verbatim():
    arm = FakeArm().on("GET", VNET, arm_error(404, "ResourceNotFound", "The Resource 'Microsoft.Network/virtualNetworks/hub' was not found."))
    async with fake_azure(arm) as azure:
        with pytest.raises(AzureError) as info:
            await azure.network.get_virtual_network(VNET)
    assert info.value.kind is ErrorKind.NOT_FOUND and info.value.code == "ResourceNotFound"


async def test_aks_cluster_via_arm_pipeline():
    aks = "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks"
    arm = FakeArm().on("GET", aks, Reply(200, {"id": aks, "name": "aks", "properties": {"agentPoolProfiles": [{"vnetSubnetID": VNET + "/subnets/a"}]}}))
    async with fake_azure(arm) as azure:
        cluster = await azure.network.get_aks_cluster(aks)
    assert cluster.agent_pool_subnet_ids == (VNET + "/subnets/a",) and "api-version=2026-08-01" in arm.calls()[0].url


async def test_batch_rules_post_carries_only_the_rules_and_reads_the_final_list():
    batch = WS + "/managedNetworks/default/batchOutboundRules"
    op = "/subscriptions/sub-1/providers/Microsoft.MachineLearningServices/locations/x/operationResults/b1"
    final = {"value": [{"name": "r1", "properties": {"type": "FQDN", "category": "UserDefined", "destination": "a.example.com",
                                                     "status": "Active"}},
                       {"name": "r2", "properties": {"type": "FQDN", "category": "UserDefined", "destination": "b.example.com",
                                                     "status": "Active"}}]}
    arm = (FakeArm().on("POST", batch, Reply(202, None, {"Location": ARM + op, "Retry-After": "1"}))
           .on("GET", op, Reply(202, None, {"Location": ARM + op}), Reply(200, final)))
    accepted: list = []

    async def on_accepted(url):
        accepted.append(url)

    async with fake_azure(arm) as azure:
        rules = await azure.ml.post_outbound_rules(
            "sub-1", "rg", "ws", {"r1": {"type": "FQDN", "category": "UserDefined", "destination": "a.example.com"},
                                  "r2": {"type": "FQDN", "category": "UserDefined", "destination": "b.example.com"}},
            on_accepted=on_accepted)
        lock = azure.ml._limits.workspace_lock("sub-1", "rg", "ws")
        assert not lock.locked(), "the workspace lock covers the send only"
    sent = body_of(arm.calls("POST")[0])
    assert sent == {"properties": {"outboundRules": {
        "r1": {"type": "FQDN", "category": "UserDefined", "destination": "a.example.com"},
        "r2": {"type": "FQDN", "category": "UserDefined", "destination": "b.example.com"}}}}
    assert "isolationMode" not in sent["properties"] and "firewallSku" not in sent["properties"]
    assert arm.calls("POST")[0].url.endswith("?api-version=2025-12-01") or "api-version=2025-12-01" in arm.calls("POST")[0].url
    assert accepted == [ARM + op]
    assert [(r.name, r.status) for r in rules] == [("r1", "Active"), ("r2", "Active")]


async def test_the_official_batch_example_answer_parses():
    batch = WS + "/managedNetworks/default/batchOutboundRules"
    arm = FakeArm().on("POST", batch, Reply(200, response_body("ml/v2_batchOutboundRules_post_2025-12-01.json")))
    async with fake_azure(arm) as azure:
        rules = await azure.ml.post_outbound_rules("sub-1", "rg", "ws", {"rule_name_1": {"type": "FQDN"}})
    assert [(r.name, r.type, r.status) for r in rules] == [("rule_name_1", "FQDN", "Active")]


async def test_operation_running_asks_the_recorded_url_once():
    op = "/subscriptions/sub-1/providers/Microsoft.MachineLearningServices/locations/x/operationResults/b2"
    arm = FakeArm().on("GET", op, Reply(202, None, {"Location": ARM + op}), Reply(200, {"value": []}), arm_error(404, "NotFound", "expired"))
    async with fake_azure(arm) as azure:
        assert await azure.ml.operation_running(ARM + op) is True
        assert await azure.ml.operation_running(ARM + op) is False
        assert await azure.ml.operation_running(ARM + op) is False
        with pytest.raises(AzureError):
            await azure.ml.operation_running("https://attacker.example/op")
    assert len(arm.calls("GET", op)) == 3
