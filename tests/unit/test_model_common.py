"""Shared API names, patterns and parsing helpers of promptflow_netiso.model."""

from __future__ import annotations

import re

import pytest

from promptflow_netiso.azure import pec
from promptflow_netiso.model.common import (
    APPROVAL_TARGET_TYPES,
    AZURE_NAME_RE,
    FQDN_RE,
    PORT_RANGES_RE,
    RECONCILE_POLICY_ANNOTATION,
    RESOURCE_GROUP_RE,
    ReconcilePolicy,
    ResourceId,
    SpecError,
    arm_id_re,
    parse_reconcile_policy,
    reconcile_policy_of,
)

SUB = "00000000-0000-0000-0000-000000000001"


def test_approval_target_types_agree_with_the_azure_provider_table():
    """The CRD admits exactly the targets the operator knows how to approve."""
    assert set(pec.PROVIDERS) == {t.lower() for t in APPROVAL_TARGET_TYPES}


@pytest.mark.parametrize(
    "annotations,expected",
    [
        (None, ReconcilePolicy.MANAGE),
        ({}, ReconcilePolicy.MANAGE),
        ({RECONCILE_POLICY_ANNOTATION: "manage"}, ReconcilePolicy.MANAGE),
        ({RECONCILE_POLICY_ANNOTATION: "skip"}, ReconcilePolicy.SKIP),
        ({RECONCILE_POLICY_ANNOTATION: "detach-on-delete"}, ReconcilePolicy.DETACH_ON_DELETE),
    ],
)
def test_reconcile_policy_defaults_to_manage(annotations, expected):
    assert parse_reconcile_policy(annotations) == expected


def test_unknown_reconcile_policy_is_reported_not_guessed():
    with pytest.raises(SpecError) as err:
        parse_reconcile_policy({RECONCILE_POLICY_ANNOTATION: "Skip"})
    assert RECONCILE_POLICY_ANNOTATION in err.value.field
    assert "detach-on-delete" in str(err.value)


def test_resource_id_parses_and_keys_case_insensitively():
    rid = ResourceId.parse(f"/subscriptions/{SUB}/resourceGroups/rg-pf/providers/microsoft.cognitiveservices/"
                           "Accounts/aoai")
    assert (rid.subscription_id, rid.resource_group, rid.name) == (SUB, "rg-pf", "aoai")
    assert rid.provider_key == "microsoft.cognitiveservices/accounts"


@pytest.mark.parametrize("bad", ["aoai", f"/subscriptions/{SUB}/resourceGroups/rg", "/subscriptions/x/resourceGroups/"
                                 "rg/providers/Microsoft.Web/sites/a"])
def test_resource_id_refuses_what_is_not_an_arm_id(bad):
    with pytest.raises(ValueError):
        ResourceId.parse(bad)


@pytest.mark.parametrize("good", ["api.openai.com", "*.svc.pinecone.io", "controller.us-east-1.pinecone.io",
                                  "pypi.org", "xn--bcher-kva.example"])
def test_fqdn_pattern_accepts_host_names(good):
    assert re.match(FQDN_RE, good)


@pytest.mark.parametrize("bad", ["https://api.openai.com", "api.openai.com/v1", "api.openai.com:443",
                                 "api.*.openai.com", "*.*.openai.com", "*openai.com", "10.0.0.1", "localhost",
                                 "-bad.example.com", "api.openai.com."])
def test_fqdn_pattern_refuses_urls_ips_and_inner_wildcards(bad):
    assert not re.match(FQDN_RE, bad)


@pytest.mark.parametrize("value,ok", [("443", True), ("80,443", True), ("8000-8080", True), ("*", True),
                                      ("80,8000-8080", True), ("80, 443", True), ("80, 443, 8080-8089", True), ("", False), ("443-", False), ("80,,443", False), ("80  ,443", False),
                                      ("http", False)])
def test_port_ranges_shape(value, ok):
    assert bool(re.match(PORT_RANGES_RE, value)) is ok


@pytest.mark.parametrize("value,ok", [("pf-workspace", True), ("pf_ws_1", True), ("abc", True), ("ab", False),
                                      ("-pf", False), ("pf.ws", False), ("a" * 33, True), ("a" * 34, False)])
def test_azure_name_pattern(value, ok):
    assert bool(re.match(AZURE_NAME_RE, value)) is ok


@pytest.mark.parametrize("value,ok", [("rg-promptflow", True), ("rg.(prod)_1", True), ("rg.", False), ("", False),
                                      ("r" * 90, True), ("r" * 91, False), ("rg/x", False)])
def test_resource_group_pattern(value, ok):
    assert bool(re.match(RESOURCE_GROUP_RE, value)) is ok


def test_arm_id_pattern_matches_type_case_insensitively_and_only_that_type():
    vnet = arm_id_re("Microsoft.Network/virtualNetworks")
    assert re.match(vnet, f"/subscriptions/{SUB}/resourcegroups/rg/providers/microsoft.network/VIRTUALNETWORKS/v")
    assert not re.match(vnet, f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/"
                              "virtualNetworks/v/subnets/s")
    assert not re.match(vnet, f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/"
                              "storageAccounts/v")


@pytest.mark.parametrize("raw, obeyed", [
    (None, ReconcilePolicy.MANAGE),
    ("", ReconcilePolicy.MANAGE),
    ("manage", ReconcilePolicy.MANAGE),
    (" Skip ", ReconcilePolicy.SKIP),
    ("detach-on-delete", ReconcilePolicy.DETACH_ON_DELETE),
    ("mange", ReconcilePolicy.SKIP),  # a typo never causes writes
])
def test_the_policy_the_operator_obeys(raw, obeyed):
    annotations = {} if raw is None else {RECONCILE_POLICY_ANNOTATION: raw}
    assert reconcile_policy_of(annotations) is obeyed
    from promptflow_netiso.handlers.common import reconcile_policy
    from promptflow_netiso.planning import outbound_rule, workspace

    assert reconcile_policy({"annotations": annotations}) is obeyed
    # One set of values: the planners' names are the model's members.
    assert (workspace.POLICY_SKIP, workspace.POLICY_DETACH, outbound_rule.SKIP, outbound_rule.DETACH_ON_DELETE) == (
        ReconcilePolicy.SKIP, ReconcilePolicy.DETACH_ON_DELETE, ReconcilePolicy.SKIP, ReconcilePolicy.DETACH_ON_DELETE)
