"""PromptFlowWorkspace writes recorded before they were sent, settled after a crash. Pure, no I/O."""

from __future__ import annotations

from promptflow_netiso.planning import workspace_intent as wi
from promptflow_netiso.planning.intent import Outcome, PendingWrite

WS = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w"
SCOPE = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st"


def post(started="2026-11-30T12:00:00Z") -> PendingWrite:
    return PendingWrite("POST", wi.provision_target(WS), wi.provision_hash(False), started,
                        event_reason="ProvisioningStarted", event_message="managed network provisioning started")


def settle(pending, **kw):
    args = dict(workspace_path=WS, isolation_mode="AllowOnlyApprovedOutbound", network_active=False,
                provisioning_followed=False, assignment_names=[], age_s=5.0)
    return wi.settle(pending, **{**args, **kw})


def test_no_record_nothing_to_settle():
    assert settle(None).outcome is None


def test_an_orphaned_provisioning_is_waited_for_not_posted_again():
    s = settle(post())
    assert s.outcome is Outcome.RUNNING and s.provisioning_running and s.keep == post()
    assert s.status["pendingWrite"]["operation"] == "POST" and s.events == ()


def test_an_orphaned_provisioning_that_made_the_network_active_is_announced_once():
    s = settle(post(), network_active=True)
    assert s.outcome is Outcome.LANDED and s.keep is None and s.status == {"pendingWrite": None}
    assert s.events == (("ProvisioningStarted", "managed network provisioning started"),)


def test_after_the_orphan_wait_provisioning_may_start_again():
    s = settle(post(), age_s=wi.PROVISION_ORPHAN_WAIT + 1)
    assert s.outcome is Outcome.NOT_LANDED and not s.provisioning_running and s.keep is None


def test_a_provisioning_whose_poll_url_reached_status_is_followed_there():
    assert settle(post(), provisioning_followed=True).outcome is Outcome.NOT_LANDED


def test_isolation_patch_landed_when_azure_reports_the_mode():
    w = PendingWrite("PATCH", WS, wi.isolation_hash("AllowOnlyApprovedOutbound"), "t", event_reason="IsolationModeSet")
    assert settle(w).outcome is Outcome.LANDED and settle(w).events[0][0] == "IsolationModeSet"
    assert settle(w, isolation_mode="Disabled").outcome is Outcome.NOT_LANDED


def test_role_put_landed_when_azure_lists_the_deterministic_name():
    name = "0b1e2c3d-0000-4000-8000-000000000001"
    w = PendingWrite("PUT", wi.role_target(SCOPE, name), wi.role_hash(name), "t", event_reason="RoleAssigned")
    assert settle(w, assignment_names=[name.upper()]).outcome is Outcome.LANDED
    assert settle(w, assignment_names=[]).outcome is Outcome.NOT_LANDED
    unreadable = settle(w, assignment_names=None)
    assert unreadable.outcome is Outcome.RUNNING and unreadable.keep == w  # kept for a run that can read them


# --- role assignments removed on deletion ------------------------------------------------------------------------------


def _removals():
    from promptflow_netiso.planning.workspace import RemoveRole

    return [RemoveRole(scope=SCOPE, name="aaaa", role_id="r1"), RemoveRole(scope=SCOPE, name="bbbb", role_id="r2")]


def _delete(name: str, scope: str = SCOPE) -> PendingWrite:
    return PendingWrite("DELETE", wi.removal_target(scope, name), "", "t", event_reason="RoleAssignmentRemoved",
                        event_message=f"role assignment {name} removed")


def test_a_recorded_removal_is_matched_to_its_planned_delete_whatever_the_letter_case():
    assert wi.recorded_removal(_delete("BBBB", SCOPE.upper()), _removals()).name == "bbbb"
    assert wi.recorded_removal(_delete("cccc"), _removals()) is None  # not planned (e.g. not ours): nothing to check
    assert wi.recorded_removal(None, _removals()) is None
    put = PendingWrite("PUT", wi.role_target(SCOPE, "aaaa"), wi.role_hash("aaaa"), "t")
    assert wi.recorded_removal(put, _removals()) is None  # a PUT is settled by the reconcile, not here


def test_a_removal_that_landed_is_announced_once_and_not_sent_again():
    gone = wi.settle_removal(_delete("aaaa"), still_there=False)
    assert gone.outcome is Outcome.LANDED and gone.events == (("RoleAssignmentRemoved", "role assignment aaaa removed"),)
    there = wi.settle_removal(_delete("aaaa"), still_there=True)
    assert there.outcome is Outcome.NOT_LANDED and there.events == ()  # a synchronous DELETE that never landed


def test_records_lose_the_removed_assignment_only():
    records = [{"name": "AAAA", "scope": SCOPE}, {"name": "bbbb", "scope": SCOPE}]
    assert wi.without_assignment(records, "aaaa") == [{"name": "bbbb", "scope": SCOPE}]


def test_an_unsettled_role_put_is_removed_on_deletion_under_its_deterministic_name():
    name = "0b1e2c3d-0000-4000-8000-000000000001"
    put = PendingWrite("PUT", wi.role_target(SCOPE, name), wi.role_hash(name), "t")
    kept = [{"name": "other", "scope": SCOPE, "createdByOperator": False}]
    assert wi.with_unsettled_assignment(put, kept) == kept + [
        {"name": name, "roleDefinitionId": "", "scope": SCOPE, "createdByOperator": True}]
    assert wi.with_unsettled_assignment(put, [{"name": name.upper()}]) == [{"name": name.upper()}]  # already listed
    assert wi.with_unsettled_assignment(_delete("aaaa"), kept) == kept
    assert wi.with_unsettled_assignment(post(), kept) == kept and wi.with_unsettled_assignment(None, kept) == kept
    from promptflow_netiso.planning.workspace import plan_delete
    from promptflow_netiso.model import WorkspaceSpec
    spec = WorkspaceSpec.from_dict({"azure": {"subscriptionId": "s", "resourceGroup": "rg", "workspaceName": "w"},
                                    "deletionPolicy": "Delete"})
    [remove] = plan_delete(spec, "manage", wi.with_unsettled_assignment(put, kept)).actions
    assert (remove.name, remove.scope) == (name, SCOPE)
    assert remove.describe() == f"role assignment {name} removed from st"
