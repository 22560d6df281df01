"""What an SRE scraping the operator sees: metric names, values, bounded labels, and a clean `promtool check metrics`.

Metrics live in the process-wide default registry, so every test uses object names of its own.
"""

from __future__ import annotations

import re
import subprocess
import urllib.request
import uuid

import pytest
from prometheus_client import REGISTRY, generate_latest

from promptflow_netiso import __version__, metrics
from tests.support.controlplane import REPO, free_port
from tests.support.tools import tool_path

SRE_DOC = REPO / "docs" / "sre.md"
WS, OR, PEA = "PromptFlowWorkspace", "OutboundRule", "PrivateEndpointApproval"

# The documented surface (docs/sre.md): name -> type. Renaming one breaks alerts and dashboards.
EXPECTED_METRICS = {
    "promptflow_netiso_build_info": "gauge",
    "promptflow_netiso_object_ready": "gauge",
    "promptflow_netiso_object_ready_reason_info": "gauge",
    "promptflow_netiso_last_drift_check_timestamp_seconds": "gauge",
    "promptflow_netiso_reconcile_duration_seconds": "histogram",
    "promptflow_netiso_reconcile_errors_total": "counter",
    "promptflow_netiso_azure_requests_total": "counter",
    "promptflow_netiso_azure_request_duration_seconds": "histogram",
    "promptflow_netiso_azure_throttled_requests_total": "counter",
    "promptflow_netiso_azure_retry_after_wait_seconds_total": "counter",
    "promptflow_netiso_azure_auth_failures_total": "counter",
    "promptflow_netiso_managed_network_status": "gauge",
    "promptflow_netiso_outbound_rule_status": "gauge",
    "promptflow_netiso_private_endpoint_connections": "gauge",
    "promptflow_netiso_private_endpoint_oldest_pending_seconds": "gauge",
    "promptflow_netiso_private_endpoint_approvals_total": "counter",
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def series(metric: str, **match: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every exposed sample of `metric` whose labels include `match`, keyed by its sorted labels."""
    found = {}
    for family in REGISTRY.collect():
        for sample in family.samples:
            if sample.name == metric and all(sample.labels.get(k) == v for k, v in match.items()):
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def samples_naming(**match: str) -> list[str]:
    """Names of every exposed sample, of any metric, whose labels include `match`."""
    return [
        sample.name
        for family in REGISTRY.collect()
        for sample in family.samples
        if all(sample.labels.get(k) == v for k, v in match.items())
    ]


def value(metric: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(metric, labels)


def promtool_check_metrics(text: bytes) -> subprocess.CompletedProcess:
    return subprocess.run([tool_path("promtool"), "check", "metrics"], input=text, capture_output=True, timeout=60)


def exercise_every_function(ns: str) -> None:
    metrics.observe_azure_request("get_workspace", "200", 0.12)
    metrics.observe_azure_request("put_outbound_rule", "error", 1.5)
    metrics.observe_azure_throttled("put_outbound_rule", 7)
    metrics.observe_azure_auth_failure("AuthorizationFailed")
    metrics.observe_reconcile(WS, 0.3)
    metrics.observe_reconcile(OR, 2.0, error_reason="AuthorizationFailed")
    metrics.set_object_ready(WS, ns, "ws", False, "ProvisioningInProgress")
    metrics.set_managed_network_status(ns, "ws", "Inactive")
    metrics.set_last_drift_check(WS, ns, "ws", 1_700_000_000.0)
    metrics.set_outbound_rule_status(ns, "aoai", "Provisioning")
    metrics.set_private_endpoint_connections(ns, "approvals", "aoai-prod", {"Pending": 2, "Approved": 1}, 300.0)
    metrics.inc_private_endpoint_approvals(ns, "approvals", "aoai-prod")
    metrics.retain_private_endpoint_targets(ns, "approvals", ["aoai-prod"])


def test_exposition_passes_promtool_check_metrics():
    exercise_every_function(unique("ns"))
    text = generate_latest(REGISTRY)

    result = promtool_check_metrics(text)

    assert result.returncode == 0, f"promtool check metrics found problems:\n{result.stdout.decode()}{result.stderr.decode()}"
    exposed = {
        line.split()[2]: line.split()[3]
        for line in text.decode().splitlines()
        if line.startswith("# TYPE promptflow_netiso_")
    }
    assert exposed == EXPECTED_METRICS
    # Process and platform collectors come with the default registry.
    assert b"process_cpu_seconds_total" in text and b"python_info" in text
    assert b"_created" not in text, "created-timestamp series double the series count and nobody reads them"


def test_sre_docs_describe_every_metric():
    documented = set(re.findall(r"^\| `(promptflow_netiso_[a-z0-9_]+)` \| (\w+) \|", SRE_DOC.read_text(), re.MULTILINE))
    assert documented == set(EXPECTED_METRICS.items())


def test_live_scrape_of_the_metrics_server_passes_promtool():
    port = free_port()
    metrics.start_server(port, addr="127.0.0.1")
    exercise_every_function(unique("ns"))

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        scraped = resp.read()

    assert b"promptflow_netiso_object_ready{" in scraped
    result = promtool_check_metrics(scraped)
    assert result.returncode == 0, f"promtool check metrics on a live scrape:\n{result.stdout.decode()}{result.stderr.decode()}"


def test_build_info_names_the_version():
    assert value("promptflow_netiso_build_info", version=__version__, python_version=__import__("platform").python_version()) == 1


def test_readiness_keeps_one_reason_series_per_object():
    ns = unique("ns")
    metrics.set_object_ready(WS, ns, "ws", False, "ProvisioningInProgress")
    metrics.set_object_ready(WS, ns, "ws", False, "AuthorizationFailed")
    metrics.set_object_ready(WS, ns, "ws", True, "Ready")

    assert value("promptflow_netiso_object_ready", kind=WS, namespace=ns, name="ws") == 1
    assert list(series("promptflow_netiso_object_ready_reason_info", namespace=ns).values()) == [1]
    assert value("promptflow_netiso_object_ready_reason_info", kind=WS, namespace=ns, name="ws", reason="Ready") == 1

    metrics.set_object_ready(WS, ns, "ws", False, "WorkspaceNotFound")
    assert value("promptflow_netiso_object_ready", kind=WS, namespace=ns, name="ws") == 0


@pytest.mark.parametrize("kind", [WS, OR, PEA])
def test_forget_object_drops_every_series_of_that_object_only(kind):
    ns = unique("ns")
    for name in ("gone", "stays"):
        metrics.set_object_ready(kind, ns, name, True, "Ready")
        metrics.set_last_drift_check(kind, ns, name, 1_700_000_000.0)
        if kind == WS:
            metrics.set_managed_network_status(ns, name, "Active")
        if kind == OR:
            metrics.set_outbound_rule_status(ns, name, "Active")
        if kind == PEA:
            metrics.set_private_endpoint_connections(ns, name, "aoai", {"Pending": 1}, 10)
            metrics.inc_private_endpoint_approvals(ns, name, "search")

    metrics.forget_object(kind, ns, "gone")

    assert samples_naming(namespace=ns, name="gone") == []
    assert len(samples_naming(namespace=ns, name="stays")) >= 3
    assert value("promptflow_netiso_object_ready", kind=kind, namespace=ns, name="stays") == 1


def test_forgetting_an_unknown_object_is_harmless():
    metrics.forget_object(PEA, unique("ns"), "never-seen")


def test_managed_network_status_is_one_series_for_the_current_state():
    ns = unique("ns")
    metrics.set_managed_network_status(ns, "ws", None)
    assert series("promptflow_netiso_managed_network_status", namespace=ns, name="ws") == {
        (("name", "ws"), ("namespace", ns), ("status", "Unknown")): 1,
    }
    metrics.set_managed_network_status(ns, "ws", "Active")
    assert series("promptflow_netiso_managed_network_status", namespace=ns, name="ws") == {
        (("name", "ws"), ("namespace", ns), ("status", "Active")): 1,
    }


def test_outbound_rule_status_is_one_series_with_unexpected_values_as_unknown():
    ns = unique("ns")
    metrics.set_outbound_rule_status(ns, "aoai", "Failed")
    assert value("promptflow_netiso_outbound_rule_status", namespace=ns, name="aoai", status="Failed") == 1
    assert len(series("promptflow_netiso_outbound_rule_status", namespace=ns)) == 1

    metrics.set_outbound_rule_status(ns, "aoai", "SomethingNew")
    assert value("promptflow_netiso_outbound_rule_status", namespace=ns, name="aoai", status="Unknown") == 1
    assert series("promptflow_netiso_outbound_rule_status", namespace=ns) == {
        (("name", "aoai"), ("namespace", ns), ("status", "Unknown")): 1,
    }


def test_private_endpoint_connections_by_state_with_zeros_and_no_stale_states():
    ns = unique("ns")
    metrics.set_private_endpoint_connections(ns, "pea", "aoai", {"Pending": 2, "Timeout": 1}, 60)
    assert value("promptflow_netiso_private_endpoint_connections", namespace=ns, name="pea", target="aoai", state="Pending") == 2
    assert value("promptflow_netiso_private_endpoint_connections", namespace=ns, name="pea", target="aoai", state="Rejected") == 0
    assert value("promptflow_netiso_private_endpoint_connections", namespace=ns, name="pea", target="aoai", state="Timeout") == 1

    metrics.set_private_endpoint_connections(ns, "pea", "aoai", {"Approved": 3}, 0)
    states = {dict(k)["state"]: v for k, v in series("promptflow_netiso_private_endpoint_connections", namespace=ns).items()}
    assert states == {"Pending": 0, "Approved": 3, "Rejected": 0, "Disconnected": 0}


def test_oldest_pending_age_keeps_growing_between_updates(monkeypatch):
    ns = unique("ns")
    clock = [1_000_000.0]
    monkeypatch.setattr(metrics.time, "time", lambda: clock[0])
    metrics.set_private_endpoint_connections(ns, "pea", "aoai", {"Pending": 1}, 300)
    assert value("promptflow_netiso_private_endpoint_oldest_pending_seconds", namespace=ns, name="pea", target="aoai") == 300

    clock[0] += 600  # no reconcile for ten minutes: the scrape still sees the true age
    assert value("promptflow_netiso_private_endpoint_oldest_pending_seconds", namespace=ns, name="pea", target="aoai") == 900

    metrics.set_private_endpoint_connections(ns, "pea", "aoai", {"Approved": 1}, 0)
    assert value("promptflow_netiso_private_endpoint_oldest_pending_seconds", namespace=ns, name="pea", target="aoai") == 0


def test_targets_dropped_from_the_spec_lose_their_series():
    ns = unique("ns")
    metrics.set_private_endpoint_connections(ns, "pea", "aoai", {"Pending": 1}, 30)
    metrics.set_private_endpoint_connections(ns, "pea", "search", {"Pending": 1}, 30)
    metrics.inc_private_endpoint_approvals(ns, "pea", "search")

    metrics.retain_private_endpoint_targets(ns, "pea", ["aoai"])

    assert samples_naming(namespace=ns, target="search") == []
    assert value("promptflow_netiso_private_endpoint_connections", namespace=ns, name="pea", target="aoai", state="Pending") == 1


def test_approvals_are_counted_per_target():
    ns = unique("ns")
    metrics.inc_private_endpoint_approvals(ns, "pea", "aoai")
    metrics.inc_private_endpoint_approvals(ns, "pea", "aoai")
    assert value("promptflow_netiso_private_endpoint_approvals_total", namespace=ns, name="pea", target="aoai") == 2


def test_labels_never_carry_ids_urls_or_free_text():
    ns = unique("ns")
    arm_id = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/aoai-prod"
    metrics.set_private_endpoint_connections(ns, "pea", arm_id, {"Pending": 1}, 5)
    metrics.inc_private_endpoint_approvals(ns, "pea", arm_id + "/")
    metrics.set_object_ready(OR, ns, "r", False, "Failed: see https://example.com/x?id=1 for details")
    code = "A" * 500

    metrics.observe_azure_auth_failure(code)

    assert value("promptflow_netiso_private_endpoint_connections", namespace=ns, name="pea", target="aoai-prod", state="Pending") == 1
    assert value("promptflow_netiso_private_endpoint_approvals_total", namespace=ns, name="pea", target="aoai-prod") == 1
    (reason_labels,) = series("promptflow_netiso_object_ready_reason_info", namespace=ns)
    reason = dict(reason_labels)["reason"]
    assert " " not in reason and "/" not in reason and "?" not in reason
    assert value("promptflow_netiso_azure_auth_failures_total", code="A" * 64) >= 1


def test_azure_requests_throttling_and_reconciles_are_counted():
    op = unique("op")
    metrics.observe_azure_request(op, "200", 0.2)
    metrics.observe_azure_request(op, "429", 0.1)
    metrics.observe_azure_throttled(op, 15)
    metrics.observe_azure_throttled(op, 5)
    kind = unique("Kind")
    metrics.observe_reconcile(kind, 1.0)
    metrics.observe_reconcile(kind, 3.0, error_reason="Throttled")

    assert value("promptflow_netiso_azure_requests_total", operation=op, code="200") == 1
    assert value("promptflow_netiso_azure_requests_total", operation=op, code="429") == 1
    assert value("promptflow_netiso_azure_request_duration_seconds_count", operation=op) == 2
    assert value("promptflow_netiso_azure_throttled_requests_total", operation=op) == 2
    assert value("promptflow_netiso_azure_retry_after_wait_seconds_total", operation=op) == 20
    assert value("promptflow_netiso_reconcile_duration_seconds_count", kind=kind) == 2
    assert value("promptflow_netiso_reconcile_duration_seconds_sum", kind=kind) == 4
    assert value("promptflow_netiso_reconcile_errors_total", kind=kind, reason="Throttled") == 1
