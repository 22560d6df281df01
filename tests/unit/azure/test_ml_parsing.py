"""Machine Learning bodies (official 2025-12-01 / 2026-07-01 examples) into the dataclasses handlers read."""

from __future__ import annotations

from promptflow_netiso.azure.errors import ErrorKind
from promptflow_netiso.azure.ml import API_VERSION, parse_outbound_rule, parse_provision_poll, parse_workspace, workspace_path

from .examples import example, response_body


def test_api_version_is_current_stable():
    assert API_VERSION >= "2025-12-01"
    assert example("ml/workspace_get_with_managedNetwork_2025-12-01.json")["parameters"]["api-version"] == API_VERSION


def test_workspace_with_managed_network():
    ws = parse_workspace(response_body("ml/workspace_get_with_managedNetwork_2025-12-01.json"))
    assert ws.name == "testworkspace"
    assert ws.kind == "Default"  # the example omits `kind`, as classic workspaces do
    assert ws.location == "eastus2euap"
    assert ws.principal_id == "00000000-1111-2222-3333-444444444444"
    assert ws.storage_account_id.endswith("/Microsoft.Storage/storageAccounts/testStorageAccount")
    assert ws.public_network_access == "Disabled"
    mn = ws.managed_network
    assert (mn.isolation_mode, mn.status, mn.spark_ready, mn.network_id) == (
        "AllowOnlyApprovedOutbound", "Active", False, "00000000-1111-2222-3333-444444444444"
    )


def test_workspace_without_managed_network_and_hub_project():
    ws = parse_workspace({"id": "/x", "name": "p", "kind": "Project", "properties": {"hubResourceId": "/hub"}})
    assert ws.managed_network is None and ws.kind == "Project" and ws.hub_resource_id == "/hub" and ws.principal_id is None


def test_managed_network_never_provisioned_has_no_status():
    ws = parse_workspace({"id": "/x", "name": "w", "properties": {"managedNetwork": {"isolationMode": "AllowInternetOutbound"}}})
    assert ws.managed_network.isolation_mode == "AllowInternetOutbound" and ws.managed_network.status is None


def test_outbound_rules_from_list_example():
    body = response_body("ml/outboundRule_list_2025-12-01.json")
    rules = [parse_outbound_rule(item) for item in body["value"]]
    assert [r.name for r in rules] == ["rule_name_1", "rule_name_2"]
    assert (rules[0].type, rules[0].category, rules[0].status, rules[0].destination, rules[0].error_information) == (
        "FQDN", "Required", "Inactive", "destination_of_the_fqdn_rule", "Error message"
    )


def test_outbound_rule_2026_example_without_error_information():
    rule = parse_outbound_rule(response_body("ml/outboundRule_get_2026-07-01.json"))
    assert (rule.name, rule.status, rule.category, rule.error_information, rule.fqdns) == ("rule_name_1", "Active", "UserDefined", None, ())


def test_private_endpoint_rule_keeps_destination_object_and_fqdns():
    rule = parse_outbound_rule(
        {
            "name": "aoai",
            "properties": {
                "type": "PrivateEndpoint",
                "category": "UserDefined",
                "status": "Active",
                "destination": {"serviceResourceId": "/subscriptions/s/x", "subresourceTarget": "account", "sparkEnabled": False},
                "fqdns": ["aoai.openai.azure.com"],
            },
        }
    )
    assert rule.destination["subresourceTarget"] == "account" and rule.fqdns == ("aoai.openai.azure.com",)


def test_provision_poll_location_style():
    assert parse_provision_poll(202, {}).done is False
    final = parse_provision_poll(200, response_body("ml/provisionManagedNetwork_2025-12-01.json"))
    assert (final.done, final.status, final.spark_ready, final.error) == (True, "Active", True, None)


def test_provision_poll_async_operation_style():
    assert parse_provision_poll(200, {"status": "InProgress"}).done is False
    assert parse_provision_poll(200, {"status": "Succeeded"}).done is True
    failed = parse_provision_poll(200, {"status": "Failed", "error": {"code": "SubnetExhausted", "message": "no addresses left"}})
    assert failed.done and str(failed.error) == "SubnetExhausted: no addresses left"
    assert failed.error.kind is ErrorKind.USER_FIXABLE


def test_workspace_path_quotes_segments():
    assert workspace_path("s", "rg (1)", "ws") == "/subscriptions/s/resourceGroups/rg%20%281%29/providers/Microsoft.MachineLearningServices/workspaces/ws"
