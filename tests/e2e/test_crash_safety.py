"""Crash safety end to end: every Azure write is recorded in status before it is sent (status.pendingWrite), so a
kill -9 between "Azure accepted the write" and "status says so" neither disowns the result nor sends it again.

The kill lands where a real pod's eviction would: after Azure accepted the PUT (its operation URL is in the record)
and before the operator wrote the outcome. The simulator's request log is the source of truth for what was sent.
"""

from __future__ import annotations

import pytest

from tests.e2e.test_outbound_rule import RULE, WAIT, Azure, apply, fqdn, puts_by_rule, ready_workspace, reasons
from tests.support.kube import condition, is_ready

pytestmark = pytest.mark.e2e


def test_kill_between_an_accepted_rule_put_and_its_status_the_restarted_operator_owns_the_rule(
        operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "crashput")
    ready_workspace(kube, namespace, az)
    az.mark()
    sim_admin.config(lro_duration_s=15)  # Azure's rule operations take minutes; 15 s is a wide enough window here
    try:
        apply(kube, namespace, fqdn("crash", "crash.example.com"))
        # Azure accepted the PUT: its operation URL is in the record; the outcome is not in status yet.
        accepted = kube.wait_for(RULE, namespace, "crash",
                                 lambda o: bool(((o.get("status") or {}).get("pendingWrite") or {}).get("pollUrl")),
                                 WAIT, "to record the accepted PUT")
        record = accepted["status"]["pendingWrite"]
        # One rule alone in its workspace's queue goes as a PUT (a batch only when several are queued together).
        assert record["operation"] == "PUT" and record["target"].lower().endswith("/outboundrules/crash")
        assert not accepted["status"].get("created"), "the outcome must not be in status yet (the kill window)"
        operator.restart(kill=True)  # SIGKILL mid-operation, like an evicted pod
    finally:
        sim_admin.config(lro_duration_s=0.5)

    obj = kube.wait_for(RULE, namespace, "crash", is_ready, WAIT, "to be Ready after the restart")
    assert obj["status"]["created"] is True, "the restarted operator recognises the rule as its own"
    assert condition(obj, "Applied")["reason"] == "Applied"
    assert not obj["status"].get("pendingWrite"), "the record is settled"
    assert puts_by_rule(az.rule_writes()) == {"crash": 1}, "one PUT in total: nothing sent again blind"
    assert reasons(kube, namespace, "crash").count("RuleNotOwned") == 0
    assert reasons(kube, namespace, "crash").count("Created") == 1, "the Created Event once, by whichever process saw it land"

    kube.delete(RULE, namespace, "crash")
    kube.wait_gone(RULE, namespace, "crash", WAIT)
    assert "crash" not in az.rules(), "deleting the object removes the rule it owns"
    deletes = [w for w in az.rule_writes() if w["method"] == "DELETE" and w["status"] < 400]
    assert len(deletes) == 1


def test_a_service_tag_rule_converges_although_azure_fills_in_its_address_prefixes(operator, kube, namespace, sim_admin):
    """addressPrefixes is read-only (2025-12-01): Azure fills it in. Compared, it would mean a PUT on every check."""
    az = Azure(sim_admin, "svctag")
    ready_workspace(kube, namespace, az)
    az.mark()
    rule = {"apiVersion": "netiso.promptflow.dev/v1alpha1", "kind": RULE, "metadata": {"name": "monitor"},
            "spec": {"workspaceRef": {"name": "pf"}, "type": "ServiceTag",
                     "serviceTag": {"serviceTag": "AzureMonitor", "protocol": "TCP", "portRanges": "443"}}}
    apply(kube, namespace, rule)
    kube.wait_for(RULE, namespace, "monitor", is_ready, WAIT, "to be Ready")
    assert az.rules()["monitor"]["destination"]["addressPrefixes"], "the simulator fills the read-only field"
    # Several drift checks (2 s in tests) later: still the one PUT.
    kube.wait_for(RULE, namespace, "monitor",
                  lambda o: bool(o["status"].get("observedGeneration")) and _drift_checks_passed(az, 3), WAIT,
                  "to be checked for drift a few times")
    assert puts_by_rule(az.rule_writes()) == {"monitor": 1}


def _drift_checks_passed(az: Azure, lists: int) -> bool:
    """At least `lists` LISTs of the workspace's rules since the mark: drift checks ran."""
    return sum(1 for r in az.calls() if r["method"] == "GET" and r["path"].lower().endswith("/outboundrules")) >= lists


@pytest.mark.parametrize("rules_at_end", [False, True], ids=["rules-shown-at-once", "rules-shown-at-the-end"])
def test_kill_while_a_batch_operation_runs_sends_no_batch_again_and_every_rule_becomes_ready(
        operator, kube, namespace, sim_admin, rules_at_end):
    """Ten rules applied together go out in batchOutboundRules POSTs; the operator is killed while one runs. The
    restarted operator recognises each rule of that batch as its own (same target and hash as recorded), posts its
    Created Event once, and sends no rule a second time. Whether Azure shows a batch's rules at once or only when it
    ends is not in the contract: when they are not there yet, the restarted operator asks the recorded operation URL
    and waits for it instead of writing again."""
    az = Azure(sim_admin, "crashbatch" + ("end" if rules_at_end else ""))
    ready_workspace(kube, namespace, az)
    az.mark()
    names = [f"b-{i:02d}" for i in range(10)]
    duration = 40 if rules_at_end else 15  # a wide window for the kill, and for the restart inside it (Azure: minutes)
    sim_admin.config(rule_duration_s=duration, batch_rules_at_end=rules_at_end)
    try:
        # A write to an idle workspace goes at once, alone; what arrives while it runs goes in one batch after it.
        apply(kube, namespace, fqdn(names[0], f"{names[0]}.example.com"))
        kube.wait_for(RULE, namespace, names[0], lambda o: bool(o["status"]["pendingWrite"].get("pollUrl")), WAIT,
                      "to be sent alone and accepted")
        apply(kube, namespace, *[fqdn(n, f"{n}.example.com") for n in names[1:]])
        accepted = kube.wait_for(RULE, namespace, names[1],
                                 lambda o: (((o.get("status") or {}).get("pendingWrite") or {}).get("operation") == "POST"
                                            and bool(o["status"]["pendingWrite"].get("pollUrl"))),
                                 WAIT, "to record the accepted batch")
        record = accepted["status"]["pendingWrite"]
        assert record["target"].lower().endswith(f"/outboundrules/{names[1]}"), "the record names the rule it writes"
        assert len(az.batch_posts()) >= 1 and not accepted["status"].get("created")
        operator.restart(kill=True)  # SIGKILL while the batch operation runs
        if rules_at_end:  # Azure shows none of the batch's rules yet: the restarted operator asks the recorded URL
            waiting = kube.wait_for(
                RULE, namespace, names[1],
                lambda o: "still running" in (condition(o, "Applied") or {}).get("message", ""), duration - 5,
                "to wait for its running batch instead of writing again")
            assert waiting["status"]["pendingWrite"]["operation"] == "POST", "the record is kept while it runs"
    finally:
        sim_admin.config(rule_duration_s=None, batch_rules_at_end=False)

    for name in names:
        obj = kube.wait_for(RULE, namespace, name, is_ready, WAIT, "to be Ready after the restart")
        assert obj["status"]["created"] is True, f"{name}: the restarted operator recognises the rule as its own"
        assert not obj["status"].get("pendingWrite"), f"{name}: the record is settled"
        assert reasons(kube, namespace, name).count("RuleNotOwned") == 0
        assert reasons(kube, namespace, name).count("Created") == 1, f"{name}: the Created Event once"
    writes = az.rule_writes()
    # Accepted once each. (A rule whose record missed the batch's URL - a kill within the moment between Azure's 202 and
    # the records - may be sent again while the batch runs; Azure refuses that with 409, one operation at a time.)
    assert puts_by_rule(writes) == {n: 1 for n in names}, "each rule accepted once: no batch POSTed again blind"
