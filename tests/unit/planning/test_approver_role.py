"""The approver role planner: which targets, which assignments, what a Pending rule says. Pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from promptflow_netiso.azure import roles
from promptflow_netiso.planning import approver_role as p

SUB = "11111111-2222-3333-4444-555555555555"
OTHER_SUB = "22222222-2222-3333-4444-555555555555"
PRINCIPAL = "aaaaaaaa-0000-0000-0000-000000000001"
RG = f"/subscriptions/{SUB}/resourceGroups/rg"
OPENAI = f"{RG}/providers/Microsoft.CognitiveServices/accounts/oai"
SEARCH = f"{RG}/providers/Microsoft.Search/searchServices/srch"
REMOTE = f"/subscriptions/{OTHER_SUB}/resourceGroups/rg2/providers/Microsoft.KeyVault/vaults/kv"
WORKSPACE = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/ws"
ROLE_ID = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{p.ROLE_APPROVER}"


@dataclass(frozen=True)
class A:
    name: str
    role_definition_id: str
    scope: str
    principal_id: str


def ours(scope: str) -> A:
    return A(roles.assignment_name(scope, p.ROLE_APPROVER, PRINCIPAL), ROLE_ID, scope, PRINCIPAL)


def rule(name: str, target: str | None, workspace: str = "ws", type_: str = "PrivateEndpoint",
         deleting: bool = False) -> dict:
    body: dict = {"metadata": {"name": name}, "spec": {"workspaceRef": {"name": workspace}, "type": type_}}
    if type_ == "PrivateEndpoint":
        body["spec"]["privateEndpoint"] = {"serviceResourceId": target, "subresourceTarget": "account"}
    if deleting:
        body["metadata"]["deletionTimestamp"] = "2026-03-01T12:00:00Z"
    return body


def plan(targets=(OPENAI,), observed=(), previous=(), wanted=True, manage=True, principal=PRINCIPAL):
    return p.plan_for_workspace(wanted=wanted, manage=manage, principal_id=principal, targets=list(targets),
                                observed=None if observed is None else list(observed), previous=list(previous),
                                assignment_name=roles.assignment_name)


def test_role_id_is_the_one_azure_roles_uses():
    assert p.ROLE_APPROVER == roles.ROLE_AI_NETWORK_CONNECTION_APPROVER


def test_targets_are_the_distinct_live_private_endpoint_targets_of_this_workspace():
    rules = [rule("a", OPENAI), rule("b", OPENAI.upper()), rule("c", SEARCH), rule("d", None, type_="FQDN"),
             rule("e", REMOTE, workspace="ws2"), rule("f", REMOTE, deleting=True)]
    assert p.targets_of(rules, "ws") == [OPENAI, SEARCH]


def test_one_listing_per_subscription_however_many_targets():
    assert p.listing_scopes(WORKSPACE, [OPENAI, SEARCH]) == [f"/subscriptions/{SUB}"]
    assert p.listing_scopes(WORKSPACE, [OPENAI, SEARCH, REMOTE]) == [f"/subscriptions/{SUB}",
                                                                    f"/subscriptions/{OTHER_SUB}"]


def test_missing_assignment_is_planned_on_the_target_itself():
    wp = plan(targets=[OPENAI, SEARCH], observed=[ours(OPENAI)])
    assert [(a.scope, a.principal_id, a.vanished) for a in wp.actions] == [(SEARCH, PRINCIPAL, None)]
    assert wp.condition["status"] == "False" and wp.condition["reason"] == "Assigning" and "srch" in wp.condition["message"]
    assert wp.records == [p.record(OPENAI, ours(OPENAI).name, True)]


def test_converged_needs_no_write():
    wp = plan(targets=[OPENAI, SEARCH], observed=[ours(OPENAI), ours(SEARCH)])
    assert wp.actions == [] and wp.condition["status"] == "True" and wp.condition["reason"] == "Assigned"


def test_a_grant_at_a_scope_above_counts_and_is_not_ours():
    someone = A("0c0c0c0c-0000-0000-0000-000000000000", ROLE_ID, RG, PRINCIPAL)
    wp = plan(targets=[OPENAI, SEARCH], observed=[someone])
    assert wp.actions == [] and all(not r["createdByOperator"] for r in wp.records)


@pytest.mark.parametrize("observed", [
    [A("x", ROLE_ID, OPENAI, "bbbbbbbb-0000-0000-0000-000000000002")],  # another identity
    [A("x", ROLE_ID.replace(p.ROLE_APPROVER, roles.ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR), OPENAI, PRINCIPAL)],
    [A("x", ROLE_ID, SEARCH, PRINCIPAL)],  # a sibling resource does not cover
    [A("x", ROLE_ID, f"{RG}/providers/Microsoft.CognitiveServices/accounts/oai2", PRINCIPAL)],  # a prefix is no scope
])
def test_what_does_not_count(observed):
    assert [a.scope for a in plan(observed=observed).actions] == [OPENAI]


def test_removed_by_hand_is_restored_and_announced_as_drift():
    previous = [p.record(OPENAI, ours(OPENAI).name, True)]
    [action] = plan(observed=[], previous=previous).actions
    assert action.vanished == ours(OPENAI).name and action.event_reason == "DriftCorrected"


def test_unreadable_list_falls_back_to_the_records():
    previous = [p.record(OPENAI, ours(OPENAI).name, True)]
    wp = plan(targets=[OPENAI], observed=None, previous=previous)
    assert wp.actions == [] and wp.records == previous


def test_records_of_our_assignments_no_longer_needed_are_kept_for_deletion():
    previous = [p.record(SEARCH, ours(SEARCH).name, True), p.record(REMOTE, "not-ours", False)]
    wp = plan(targets=[OPENAI], observed=[ours(OPENAI)], previous=previous)
    assert {r["scope"] for r in wp.records} == {OPENAI, SEARCH}


@pytest.mark.parametrize("kw,reason,status", [
    (dict(wanted=False), "NotRequested", "True"),
    (dict(principal=None), "NoManagedIdentity", "False"),
    (dict(targets=[]), "NoPrivateEndpointRules", "True"),
    (dict(manage=False, observed=[]), "ReconcileSkipped", "False"),
])
def test_nothing_to_assign(kw, reason, status):
    wp = plan(**kw)
    assert wp.actions == [] and wp.condition["reason"] == reason and wp.condition["status"] == status


def test_after_assigned_turns_the_condition_true():
    wp = plan(targets=[OPENAI], observed=[])
    [action] = wp.actions
    p.after_assigned(wp, action, ours(OPENAI).name, True, ours(OPENAI).name, 1)
    assert wp.condition["status"] == "True" and wp.records == [p.record(OPENAI, ours(OPENAI).name, True)]


# --- the rule's side ------------------------------------------------------------------------------------------------


def test_rule_record_spares_a_second_write():
    rec = {"approverRole": p.rule_record(OPENAI, PRINCIPAL, "n", True)}
    assert p.rule_record_matches(rec, OPENAI.upper(), PRINCIPAL)
    assert not p.rule_record_matches(rec, SEARCH, PRINCIPAL)
    assert not p.rule_record_matches(rec, OPENAI, "bbbbbbbb-0000-0000-0000-000000000002")  # a new identity
    assert not p.rule_record_matches({}, OPENAI, PRINCIPAL)


def test_workspace_approver_reads_only_approver_records():
    status = {"principalId": PRINCIPAL, "roleAssignments": [
        p.record(RG, "n1", False),
        {"name": "n2", "roleDefinitionId": f"/providers/x/roleDefinitions/{roles.ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR}",
         "scope": SEARCH}]}
    wa = p.workspace_approver(True, status)
    assert wa.principal_id == PRINCIPAL and wa.covered(OPENAI) == RG and wa.covered(SEARCH) == RG
    assert p.workspace_approver(True, {"roleAssignments": [status["roleAssignments"][1]]}).covered(SEARCH) is None


@pytest.mark.parametrize("approver,rule_status,needle", [
    (p.WorkspaceApprover(False), {}, "set spec.approverRole.assign: true"),
    (p.WorkspaceApprover(True, PRINCIPAL), {}, "does not hold Azure AI Enterprise Network Connection Approver on oai"),
    (p.WorkspaceApprover(True, PRINCIPAL, (OPENAI,)), {}, "a person must approve it"),
    (p.WorkspaceApprover(True, PRINCIPAL), {"approverRole": {"otherTenant": True}}, "is in another tenant"),
])
def test_pending_names_the_cause(approver, rule_status, needle):
    assert needle in p.pending_cause(target=OPENAI, workspace="ws", approver=approver, rule_status=rule_status)


def test_other_tenant_errors_say_so():
    assert "another tenant" in p.not_assignable_message(REMOTE, "InvalidAuthenticationTokenTenant: x",
                                                        "InvalidAuthenticationTokenTenant")
    assert "roleAssignments/write" in p.not_assignable_message(OPENAI, "AuthorizationFailed: x", "AuthorizationFailed")
