"""Conformance with the official Azure REST API examples in ../shared/azure-rest-examples (beside the repository).

For every example file: seed what the example presupposes, send the same request (fresh subscription ID, the
example's other names), and compare the status code, the long-running headers, and the body's keys and value
types (literal values ignored; see shapes.py). Long-running answers are polled to the end and the final answer is
compared with the example's final response.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from .admin import SimAdmin
from .helpers import access_token, raw_session
from .shapes import shape_diff

# shared/ sits beside the repository (as in CI); the env variable points elsewhere.
EXAMPLES = Path(os.environ.get("PROMPTFLOW_NETISO_REST_EXAMPLES",
                               Path(__file__).resolve().parents[2].parent / "shared" / "azure-rest-examples"))
CONNECTION_PLACEHOLDER = "{privateEndpointConnectionName}"


@dataclass
class Case:
    method: str
    path: Callable[[dict], str]  # from the example's parameters
    body_param: str | None = None
    setup: Callable[[SimAdmin, dict, dict], None] = lambda admin, params, example: None  # seeds what the example presupposes
    allowed_extra: frozenset[str] = frozenset()
    repeat_status: int | None = None  # send the same request again and expect this (role assignment: 201 then 200)
    missing_variant: str | None = None  # path of a missing resource that must answer with the example's other status
    paged: bool = False  # follow nextLink and compare all items (the example shows one page without nextLink)


def _rg(p: dict) -> str:
    return f"/subscriptions/{p['subscriptionId']}/resourceGroups/{p['resourceGroupName']}"


def _ws(p: dict) -> str:
    return f"{_rg(p)}/providers/Microsoft.MachineLearningServices/workspaces/{p['workspaceName']}"


def _seed_ws(mode: str = "AllowOnlyApprovedOutbound", provisioned: bool = True, rules: dict | None = None, **extra):
    def setup(admin: SimAdmin, p: dict, example: dict) -> None:
        admin.seed_workspace(p["subscriptionId"], p["resourceGroupName"], p["workspaceName"], isolation_mode=mode,
                             provisioned=provisioned, rules=rules, **extra)
    return setup


def _fqdn_rule(name_key: str):
    def setup(admin: SimAdmin, p: dict, example: dict) -> None:
        _seed_ws(rules={p[name_key]: {"type": "FQDN", "destination": "example.com"}})(admin, p, example)
    return setup


def _seed_target(type_path: str, name_key: str):
    def setup(admin: SimAdmin, p: dict, example: dict) -> None:
        target = f"{_rg(p)}/providers/{type_path}/{p[name_key]}"
        admin.seed_target(target, "pending")
        pe = f"/subscriptions/{uuid.uuid4()}/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/petest01"
        admin.seed_connection(target, pe, name=p["privateEndpointConnectionName"], status="Pending")
    return setup


def _pec(method: str, type_path: str, name_key: str, body_param: str | None = None, **kwargs) -> Case:
    """A privateEndpointConnections case on a seeded target holding one Pending connection."""
    def path(p: dict) -> str:
        target = f"{_rg(p)}/providers/{type_path}/{p[name_key]}"
        return f"{target}/privateEndpointConnections/{p['privateEndpointConnectionName']}"
    return Case(method, path, body_param, _seed_target(type_path, name_key), **kwargs)


def _rule_path(p: dict) -> str:
    return f"{_ws(p)}/outboundRules/{p['ruleName']}"


def _v2_path(p: dict, suffix: str = "") -> str:
    return f"{_ws(p)}/managedNetworks/{p['managedNetworkName']}{suffix}"


def _seed_workspace_like_the_example(admin: SimAdmin, p: dict, example: dict) -> None:
    props = example["responses"]["200"]["body"]["properties"]
    unmodelled = {k: props[k] for k in ("encryption", "imageBuildCompute", "sharedPrivateLinkResources",
                                        "privateEndpointConnections")}  # echoed verbatim by the simulator
    uai = list(example["responses"]["200"]["body"]["identity"]["userAssignedIdentities"])
    admin.seed_workspace(p["subscriptionId"], p["resourceGroupName"], p["workspaceName"],
                         isolation_mode="AllowOnlyApprovedOutbound", provisioned=True,
                         rules={"some_string": {"type": "FQDN", "destination": "example.com"}},
                         user_assigned_identities=uai, extra_properties=unmodelled)


def _vnet_path(p: dict) -> str:
    return f"{_rg(p)}/providers/Microsoft.Network/virtualNetworks/{p['virtualNetworkName']}"


def _seed_vnet_like_the_example(admin: SimAdmin, p: dict, example: dict) -> None:
    """The example's VNet (or the VNet holding the example's subnet / peerings), and the remote VNets it peers with."""
    body = (example["responses"]["200"].get("body") or {})
    if "value" in body:  # peerings list
        peerings = body["value"]
    elif "remoteVirtualNetwork" in (body.get("properties") or {}):  # one peering
        peerings = [body]
    else:
        peerings = []
    for peer in peerings:
        admin.seed_vnet(peer["properties"]["remoteVirtualNetwork"]["id"], ["12.0.0.0/8"])
    props = body.get("properties") or {}
    subnets = [{"name": s["name"], "addressPrefix": s["properties"]["addressPrefix"],
                **({"ipConfigurations": s["properties"]["ipConfigurations"]} if "ipConfigurations" in s["properties"] else {})}
               for s in props.get("subnets") or []]
    if "subnetName" in p:
        subnets = [{"name": p["subnetName"], "addressPrefix": props["addressPrefix"]}]
    nat = (props.get("defaultPublicNatGateway") or {}).get("id")
    admin.seed_vnet(_vnet_path(p), (props.get("addressSpace") or {}).get("addressPrefixes") or ["10.0.0.0/16"],
                    subnets=subnets, nat_gateway_id=nat,
                    peerings=[{"name": peer["id"].rsplit("/", 1)[-1], "remoteVirtualNetworkId": peer["properties"]["remoteVirtualNetwork"]["id"],
                               "peeringState": peer["properties"]["peeringState"],
                               "allowForwardedTraffic": peer["properties"]["allowForwardedTraffic"]} for peer in peerings])


def _seed_private_endpoint(admin: SimAdmin, p: dict, example: dict) -> None:
    props = example["responses"]["200"]["body"]["properties"]
    pls = props["privateLinkServiceConnections"][0]["properties"]
    admin.seed_resource(pls["privateLinkServiceId"])
    admin.seed_private_endpoint(f"{_rg(p)}/providers/Microsoft.Network/privateEndpoints/{p['privateEndpointName']}",
                                props["subnet"]["id"], pls["privateLinkServiceId"], group_ids=pls["groupIds"])


def _seed_workspace_endpoints(admin: SimAdmin, p: dict, example: dict) -> None:
    admin.seed_workspace(p["subscriptionId"], p["resourceGroupName"], p["workspaceName"])
    subnet = f"{_rg(p)}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/pe"
    for i, item in enumerate(example["responses"]["200"]["body"]["value"]):
        admin.seed_private_endpoint(f"{item['properties']['privateEndpoint']['id']}{i}", subnet, _ws(p),
                                    connection_name=f"{item['name']}{i}")


def _cluster_id(p: dict) -> str:
    rp = p.get("clusterRp", "Microsoft.ContainerService") + "/" + p.get("clusterResourceName", "managedClusters")
    return f"{_rg(p)}/providers/{rp}/{p.get('clusterName') or p.get('resourceName')}"


def _seed_cluster(with_extension: bool):
    def setup(admin: SimAdmin, p: dict, example: dict) -> None:
        admin.seed_resource(_cluster_id(p))  # an Arc (connectedClusters) cluster: a plain resource here
        if with_extension:
            props = example["responses"]["200"]["body"]["properties"]
            admin.seed_extension(_cluster_id(p), p["extensionName"], extension_type=props["extensionType"],
                                 configuration_settings=props["configurationSettings"])
    return setup


def _seed_aks_like_the_example(admin: SimAdmin, p: dict, example: dict) -> None:
    pools = example["responses"]["200"]["body"]["properties"]["agentPoolProfiles"]
    admin.seed_aks(_cluster_id(p), agent_pools=[{"name": pool["name"], "count": pool["count"]} for pool in pools])


def _compute_path(p: dict) -> str:
    return f"{_ws(p)}/computes/{p['computeName']}"


def _seed_compute_target(attached: bool):
    def setup(admin: SimAdmin, p: dict, example: dict) -> None:
        admin.seed_workspace(p["subscriptionId"], p["resourceGroupName"], p["workspaceName"])
        body = (p.get("parameters") or example["responses"]["200"].get("body") or {}).get("properties") or {}
        cluster = body.get("resourceId") or f"{_rg(p)}/providers/Microsoft.ContainerService/managedClusters/aks"
        admin.seed_aks(cluster)
        admin.seed_extension(cluster)
        if attached:
            inner = body.get("properties") or {}
            admin.seed_compute(_ws(p), p["computeName"], cluster, namespace=inner.get("namespace", "default"),
                               description=body.get("description"), instance_types=inner.get("instanceTypes"),
                               default_instance_type=inner.get("defaultInstanceType"))
    return setup


WORKSPACE_EXTRAS = frozenset({"$.kind", "$.sku", "$.tags", "$.properties.provisioningState", "$.properties.workspaceId",
                              "$.properties.managedNetwork.changeableIsolationModes",
                              "$.properties.managedNetwork.firewallSku"})

# Azure fills these too (in the schema, absent from the update example's answer).
WORKSPACE_UPDATE_EXTRAS = WORKSPACE_EXTRAS | frozenset({
    "$.identity.userAssignedIdentities", "$.properties.hbiWorkspace", "$.properties.allowPublicAccessWhenBehindVnet",
    "$.properties.privateLinkCount", "$.properties.privateEndpointConnections",
    "$.properties.sharedPrivateLinkResources", "$.properties.serviceProvisionedResourceGroup",
    "$.properties.managedNetwork.isolationMode"})
# AKS agent pools: `mode` always, `vnetSubnetID` when in a subnet of yours (all in the 2026-08-01 schema).
AKS_EXTRAS = frozenset({"$.properties.agentPoolProfiles[0].mode",
                        "$.properties.agentPoolProfiles[0].vnetSubnetID"})

COGNITIVE, SEARCH = "Microsoft.CognitiveServices/accounts", "Microsoft.Search/searchServices"
STORAGE, KEYVAULT = "Microsoft.Storage/storageAccounts", "Microsoft.KeyVault/vaults"
TWO_FQDN_RULES = {"rule_name_1": {"type": "FQDN", "destination": "a.example.com"},
                  "rule_name_2": {"type": "FQDN", "destination": "b.example.com"}}

CASES: dict[str, Case] = {
    "ml/outboundRule_createOrUpdate_2025-12-01.json": Case("PUT", _rule_path, "body", _seed_ws()),
    "ml/outboundRule_delete_2025-12-01.json": Case("DELETE", _rule_path, setup=_fqdn_rule("ruleName")),
    "ml/outboundRule_get_2025-12-01.json": Case("GET", _rule_path, setup=_fqdn_rule("ruleName")),
    "ml/outboundRule_get_2026-07-01.json": Case("GET", _rule_path, setup=_fqdn_rule("ruleName")),
    "ml/outboundRule_list_2025-12-01.json": Case("GET", lambda p: f"{_ws(p)}/outboundRules",
                                                 setup=_seed_ws(provisioned=False, rules=TWO_FQDN_RULES), paged=True),
    "ml/provisionManagedNetwork_2025-12-01.json": Case("POST", lambda p: f"{_ws(p)}/provisionManagedNetwork", "body",
                                                       _seed_ws(provisioned=False)),
    "ml/v2_managedNetwork_put_2026-03-15-preview.json": Case("PUT", _v2_path, "body", _seed_ws("AllowInternetOutbound")),
    "ml/v2_batchOutboundRules_post_2025-12-01.json": Case("POST", lambda p: _v2_path(p, "/batchOutboundRules"), "body",
                                                          _seed_ws()),
    "ml/v2_outboundRule_createOrUpdate_2026-03-15-preview.json": Case(
        "PUT", lambda p: _v2_path(p, f"/outboundRules/{p['ruleName']}"), "body", _seed_ws()),
    "ml/workspace_get_with_managedNetwork_2025-12-01.json": Case("GET", _ws, setup=_seed_workspace_like_the_example,
                                                                 allowed_extra=WORKSPACE_EXTRAS),
    "pec/cognitiveservices_get_2025-09-01.json": _pec("GET", COGNITIVE, "accountName"),
    "pec/cognitiveservices_put_2025-09-01.json": _pec("PUT", COGNITIVE, "accountName", "properties"),
    "pec/keyvault_get_2024-11-01.json": _pec("GET", KEYVAULT, "vaultName",
                                             missing_variant="/privateEndpointConnections/does-not-exist"),
    "pec/keyvault_put_2024-11-01.json": _pec("PUT", KEYVAULT, "vaultName", "properties"),
    "pec/search_get_2025-05-01.json": _pec("GET", SEARCH, "searchServiceName"),
    "pec/search_put_2025-05-01.json": _pec("PUT", SEARCH, "searchServiceName", "privateEndpointConnection"),
    "pec/storage_get_2025-01-01.json": _pec("GET", STORAGE, "accountName"),
    "pec/storage_put_2025-01-01.json": _pec("PUT", STORAGE, "accountName", "properties"),
    "ml/workspace_update_2025-12-01.json": Case("PATCH", _ws, "parameters", _seed_ws("Disabled", provisioned=False),
                                                allowed_extra=WORKSPACE_UPDATE_EXTRAS),
    "ml/workspace_privateEndpointConnections_list_2025-12-01.json": Case(
        "GET", lambda p: f"{_ws(p)}/privateEndpointConnections", setup=_seed_workspace_endpoints),
    "ml/compute_createOrUpdate_kubernetes_2025-12-01.json": Case("PUT", _compute_path, "parameters",
                                                                 _seed_compute_target(attached=False)),
    "ml/compute_get_kubernetes_2025-12-01.json": Case("GET", _compute_path, setup=_seed_compute_target(attached=True)),
    "ml/compute_delete_2025-12-01.json": Case("DELETE", _compute_path, setup=_seed_compute_target(attached=True)),
    "network/privateEndpoint_get_2025-05-01.json": Case(
        "GET", lambda p: f"{_rg(p)}/providers/Microsoft.Network/privateEndpoints/{p['privateEndpointName']}",
        setup=_seed_private_endpoint),
    "network/subnet_get_2025-09-01.json": Case("GET", lambda p: f"{_vnet_path(p)}/subnets/{p['subnetName']}",
                                               setup=_seed_vnet_like_the_example),
    "network/virtualNetwork_get_2025-09-01.json": Case("GET", _vnet_path, setup=_seed_vnet_like_the_example),
    "network/virtualNetworkPeering_get_2025-09-01.json": Case(
        "GET", lambda p: f"{_vnet_path(p)}/virtualNetworkPeerings/{p['virtualNetworkPeeringName']}",
        setup=_seed_vnet_like_the_example),
    "network/virtualNetworkPeering_list_2025-09-01.json": Case(
        "GET", lambda p: f"{_vnet_path(p)}/virtualNetworkPeerings", setup=_seed_vnet_like_the_example),
    "aks/managedCluster_get_2026-08-01.json": Case("GET", _cluster_id, setup=_seed_aks_like_the_example,
                                                   allowed_extra=AKS_EXTRAS),
    "k8sconfig/extension_create_2025-03-01.json": Case(
        "PUT", lambda p: f"{_cluster_id(p)}/providers/Microsoft.KubernetesConfiguration/extensions/{p['extensionName']}",
        "extension", _seed_cluster(with_extension=False)),
    "k8sconfig/extension_get_2025-03-01.json": Case(
        "GET", lambda p: f"{_cluster_id(p)}/providers/Microsoft.KubernetesConfiguration/extensions/{p['extensionName']}",
        setup=_seed_cluster(with_extension=True)),
    "authorization/roleAssignments_listForScope_2022-04-01.json": Case(
        "GET", lambda p: f"/{p['scope'].lstrip('/')}/providers/Microsoft.Authorization/roleAssignments",
        setup=lambda admin, p, example: [
            (admin.seed_subscription(p["subscriptionId"]), admin.seed_principal(a["properties"]["principalId"], "User"),
             admin.seed_role_assignment("/" + p["scope"].lstrip("/"), a["properties"]["roleDefinitionId"],
                                        a["properties"]["principalId"], name=a["name"]))
            for a in example["responses"]["200"]["body"]["value"]]),
    "authorization/roleAssignments_createForResource_2022-04-01.json": Case(
        "PUT", lambda p: f"/{p['scope'].lstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{p['roleAssignmentName']}",
        "parameters", lambda admin, p, example: (admin.seed_resource("/" + p["scope"].lstrip("/")),
                                                 admin.seed_principal(p["parameters"]["properties"]["principalId"], "User")),
        repeat_status=200),
}


def _example_files() -> list[str]:
    return sorted(str(f.relative_to(EXAMPLES)) for f in EXAMPLES.rglob("*.json"))


def _localise(example: dict) -> dict:
    """A fresh subscription for isolation, and a real-looking name where the example kept a placeholder."""
    text = json.dumps(example)
    params = example["parameters"]
    old_sub = params.get("subscriptionId") or params.get("scope", "").split("/")[1]
    new_sub = str(uuid.uuid4())
    text = text.replace(old_sub, new_sub).replace("{subscription-id}", new_sub)
    text = text.replace(CONNECTION_PLACEHOLDER, f"pe-conn.{uuid.uuid4()}")
    localised = json.loads(text)
    localised["parameters"].setdefault("subscriptionId", new_sub)
    return localised


def test_every_example_file_has_a_case():
    files = _example_files()
    assert files, f"no examples under {EXAMPLES}"
    assert sorted(CASES) == files


def test_shape_comparison_catches_differences():
    example = {"id": "x", "properties": {"status": "Active", "count": 1, "rules": [{"type": "A", "v": "s"}]}}
    same_shape = {"id": "y", "properties": {"status": "Pending", "count": 2, "rules": [{"type": "A", "v": "t"}]}}
    assert shape_diff(example, same_shape) == []
    assert sorted(shape_diff(example, {"id": "y", "properties": {"status": 1, "count": 2, "rules": []}})) == [
        "$.properties.rules: example has items, response has none",
        "$.properties.status: example has string, response has number"]
    assert shape_diff(example, {"id": "y", "extra": 1, "properties": {"count": 2, "rules": [{"type": "A"}]}}) == [
        "$.extra: not in the example", "$.properties.status: missing", "$.properties.rules[0].v: missing"]
    assert shape_diff(example, {"id": "y", "properties": {"status": "x", "count": 2, "rules": [{"type": "B"}]}}) == [
        "$.properties.rules: no item of a type the example shows (['A'])"]


async def _poll_to_end(session, token: str, location: str) -> tuple[int, Any]:
    for _ in range(300):
        async with session.get(location, headers={"Authorization": f"Bearer {token}"}) as resp:
            if resp.status != 202:
                return resp.status, await _body(resp)
        await asyncio.sleep(0.1)
    raise AssertionError(f"operation behind {location} never finished")


async def _body(resp) -> Any:
    raw = await resp.read()
    return json.loads(raw) if raw else None


@pytest.mark.parametrize("name", _example_files())
async def test_simulator_answers_like_the_official_example(name, azure_sim, sim_admin):
    example = _localise(json.loads((EXAMPLES / name).read_text()))
    case = CASES[name]
    params = example["parameters"]
    await asyncio.to_thread(case.setup, sim_admin, params, example)
    responses = example["responses"]
    url = f"{azure_sim.url}{case.path(params)}?api-version={params['api-version']}"
    if "underlyingResourceAction" in params:  # the compute DELETE's own query parameter
        url += f"&underlyingResourceAction={params['underlyingResourceAction']}"
    body = params.get(case.body_param) if case.body_param else None
    async with raw_session(azure_sim) as session:
        token = await access_token(azure_sim, session)
        headers = {"Authorization": f"Bearer {token}"}
        async with session.request(case.method, url, json=body, headers=headers) as resp:
            status, got_headers, got = resp.status, resp.headers, await _body(resp)
        assert str(status) in responses, f"{name}: status {status} not among {sorted(responses)}: {got}"
        while case.paged and got.get("nextLink"):
            assert set(got) == {"value", "nextLink"}
            async with session.get(got.pop("nextLink"), headers=headers) as resp:
                assert resp.status == 200
                page = await _body(resp)
            got = {**page, "value": got["value"] + page["value"]}
        expected = responses[str(status)]
        for header in expected.get("headers") or {}:
            assert header in got_headers, f"{name}: {status} lacks header {header}"
        if "body" in expected:
            assert shape_diff(expected["body"], got, allowed_extra=case.allowed_extra) == [], name
        else:
            assert got is None, f"{name}: the example's {status} has no body, the simulator sent {got}"
        if status == 202:  # long-running: follow Location to the final answer the example documents
            final_status, final = await _poll_to_end(session, token, got_headers["Location"])
            final_codes = [c for c in responses if c != "202"]
            assert str(final_status) in final_codes, f"{name}: final {final_status} not among {final_codes}"
            if "body" in responses[str(final_status)]:
                assert shape_diff(responses[str(final_status)]["body"], final, allowed_extra=case.allowed_extra) == [], name
            else:
                assert not final, f"{name}: the example's final {final_status} has no body"
        if case.repeat_status is not None:
            async with session.request(case.method, url, json=body, headers=headers) as resp:
                again_status, again = resp.status, await _body(resp)
            assert again_status == case.repeat_status
            assert shape_diff(responses[str(again_status)]["body"], again) == []
        if case.missing_variant is not None:
            other = next(c for c in responses if c != str(status))
            base = case.path(params).rsplit("/privateEndpointConnections/", 1)[0]
            async with session.get(f"{azure_sim.url}{base}{case.missing_variant}?api-version={params['api-version']}",
                                   headers=headers) as resp:
                assert str(resp.status) == other and not await resp.read()
