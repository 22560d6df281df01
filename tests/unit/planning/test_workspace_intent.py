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
