"""The unknown-field guarantee is derived from the schema, generically: every spec object keeps unknown fields
(bounded) and has exactly one policy validation listing its declared keys; a field added to the schema is allowed."""

from __future__ import annotations

import copy

import pytest

from promptflow_netiso.model.common import KINDS
from promptflow_netiso.model.schema import STRICT_FIELDS_FILE, build_crds, render_crds
from promptflow_netiso.model.strict_fields import PRESERVE, _objects, keep_unknown_fields, strict_fields_policy


def _root(kind: str) -> dict:
    return build_crds()[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_spec_object_keeps_unknown_fields_bounded(kind):
    objects = list(_objects(_root(kind)["properties"]["spec"], ".spec"))
    assert objects
    for path, node in objects:
        assert node[PRESERVE] is True, path
        assert node["maxProperties"] > len(node["properties"]), path


@pytest.mark.parametrize("kind", KINDS)
def test_one_validation_per_object_naming_its_keys(kind):
    root = _root(kind)
    vap, binding = strict_fields_policy(kind, root)
    objects = list(_objects(root["properties"]["spec"], ".spec"))
    assert len(vap["spec"]["validations"]) == len(objects)
    for (path, node), validation in zip(objects, vap["spec"]["validations"]):
        for key in node["properties"]:
            assert f"'{key}'" in validation["expression"], (path, key)
        assert "check the spelling" in validation["messageExpression"]
    assert binding["spec"] == {"policyName": vap["metadata"]["name"], "validationActions": ["Deny"]}
    assert vap["spec"]["failurePolicy"] == "Fail"


def test_a_field_someone_adds_is_allowed_without_touching_the_policy_code():
    root = copy.deepcopy(_root("PromptFlowWorkspace"))
    root["properties"]["spec"]["properties"]["network"]["properties"]["newField"] = {"type": "string"}
    keep_unknown_fields(root["properties"]["spec"])
    vap, _ = strict_fields_policy("PromptFlowWorkspace", root)
    network = next(v for v in vap["spec"]["validations"] if "object.spec.network.all" in v["expression"])
    assert "'newField'" in network["expression"]


def test_status_is_not_strict():
    """The operator writes status; it is pruned as before (no policy, no preserved unknown fields)."""
    for kind in KINDS:
        assert PRESERVE not in _root(kind)["properties"]["status"]
        vap, _ = strict_fields_policy(kind, _root(kind))
        assert not any("object.status" in v["expression"] for v in vap["spec"]["validations"])


def test_policies_ship_in_crds():
    assert STRICT_FIELDS_FILE in render_crds()
