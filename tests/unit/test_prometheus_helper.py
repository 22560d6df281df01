"""The skeleton of the monitoring proof: a real Prometheus scrapes the operator's metrics server, evaluates the
shipped alert rules (with `for` shortened in the test's copy), and the Pending alert fires then resolves.

The metrics server here is the operator's own (`metrics.start_server`) in this process; the end-to-end test
drives the same helper against the running operator and the simulator.
"""

from __future__ import annotations

import uuid

from promptflow_netiso import metrics
from tests.support.controlplane import free_port
from tests.support.prometheus import Prometheus, write_rules_file

PENDING_ALERT = "PromptFlowNetisoPrivateEndpointPendingTooLong"


async def test_pending_private_endpoint_alert_fires_then_resolves_after_approval(tmp_path):
    namespace, name, target = f"team-{uuid.uuid4().hex[:6]}", "aoai-approvals", "aoai-prod"
    port = free_port()
    metrics.start_server(port, addr="127.0.0.1")
    metrics.set_private_endpoint_connections(namespace, name, target, {"Pending": 1}, 45.0)
    rules = write_rules_file(tmp_path / "rules.yaml", for_="0s", interval="1s")

    # The target label `namespace` stands for the operator pod's namespace, which a ServiceMonitor adds:
    # with honor_labels the object's namespace must win.
    async with Prometheus(tmp_path / "prometheus", [f"127.0.0.1:{port}"], [rules],
                          extra_labels={"namespace": "operator-system"}) as prom:
        await prom.wait_for_scrape()
        await prom.wait_for_alert_gone("PromptFlowNetisoOperatorAbsent")  # job="promptflow-netiso" is up

        connection = {"namespace": namespace, "name": name, "target": target}
        firing = await prom.wait_for_alert(PENDING_ALERT, connection)
        assert firing["labels"]["severity"] == "warning"
        assert f"PrivateEndpointApproval {namespace}/{name}" in firing["annotations"]["description"]
        assert firing["annotations"]["runbook_url"].endswith("/docs/runbooks/private-endpoint-pending-too-long.md")
        (age,) = await prom.query(
            f'promptflow_netiso_private_endpoint_oldest_pending_seconds{{namespace="{namespace}",target="{target}"}}'
        )
        assert float(age["value"][1]) >= 45

        metrics.set_private_endpoint_connections(namespace, name, target, {"Approved": 1}, 0.0)
        metrics.inc_private_endpoint_approvals(namespace, name, target)

        await prom.wait_for_alert_gone(PENDING_ALERT, connection)
        (approvals,) = await prom.query(f'promptflow_netiso_private_endpoint_approvals_total{{namespace="{namespace}"}}')
        assert approvals["value"][1] == "1"
