"""Crash safety end to end for the writes of a PromptFlowWorkspace beyond its managed network: the bring-your-own-VNet
compute attach (a long-running PUT) and the role assignments removed with deletionPolicy Delete. Each is recorded in
status before it is sent, so a kill -9 between "Azure accepted the write" and "status says so" neither loses the
operator's ownership of what it created nor sends the write again. The simulator's request log is the source of
truth for what was sent.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.e2e.test_byo_vnet import KIND, WAIT, Estate, manifest
from tests.e2e.test_workspace import Azure, approver_grants, count, pe_rule, reasons, workspace_manifest
from tests.support.kube import condition, is_ready

pytestmark = pytest.mark.e2e


def _compute_record(obj: dict) -> dict:
    return ((obj.get("status") or {}).get("deploymentTarget") or {}).get("pendingWrite") or {}


def test_kill_between_an_accepted_compute_attach_and_its_status_keeps_the_compute_ours(
        operator, kube, namespace, sim_admin):
    az = Estate(sim_admin, "crash-compute")
    sim_admin.config(lro_duration_s=15)  # the attach runs for a while, as Azure's does: the kill lands inside it
    try:
        kube.apply(manifest("pf", az, deletion="Delete"), namespace)
        accepted = kube.wait_for(KIND, namespace, "pf", lambda o: bool(_compute_record(o).get("pollUrl")), WAIT,
                                 "to record the accepted compute PUT")
        record = _compute_record(accepted)
        assert record["operation"] == "PUT" and record["target"].lower().endswith("/computes/pf-aks")
        assert not accepted["status"]["deploymentTarget"]["computeAttachedByOperator"], \
            "the outcome must not be in status yet (the kill window)"
        operator.restart(kill=True)  # SIGKILL mid-operation, like an evicted pod
    finally:
        sim_admin.config(lro_duration_s=0.5)

    obj = kube.wait_for(KIND, namespace, "pf", is_ready, WAIT, "to be Ready after the restart")
    target = obj["status"]["deploymentTarget"]
    assert target["computeAttachedByOperator"] is True, "the restarted operator recognises the compute as its own"
    assert not target.get("pendingWrite"), "the record is settled"
    assert az.count("PUT", "/computes/pf-aks") == 1, "one PUT in total: nothing sent again blind"
    assert reasons(kube, namespace, "pf").count("ComputeAttached") == 1, "the Event once, by whichever process saw it"
    assert "ComputeNameTaken" not in reasons(kube, namespace, "pf")

    since = az.mark()
    kube.delete(KIND, namespace, "pf")
    kube.wait_gone(KIND, namespace, "pf", WAIT)
    assert sim_admin.computes(az.ws_id) == [], "deletionPolicy Delete detaches the compute the operator attached"
    assert count(az.calls(since), "DELETE", "/computes/pf-aks") == 1


def test_kill_between_an_accepted_role_assignment_delete_and_its_status_sends_it_once(
        operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "crash-roledel")
    kube.apply(workspace_manifest("pf", az, isolation="AllowInternetOutbound", deletion="Delete"), namespace)
    kube.wait_for("PromptFlowWorkspace", namespace, "pf", is_ready, WAIT, "to be Ready")
    roles = f"{az.storage}/providers/Microsoft.Authorization/roleAssignments/"
    # The first role DELETE is held on its way in; the kill lands meanwhile, and Azure carries it out all the same.
    sim_admin.faults(re.escape(roles), "slow", method="DELETE", count=1, delay_s=6)
    try:
        since = az.mark()
        kube.delete("PromptFlowWorkspace", namespace, "pf")
        recorded = kube.wait_for("PromptFlowWorkspace", namespace, "pf",
                                 lambda o: (o["status"].get("pendingWrite") or {}).get("operation") == "DELETE", WAIT,
                                 "to record the role assignment DELETE")
        assert "/roleAssignments/" in recorded["status"]["pendingWrite"]["target"]
        _wait(lambda: _injected(sim_admin, roles) == 1, "the DELETE to reach Azure")
        operator.stop(kill=True)
        _wait(lambda: count([c for c in az.calls(since) if c["status"] < 400], "DELETE", roles) == 1,
              "Azure to carry out the DELETE the killed process sent")
        operator.start()
    finally:
        sim_admin.clear_faults()
        if operator.proc is None:
            operator.start()

    kube.wait_gone("PromptFlowWorkspace", namespace, "pf", WAIT)
    deletes = [c for c in az.calls(since) if c["method"] == "DELETE" and "/roleassignments/" in c["path"].lower()]
    assert len(deletes) == 2 and len({d["path"].lower() for d in deletes}) == 2, \
        "each of the two role assignments deleted once: the landed DELETE is recognised, not sent again"
    assert sim_admin.role_assignments(az.storage, az.principal) == []
    assert reasons(kube, namespace, "pf").count("RoleAssignmentRemoved") == 2, "one Event per removal"


def test_kill_while_an_approver_role_put_is_on_its_way_restores_it_once_and_announces_it_once(
        operator, kube, namespace, sim_admin):
    """The workspace's drift check restores an approver role assignment deleted by hand; its PUT is recorded first.
    The process is killed while the PUT is on its way (Azure never gets its body): the restarted operator finds the
    record, sees from the identity's assignments that it did not land, and sends it once; one Event in all."""
    az = Azure(sim_admin, "crash-approver")
    openai = f"/subscriptions/{az.sub}/resourceGroups/{az.rg}/providers/Microsoft.CognitiveServices/accounts/oai"
    sim_admin.seed_target(openai, pe_behaviour="pending")
    kube.apply(workspace_manifest("pf", az, isolation="AllowOnlyApprovedOutbound", provision=True, auto=True), namespace)
    kube.apply(pe_rule("oai", "pf", openai, "account"), namespace)
    kube.wait_for("PromptFlowWorkspace", namespace, "pf",
                  lambda o: condition(o, "ApproverRoleAssigned")["status"] == "True"
                  and any(r["scope"].lower() == openai.lower() for r in o["status"].get("roleAssignments") or ()),
                  WAIT, "to assign the approver role on the rule's target")
    [grant] = approver_grants(sim_admin, openai, az.principal)

    roles = f"{openai}/providers/Microsoft.Authorization/roleAssignments/"
    sim_admin.faults(re.escape(roles), "slow", method="PUT", count=1, delay_s=6)
    try:
        since = az.mark()
        sim_admin.delete_role_assignment(grant["id"])  # removed in the portal: the next drift check restores it
        recorded = kube.wait_for(
            "PromptFlowWorkspace", namespace, "pf",
            lambda o: "/roleassignments/" in ((o["status"].get("pendingWrite") or {}).get("target") or "").lower(),
            WAIT, "to record the approver role PUT")
        assert recorded["status"]["pendingWrite"]["target"].lower().endswith(grant["name"].lower())
        _wait(lambda: _injected(sim_admin, roles) == 1, "the PUT to be on its way")
        operator.restart(kill=True)
    finally:
        sim_admin.clear_faults()

    def announced(o: dict) -> bool:
        return not o["status"].get("pendingWrite") and any(
            e["reason"] == "DriftCorrected" and "oai" in e["message"] for e in kube.events(namespace, "pf"))
    kube.wait_for("PromptFlowWorkspace", namespace, "pf", announced, WAIT, "to restore the role and settle the record")
    assert [a["name"] for a in approver_grants(sim_admin, openai, az.principal)] == [grant["name"]]
    landed = [c for c in az.calls(since) if c["method"] == "PUT" and c["status"] < 400 and roles.lower() in c["path"].lower()]
    assert len(landed) == 1, "restored once"
    drift = [e for e in kube.events(namespace, "pf") if e["reason"] == "DriftCorrected" and "oai" in e["message"]]
    assert len(drift) == 1, "its Event once"


def _injected(sim_admin, route: str) -> int:
    return sum(f["injected"] for f in sim_admin.list_faults() if f["route"] == re.escape(route))


def _wait(predicate, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.2)
