"""deploy/monitoring as an SRE receives it: rules promtool accepts, every alert proven firing and not firing,
a runbook behind every alert, a ServiceMonitor that yields the job label the rules expect, and a dashboard
whose queries parse and name metrics the operator really exposes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

import promptflow_netiso.metrics  # noqa: F401 - registers the operator's metrics
from tests.support.controlplane import REPO
from tests.support.prometheus import OPERATOR_JOB, RULES_SOURCE, load_rule_groups, write_rules_file
from tests.support.tools import tool_path

MONITORING = REPO / "deploy" / "monitoring"
PROMTOOL_TESTS = REPO / "tests" / "promtool" / "alerts_test.yaml"
DASHBOARD = MONITORING / "dashboards" / "promptflow-netiso.json"
RUNBOOKS = REPO / "docs" / "runbooks"
RUNBOOK_BASE = "https://github.com/promptflow-netiso/promptflow-netiso/blob/main/docs/runbooks/"
RUNBOOK_SECTIONS = ("## Meaning", "## Impact", "## Confirm", "## Fix", "## Silence")
METRIC_NAME = re.compile(r"\b(promptflow_netiso_[a-z0-9_]+)")


def alerting_rules() -> list[dict]:
    return [rule for group in load_rule_groups()["groups"] for rule in group["rules"] if "alert" in rule]


def run(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)


def exposed_series_names() -> set[str]:
    names = set()
    for family in REGISTRY.collect():
        if not family.name.startswith("promptflow_netiso_"):
            continue
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names |= {family.name + suffix for suffix in ("_bucket", "_count", "_sum")}
        else:
            names.add(family.name)
    return names


def rendered_kustomization(directory: Path = MONITORING) -> list[dict]:
    result = run(tool_path("kubectl"), "kustomize", str(directory))
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


# --- promtool ----------------------------------------------------------------------------------------
@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """The PrometheusRule's spec as the plain rules file the promtool tests name, beside a copy of them."""
    write_rules_file(tmp_path / "promptflow-netiso.rules.yaml")
    shutil.copy(PROMTOOL_TESTS, tmp_path / PROMTOOL_TESTS.name)
    return tmp_path


def test_promtool_check_rules_accepts_the_prometheusrule(rules_dir):
    result = run(tool_path("promtool"), "check", "rules", "promptflow-netiso.rules.yaml", cwd=rules_dir)

    assert result.returncode == 0, f"promtool check rules:\n{result.stdout}{result.stderr}"
    assert f"SUCCESS: {len(alerting_rules())} rules found" in result.stdout


def test_promtool_unit_tests_pass(rules_dir):
    result = run(tool_path("promtool"), "test", "rules", PROMTOOL_TESTS.name, cwd=rules_dir)

    assert result.returncode == 0, f"promtool test rules:\n{result.stdout}{result.stderr}"
    assert "SUCCESS" in result.stdout


def test_every_alert_is_tested_firing_and_not_firing():
    cases = [case for test in yaml.safe_load(PROMTOOL_TESTS.read_text())["tests"] for case in test["alert_rule_test"]]
    for rule in alerting_rules():
        name = rule["alert"]
        own = [case for case in cases if case["alertname"] == name]
        assert any(case.get("exp_alerts") for case in own), f"{name}: no promtool test sees it firing"
        assert any(not case.get("exp_alerts") for case in own), f"{name}: no promtool test sees it quiet"
        assert all(
            alert.get("exp_annotations") for case in own for alert in case.get("exp_alerts") or []
        ), f"{name}: a firing case does not check the rendered annotations"


# --- what each alert carries -------------------------------------------------------------------------
@pytest.mark.parametrize("rule", alerting_rules(), ids=lambda r: r["alert"])
def test_alert_has_severity_text_and_a_runbook_that_exists(rule):
    assert rule["alert"].startswith("PromptFlowNetiso")
    assert rule["labels"]["severity"] in {"critical", "warning"}
    annotations = rule["annotations"]
    assert annotations["summary"].strip() and annotations["description"].strip()

    url = annotations["runbook_url"]
    assert url.startswith(RUNBOOK_BASE), f"{rule['alert']}: runbook_url must start with the one base, {RUNBOOK_BASE}"
    runbook = RUNBOOKS / url.removeprefix(RUNBOOK_BASE)
    assert runbook.is_file(), f"{rule['alert']}: {runbook} does not exist"
    text = runbook.read_text()
    assert rule["alert"] in text, f"{runbook.name} does not name the alert it explains"
    missing = [section for section in RUNBOOK_SECTIONS if section not in text]
    assert not missing, f"{runbook.name} lacks sections {missing}"


def test_object_alerts_name_the_object_in_their_description():
    for rule in alerting_rules():
        expr = rule["expr"]
        if re.search(r"by \([^)]*\bnamespace\b[^)]*\bname\b", expr):
            description = rule["annotations"]["description"]
            assert "{{ $labels.namespace }}/{{ $labels.name }}" in description, rule["alert"]


def test_rules_query_only_metrics_the_operator_exposes():
    exposed = exposed_series_names()
    used = set(METRIC_NAME.findall(RULES_SOURCE.read_text()))
    assert used, "no operator metric found in the rules"
    assert used <= exposed, f"rules refer to metrics the operator does not expose: {sorted(used - exposed)}"


def test_sre_docs_list_every_alert_with_its_runbook():
    text = (REPO / "docs" / "sre.md").read_text()
    for rule in alerting_rules():
        runbook = rule["annotations"]["runbook_url"].removeprefix(RUNBOOK_BASE)
        assert f"`{rule['alert']}` | {rule['labels']['severity']} |" in text, f"docs/sre.md does not list {rule['alert']}"
        assert f"(runbooks/{runbook})" in text


def test_every_runbook_belongs_to_an_alert():
    linked = {rule["annotations"]["runbook_url"].removeprefix(RUNBOOK_BASE) for rule in alerting_rules()}
    on_disk = {p.name for p in RUNBOOKS.glob("*.md") if p.name != "README.md"}
    assert on_disk == linked


# --- scraping: Service + ServiceMonitor ---------------------------------------------------------------
def test_servicemonitor_produces_the_job_label_the_alerts_expect():
    # The metrics Service is the operator's (deploy/base); the ServiceMonitor is monitoring's.
    monitor = next(d for d in rendered_kustomization() if d["kind"] == "ServiceMonitor")
    service = next(d for d in rendered_kustomization(REPO / "deploy" / "base") if d["kind"] == "Service")
    spec = monitor["spec"]

    selector = spec["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items(), "the ServiceMonitor does not select the Service"
    assert service["metadata"]["labels"][spec["jobLabel"]] == OPERATOR_JOB
    (endpoint,) = spec["endpoints"]
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert endpoint["honorLabels"] is True, "without honorLabels the objects' namespace label becomes exported_namespace"

    absent = next(rule for rule in alerting_rules() if rule["alert"] == "PromptFlowNetisoOperatorAbsent")
    assert f'job="{OPERATOR_JOB}"' in absent["expr"]


def test_kustomization_ships_rules_and_dashboard_unchanged():
    docs = {doc["kind"]: doc for doc in rendered_kustomization()}

    assert docs["PrometheusRule"]["spec"] == load_rule_groups()
    dashboard = docs["ConfigMap"]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["promptflow-netiso.json"]) == json.loads(DASHBOARD.read_text())


# --- dashboard -----------------------------------------------------------------------------------------
def dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel.get("targets", [])]


def as_plain_promql(expr: str) -> str:
    """Grafana's variables replaced by values a real query would carry."""
    return expr.replace("$__rate_interval", "5m").replace("$namespace", ".*")


def test_dashboard_queries_are_valid_promql(tmp_path):
    rules = {
        "groups": [{
            "name": "dashboard",
            "rules": [{"record": f"dashboard:query_{i}", "expr": as_plain_promql(expr)} for i, (_, expr) in enumerate(dashboard_queries())],
        }]
    }
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump(rules))

    result = run(tool_path("promtool"), "check", "rules", str(path))

    assert result.returncode == 0, f"a dashboard query does not parse:\n{result.stdout}{result.stderr}"


def test_dashboard_queries_only_metrics_the_operator_exposes():
    exposed = exposed_series_names()
    for title, expr in dashboard_queries():
        unknown = set(METRIC_NAME.findall(expr)) - exposed
        assert not unknown, f"panel {title!r} queries unknown metrics {sorted(unknown)}"
    used = {name for _, expr in dashboard_queries() for name in METRIC_NAME.findall(expr)}
    unused = {name.removesuffix("_bucket") for name in exposed if not name.endswith(("_count", "_sum"))} - {
        name.removesuffix("_bucket") for name in used
    }
    assert not unused, f"metrics no dashboard panel shows: {sorted(unused)}"
