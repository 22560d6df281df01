"""PrivateEndpointApproval spec parsing and who its policy allows."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from promptflow_netiso.model import ApprovalMode, ApprovalSpec, SpecError
from promptflow_netiso.model.approval import DEFAULT_DESCRIPTION, AllowPolicy

SAMPLES = Path(__file__).resolve().parents[2] / "crds" / "samples"
SUB = "00000000-0000-0000-0000-000000000001"
OTHER_SUB = "00000000-0000-0000-0000-000000000002"
KV = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-pf"
PE = f"/subscriptions/{SUB}/resourceGroups/rg-ml-managed/providers/Microsoft.Network/privateEndpoints/pe-aoai"


def test_sample_observes_a_declared_subscription_narrowed_to_the_workspace_on_two_targets():
    spec = ApprovalSpec.from_dict(yaml.safe_load((SAMPLES / "privateendpointapproval.yaml").read_text())["spec"])
    assert spec.mode == ApprovalMode.OBSERVE and spec.observe_only
    assert spec.allow.subscription_ids and spec.allow.workspace_managed_network
    assert spec.workspace_ref.name == "promptflow"
    assert [t.provider_key for t in spec.targets] == ["microsoft.cognitiveservices/accounts",
                                                      "microsoft.search/searchservices"]
    assert [t.name for t in spec.targets] == ["aoai-promptflow", "srch-promptflow"]


def test_defaults_and_case_insensitive_target_keys():
    spec = ApprovalSpec.from_dict({"targets": [{"resourceId": KV}], "allow": {"subscriptionIds": [SUB]},
                                   "mode": "Observe"})
    assert spec.observe_only
    assert spec.min_pending_seconds == 120
    assert spec.description == DEFAULT_DESCRIPTION
    assert spec.workspace_ref is None
    assert spec.target_keys == frozenset({KV.lower()})


def test_subscription_allow_list_matches_case_insensitively():
    allow = AllowPolicy(subscription_ids=(SUB.upper(),))
    assert allow.matches_subscription(PE)
    assert not allow.matches_subscription(PE.replace(SUB, OTHER_SUB))
    assert not allow.matches_subscription("not-an-id")


def test_pattern_allow_list_is_a_case_insensitive_glob_over_the_whole_id():
    allow = AllowPolicy(private_endpoint_id_patterns=(
        f"/subscriptions/{SUB}/resourceGroups/rg-ml-*/providers/Microsoft.Network/privateEndpoints/*",))
    assert allow.matches_pattern(PE)
    assert allow.matches_pattern(PE.upper())
    assert not allow.matches_pattern(PE.replace("rg-ml-managed", "rg-other"))
    assert not AllowPolicy(private_endpoint_id_patterns=("pe-aoai",)).matches_pattern(PE)


@pytest.mark.parametrize("pattern", [
    "/subscriptions/*",  # fnmatch's * crossed every '/': this approved every requester of every tenant
    f"/subscriptions/{SUB}/*",
    f"/subscriptions/{SUB}/resourceGroups/*",
    "*/providers/Microsoft.Network/privateEndpoints/*",
    f"/subscriptions/{SUB[:-1]}?/resourceGroups/*/providers/Microsoft.Network/privateEndpoints/*",
])
def test_patterns_never_match_across_segments_or_subscriptions(pattern):
    assert not AllowPolicy(private_endpoint_id_patterns=(pattern,)).matches_pattern(PE)
    assert not AllowPolicy(private_endpoint_id_patterns=(pattern,)).matches_pattern(PE.replace(SUB, OTHER_SUB))


@pytest.mark.parametrize(
    "spec,field",
    [
        ({"allow": {"subscriptionIds": [SUB]}, "mode": "Approve"}, "spec.targets"),
        ({"targets": [{"resourceId": KV}], "allow": {}, "mode": "Approve"}, "spec.allow"),
        ({"targets": [{"resourceId": KV}], "allow": {"subscriptionIds": []}, "mode": "Approve"}, "spec.allow"),
        ({"targets": [{"resourceId": KV}], "allow": {"workspaceManagedNetwork": True}, "mode": "Approve"},
         "spec.allow"),
        ({"targets": [{"resourceId": KV}], "allow": {"workspaceManagedNetwork": True, "subscriptionIds": [SUB]},
          "mode": "Approve"}, "spec.workspaceRef"),
        ({"targets": [{"resourceId": KV}], "allow": {"privateEndpointIdPatterns": ["/subscriptions/*"]},
          "mode": "Approve"}, "spec.allow.privateEndpointIdPatterns[0]"),
        ({"targets": [{"resourceId": KV}], "mode": "Approve",
          "allow": {"privateEndpointIdPatterns": ["*/providers/Microsoft.Network/privateEndpoints/*"]}},
         "spec.allow.privateEndpointIdPatterns[0]"),
        ({"targets": [{"resourceId": KV}], "allow": {"subscriptionIds": [SUB]}}, "spec.mode"),
        ({"targets": [{}], "allow": {"subscriptionIds": [SUB]}, "mode": "Approve"}, "spec.targets[0].resourceId"),
    ],
)
def test_invalid_specs_name_the_field(spec, field):
    with pytest.raises(SpecError) as err:
        ApprovalSpec.from_dict(spec)
    assert err.value.field == field
