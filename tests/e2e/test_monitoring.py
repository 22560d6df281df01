"""What on-call people see: a real Prometheus scrapes the running operator while the simulator holds a private
endpoint connection Pending; the Pending alert (a test copy of the rules with `for: 0s`) fires through Prometheus's
API, then resolves once the policy is switched from Observe to Approve and the connection is approved."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid

import pytest
import yaml

from tests.support.prometheus import Prometheus, write_rules_file
from tests.support.tools import tool_path

pytestmark = pytest.mark.e2e

ALERT = "PromptFlowNetisoPrivateEndpointPendingTooLong"


def _approval(name: str, target: str, sub: str, mode: str) -> str:
    return yaml.safe_dump({
        "apiVersion": "netiso.promptflow.dev/v1alpha1", "kind": "PrivateEndpointApproval", "metadata": {"name": name},
        "spec": {"targets": [{"resourceId": target}], "allow": {"subscriptionIds": [sub]}, "mode": mode,
                 "minPendingSeconds": 0},
    })


async def test_pending_alert_fires_then_resolves_after_approval(operator, kube, namespace, sim_admin, sim_names, tmp_path):
    sub, rg = sim_names
    account = f"aoai-{uuid.uuid4().hex[:6]}"
    target = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.CognitiveServices/accounts/{account}"
    sim_admin.seed_target(target, pe_behaviour="pending")
    pe = f"/subscriptions/{sub}/resourceGroups/rg-net/providers/Microsoft.Network/privateEndpoints/pe-{account}"
    conn = sim_admin.seed_connection(target, pe, status="Pending")["name"]

    kube.apply(_approval("watch-aoai", target, sub, "Observe"), namespace)
    kube.wait_for("privateendpointapproval", namespace, "watch-aoai",
                  lambda o: any(c["name"] == conn and c["decision"] == "WouldApprove" for c in o["status"]["connections"]),
                  what="to report the connection it would approve")

    # The metrics the operator exposes pass Prometheus's own linter on a live scrape.
    lint = subprocess.run([tool_path("promtool"), "check", "metrics"], input=operator.scrape(), capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    rules = write_rules_file(tmp_path / "rules.yaml", for_="0s", interval="1s")
    async with Prometheus(tmp_path / "prom", [f"127.0.0.1:{operator.metrics_port}"], [rules]) as prom:
        await prom.wait_for_scrape()
        labels = {"namespace": namespace, "name": "watch-aoai", "target": account}
        await prom.wait_for_alert(ALERT, labels, timeout=60)
        firing = await prom.alerts(ALERT, labels)
        assert firing and firing[0]["annotations"]["runbook_url"].endswith("private-endpoint-pending-too-long.md")

        kube.apply(_approval("watch-aoai", target, sub, "Approve"), namespace)
        await asyncio.to_thread(
            kube.wait_for, "privateendpointapproval", namespace, "watch-aoai",
            lambda o: any(c["name"] == conn and c["state"] == "Approved" for c in o["status"]["connections"]),
            60, "to approve the connection")
        await prom.wait_for_alert_gone(ALERT, labels, timeout=60)

    state = next(c for c in sim_admin.connections(target) if c["name"] == conn)
    assert json.dumps(state).count("Approved") >= 1
