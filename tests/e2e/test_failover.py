"""Two replicas, one active (kopf peering): the standby does nothing while the leader lives, and takes over after
the leader is killed. Both processes run against the real control plane and the simulator, in a namespace the
session's operator does not watch; their logs and the simulator's request log tell who handled what.

Prints the measured failover time (kill -9 of the leader -> the standby has reconciled a new object); no timing is
asserted (the machine is shared).
"""

from __future__ import annotations

import re
import time
import uuid

import pytest

from tests.conftest import OPERATOR_TEST_ENV
from tests.e2e.test_outbound_rule import RULE, WAIT, WS, Azure, fqdn, puts_by_rule, workspace_manifest
from tests.support.kube import is_ready
from tests.support.operator_process import OperatorProcess

pytestmark = pytest.mark.e2e

LIFETIME = 12  # PROMPTFLOW_NETISO_PEERING_LIFETIME for this test: the failover bound
HANDLED = re.compile(r"Handler '(reconcile_outbound_rule|workspace_reconcile)[^']*' succeeded")


def handled(proc: OperatorProcess) -> int:
    return len(HANDLED.findall(proc.logs()))


def test_the_standby_does_nothing_until_the_leader_is_killed_then_takes_over(
        control_plane, azure_sim, sim_admin, kube, unwatched_namespace, tmp_path):
    ns = unwatched_namespace
    env = {**control_plane.env(), **azure_sim.env(), **OPERATOR_TEST_ENV, "PROMPTFLOW_NETISO_PEERING_LIFETIME": str(LIFETIME)}
    peering = "failover-" + uuid.uuid4().hex[:6]
    leader = OperatorProcess(env, tmp_path / "leader", ("--priority=200",), namespaces=(ns,), peering=peering)
    standby = OperatorProcess(env, tmp_path / "standby", ("--priority=100",), namespaces=(ns,), peering=peering)
    (tmp_path / "leader").mkdir()
    (tmp_path / "standby").mkdir()
    leader.start()
    standby.start()
    try:
        az = Azure(sim_admin, "failover")
        kube.apply(workspace_manifest("pf", az), ns)
        kube.wait_for(WS, ns, "pf", is_ready, WAIT, "to be Ready (by the leader)")
        kube.apply(__import__("json").dumps(fqdn("before", "before.example.com")), ns)
        kube.wait_for(RULE, ns, "before", is_ready, WAIT, "to be Ready (by the leader)")
        assert handled(leader) >= 2
        assert handled(standby) == 0, "the standby handles nothing while the leader lives"
        assert "Pausing the watch-stream" in standby.logs() and "Resuming operations" not in standby.logs()

        leader.stop(kill=True)  # kill -9: no goodbye in the peering object, its record has to expire
        killed = time.monotonic()
        kube.apply(__import__("json").dumps(fqdn("after", "after.example.com")), ns)
        kube.wait_for(RULE, ns, "after", is_ready, WAIT, "to be Ready (by the standby, once it leads)")
        failover = time.monotonic() - killed
        print(f"\nfailover: kill -9 of the leader -> standby reconciled a new rule in {failover:.1f} s "
              f"(peering lifetime {LIFETIME} s)")
        assert handled(standby) >= 1
        assert puts_by_rule(az.rule_writes()) == {"before": 1, "after": 1}, "no rule written by both processes"
    finally:
        leader.stop()
        standby.stop()
