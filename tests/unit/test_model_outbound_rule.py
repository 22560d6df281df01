"""OutboundRule spec parsing and the ARM body it becomes (api-version 2025-12-01)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from promptflow_netiso.model import OutboundRuleSpec, Protocol, RuleAction, RuleType, SpecError

SAMPLES = Path(__file__).resolve().parents[2] / "crds" / "samples"
SUB = "00000000-0000-0000-0000-000000000001"
AOAI = f"/subscriptions/{SUB}/resourceGroups/rg-promptflow/providers/Microsoft.CognitiveServices/accounts/aoai-promptflow"
REF = {"workspaceRef": {"name": "promptflow"}}
TAG = {"serviceTag": "AzureMonitor", "protocol": "TCP", "portRanges": "443"}


def sample(name: str) -> OutboundRuleSpec:
    return OutboundRuleSpec.from_dict(yaml.safe_load((SAMPLES / name).read_text())["spec"])


def test_fqdn_rule_body_has_a_string_destination():
    spec = sample("outboundrule-openai-api.yaml")
    assert spec.to_azure_properties() == {"type": "FQDN", "category": "UserDefined", "destination": "api.openai.com"}
    assert spec.display_destination() == "api.openai.com"


def test_private_endpoint_rule_body_to_azure_openai():
    spec = sample("outboundrule-azure-openai.yaml")
    assert spec.to_azure_properties() == {
        "type": "PrivateEndpoint",
        "category": "UserDefined",
        "destination": {"serviceResourceId": AOAI, "subresourceTarget": "account", "sparkEnabled": False},
    }
    assert spec.display_destination() == "aoai-promptflow/account"


def test_service_tag_rule_body_leaves_out_empty_address_prefixes():
    spec = sample("outboundrule-servicetag.yaml")
    assert spec.to_azure_properties()["destination"] == {
        "serviceTag": "AzureMonitor", "protocol": "TCP", "portRanges": "443", "action": "Allow"}
    assert spec.display_destination() == "AzureMonitor TCP/443 Allow"


def test_service_tag_rule_body_never_sends_the_read_only_address_prefixes():
    spec = OutboundRuleSpec.from_dict({**REF, "type": "ServiceTag", "serviceTag": {
        **TAG, "protocol": "*", "action": "Deny", "addressPrefixes": ["10.0.0.0/24"]}})
    assert spec.service_tag.protocol == Protocol.ANY and spec.service_tag.action == RuleAction.DENY
    assert "addressPrefixes" not in spec.to_azure_properties()["destination"]


def test_azure_rule_name_defaults_to_the_object_name():
    assert sample("outboundrule-openai-api.yaml").azure_rule_name("openai-api") == "openai-api"
    assert sample("outboundrule-pinecone.yaml").azure_rule_name("pinecone") == "pinecone-svc"


def test_defaults_when_the_api_server_has_not_filled_them():
    spec = OutboundRuleSpec.from_dict({**REF, "type": "PrivateEndpoint",
                                       "privateEndpoint": {"serviceResourceId": AOAI, "subresourceTarget": "account"}})
    assert spec.type == RuleType.PRIVATE_ENDPOINT
    assert spec.private_endpoint.spark_enabled is False and spec.adopt is False
    assert spec.workspace_ref.name == "promptflow"


@pytest.mark.parametrize(
    "spec,field",
    [
        ({**REF, "fqdn": "api.openai.com"}, "spec.type"),
        ({**REF, "type": "Http"}, "spec.type"),
        ({**REF, "type": "FQDN"}, "spec.fqdn"),
        ({**REF, "type": "FQDN", "fqdn": "api.openai.com", "serviceTag": TAG}, "spec.serviceTag"),
        ({**REF, "type": "ServiceTag", "fqdn": "api.openai.com", "serviceTag": TAG}, "spec.fqdn"),
        ({**REF, "type": "ServiceTag", "serviceTag": {**TAG, "protocol": "HTTP"}}, "spec.serviceTag.protocol"),
        ({**REF, "type": "PrivateEndpoint", "privateEndpoint": {"serviceResourceId": AOAI}},
         "spec.privateEndpoint.subresourceTarget"),
        ({"type": "FQDN", "fqdn": "api.openai.com"}, "spec.workspaceRef.name"),
    ],
)
def test_invalid_specs_name_the_field(spec, field):
    with pytest.raises(SpecError) as err:
        OutboundRuleSpec.from_dict(spec)
    assert err.value.field == field
