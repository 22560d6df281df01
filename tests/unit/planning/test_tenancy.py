"""Tenancy decisions: scope coverage (as the admission policy's CEL computes it), refusals naming field and
namespace, and a deterministic owner among PromptFlowWorkspace objects claiming one Azure workspace."""

from __future__ import annotations

import re

import pytest

from promptflow_netiso.model.common import SpecError
from promptflow_netiso.model.grant import SCOPE_RE, GrantSpec, covers
from promptflow_netiso.planning import tenancy

SUB = "00000000-0000-0000-0000-000000000001"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-a"
WS = tenancy.workspace_id(SUB, "rg-a", "ws1")
ACCOUNT = f"{RG}/providers/Microsoft.CognitiveServices/accounts/aoai"


@pytest.mark.parametrize("scope, resource_id, expected", [
    ("/", ACCOUNT, True),
    (f"/subscriptions/{SUB}", ACCOUNT, True),
    (RG, ACCOUNT, True),
    (RG.upper(), ACCOUNT, True),  # ARM IDs are case-insensitive
    (RG, ACCOUNT.lower(), True),
    (ACCOUNT, ACCOUNT, True),
    (RG + "-other", ACCOUNT, False),  # whole path segments, not string prefixes
    (f"{RG}/providers/Microsoft.CognitiveServices/accounts/aoa", ACCOUNT, False),
    (f"/subscriptions/{SUB.replace('1', '2')}", ACCOUNT, False),
])
def test_covers_compares_whole_segments_case_insensitively(scope, resource_id, expected):
    assert covers(scope, resource_id) is expected


@pytest.mark.parametrize("scope, valid", [
    ("/", True), (f"/subscriptions/{SUB}", True), (RG, True), (ACCOUNT, True),
    (RG + "/", False), ("/subscriptions/not-a-guid", False), ("subscriptions/" + SUB, False), ("", False),
    (f"{RG}/providers", False),
])
def test_scope_pattern_admits_only_arm_scopes(scope, valid):
    pattern = SCOPE_RE.replace("(?i)", "")
    assert bool(re.match(pattern, scope, re.IGNORECASE)) is valid


def test_no_grant_refuses_everything_naming_the_field_and_namespace():
    r = tenancy.check_scopes(None, "team-a", [(tenancy.WORKSPACE_FIELD, WS)])
    assert r.reason == "ScopeNotGranted"
    assert r.message.startswith("spec.azure: namespace team-a has no AzureScopeGrant named 'default'")


def test_each_list_governs_its_own_kind_of_reference():
    grant = GrantSpec.from_dict({"workspaces": [RG], "approvalTargets": [ACCOUNT]})
    assert tenancy.check_scopes(grant, "team-a", [(tenancy.WORKSPACE_FIELD, WS)]) is None
    assert tenancy.check_scopes(grant, "team-a", [(tenancy.APPROVAL_TARGET_FIELD, ACCOUNT)]) is None
    refused = tenancy.check_scopes(grant, "team-a", [(tenancy.WORKSPACE_FIELD, WS), (tenancy.RULE_TARGET_FIELD, ACCOUNT)])
    assert refused.message == (f"spec.privateEndpoint.serviceResourceId: namespace team-a is not granted {ACCOUNT} (a "
                               "cluster admin lists it, or a scope above it, in spec.outboundRuleTargets of "
                               "AzureScopeGrant team-a/default)")


def test_identity_needs_a_client_id():
    with pytest.raises(SpecError, match="spec.identity.clientId"):
        GrantSpec.from_dict({"identity": {"serviceAccountName": "promptflow-azure"}})
    spec = GrantSpec.from_dict({"identity": {"serviceAccountName": "promptflow-azure", "clientId": SUB}})
    assert spec.identity.client_id == SUB and spec.identity.tenant_id is None


def claim(name: str, created: str, uid: str, ns: str = "team-a") -> tenancy.Claim:
    return tenancy.Claim(ns, name, uid, created)


@pytest.mark.parametrize("claims, winner", [
    ([claim("old", "2026-01-01T00:00:00Z", "b"), claim("new", "2026-01-02T00:00:00Z", "a")], "old"),
    ([claim("new", "2026-01-02T00:00:00Z", "a"), claim("old", "2026-01-01T00:00:00Z", "b")], "old"),  # order-free
    ([claim("x", "2026-01-01T00:00:00Z", "b"), claim("y", "2026-01-01T00:00:00Z", "a")], "y"),  # same second: uid
])
def test_the_owner_is_the_oldest_claim_then_the_smallest_uid(claims, winner):
    assert tenancy.owner(claims).name == winner


def test_only_the_non_owners_get_a_conflict_naming_the_owner():
    claims = [claim("first", "2026-01-01T00:00:00Z", "u1"), claim("second", "2026-01-02T00:00:00Z", "u2", ns="team-b")]
    assert tenancy.conflict(claims, "u1", WS) is None
    refused = tenancy.conflict(claims, "u2", WS)
    assert refused.reason == "Conflict" and "already managed by PromptFlowWorkspace team-a/first" in refused.message
    assert tenancy.conflict([], "u3", WS) is None


def test_a_bring_your_own_network_must_lie_in_the_workspace_scopes():
    from promptflow_netiso.handlers.tenancy import workspace_refusal
    from promptflow_netiso.model import WorkspaceSpec

    vnet = f"/subscriptions/{SUB}/resourceGroups/rg-b/providers/Microsoft.Network/virtualNetworks/vnet-b"
    aks = f"{RG}/providers/Microsoft.ContainerService/managedClusters/aks-a"
    spec = WorkspaceSpec.from_dict({
        "azure": {"subscriptionId": SUB, "resourceGroup": "rg-a", "workspaceName": "ws1"},
        "network": {"mode": "BringYourOwnVirtualNetwork", "virtualNetworkId": vnet},
        "deploymentTarget": {"type": "Kubernetes", "aksClusterId": aks}})
    grants = {"team-a": [GrantSpec.from_dict({"workspaces": [RG]})]}
    refused = workspace_refusal(grants, {}, "team-a", "u1", spec)
    assert refused.message.startswith(f"spec.network.virtualNetworkId: namespace team-a is not granted {vnet}")
    grants = {"team-a": [GrantSpec.from_dict({"workspaces": [RG, f"/subscriptions/{SUB}/resourceGroups/rg-b"]})]}
    assert workspace_refusal(grants, {}, "team-a", "u1", spec) is None
