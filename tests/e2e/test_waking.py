"""Waiting rules are woken by what they wait for, not by polling.

A rule whose workspace is not Ready yet waits. Its re-check back-off (PROMPTFLOW_NETISO_DEPENDENCY_WAIT) is set to
ten minutes here, so only the wake-up can explain a rule that goes on as soon as its workspace turns Ready: the
workspace index wakes the rules that wait for it. While it waits, the rule sends nothing to Azure.
"""

from __future__ import annotations

import contextlib
import json

import pytest

from tests.conftest import OPERATOR_TEST_ENV
from tests.e2e.test_outbound_rule import RULE, WAIT, Azure, condition, fqdn, puts_by_rule, ready_reason, workspace_manifest, WS
from tests.support.kube import is_ready
from tests.support.operator_process import OperatorProcess

pytestmark = pytest.mark.e2e

LONG_WAIT = 600  # seconds: the back-off the rules would sleep without a wake-up


@contextlib.contextmanager
def _operator_with_long_waits(control_plane, azure_sim, ns: str, tmp_path):
    """One operator whose rules would sleep LONG_WAIT between looks: only a wake-up moves them sooner."""
    env = {**control_plane.env(), **azure_sim.env(), **OPERATOR_TEST_ENV,
           "PROMPTFLOW_NETISO_DEPENDENCY_WAIT": str(LONG_WAIT), "PROMPTFLOW_NETISO_DRIFT_INTERVAL": str(LONG_WAIT)}
    (tmp_path / "op").mkdir()
    op = OperatorProcess(env, tmp_path / "op", namespaces=(ns,))
    op.start()
    try:
        yield op
    finally:
        op.stop()


def test_rules_waiting_for_their_workspace_go_on_when_it_turns_ready_without_polling(
        control_plane, azure_sim, sim_admin, kube, unwatched_namespace, tmp_path):
    ns = unwatched_namespace
    with _operator_with_long_waits(control_plane, azure_sim, ns, tmp_path):
        az = Azure(sim_admin, "woken")
        for n in range(3):
            kube.apply(json.dumps(fqdn(f"early-{n}", f"early{n}.example.com", workspace="later")), ns)
        for n in range(3):
            obj = kube.wait_for(RULE, ns, f"early-{n}", lambda o: ready_reason(o) == "WorkspaceNotFound", WAIT, "to wait")
            assert condition(obj, "Applied")["status"] == "Unknown"  # waiting, not failing
        assert az.calls() == [], "nothing is sent to Azure while the workspace is missing"

        kube.apply(workspace_manifest("later", az), ns)
        kube.wait_for(WS, ns, "later", is_ready, WAIT, "to be Ready")
        # WAIT (120 s) is far below LONG_WAIT (600 s): only the wake-up gets the rules there in time.
        for n in range(3):
            kube.wait_for(RULE, ns, f"early-{n}", is_ready, WAIT, "to go on once its workspace is Ready")
        assert az.rules()["early-0"]["destination"] == "early0.example.com"
        assert puts_by_rule(az.rule_writes()) == {"early-0": 1, "early-1": 1, "early-2": 1}


def test_rules_waiting_on_a_workspace_that_is_deleted_say_so_without_polling(
        control_plane, azure_sim, sim_admin, kube, unwatched_namespace, tmp_path):
    ns = unwatched_namespace
    with _operator_with_long_waits(control_plane, azure_sim, ns, tmp_path):
        az = Azure(sim_admin, "gone")
        # The workspace object points at an Azure workspace that does not exist: it never turns Ready.
        manifest = json.loads(workspace_manifest("doomed", az))
        manifest["spec"]["azure"]["workspaceName"] = "no-such-workspace"
        kube.apply(json.dumps(manifest), ns)
        kube.apply(json.dumps(fqdn("orphan", "orphan.example.com", workspace="doomed")), ns)
        kube.wait_for(RULE, ns, "orphan", lambda o: ready_reason(o) not in (None, "WorkspaceNotFound"), WAIT,
                      "to wait for its workspace")

        kube.delete(WS, ns, "doomed")
        kube.wait_gone(WS, ns, "doomed", WAIT)
        # WAIT (120 s) is far below LONG_WAIT (600 s): only the deletion's wake-up gets the rule there in time.
        obj = kube.wait_for(RULE, ns, "orphan", lambda o: ready_reason(o) == "WorkspaceNotFound", WAIT,
                            "to say its workspace is gone")
        assert condition(obj, "Ready")["status"] == "False"
        assert az.rule_writes() == [], "nothing is sent to Azure for a rule whose workspace never was Ready"
