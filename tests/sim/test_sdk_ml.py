"""Machine Learning calls through azure-mgmt-core's AsyncARMPipelineClient + AsyncARMPolling, authenticated by a
real azure-identity WorkloadIdentityCredential against the simulated Entra ID."""

from __future__ import annotations

import asyncio

import pytest
from azure.core.exceptions import HttpResponseError

from .arm_client import begin, call
from .helpers import ML_API, ml_client

AOAO = "AllowOnlyApprovedOutbound"


def _url(sim, ws_id: str, suffix: str = "", api: str = ML_API) -> str:
    return f"{sim.url}{ws_id}{suffix}?api-version={api}"


async def test_patch_isolation_mode_is_long_running_and_adds_required_rules(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "wspatch", isolation_mode="AllowInternetOutbound")
    async with ml_client(azure_sim) as client:
        poller = await begin(client, "PATCH", _url(azure_sim, ws["id"]),
                             {"properties": {"managedNetwork": {"isolationMode": AOAO}}})
        assert poller.status() == "InProgress"  # 202 first: the caller must poll
        result = await poller.result()
    network = result["properties"]["managedNetwork"]
    assert network["isolationMode"] == AOAO
    assert "changeableIsolationModes" not in network
    required = {n: r for n, r in network["outboundRules"].items() if r["category"] == "Required"}
    assert any(r["type"] == "ServiceTag" and r["destination"]["serviceTag"] == "AzureActiveDirectory" for r in required.values())
    assert all(n.startswith("__SYS_") for n in required)
    patch = [r for r in await asyncio.to_thread(sim_admin.requests) if r["method"] == "PATCH" and r["path"] == ws["id"]]
    assert [r["status"] for r in patch] == [202]


async def test_outbound_rule_put_polls_location_to_the_final_rule(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "wsrule", isolation_mode=AOAO, provisioned=True)
    body = {"properties": {"type": "FQDN", "destination": "pypi.org", "category": "UserDefined"}}
    async with ml_client(azure_sim) as client:
        poller = await begin(client, "PUT", _url(azure_sim, ws["id"], "/outboundRules/pypi"), body,
                             final_state_via="location")
        rule = await poller.result()
        listed = await call(client, "GET", _url(azure_sim, ws["id"], "/outboundRules/pypi"))
    assert rule["name"] == "pypi" and rule["type"] == "workspace/outboundRules"
    assert rule["properties"] == {"type": "FQDN", "destination": "pypi.org", "status": "Active",
                                  "category": "UserDefined", "errorInformation": None}
    assert listed == rule
    polls = [r for r in await asyncio.to_thread(sim_admin.requests) if r["route"] == "operations.result"]
    assert polls and polls[-1]["status"] == 200


async def test_rule_on_unprovisioned_network_stays_inactive_until_provisioning(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    target = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.CognitiveServices/accounts/aoai1"
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "wsprov", isolation_mode="AllowInternetOutbound")
    await asyncio.to_thread(sim_admin.seed_target, target, "pending")
    pe_rule = {"properties": {"type": "PrivateEndpoint", "category": "UserDefined",
                              "destination": {"serviceResourceId": target, "subresourceTarget": "account"}}}
    async with ml_client(azure_sim) as client:
        rule = await (await begin(client, "PUT", _url(azure_sim, ws["id"], "/outboundRules/aoai"), pe_rule,
                                  final_state_via="location")).result()
        assert rule["properties"]["status"] == "Inactive"
        assert await asyncio.to_thread(sim_admin.connections, target) == []  # no managed network, no endpoint yet
        provisioned = await (await begin(client, "POST", _url(azure_sim, ws["id"], "/provisionManagedNetwork"),
                                         {"includeSpark": False})).result()
        assert provisioned == {"status": "Active", "sparkReady": False}
        rule = await call(client, "GET", _url(azure_sim, ws["id"], "/outboundRules/aoai"))
        again = await call(client, "POST", _url(azure_sim, ws["id"], "/provisionManagedNetwork"), {"includeSpark": False})
    assert rule["properties"]["status"] == "Active"
    assert again == {"status": "Active", "sparkReady": False}  # already provisioned: 200 at once
    connections = await asyncio.to_thread(sim_admin.connections, target)
    assert [c["status"] for c in connections] == ["Pending"]  # this target never auto-approves: the stuck case


async def test_concurrent_managed_network_writes_conflict(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "wsbusy", isolation_mode=AOAO)
    await asyncio.to_thread(sim_admin.faults, "^ml\\.provision$", "stuck-lro", count=1)
    async with ml_client(azure_sim) as client:
        poller = await begin(client, "POST", _url(azure_sim, ws["id"], "/provisionManagedNetwork"), {"includeSpark": True})
        with pytest.raises(HttpResponseError) as err:
            await begin(client, "PUT", _url(azure_sim, ws["id"], "/outboundRules/blocked"),
                        {"properties": {"type": "FQDN", "destination": "example.com"}})
        assert err.value.status_code == 409
        assert err.value.error.code == "Conflict"
        assert poller.status() == "InProgress"
        await asyncio.to_thread(sim_admin.complete_operations)
        assert await poller.result() == {"status": "Active", "sparkReady": True}


async def test_rule_list_follows_next_link(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    user_rules = {f"fqdn{i}": {"type": "FQDN", "destination": f"host{i}.example.com"} for i in range(7)}
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "wslist", isolation_mode=AOAO, rules=user_rules)
    names, pages = [], 0
    async with ml_client(azure_sim) as client:
        url = _url(azure_sim, ws["id"], "/outboundRules")
        while url:
            page = await call(client, "GET", url)
            pages += 1
            names += [r["name"] for r in page["value"]]
            url = page.get("nextLink")
    assert pages > 1
    assert set(user_rules) <= set(names)
    assert len(names) == len(set(names))


async def test_delete_rule_and_required_rules_are_protected(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "wsdel", isolation_mode=AOAO,
                                 rules={"mine": {"type": "FQDN", "destination": "example.org"}})
    required = next(n for n, r in ws["properties"]["managedNetwork"]["outboundRules"].items() if r["category"] == "Required")
    async with ml_client(azure_sim) as client:
        await (await begin(client, "DELETE", _url(azure_sim, ws["id"], "/outboundRules/mine"),
                           final_state_via="location")).result()
        with pytest.raises(HttpResponseError) as missing:
            await call(client, "GET", _url(azure_sim, ws["id"], "/outboundRules/mine"))
        with pytest.raises(HttpResponseError) as protected:
            await begin(client, "DELETE", _url(azure_sim, ws["id"], f"/outboundRules/{required}"))
        gone_again = await (await begin(client, "DELETE", _url(azure_sim, ws["id"], "/outboundRules/mine"))).result()
    assert missing.value.status_code == 404
    assert protected.value.status_code == 400 and "Required" in protected.value.error.message
    assert gone_again is None  # deleting what is gone: 204 at once


async def test_throttled_get_is_retried_after_retry_after(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "ws429")
    await asyncio.to_thread(sim_admin.faults, f"{ws['id']}$", "429", count=1, retry_after_s=2, method="GET")
    async with ml_client(azure_sim) as client:
        body = await call(client, "GET", _url(azure_sim, ws["id"]))
    assert body["name"] == "ws429"
    log = [r for r in await asyncio.to_thread(sim_admin.requests) if r["path"] == ws["id"]]
    assert [r["status"] for r in log] == [429, 200]
    assert log[1]["time"] - log[0]["time"] >= 2.0 - 0.05  # the SDK waited as Retry-After asked before retrying
