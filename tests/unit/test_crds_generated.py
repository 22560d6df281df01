"""crds/ is generated from promptflow_netiso.model.schema: the committed YAML must match, and the schema must be one
a person can learn from (`kubectl explain`) and the API server can bound (CEL cost)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from promptflow_netiso.model import ApprovalSpec, OutboundRuleSpec, WorkspaceSpec
from promptflow_netiso.model.grant import GrantSpec
from promptflow_netiso.model.common import CATEGORY, GROUP, KINDS, SHORT_NAMES
from promptflow_netiso.model.schema import REGENERATE, build_crds, render_crds

REPO = Path(__file__).resolve().parents[2]
CRDS = REPO / "crds"
SAMPLES = CRDS / "samples"
PARSERS = {"PromptFlowWorkspace": WorkspaceSpec, "OutboundRule": OutboundRuleSpec,
           "PrivateEndpointApproval": ApprovalSpec, "AzureScopeGrant": GrantSpec}


def test_committed_crds_match_the_generator():
    rendered = render_crds()
    committed = {p.name for p in CRDS.glob("*_*.yaml")}  # ours, plus kopf's peering CRDs (model/peering.py)
    assert committed == set(rendered), f"crds/ has stale or missing files; regenerate with: {REGENERATE}"
    for name, text in rendered.items():
        assert (CRDS / name).read_text() == text, f"crds/{name} differs from the models; regenerate with: {REGENERATE}"


def test_kustomization_lists_every_crd():
    kustomization = yaml.safe_load((CRDS / "Kustomization").read_text())
    assert sorted(kustomization["resources"]) == sorted(render_crds())


def _walk(schema: dict, path: str):
    """Yield (path, node) for every property and list item of a schema."""
    for name, prop in schema.get("properties", {}).items():
        yield f"{path}.{name}", prop
        yield from _walk(prop, f"{path}.{name}")
    if "items" in schema:
        yield f"{path}[]", schema["items"]
        yield from _walk(schema["items"], f"{path}[]")


def _root(kind: str) -> dict:
    return build_crds()[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_field_is_documented_for_kubectl_explain(kind):
    undocumented = [p for p, node in _walk(_root(kind), kind)
                    if not node.get("description") and not p.endswith(".metadata")]
    assert undocumented == []


@pytest.mark.parametrize("kind", KINDS)
def test_spec_strings_and_lists_are_bounded_for_cel_cost(kind):
    spec = _root(kind)["properties"]["spec"]
    unbounded = [p for p, node in _walk(spec, "spec")
                 if (node.get("type") == "string" and "enum" not in node and "maxLength" not in node)
                 or (node.get("type") == "array" and "maxItems" not in node)]
    assert unbounded == []


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_status_subresource_short_name_category_and_ready_columns(kind):
    crd = build_crds()[kind]["spec"]
    version = crd["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert crd["names"]["shortNames"] == [SHORT_NAMES[kind]]
    assert crd["names"]["categories"] == [CATEGORY]
    columns = [c["name"] for c in version["additionalPrinterColumns"] if not c.get("priority")]
    assert columns[:2] == ["Ready", "Reason"] and columns[-1] == "Age"
    status = _root(kind)["properties"]["status"]["properties"]
    assert status["kopf"]["x-kubernetes-preserve-unknown-fields"] is True  # kopf's progress storage survives
    assert {"observedGeneration", "conditions"} <= set(status)


def _apply_defaults(schema: dict, value):
    """What the API server does before validation: fill in `default`s, top-down."""
    if isinstance(value, dict):
        for name, prop in schema.get("properties", {}).items():
            if name not in value and "default" in prop:
                value[name] = copy.deepcopy(prop["default"])
            if name in value:
                _apply_defaults(prop, value[name])
    elif isinstance(value, list) and "items" in schema:
        for item in value:
            _apply_defaults(schema["items"], item)
    return value


MINIMAL = {
    "PromptFlowWorkspace": {"azure": {"subscriptionId": "00000000-0000-0000-0000-000000000001",
                                      "resourceGroup": "rg", "workspaceName": "pf-ws"}},
    "OutboundRule": {"workspaceRef": {"name": "ws"}, "type": "ServiceTag",
                     "serviceTag": {"serviceTag": "AzureMonitor", "protocol": "TCP", "portRanges": "443"}},
    "PrivateEndpointApproval": {"targets": [{"resourceId": "/subscriptions/00000000-0000-0000-0000-000000000001/"
                                             "resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"}],
                                "allow": {"subscriptionIds": ["00000000-0000-0000-0000-000000000001"]},
                                "mode": "Observe"},
}


@pytest.mark.parametrize("kind", KINDS)
def test_python_defaults_agree_with_crd_defaults(kind):
    """A spec parsed as written (Python defaults) equals the same spec after the API server's defaulting."""
    spec_schema = _root(kind)["properties"]["spec"]
    written = MINIMAL[kind]
    defaulted = _apply_defaults(spec_schema, copy.deepcopy(written))
    assert defaulted != written  # the schema does default something here
    assert PARSERS[kind].from_dict(defaulted) == PARSERS[kind].from_dict(written)


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.yaml")))
def test_samples_parse_the_same_before_and_after_defaulting(sample):
    doc = yaml.safe_load((SAMPLES / sample).read_text())
    spec_schema = _root(doc["kind"])["properties"]["spec"]
    parse = PARSERS[doc["kind"]].from_dict
    assert parse(_apply_defaults(spec_schema, copy.deepcopy(doc["spec"]))) == parse(doc["spec"])
