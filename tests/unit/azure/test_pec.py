"""The private-endpoint provider table and the parsing of each provider's connection bodies (official examples)."""

from __future__ import annotations

import pytest

from promptflow_netiso.azure.errors import AzureError, ErrorKind
from promptflow_netiso.azure.pec import PROVIDERS, connection_path, parse_connection, provider_for

from .examples import example, response_body

SUB = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers"


@pytest.mark.parametrize(
    "target, api_version, long_running",
    [
        (f"{SUB}/Microsoft.CognitiveServices/accounts/aoai", "2025-09-01", True),
        (f"{SUB}/Microsoft.Search/searchServices/search", "2025-05-01", False),
        (f"{SUB}/Microsoft.Storage/storageAccounts/st", "2025-01-01", False),
        (f"{SUB}/Microsoft.KeyVault/vaults/kv", "2024-11-01", False),
        (f"{SUB}/microsoft.keyvault/VAULTS/kv", "2024-11-01", False),  # ARM IDs are case-insensitive
    ],
)
def test_provider_table(target, api_version, long_running):
    provider = provider_for(target)
    assert (provider.api_version, provider.long_running_put) == (api_version, long_running)


def test_table_has_exactly_the_supported_providers():
    assert set(PROVIDERS) == {
        "microsoft.cognitiveservices/accounts",
        "microsoft.search/searchservices",
        "microsoft.storage/storageaccounts",
        "microsoft.keyvault/vaults",
    }


@pytest.mark.parametrize(
    "target",
    [f"{SUB}/Microsoft.Sql/servers/sql", f"{SUB}/Microsoft.Storage/storageAccounts/st/blobServices/default", "not-an-id"],
)
def test_unsupported_targets_are_user_fixable(target):
    with pytest.raises(AzureError) as info:
        provider_for(target)
    assert info.value.kind is ErrorKind.USER_FIXABLE


def test_connection_path_quotes_the_name():
    target = f"{SUB}/Microsoft.Search/searchServices/search"
    assert connection_path(target, "pe.1/2") == f"{target}/privateEndpointConnections/pe.1%2F2"


@pytest.mark.parametrize(
    "file, status, description, actions",
    [
        ("pec/cognitiveservices_get_2025-09-01.json", "Approved", "Auto-Approved", "None"),
        ("pec/search_get_2025-05-01.json", "Approved", "", "None"),
        ("pec/storage_get_2025-01-01.json", "Approved", "Auto-Approved", "None"),  # `actionRequired`, singular
        ("pec/keyvault_get_2024-11-01.json", "Approved", "This was automatically approved by user1234@contoso.com", "None"),
    ],
)
def test_parse_official_get_examples(file, status, description, actions):
    body = response_body(file)
    conn = parse_connection("/target", body)
    assert (conn.status, conn.description, conn.actions_required) == (status, description, actions)
    assert conn.name == body["name"] and conn.target == "/target"
    assert conn.private_endpoint_id == body["properties"]["privateEndpoint"]["id"]


def test_parse_provisioning_state_when_present():
    assert parse_connection("/t", response_body("pec/storage_put_2025-01-01.json")).provisioning_state == "Succeeded"
    assert parse_connection("/t", response_body("pec/search_get_2025-05-01.json")).provisioning_state is None


def test_official_examples_use_the_table_versions():
    for file, type_ in [
        ("pec/cognitiveservices_put_2025-09-01.json", "microsoft.cognitiveservices/accounts"),
        ("pec/search_put_2025-05-01.json", "microsoft.search/searchservices"),
        ("pec/storage_put_2025-01-01.json", "microsoft.storage/storageaccounts"),
        ("pec/keyvault_put_2024-11-01.json", "microsoft.keyvault/vaults"),
    ]:
        spec = example(file)
        assert spec["parameters"]["api-version"] == PROVIDERS[type_].api_version
        assert ("202" in spec["responses"]) is PROVIDERS[type_].long_running_put
