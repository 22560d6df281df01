"""Only the monitoring namespace reaches the operator, and only its metrics port: the chart (networkPolicy.* values,
validated by values.schema.json) and deploy/ render the same NetworkPolicy, and the API server accepts it. (No CNI
runs here, so enforcement itself is the cluster's; these tests pin what is asked of it.)"""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_deploy import CHART, REPO, find, helm, kustomize, render, kube_version, values_file, with_client_id  # noqa: F401

pytestmark = pytest.mark.e2e


def ingress_of(policy: dict) -> tuple[list[str], list, dict]:
    (rule,) = policy["spec"]["ingress"]
    (peer,) = rule["from"]
    (expr,) = peer["namespaceSelector"]["matchExpressions"]
    assert expr["key"] == "kubernetes.io/metadata.name" and expr["operator"] == "In"
    return expr["values"], rule["ports"], peer.get("podSelector", {})


def assert_selects_operator_metrics(policy: dict, deployment: dict) -> None:
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["policyTypes"] == ["Ingress"]  # egress (API server, Azure) stays open
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    _, ports, _ = ingress_of(policy)
    container_ports = {p["name"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert ports == [{"port": "metrics", "protocol": "TCP"}] and "metrics" in container_ports


def test_chart_default_admits_only_the_monitoring_namespace_on_the_metrics_port(render):
    docs = render()
    policy = find(docs, "NetworkPolicy")
    assert_selects_operator_metrics(policy, find(docs, "Deployment"))
    assert ingress_of(policy)[0] == ["monitoring"]


def test_chart_values_choose_namespaces_and_pods_or_turn_it_off(render):
    docs = render({"networkPolicy": {"metricsNamespaces": ["observability", "monitoring"],
                                     "metricsPodLabels": {"app.kubernetes.io/name": "prometheus"}}})
    namespaces, _, pods = ingress_of(find(docs, "NetworkPolicy"))
    assert namespaces == ["observability", "monitoring"]
    assert pods == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
    assert not [d for d in render({"networkPolicy": {"enabled": False}}) if d["kind"] == "NetworkPolicy"]


@pytest.mark.parametrize("values, message", [
    ({"networkPolicy": {"metricsNamespaces": []}}, "/networkPolicy/metricsNamespaces"),
    ({"networkPolicy": {"metricsNamespace": ["monitoring"]}}, "metricsNamespace"),  # a typo is refused
    ({"networkPolicy": {"metricsNamespaces": ["Monitoring!"]}}, "/networkPolicy/metricsNamespaces/0"),
])
def test_chart_refuses_bad_network_policy_values(kube_version, tmp_path, values, message):
    res = helm("template", "x", str(CHART), "--kube-version", kube_version,
               "-f", values_file(tmp_path, with_client_id(values)), check=False)
    assert res.returncode != 0 and message in res.stderr, res.stderr


def test_kustomize_ships_the_same_policy():
    docs = kustomize(REPO / "deploy")
    policy = find(docs, "NetworkPolicy")
    assert_selects_operator_metrics(policy, find(docs, "Deployment"))
    assert ingress_of(policy)[0] == ["monitoring"]


def test_the_api_server_accepts_both(control_plane, render, unwatched_namespace):
    for policy in (find(render(), "NetworkPolicy"), find(kustomize(REPO / "deploy"), "NetworkPolicy")):
        policy = {**policy, "metadata": {**policy["metadata"], "namespace": unwatched_namespace}}
        control_plane.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", input=json.dumps(policy))
