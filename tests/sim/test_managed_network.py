"""Managed-network behaviour a user would notice: the isolation ratchet, Required rules, provisioning, private
endpoints on targets, hubs and projects, and drift made behind the operator's back."""

from __future__ import annotations

import asyncio

import pytest
from azure.core.exceptions import HttpResponseError

from .arm_client import begin, call
from .constants import MICROSOFT_MANAGED_SUBSCRIPTION_ID
from .helpers import ML_API, ml_client

AIO, AOAO = "AllowInternetOutbound", "AllowOnlyApprovedOutbound"


def _url(sim, resource_id: str, suffix: str = "", api: str = ML_API) -> str:
    return f"{sim.url}{resource_id}{suffix}?api-version={api}"


def _pe_rule(target: str, sub: str = "account") -> dict:
    return {"properties": {"type": "PrivateEndpoint",
                           "destination": {"serviceResourceId": target, "subresourceTarget": sub, "sparkEnabled": False}}}


async def _wait_for(predicate, timeout_s: float = 10.0):
    """Poll the simulator until predicate() is truthy (a deadline, not a timing assertion)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await asyncio.to_thread(predicate)
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.1)


async def test_isolation_is_a_one_way_ratchet(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "wsratchet", isolation_mode=AOAO)
    assert "changeableIsolationModes" not in ws["properties"]["managedNetwork"]  # not in 2025-12-01
    async with ml_client(azure_sim) as client:
        for mode in (AIO, "Disabled"):
            with pytest.raises(HttpResponseError) as err:
                await begin(client, "PATCH", _url(azure_sim, ws["id"]),
                            {"properties": {"managedNetwork": {"isolationMode": mode}}})
            assert err.value.status_code == 400 and err.value.error.code == "UserError"
        unchanged = await call(client, "GET", _url(azure_sim, ws["id"]))
    assert unchanged["properties"]["managedNetwork"]["isolationMode"] == AOAO


async def test_disabled_workspace_has_no_network_and_refuses_rules(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "wsdisabled")
    assert ws["properties"]["managedNetwork"] == {"isolationMode": "Disabled"}
    async with ml_client(azure_sim) as client:
        with pytest.raises(HttpResponseError) as rule:
            await begin(client, "PUT", _url(azure_sim, ws["id"], "/outboundRules/r1"),
                        {"properties": {"type": "FQDN", "destination": "example.com"}})
        with pytest.raises(HttpResponseError) as provision:
            await begin(client, "POST", _url(azure_sim, ws["id"], "/provisionManagedNetwork"), {"includeSpark": False})
    assert rule.value.status_code == provision.value.status_code == 400


async def test_invalid_rules_are_rejected_with_the_reason(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    kv = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/kvx"
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "wsinvalid", isolation_mode=AOAO)
    storage = ws["properties"]["storageAccount"]
    bad = [  # (body, what the message must name)
        ({"properties": {"type": "FQDN", "destination": "https://example.com/path"}}, "scheme"),
        (_pe_rule(kv, "blob"), "subresourceTarget"),
        (_pe_rule(storage, "blob"), "already exists"),  # the storage blob endpoint is a Required rule already
        ({"properties": {"type": "FQDN", "destination": "a.example.com", "category": "Required"}}, "UserDefined"),
        ({"properties": {"type": "ServiceTag", "destination": {"serviceTag": "Storage", "protocol": "TCP",
                                                               "portRanges": "443;80"}}}, "portRanges"),
    ]
    async with ml_client(azure_sim) as client:
        for body, reason in bad:
            with pytest.raises(HttpResponseError) as err:
                await begin(client, "PUT", _url(azure_sim, ws["id"], "/outboundRules/rule1"), body)
            assert err.value.status_code == 400
            assert reason in err.value.error.message
        with pytest.raises(HttpResponseError) as bad_name:
            await begin(client, "PUT", _url(azure_sim, ws["id"], "/outboundRules/x"),
                        {"properties": {"type": "FQDN", "destination": "example.com"}})
    assert bad_name.value.status_code == 400


async def test_private_endpoint_rule_creates_a_connection_named_after_the_network(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    target = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Search/searchServices/search1"
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "wspe", isolation_mode=AIO, provisioned=True)
    network_id = ws["properties"]["managedNetwork"]["networkId"]
    await asyncio.to_thread(sim_admin.seed_target, target, "auto-approve", 0.3)
    async with ml_client(azure_sim) as client:
        rule = await (await begin(client, "PUT", _url(azure_sim, ws["id"], "/outboundRules/search"),
                                  _pe_rule(target, "searchService"), final_state_via="location")).result()
        newer = await call(client, "GET", _url(azure_sim, ws["id"], "/outboundRules/search", "2026-07-01"))
    assert rule["properties"]["status"] == "Active"
    assert newer["properties"]["fqdns"] == ["search1.search.windows.net"]
    [conn] = await asyncio.to_thread(sim_admin.connections, target)
    pe_sub = conn["privateEndpointId"].split("/")[2]
    pe_name = conn["privateEndpointId"].rsplit("/", 1)[-1]
    assert pe_sub == MICROSOFT_MANAGED_SUBSCRIPTION_ID != sub
    assert pe_name == f"search_{network_id.replace('-', '')[:8]}"
    assert conn["name"].startswith(pe_name + ".")
    approved = await _wait_for(lambda: sim_admin.connections(target)[0]["status"] == "Approved")
    assert approved
    async with ml_client(azure_sim) as client:
        await (await begin(client, "DELETE", _url(azure_sim, ws["id"], "/outboundRules/search"))).result()
    assert await asyncio.to_thread(sim_admin.connections, target) == []  # the endpoint went with its rule


async def test_targets_that_reject_and_missing_targets(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    rejecting = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/strejects"
    missing = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.CognitiveServices/accounts/ghost"
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "wsreject", isolation_mode=AIO, provisioned=True)
    await asyncio.to_thread(sim_admin.seed_target, rejecting, "reject", 0.1)
    async with ml_client(azure_sim) as client:
        await (await begin(client, "PUT", _url(azure_sim, ws["id"], "/outboundRules/blob"), _pe_rule(rejecting, "blob"))).result()
        failed = await (await begin(client, "PUT", _url(azure_sim, ws["id"], "/outboundRules/ghost"), _pe_rule(missing),
                                    final_state_via="location")).result()
    assert failed["properties"]["status"] == "Failed"
    assert missing in failed["properties"]["errorInformation"]
    assert await _wait_for(lambda: [c["status"] for c in sim_admin.connections(rejecting)] == ["Rejected"])


async def test_required_private_endpoints_reach_the_workspace_storage(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "wsreq", isolation_mode=AIO, provisioned=True)
    storage = ws["properties"]["storageAccount"]
    rules = ws["properties"]["managedNetwork"]["outboundRules"]
    required_pe = sorted(r["destination"]["subresourceTarget"] for r in rules.values()
                         if r["category"] == "Required" and r["destination"]["serviceResourceId"] == storage)
    assert required_pe == ["blob", "file"]
    assert not any(r["type"] == "ServiceTag" for r in rules.values())  # service tags only when approved-only
    connections = await asyncio.to_thread(sim_admin.connections, storage)
    assert sorted(c["groupIds"][0] for c in connections) == ["blob", "file"]


async def test_project_shares_its_hub_network_and_cannot_change_it(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    hub = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "hub1", "Hub", AOAO, provisioned=True)
    project = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "proj1", "Project", hub_id=hub["id"])
    assert project["kind"] == "Project" and project["properties"]["hubResourceId"] == hub["id"]
    assert project["properties"]["managedNetwork"]["networkId"] == hub["properties"]["managedNetwork"]["networkId"]
    async with ml_client(azure_sim) as client:
        with pytest.raises(HttpResponseError) as err:
            await begin(client, "PUT", _url(azure_sim, project["id"], "/outboundRules/r1"),
                        {"properties": {"type": "FQDN", "destination": "example.com"}})
    assert err.value.status_code == 400 and "hub" in err.value.error.message


async def test_drift_behind_the_operators_back_is_visible(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "wsdrift", isolation_mode=AOAO,
                                 rules={"mine": {"type": "FQDN", "destination": "example.org"}})
    await asyncio.to_thread(sim_admin.set_isolation_mode, ws["id"], AIO)  # not allowed through ARM, but it happens
    await asyncio.to_thread(sim_admin.set_workspace, ws["id"], remove_rules=["mine"], network_status="Active")
    async with ml_client(azure_sim) as client:
        seen = await call(client, "GET", _url(azure_sim, ws["id"]))
    network = seen["properties"]["managedNetwork"]
    assert network["isolationMode"] == AIO
    assert network["status"] == {"status": "Active", "sparkReady": False}
    assert "mine" not in network["outboundRules"]
    assert not any(r["type"] == "ServiceTag" for r in network["outboundRules"].values())


APPROVER = "b556d68e-0be0-4f35-a333-ad7ee1ce17ea"  # Azure AI Enterprise Network Connection Approver


@pytest.mark.parametrize("scope", ["target", "resource-group", "subscription"])
async def test_identity_with_the_approver_role_gets_its_endpoints_approved_by_azure(azure_sim, sim_admin, sim_names,
                                                                                  scope):
    sub, rg = sim_names
    target = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.CognitiveServices/accounts/aoai{scope[:3]}"
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, f"wsrole{scope[:3]}", isolation_mode=AIO,
                                 provisioned=True)
    await asyncio.to_thread(sim_admin.seed_target, target, "pending", 0.3)  # stuck without the role
    where = {"target": target, "resource-group": f"/subscriptions/{sub}/resourceGroups/{rg}",
             "subscription": f"/subscriptions/{sub}"}[scope]
    await asyncio.to_thread(sim_admin.seed_role_assignment, where, APPROVER, ws["identity"]["principalId"])
    async with ml_client(azure_sim) as client:
        await (await begin(client, "PUT", _url(azure_sim, ws["id"], "/outboundRules/aoai"), _pe_rule(target),
                           final_state_via="location")).result()
    assert await _wait_for(lambda: [c["status"] for c in sim_admin.connections(target)] == ["Approved"])


async def test_without_the_role_only_a_person_helps_and_lookalikes_are_never_approved(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    target = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Search/searchServices/srchnorole"
    other = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Search/searchServices/srchrole"
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "wsnorole", isolation_mode=AIO, provisioned=True)
    network_id = ws["properties"]["managedNetwork"]["networkId"]
    for t in (target, other):
        await asyncio.to_thread(sim_admin.seed_target, t, "pending", 0.1)
    await asyncio.to_thread(sim_admin.seed_role_assignment, other, APPROVER, ws["identity"]["principalId"])
    # Somebody names an endpoint in their own subscription exactly like the managed network's.
    lookalike = (f"/subscriptions/7e3d2c1b-aaaa-4bbb-8ccc-123456789abc/resourceGroups/x/providers/"
                 f"Microsoft.Network/privateEndpoints/srch_{network_id.replace('-', '')[:8]}")
    await asyncio.to_thread(sim_admin.seed_connection, other, lookalike, name="lookalike")
    async with ml_client(azure_sim) as client:
        await (await begin(client, "PUT", _url(azure_sim, ws["id"], "/outboundRules/srch"),
                           _pe_rule(target, "searchService"), final_state_via="location")).result()
    await asyncio.sleep(0.5)
    assert [c["status"] for c in await asyncio.to_thread(sim_admin.connections, target)] == ["Pending"]
    assert [c["status"] for c in await asyncio.to_thread(sim_admin.connections, other)] == ["Pending"]


async def test_batch_outbound_rules_upserts_the_listed_rules_and_keeps_the_others(azure_sim, sim_admin, sim_names):
    """batchOutboundRules (docs/design/batch-outbound-rules.md): the listed rules are created or replaced, rules not
    listed stay (hand-made and Required ones included), the rules show at once as Provisioning, the operation's final
    answer lists the rules written, and the request log names them."""
    sub, rg = sim_names
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "wsbatch", isolation_mode=AOAO, provisioned=True,
                                 rules={"handmade": {"type": "FQDN", "category": "UserDefined", "destination": "keep.example.com"},
                                        "old": {"type": "FQDN", "category": "UserDefined", "destination": "old.example.com"}})
    before = {k for k, r in ws["properties"]["managedNetwork"]["outboundRules"].items() if r["category"] == "Required"}
    assert before, "a managed network under AllowOnlyApprovedOutbound has Required rules"
    await asyncio.to_thread(sim_admin.config, rule_duration_s=2.0)
    mark = await asyncio.to_thread(sim_admin.last_request_seq)
    body = {"properties": {"outboundRules": {
        "new1": {"type": "FQDN", "category": "UserDefined", "destination": "a.example.com"},
        "old": {"type": "FQDN", "category": "UserDefined", "destination": "changed.example.com"}}}}
    try:
        async with ml_client(azure_sim) as client:
            poller = await begin(client, "POST", _url(azure_sim, ws["id"], "/managedNetworks/default/batchOutboundRules"),
                                 body, final_state_via="location", polling_interval_s=0.2)
            during = (await asyncio.to_thread(sim_admin.workspace, ws["id"]))["body"]["properties"]["managedNetwork"]
            assert during["outboundRules"]["new1"]["status"] == "Provisioning", "shown at once, like a PUT"
            with pytest.raises(HttpResponseError) as busy:  # one operation at a time on a managed network
                await begin(client, "PUT", _url(azure_sim, ws["id"], "/outboundRules/other"),
                            {"properties": {"type": "FQDN", "destination": "x.example.com"}})
            assert busy.value.status_code == 409
            final = await poller.result()
    finally:
        await asyncio.to_thread(sim_admin.config, rule_duration_s=None)
    assert sorted(r["name"] for r in final["value"]) == ["new1", "old"]
    assert all(r["properties"]["status"] == "Active" for r in final["value"])
    after = (await asyncio.to_thread(sim_admin.workspace, ws["id"]))["body"]["properties"]["managedNetwork"]["outboundRules"]
    assert after["handmade"]["destination"] == "keep.example.com", "a rule not listed stays (upsert, not replace)"
    assert after["old"]["destination"] == "changed.example.com" and after["new1"]["destination"] == "a.example.com"
    assert before <= set(after), "Required rules stay"
    posts = [r for r in await asyncio.to_thread(sim_admin.requests, mark) if r["method"] == "POST"]
    assert [sorted(p["rules"]) for p in posts] == [["new1", "old"]]


async def test_batch_outbound_rules_refuses_a_bad_rule_and_writes_none(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "wsbatchbad", isolation_mode=AOAO, provisioned=True)
    async with ml_client(azure_sim) as client:
        with pytest.raises(HttpResponseError) as err:
            await begin(client, "POST", _url(azure_sim, ws["id"], "/managedNetworks/default/batchOutboundRules"),
                        {"properties": {"outboundRules": {
                            "good": {"type": "FQDN", "category": "UserDefined", "destination": "a.example.com"},
                            "bad": {"type": "FQDN", "category": "UserDefined", "destination": "https://no/paths"}}}})
    assert err.value.status_code == 400
    rules = (await asyncio.to_thread(sim_admin.workspace, ws["id"]))["body"]["properties"]["managedNetwork"]["outboundRules"]
    assert "good" not in rules and "bad" not in rules
