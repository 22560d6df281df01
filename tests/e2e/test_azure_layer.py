"""The Azure facade against the simulator, over HTTPS, through the real azure-identity credentials (workload identity
with the federated token file the simulator issues, and a client secret), exactly as the operator configures them
from its environment. Every facade method, the happy paths and the failures a user would meet."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from contextlib import asynccontextmanager
from typing import AsyncIterator

import pytest
from azure.mgmt.authorization.v2022_04_01.aio import AuthorizationManagementClient
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters
from prometheus_client import REGISTRY

from promptflow_netiso.azure import Azure, AzureError, AzureSettings, ErrorKind
from promptflow_netiso.handlers import rule_batch
from promptflow_netiso.planning.outbound_rule import Coordinates
from promptflow_netiso.azure.roles import ROLE_STORAGE_FILE_DATA_PRIVILEGED_CONTRIBUTOR, ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR, assignment_name
from tests.sim.constants import BUILTIN_ROLES
from tests.sim.helpers import scopes, secret_credential

pytestmark = pytest.mark.e2e


@asynccontextmanager
async def operator_azure(sim, monkeypatch, auth: str = "workload-identity", **overrides) -> AsyncIterator[Azure]:
    """The facade built the way the operator builds it: from its environment (sim.env() is that environment)."""
    for name in ("AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in sim.env(auth).items():
        monkeypatch.setenv(name, value)
    settings = dataclasses.replace(AzureSettings.from_env(), **overrides)
    async with Azure.from_settings(settings) as azure:
        yield azure


def ws_id(sub: str, rg: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{name}"


def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def requests_to(admin, since: int, path_part: str) -> list[dict]:
    return [r for r in admin.requests(since) if path_part.lower() in r["path"].lower()]


@pytest.fixture
def workspace(sim_admin, sim_names):
    sub, rg = sim_names
    body = sim_admin.seed_workspace(sub, rg, "ws1", isolation_mode="AllowInternetOutbound")
    return sub, rg, "ws1", body


# --- identity and clouds ------------------------------------------------------------------------------------
@pytest.mark.parametrize("auth", ["workload-identity", "client-secret"])
async def test_get_workspace_with_each_credential(azure_sim, monkeypatch, workspace, auth):
    sub, rg, name, seeded = workspace
    async with operator_azure(azure_sim, monkeypatch, auth) as azure:
        ws = await azure.ml.get_workspace(sub, rg, name)
    assert ws.id.lower() == ws_id(sub, rg, name).lower()
    assert ws.principal_id == seeded["identity"]["principalId"]
    assert ws.storage_account_id == seeded["properties"]["storageAccount"]
    assert ws.managed_network.isolation_mode == "AllowInternetOutbound"
    assert ws.managed_network.status in (None, "Inactive")  # not provisioned yet


async def test_rejected_client_secret_is_user_fixable(azure_sim, monkeypatch, workspace):
    sub, rg, name, _ = workspace
    monkeypatch.setattr(azure_sim, "client_secret", "not-the-secret")  # what sim.env() hands out
    before = metric("promptflow_netiso_azure_auth_failures_total", code="AuthenticationFailed")
    async with operator_azure(azure_sim, monkeypatch, "client-secret") as azure:
        with pytest.raises(AzureError) as info:
            await azure.ml.get_workspace(sub, rg, name)
    assert info.value.kind is ErrorKind.USER_FIXABLE and info.value.code == "AuthenticationFailed"
    assert "not-the-secret" not in str(info.value)
    assert metric("promptflow_netiso_azure_auth_failures_total", code="AuthenticationFailed") == before + 1


async def test_missing_workspace_is_not_found_verbatim(azure_sim, monkeypatch, sim_admin, sim_names):
    sub, rg = sim_names
    sim_admin.seed_resource_group(sub, rg)
    async with operator_azure(azure_sim, monkeypatch) as azure:
        with pytest.raises(AzureError) as info:
            await azure.ml.get_workspace(sub, rg, "nope")
    assert info.value.kind is ErrorKind.NOT_FOUND and info.value.status == 404
    assert str(info.value).startswith(f"{info.value.code}: ") and "nope" in info.value.message


# --- managed network: isolation mode, provisioning ---------------------------------------------------------
async def test_set_isolation_mode_follows_the_lro(azure_sim, monkeypatch, workspace, sim_admin):
    sub, rg, name, _ = workspace
    async with operator_azure(azure_sim, monkeypatch) as azure:
        ws = await azure.ml.set_isolation_mode(sub, rg, name, "AllowOnlyApprovedOutbound")
    assert ws.managed_network.isolation_mode == "AllowOnlyApprovedOutbound"
    assert sim_admin.workspace(ws_id(sub, rg, name))["busyOperation"] is None  # the operation had completed


async def test_provisioning_returns_a_poll_url_that_survives_a_new_process(azure_sim, monkeypatch, workspace, sim_admin):
    sub, rg, name, _ = workspace
    async with operator_azure(azure_sim, monkeypatch) as azure:
        url = await azure.ml.begin_provision(sub, rg, name, include_spark=True)
    assert url and url.startswith(azure_sim.url + "/")
    async with operator_azure(azure_sim, monkeypatch) as azure:  # "after a restart": only the URL is left
        first = await azure.ml.poll_provision(url)
        sim_admin.complete_operations()
        final = await azure.ml.poll_provision(url)
        ws = await azure.ml.get_workspace(sub, rg, name)
    assert first.done is False
    assert (final.done, final.status, final.spark_ready, final.error) == (True, "Active", True, None)
    assert ws.managed_network.status == "Active"


async def test_provisioning_an_active_network_is_done_at_once(azure_sim, monkeypatch, sim_admin, sim_names):
    sub, rg = sim_names
    sim_admin.seed_workspace(sub, rg, "ws1", isolation_mode="AllowOnlyApprovedOutbound", provisioned=True)
    async with operator_azure(azure_sim, monkeypatch) as azure:
        assert await azure.ml.begin_provision(sub, rg, "ws1", include_spark=False) is None


# --- outbound rules --------------------------------------------------------------------------------------------
async def test_outbound_rule_lifecycle(azure_sim, monkeypatch, workspace):
    sub, rg, name, _ = workspace
    props = {"type": "FQDN", "category": "UserDefined", "destination": "pypi.org"}
    async with operator_azure(azure_sim, monkeypatch) as azure:
        put = await azure.ml.put_outbound_rule(sub, rg, name, "allow-pypi", props)
        got = await azure.ml.get_outbound_rule(sub, rg, name, "allow-pypi")
        await azure.ml.delete_outbound_rule(sub, rg, name, "allow-pypi")
        after = await azure.ml.get_outbound_rule(sub, rg, name, "allow-pypi")
        await azure.ml.delete_outbound_rule(sub, rg, name, "allow-pypi")  # already gone: done
    assert (put.name, put.type, put.category, put.destination) == ("allow-pypi", "FQDN", "UserDefined", "pypi.org")
    assert got.destination == "pypi.org" and got.status in ("Active", "Inactive")
    assert after is None


async def test_list_outbound_rules_follows_next_link(azure_sim, monkeypatch, sim_admin, sim_names):
    sub, rg = sim_names
    rules = {f"rule-{i:02d}": {"type": "FQDN", "category": "UserDefined", "destination": f"h{i}.example.com"} for i in range(12)}
    sim_admin.seed_workspace(sub, rg, "ws1", isolation_mode="AllowInternetOutbound", rules=rules)
    since = sim_admin.last_request_seq()
    async with operator_azure(azure_sim, monkeypatch) as azure:
        listed = await azure.ml.list_outbound_rules(sub, rg, "ws1")
    assert set(rules) <= {r.name for r in listed}
    pages = [r for r in requests_to(sim_admin, since, "/workspaces/ws1/outboundRules") if r["method"] == "GET"]
    assert len(pages) >= 3  # 12+ rules at 5 per page


async def test_private_endpoint_rule_keeps_destination_object(azure_sim, monkeypatch, workspace, sim_admin):
    sub, rg, name, _ = workspace
    account = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.CognitiveServices/accounts/aoai1"
    sim_admin.seed_target(account, pe_behaviour="auto-approve", kind="OpenAI")
    props = {"type": "PrivateEndpoint", "category": "UserDefined",
             "destination": {"serviceResourceId": account, "subresourceTarget": "account", "sparkEnabled": False}}
    async with operator_azure(azure_sim, monkeypatch) as azure:
        rule = await azure.ml.put_outbound_rule(sub, rg, name, "aoai", props)
    assert rule.type == "PrivateEndpoint" and rule.destination["serviceResourceId"].lower() == account.lower()


async def test_concurrent_managed_network_write_is_a_conflict(azure_sim, monkeypatch, workspace, sim_admin):
    sub, rg, name, _ = workspace
    path = ws_id(sub, rg, name) + "/provisionManagedNetwork"
    sim_admin.faults(path.replace("/", r"\/") + "$", "stuck-lro", count=1)  # someone else's provisioning never ends
    async with operator_azure(azure_sim, monkeypatch) as azure:
        await azure.ml.begin_provision(sub, rg, name, include_spark=False)
        with pytest.raises(AzureError) as info:
            await azure.ml.put_outbound_rule(sub, rg, name, "rule-1", {"type": "FQDN", "category": "UserDefined", "destination": "a.example.com"})
    sim_admin.complete_operations()
    assert info.value.kind is ErrorKind.CONFLICT and info.value.status == 409


async def test_writes_to_one_workspace_are_serialized_by_the_operator(azure_sim, monkeypatch, workspace, sim_admin):
    """The service answers 409 to concurrent writes on one managed network; the operator's rule queue
    (handlers/rule_batch.py) runs one operation at a time per workspace: one PUT each when batching is off, one
    batchOutboundRules POST for writes queued together otherwise."""
    sub, rg, name, _ = workspace
    coords = Coordinates(sub, rg, name)
    since = sim_admin.last_request_seq()

    def body(rule: str) -> dict:
        return {"type": "FQDN", "category": "UserDefined", "destination": f"{rule}.example.com"}

    async with operator_azure(azure_sim, monkeypatch) as azure:
        one_each = await asyncio.gather(*(rule_batch.write(azure, coords, f"rule-{i}", body(f"rule-{i}"), batch_size=1)
                                          for i in range(3)))
        batched = await asyncio.gather(*(rule_batch.write(azure, coords, f"batch-{i}", body(f"batch-{i}"), batch_size=50)
                                         for i in range(3)))
    assert [r.name for r in one_each] == ["rule-0", "rule-1", "rule-2"]
    assert [r.name for r in batched] == ["batch-0", "batch-1", "batch-2"]
    writes = [r for r in requests_to(sim_admin, since, ws_id(sub, rg, name)) if r["method"] != "GET"]
    assert [(r["method"], r["status"]) for r in writes] == [("PUT", 202)] * 3 + [("POST", 202)], "no 409"
    assert sorted(writes[-1]["rules"]) == ["batch-0", "batch-1", "batch-2"]


# --- throttling and faults ---------------------------------------------------------------------------------------
async def test_short_retry_after_is_waited_and_counted(azure_sim, monkeypatch, workspace, sim_admin):
    sub, rg, name, _ = workspace
    sim_admin.faults(ws_id(sub, rg, name) + "$", "429", count=1, retry_after_s=1, method="GET")
    since = sim_admin.last_request_seq()
    before = metric("promptflow_netiso_azure_throttled_requests_total", operation="workspace.get")
    async with operator_azure(azure_sim, monkeypatch) as azure:
        ws = await azure.ml.get_workspace(sub, rg, name)
    assert ws.name == name
    assert [r["status"] for r in requests_to(sim_admin, since, ws_id(sub, rg, name))] == [429, 200]
    assert metric("promptflow_netiso_azure_throttled_requests_total", operation="workspace.get") == before + 1


async def test_long_retry_after_is_handed_to_the_handler(azure_sim, monkeypatch, workspace, sim_admin):
    sub, rg, name, _ = workspace
    sim_admin.faults(ws_id(sub, rg, name) + "$", "429", count=1, retry_after_s=45, method="GET")
    async with operator_azure(azure_sim, monkeypatch) as azure:
        with pytest.raises(AzureError) as info:
            await azure.ml.get_workspace(sub, rg, name)
    assert (info.value.kind, info.value.retry_after, info.value.status) == (ErrorKind.THROTTLED, 45.0, 429)


async def test_a_burst_of_reads_is_paced_inside_the_subscriptions_budget_without_a_429(azure_sim, monkeypatch,
                                                                                      workspace, sim_admin):
    """ARM's per-subscription read bucket, made small here (30, +20/s): 80 reads at once must all succeed without one
    429, because the facade follows what ARM says is left and waits for tokens instead of spending the retries."""
    sub, rg, name, _ = workspace
    before = sim_admin.config().get("throttle")
    sim_admin.config(throttle={"reads": {"size": 30, "refillPerS": 20}, "writes": {"size": 200, "refillPerS": 10},
                               "deletes": {"size": 200, "refillPerS": 10}})
    try:
        async with operator_azure(azure_sim, monkeypatch) as azure:
            await azure.ml.get_workspace(sub, rg, name)  # the first answer tells the facade what is left
            since = sim_admin.last_request_seq()
            found = await asyncio.gather(*(azure.ml.get_workspace(sub, rg, name) for _ in range(80)))
    finally:
        sim_admin.config(throttle=before)
    assert {w.name for w in found} == {name}
    statuses = [r["status"] for r in requests_to(sim_admin, since, ws_id(sub, rg, name))]
    assert len(statuses) == 80 and 429 not in statuses


async def test_server_errors_are_retried(azure_sim, monkeypatch, workspace, sim_admin):
    sub, rg, name, _ = workspace
    sim_admin.faults(ws_id(sub, rg, name) + "$", "500", count=2, method="GET")
    async with operator_azure(azure_sim, monkeypatch, retry_backoff_max=0.0) as azure:
        ws = await azure.ml.get_workspace(sub, rg, name)
    assert ws.name == name


async def test_403_verbatim_then_fixed_in_azure(azure_sim, monkeypatch, workspace, sim_admin):
    sub, rg, name, _ = workspace
    scope = ws_id(sub, rg, name)
    sim_admin.deny(scope, ["Microsoft.MachineLearningServices/workspaces/write"])
    async with operator_azure(azure_sim, monkeypatch) as azure:
        with pytest.raises(AzureError) as info:
            await azure.ml.set_isolation_mode(sub, rg, name, "AllowOnlyApprovedOutbound")
        sim_admin.grant(scope)  # a person fixes the rights in Azure; nothing else changes
        ws = await azure.ml.set_isolation_mode(sub, rg, name, "AllowOnlyApprovedOutbound")
    err = info.value
    assert (err.kind, err.status, err.code) == (ErrorKind.USER_FIXABLE, 403, "AuthorizationFailed")
    assert str(err) == f"AuthorizationFailed: {err.message}"
    assert "Microsoft.MachineLearningServices/workspaces/write" in err.message
    assert ws.managed_network.isolation_mode == "AllowOnlyApprovedOutbound"


# --- role assignments ----------------------------------------------------------------------------------------------
async def test_role_assignment_is_idempotent_and_deletable(azure_sim, monkeypatch, workspace):
    sub, rg, name, seeded = workspace
    storage, principal = seeded["properties"]["storageAccount"], seeded["identity"]["principalId"]
    async with operator_azure(azure_sim, monkeypatch) as azure:
        first = await azure.roles.ensure(storage, ROLE_STORAGE_FILE_DATA_PRIVILEGED_CONTRIBUTOR, principal)
        again = await azure.roles.ensure(storage, ROLE_STORAGE_FILE_DATA_PRIVILEGED_CONTRIBUTOR, principal)
        await azure.roles.delete(storage, first.name)
        await azure.roles.delete(storage, first.name)  # already gone: done
        recreated = await azure.roles.ensure(storage, ROLE_STORAGE_FILE_DATA_PRIVILEGED_CONTRIBUTOR, principal)
    assert first == again == recreated
    assert first.created and first.name == assignment_name(storage, ROLE_STORAGE_FILE_DATA_PRIVILEGED_CONTRIBUTOR, principal)


async def test_role_granted_by_hand_counts_as_done_and_is_not_ours(azure_sim, monkeypatch, workspace):
    sub, rg, name, seeded = workspace
    storage, principal = seeded["properties"]["storageAccount"], seeded["identity"]["principalId"]
    by_hand = str(uuid.uuid4())
    credential = secret_credential(azure_sim)
    client = AuthorizationManagementClient(credential, sub, base_url=azure_sim.url, credential_scopes=scopes(azure_sim),
                                           connection_verify=azure_sim.ca_file)
    async with credential, client:
        await client.role_assignments.create(storage.lstrip("/"), by_hand, RoleAssignmentCreateParameters(
            role_definition_id=f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR}",
            principal_id=principal, principal_type="ServicePrincipal"))
    async with operator_azure(azure_sim, monkeypatch) as azure:
        result = await azure.roles.ensure(storage, ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR, principal)
    assert (result.name, result.created) == (by_hand, False)



async def test_list_for_principal_sees_grants_at_and_above_the_storage_account_across_pages(azure_sim, monkeypatch,
                                                                                             workspace, sim_admin):
    """What a drift check reads: the identity's grants on the account, its group and subscription (also ones made by
    hand), every page of them, and nothing of anybody else's."""
    sub, rg, name, seeded = workspace
    storage, principal = seeded["properties"]["storageAccount"], seeded["identity"]["principalId"]
    group, subscription = f"/subscriptions/{sub}/resourceGroups/{rg}", f"/subscriptions/{sub}"
    others = [r for r in BUILTIN_ROLES if r not in (ROLE_STORAGE_FILE_DATA_PRIVILEGED_CONTRIBUTOR, ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR)]
    by_hand = [(group, ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR)] + [(subscription, r) for r in others[:sim_admin.config()["pageSize"]]]
    credential = secret_credential(azure_sim)
    client = AuthorizationManagementClient(credential, sub, base_url=azure_sim.url, credential_scopes=scopes(azure_sim),
                                           connection_verify=azure_sim.ca_file)
    expected = set()
    async with credential, client:
        for scope, role in by_hand:
            made = await client.role_assignments.create(scope.lstrip("/"), str(uuid.uuid4()), RoleAssignmentCreateParameters(
                role_definition_id=f"{subscription}/providers/Microsoft.Authorization/roleDefinitions/{role}",
                principal_id=principal, principal_type="ServicePrincipal"))
            expected.add((made.name, scope.lower(), role))
        # Somebody else's grant on the same account is not the workspace identity's.
        await client.role_assignments.create(storage.lstrip("/"), str(uuid.uuid4()), RoleAssignmentCreateParameters(
            role_definition_id=f"{subscription}/providers/Microsoft.Authorization/roleDefinitions/{others[0]}",
            principal_id=sim_admin.info()["clientObjectId"]))
    async with operator_azure(azure_sim, monkeypatch) as azure:
        ours = await azure.roles.ensure(storage, ROLE_STORAGE_FILE_DATA_PRIVILEGED_CONTRIBUTOR, principal)
        expected.add((ours.name, storage.lower(), ROLE_STORAGE_FILE_DATA_PRIVILEGED_CONTRIBUTOR))
        since = sim_admin.last_request_seq()
        listed = await azure.roles.list_for_principal(storage, principal)

    assert {(a.name, a.scope.lower(), a.role_definition_id.rsplit("/", 1)[-1]) for a in listed} == expected
    assert {a.principal_id for a in listed} == {principal}
    # The session's operator may list other workspaces' grants meanwhile (its drift checks): only this account's count.
    pages = [r for r in sim_admin.requests(since) if r["route"] == "roles.list" and storage.lower() in r["path"].lower()]
    assert len(pages) == 2 and all(r["status"] == 200 for r in pages)  # page size + 2 grants: nextLink followed once


async def test_list_for_principal_of_a_missing_scope_is_not_found(azure_sim, monkeypatch, workspace):
    sub, rg, name, seeded = workspace
    missing = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/gone"
    async with operator_azure(azure_sim, monkeypatch) as azure:
        with pytest.raises(AzureError) as info:
            await azure.roles.list_for_principal(missing, seeded["identity"]["principalId"])
    assert info.value.kind is ErrorKind.NOT_FOUND and info.value.operation == "roleAssignment.list"

# --- private endpoint connections ----------------------------------------------------------------------------------
TARGETS = [
    ("Microsoft.CognitiveServices/accounts", "aoai"),  # long-running PUT
    ("Microsoft.Search/searchServices", "srch"),
    ("Microsoft.Storage/storageAccounts", "stpe"),
    ("Microsoft.KeyVault/vaults", "kvpe"),
]


@pytest.mark.parametrize("resource_type, resource_name", TARGETS)
async def test_approve_pending_connection(azure_sim, monkeypatch, sim_admin, sim_names, resource_type, resource_name):
    sub, rg = sim_names
    target = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{resource_type}/{resource_name}"
    sim_admin.seed_target(target, pe_behaviour="pending")
    pe = f"/subscriptions/{uuid.uuid4()}/resourceGroups/other/providers/Microsoft.Network/privateEndpoints/pe1"
    seeded = sim_admin.seed_connection(target, pe, status="Pending")
    async with operator_azure(azure_sim, monkeypatch) as azure:
        [listed] = await azure.pec.list(target)
        approved = await azure.pec.approve(listed, "Approved by promptflow-netiso")
        current = await azure.pec.get(target, listed.name)
        with pytest.raises(AzureError) as not_pending:
            await azure.pec.approve(listed, "again")
        missing = await azure.pec.get(target, "no-such-connection") if resource_type.endswith("vaults") else None
    assert (listed.name, listed.status, listed.private_endpoint_id) == (seeded["name"], "Pending", pe)
    assert (approved.status, approved.description) == ("Approved", "Approved by promptflow-netiso")
    assert current.status == "Approved"
    assert (not_pending.value.kind, not_pending.value.code) == (ErrorKind.CONFLICT, "PrivateEndpointConnectionStatusNotPending")
    assert missing is None
    assert sim_admin.connections(target)[0]["status"] == "Approved"


async def test_approve_without_rights_is_user_fixable(azure_sim, monkeypatch, sim_admin, sim_names):
    sub, rg = sim_names
    target = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Search/searchServices/srch"
    sim_admin.seed_target(target, pe_behaviour="pending")
    sim_admin.seed_connection(target, "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/privateEndpoints/pe")
    sim_admin.deny(target, ["*/privateEndpointConnections/write"])
    async with operator_azure(azure_sim, monkeypatch) as azure:
        [conn] = await azure.pec.list(target)
        with pytest.raises(AzureError) as info:
            await azure.pec.approve(conn, "ok")
    assert (info.value.kind, info.value.code) == (ErrorKind.USER_FIXABLE, "AuthorizationFailed")
    assert sim_admin.connections(target)[0]["status"] == "Pending"


# --- network (read-only) -----------------------------------------------------------------------------------------------
async def test_virtual_network_subnet_peerings_and_aks(azure_sim, monkeypatch, sim_admin, sim_names):
    sub, rg = sim_names
    vnet = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/hub"
    spoke = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/spoke"
    sim_admin.seed_vnet(vnet, ["10.10.0.0/16"], subnets=[{"name": "aks", "addressPrefix": "10.10.0.0/22"}],
                        peerings=[{"name": "to-spoke", "remoteVirtualNetworkId": spoke, "peeringState": "Connected"}])
    aks = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/aks1"
    sim_admin.seed_aks(aks, f"{vnet}/subnets/aks")
    async with operator_azure(azure_sim, monkeypatch) as azure:
        got = await azure.network.get_virtual_network(vnet)
        subnet = await azure.network.get_subnet(f"{vnet}/subnets/aks")
        peerings = await azure.network.list_peerings(vnet)
        cluster = await azure.network.get_aks_cluster(aks)
        with pytest.raises(AzureError) as missing:
            await azure.network.get_virtual_network(vnet.replace("/hub", "/nope"))
    assert got.address_prefixes == ("10.10.0.0/16",) and [s.name for s in got.subnets] == ["aks"]
    assert subnet.address_prefixes == ("10.10.0.0/22",)
    assert [(p.name, p.remote_virtual_network_id.lower(), p.peering_state) for p in peerings] == [("to-spoke", spoke.lower(), "Connected")]
    assert [s.lower() for s in cluster.agent_pool_subnet_ids] == [f"{vnet}/subnets/aks".lower()]
    assert missing.value.kind is ErrorKind.NOT_FOUND

