"""How people install promptflow-netiso: the kustomize manifests (deploy/), the Helm chart (charts/promptflow-netiso)
and the Argo CD examples, checked with the real helm, kubeconform, promtool and kubectl against a real kube-apiserver.

Decisions these tests pin down:
- One source of truth. The chart's crds/ and files/monitoring are symlinks to crds/ and deploy/monitoring/; the
  tests compare what Helm renders (from the directory and from a packaged .tgz) with those files.
- kubeconform validates against JSON schemas generated here from the running API server's OpenAPI v3 (so they
  include our CRDs), closed like kubeconform's -strict schemas. PrometheusRule and ServiceMonitor have no CRD in
  the test control plane: kubeconform skips them (asserted by name), promtool checks the rendered rules and the
  tests check that the ServiceMonitor selects the metrics Service.
- Least privilege is checked with `kubectl auth can-i --as=<the operator's ServiceAccount>` after really applying
  the RBAC; restricted pod security with a server-side dry-run of a Pod built from the Deployment's template in a
  namespace that enforces `restricted` (PSS admits Deployments but judges Pods), plus a negative control.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests.support.tools import tool_path

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "promptflow-netiso"
CRDS = REPO / "crds"
MONITORING = REPO / "deploy" / "monitoring"
ARGOCD = REPO / "deploy" / "argocd"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
BASE_NAMESPACE = "promptflow-netiso"  # deploy/base
BASE_SA = f"system:serviceaccount:{BASE_NAMESPACE}:promptflow-netiso"
MONITORING_KINDS = {"PrometheusRule", "ServiceMonitor"}  # no Prometheus Operator CRDs in the test control plane
GROUP = "netiso.promptflow.dev"
ALL_MONITORING = {"monitoring": {k: {"enabled": True} for k in ("serviceMonitor", "prometheusRule", "grafanaDashboard")}}


# -- running the real tools ----------------------------------------------------------------------------------------
def run(*cmd: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run(list(cmd), input=input, capture_output=True, text=True, timeout=120)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stderr}{res.stdout}")
    return res


def load_all(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def kustomize(path: Path) -> list[dict]:
    return load_all(run(tool_path("kubectl"), "kustomize", str(path)).stdout)


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(tool_path("helm"), *args, check=check)


def values_file(tmp_path: Path, values: dict) -> str:
    path = tmp_path / f"values-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


def with_client_id(values: dict | None = None) -> dict:
    merged = copy.deepcopy(values or {})
    merged.setdefault("azure", {}).setdefault("workloadIdentity", {}).setdefault("clientId", CLIENT_ID)
    return merged


def find(docs: list[dict], kind: str, name_suffix: str = "") -> dict:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, f"expected one {kind} named *{name_suffix}, found {[d['metadata']['name'] for d in found]}"
    return found[0]


def repo_crds() -> dict[str, dict]:
    docs = [d for p in sorted(CRDS.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text())
            if d["kind"] == "CustomResourceDefinition"]
    assert docs, f"no CRDs in {CRDS}: run `make crds`"
    return {d["metadata"]["name"]: d for d in docs}


def repo_policies() -> set[str]:
    """The unknown-field ValidatingAdmissionPolicies (and bindings) that ship next to the CRDs."""
    return {f"{d['kind']}/{d['metadata']['name']}" for p in sorted(CRDS.glob("*.yaml"))
            for d in yaml.safe_load_all(p.read_text()) if d["kind"].startswith("ValidatingAdmissionPolicy")}


def container(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def env_of(deployment: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(deployment).get("env", [])}


# -- fixtures -------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kube_version(control_plane) -> str:
    """Render for the Kubernetes we validate against (a helm built from source otherwise assumes v1.20)."""
    info = json.loads(control_plane.kubectl("version", "-o", "json").stdout)
    return info["serverVersion"]["gitVersion"].lstrip("v").split("-")[0]


@pytest.fixture(scope="module")
def render(kube_version, tmp_path_factory):
    """render(values, release=..., namespace=..., crds=False) -> the chart's manifests, parsed."""
    tmp = tmp_path_factory.mktemp("helm-values")

    def _render(values: dict | None = None, *, release: str = "pfn", namespace: str = "ops", crds: bool = False,
                chart: str = str(CHART)) -> list[dict]:
        args = ["template", release, chart, "-n", namespace, "--kube-version", kube_version,
                "-f", values_file(tmp, with_client_id(values)), *(["--include-crds"] if crds else [])]
        return load_all(helm(*args).stdout)

    return _render


@pytest.fixture(scope="module")
def kubeconform(control_plane, tmp_path_factory):
    """kubeconform(docs) -> its per-resource results, with schemas generated from the API server's OpenAPI v3."""
    schema_dir = tmp_path_factory.mktemp("kubeconform-schemas")
    work = tmp_path_factory.mktemp("kubeconform-input")
    location = f"{schema_dir}/{{{{ .Group }}}}/{{{{ .ResourceAPIVersion }}}}/{{{{ .ResourceKind }}}}{{{{ .StrictSuffix }}}}.json"

    def _validate(docs: list[dict]) -> list[dict]:
        for api_version in {d["apiVersion"] for d in docs if d["kind"] not in MONITORING_KINDS}:
            write_schemas(control_plane, schema_dir, api_version)
        manifest = work / f"manifest-{uuid.uuid4().hex[:6]}.yaml"
        manifest.write_text(yaml.safe_dump_all(docs))
        res = run(tool_path("kubeconform"), "-strict", "-verbose", "-output", "json", "-schema-location", location,
                  "-skip", ",".join(sorted(MONITORING_KINDS)), str(manifest), check=False)
        return json.loads(res.stdout)["resources"]

    return _validate


def write_schemas(control_plane, out: Path, api_version: str) -> None:
    """One closed JSON schema per kind of `api_version`, laid out for the -schema-location template above."""
    group, _, version = api_version.rpartition("/")
    target = out / (group or version) / version
    if target.exists():
        return
    path = "api/v1" if api_version == "v1" else f"apis/{api_version}"
    deadline = time.monotonic() + 60  # a CRD's OpenAPI is published shortly after it is Established
    while f"{path}" not in json.loads(control_plane.kubectl("get", "--raw", "/openapi/v3").stdout)["paths"]:
        assert time.monotonic() < deadline, f"/openapi/v3/{path} never appeared"
        time.sleep(0.5)
    components = json.loads(control_plane.kubectl("get", "--raw", f"/openapi/v3/{path}").stdout)["components"]["schemas"]
    closed = {name: close_schema(schema) for name, schema in components.items()}
    target.mkdir(parents=True)
    for name, schema in closed.items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            if gvk.get("group", "") == group and gvk["version"] == version:
                document = {**schema, "components": {"schemas": closed}}  # $refs are '#/components/schemas/...'
                (target / f"{gvk['kind'].lower()}-strict.json").write_text(json.dumps(document))


def close_schema(schema):
    """Unknown fields fail, as in kubeconform's -strict schemas (except where Kubernetes keeps unknown fields)."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if "properties" in out:
        out["properties"] = {k: close_schema(v) for k, v in out["properties"].items()}
        if "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    for key in ("items", "additionalProperties", "not"):
        if isinstance(out.get(key), dict):
            out[key] = close_schema(out[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in out:
            out[key] = [close_schema(s) for s in out[key]]
    return out


@pytest.fixture(scope="module")
def kustomize_install(control_plane):
    """`kubectl apply --server-side -k deploy/`, for real: namespace, RBAC, Deployment (no kubelet runs it)."""
    res = control_plane.kubectl("apply", "--server-side", "-k", str(REPO / "deploy"))
    yield res
    control_plane.kubectl("delete", "-k", str(REPO / "deploy" / "base"), "--wait=false", "--ignore-not-found", check=False)


@pytest.fixture(scope="module")
def helm_install(control_plane, tmp_path_factory):
    """`helm install` for real, once watching all namespaces and once watching one namespace (no kubelet runs pods).

    The Prometheus Operator CRDs are not in the test control plane, so the ServiceMonitor and PrometheusRule stay off
    here (the render tests cover them); the dashboard ConfigMap is installed.
    """
    tmp = tmp_path_factory.mktemp("helm-install")
    suffix = uuid.uuid4().hex[:5]
    installs = {
        "cluster": {"release": f"pfc-{suffix}", "namespace": f"pfn-cluster-{suffix}", "values": {}},
        "namespaced": {"release": f"pfs-{suffix}", "namespace": f"pfn-scoped-{suffix}", "watched": f"team-{suffix}",
                       "values": {"watch": {"allNamespaces": False, "namespaces": [f"team-{suffix}"]}}},
    }
    kubeconfig = f"--kubeconfig={control_plane.kubeconfig}"
    for install in installs.values():
        if install.get("watched"):
            control_plane.kubectl("create", "namespace", install["watched"])
        values = with_client_id({**install["values"], "monitoring": {"grafanaDashboard": {"enabled": True}}})
        where = [install["release"], "-n", install["namespace"], kubeconfig]
        install["output"] = helm("install", *where, str(CHART), "--create-namespace", "-f", values_file(tmp, values)).stdout
        install["docs"] = load_all(helm("get", "manifest", *where).stdout)
        install["sa"] = f"system:serviceaccount:{install['namespace']}:{install['release']}-promptflow-netiso"
    yield installs
    for install in installs.values():
        helm("uninstall", install["release"], "-n", install["namespace"], kubeconfig, check=False)
        for ns in (install["namespace"], install.get("watched")):
            if ns:
                control_plane.kubectl("delete", "namespace", ns, "--wait=false", check=False)


# -- one source of truth ----------------------------------------------------------------------------------------------
def test_chart_and_kustomize_ship_exactly_the_repository_crds(render):
    expected = repo_crds()
    from_helm = {d["metadata"]["name"]: d for d in render(crds=True) if d["kind"] == "CustomResourceDefinition"}
    assert from_helm == expected, "charts/promptflow-netiso/crds must be crds/ (a symlink), not a copy"

    policies = repo_policies()
    assert len(policies) == 8  # a policy + binding per kind, the AzureScopeGrant included
    assert {f"{d['kind']}/{d['metadata']['name']}" for d in render(crds=True)} >= policies
    assert {f"{d['kind']}/{d['metadata']['name']}" for d in kustomize(REPO / "deploy")} >= policies

    from_kustomize = {d["metadata"]["name"]: d for d in kustomize(REPO / "deploy")
                      if d["kind"] == "CustomResourceDefinition"}
    assert set(from_kustomize) == set(expected)
    for name, crd in from_kustomize.items():
        # Argo CD must never prune a CRD (that deletes every object of its kind) nor delete it with the Application.
        annotations = crd["metadata"].pop("annotations")
        assert annotations == {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"}
        assert crd == expected[name]


def test_chart_renders_the_alerts_monitor_and_dashboard_of_deploy_monitoring(render, tmp_path):
    docs = render(ALL_MONITORING)
    source_rule = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    rule = find(docs, "PrometheusRule")
    assert rule["spec"] == source_rule["spec"], "the chart must render deploy/monitoring/prometheusrule.yaml unchanged"
    assert rule["metadata"]["namespace"] == "ops"

    # The rendered rules still load in Prometheus: Helm's YAML round trip kept the alert templates intact.
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump(rule["spec"]))
    checked = run(tool_path("promtool"), "check", "rules", str(rules_file))
    assert f"SUCCESS: {sum(len(g['rules']) for g in source_rule['spec']['groups'])} rules found" in checked.stdout

    source_monitor = yaml.safe_load((MONITORING / "servicemonitor.yaml").read_text())
    monitor = find(docs, "ServiceMonitor")
    assert monitor["spec"]["endpoints"] == source_monitor["spec"]["endpoints"]
    assert monitor["spec"]["jobLabel"] == source_monitor["spec"]["jobLabel"]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["ops"]}
    # Prometheus finds the operator through the chart's Service and reaches its metrics port.
    assert_monitor_scrapes_operator(monitor, find(docs, "Service", "-metrics"), find(docs, "Deployment"))

    dashboard = find(docs, "ConfigMap", "-dashboard")
    source_dashboard = json.loads((MONITORING / "dashboards" / "promptflow-netiso.json").read_text())
    assert json.loads(dashboard["data"]["promptflow-netiso.json"]) == source_dashboard
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"


def test_deploy_monitoring_servicemonitor_scrapes_the_kustomize_operator():
    docs = kustomize(REPO / "deploy" / "base")
    monitor = yaml.safe_load((MONITORING / "servicemonitor.yaml").read_text())
    assert_monitor_scrapes_operator(monitor, find(docs, "Service"), find(docs, "Deployment"))


def assert_monitor_scrapes_operator(monitor: dict, service: dict, deployment: dict) -> None:
    labels = service["metadata"]["labels"]
    wanted = monitor["spec"]["selector"]["matchLabels"]
    assert wanted.items() <= labels.items(), f"ServiceMonitor selects {wanted}, the metrics Service has {labels}"
    assert labels[monitor["spec"]["jobLabel"]] == "promptflow-netiso", "alerts expect job=\"promptflow-netiso\""
    ports = {p["name"]: p for p in service["spec"]["ports"]}
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["port"] in ports
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items(), "the metrics Service selects no operator pod"
    target = ports["metrics"]["targetPort"]
    container_ports = {p["name"]: p["containerPort"] for p in container(deployment)["ports"]}
    assert target in container_ports, f"targetPort {target!r} is not a container port"
    assert str(container_ports[target]) == env_of(deployment)["PROMPTFLOW_NETISO_METRICS_PORT"]


def test_packaged_chart_is_self_contained(render, tmp_path):
    """`helm package` copies what the symlinks point at: a published chart needs no repository around it."""
    helm("package", str(CHART), "-d", str(tmp_path))
    (package,) = tmp_path.glob("promptflow-netiso-*.tgz")
    with tarfile.open(package) as tar:
        members = tar.getmembers()
    assert not [m.name for m in members if m.issym() or m.islnk()]
    assert not [m.name for m in members if "/crds/samples/" in m.name or m.name.endswith("crds/Kustomization")]
    from_package = render(ALL_MONITORING, crds=True, chart=str(package))
    assert from_package == render(ALL_MONITORING, crds=True)


# -- the chart's values ---------------------------------------------------------------------------------------------
def test_chart_lints_clean(kube_version, tmp_path):
    for values in ({}, {"watch": {"allNamespaces": False, "namespaces": ["team-a"]}, **ALL_MONITORING}):
        values_path = values_file(tmp_path, with_client_id(values))
        res = helm("lint", "--strict", str(CHART), "--kube-version", kube_version, "-f", values_path)
        assert "1 chart(s) linted, 0 chart(s) failed" in res.stdout


@pytest.mark.parametrize(
    "values, message",
    [
        ({"azure": {"workloadIdentity": {"clientId": ""}}}, "azure.workloadIdentity.clientId is required"),
        ({"azure": {"workloadIdentity": {"clientId": "not-a-guid"}}}, "/azure/workloadIdentity/clientId"),
        ({"azure": {"workloadIdentity": {"clientID": CLIENT_ID}}}, "clientID"),  # a typo is refused, not ignored
        ({"azure": {"cloud": "Custom"}}, "azure.cloud=Custom needs azure.armEndpoint and azure.authorityHost"),
        ({"azure": {"cloud": "AzureGermanCloud"}}, "/azure/cloud"),
        ({"watch": {"allNamespaces": False}}, "watch.namespaces must list at least one namespace"),
        ({"watch": {"allNamespaces": False, "namespaces": ["team-*"]}}, "/watch/namespaces/0"),
    ],
    ids=["no-client-id", "bad-client-id", "typo", "custom-cloud-without-endpoints", "unknown-cloud", "no-namespaces",
         "glob-namespace"],
)
def test_chart_refuses_settings_the_operator_cannot_run_with(kube_version, tmp_path, values, message):
    values_path = values_file(tmp_path, with_client_id(values))
    res = helm("template", "pfn", str(CHART), "--kube-version", kube_version, "-f", values_path, check=False)
    assert res.returncode != 0
    assert message in res.stderr


def test_chart_values_reach_the_operators_settings(render, monkeypatch):
    from promptflow_netiso.azure.clouds import AzureSettings
    from promptflow_netiso.settings import Settings

    deployment = find(render({
        "azure": {"cloud": "Custom", "armEndpoint": "https://arm.example.test", "authorityHost": "https://login.example.test"},
        "operator": {"driftInterval": 123, "maxConcurrency": 7, "metricsPort": 9090, "kubeConnections": 33},
        "extraEnv": [{"name": "PROMPTFLOW_NETISO_SLOW_RETRY", "value": "45"}],
    }), "Deployment")
    env = env_of(deployment)
    for name in [n for n in os.environ if n.startswith(("PROMPTFLOW_NETISO_", "AZURE_"))]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    settings, azure = Settings.from_env(), AzureSettings.from_env(env)
    assert (settings.drift_interval, settings.metrics_port, settings.slow_retry) == (123, 9090, 45)
    assert settings.kube_connections == 33
    assert azure.max_concurrency_per_subscription == 7
    cloud = azure.resolve_cloud()
    assert (cloud.arm_endpoint, cloud.authority_host) == ("https://arm.example.test", "https://login.example.test")
    assert {p["name"]: p["containerPort"] for p in container(deployment)["ports"]}["metrics"] == 9090


def operator_args_of(deployment: dict, monkeypatch):
    """The Deployment's args parsed by the operator's real CLI (its `run` is replaced, nothing starts)."""
    from promptflow_netiso import cli

    seen = []
    monkeypatch.setattr(cli, "_run", lambda args: seen.append(args) or 0)
    assert cli.main(container(deployment)["args"]) == 0
    return seen[0]


@pytest.mark.parametrize("install", ["kustomize", "helm", "helm-namespaced"])
def test_deployment_runs_two_replicas_that_elect_a_leader_the_cli_accepts(install, render, monkeypatch):
    if install == "kustomize":
        docs = kustomize(REPO / "deploy" / "base")
    else:
        scoped = {"watch": {"allNamespaces": False, "namespaces": ["team-a", "team-b"]}}
        docs = render(scoped if install == "helm-namespaced" else {})
    deployment = find(docs, "Deployment")
    args = operator_args_of(deployment, monkeypatch)

    assert args.peering and not args.standalone, "several replicas, one active: kopf peering"
    assert deployment["spec"]["replicas"] == 2 and deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    pdb = find(docs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    if install == "helm-namespaced":
        assert (args.all_namespaces, args.namespace) == (False, ["team-a", "team-b"])
    else:
        assert args.all_namespaces
    probe = container(deployment)["livenessProbe"]["httpGet"]
    ports = {p["name"]: p["containerPort"] for p in container(deployment)["ports"]}
    assert args.liveness == f"http://0.0.0.0:{ports[probe['port']]}{probe['path']}", "the probe must hit kopf's liveness endpoint"


# -- schemas and the API server ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("install", ["kustomize", "helm", "helm-namespaced"])
def test_manifests_are_valid_for_the_api_server(install, render, kubeconform):
    if install == "kustomize":
        docs = kustomize(REPO / "deploy")
    else:
        scoped = {"watch": {"allNamespaces": False, "namespaces": ["team-a"]}} if install == "helm-namespaced" else {}
        docs = render({**scoped, **ALL_MONITORING}, crds=True)
    results = kubeconform(docs)
    problems = [r for r in results if r["status"] not in ("statusValid", "statusSkipped")]
    assert not problems, problems
    skipped = {r["kind"] for r in results if r["status"] == "statusSkipped"}
    assert skipped <= MONITORING_KINDS
    assert {r["kind"] for r in results if r["status"] == "statusValid"} >= {
        "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service"}


def test_generated_schemas_catch_a_misspelled_field(render, kubeconform):
    """Negative control: the validation above would notice a typo in the hardened pod template."""
    deployment = find(render(), "Deployment")
    container(deployment)["securityContext"]["runAsNonroot"] = True
    (result,) = kubeconform([deployment])
    assert result["status"] == "statusInvalid" and "runAsNonroot" in result["msg"]


@pytest.mark.parametrize("install", ["cluster", "namespaced"])
def test_helm_install_succeeds_and_tells_what_to_do_next(install, helm_install, control_plane):
    chosen = helm_install[install]
    assert "STATUS: deployed" in chosen["output"]
    # NOTES: the federated credential subject a person must create in Azure, and the pod security label.
    assert f"system:serviceaccount:{chosen['namespace']}:{chosen['release']}-promptflow-netiso" in chosen["output"]
    assert f"kubectl label namespace {chosen['namespace']} pod-security.kubernetes.io/enforce=restricted" in chosen["output"]
    sa_name = f"{chosen['release']}-promptflow-netiso"
    sa = json.loads(control_plane.kubectl("get", "serviceaccount", sa_name, "-n", chosen["namespace"], "-o", "json").stdout)
    assert sa["metadata"]["annotations"]["azure.workload.identity/client-id"] == CLIENT_ID
    (deployment,) = json.loads(control_plane.kubectl("get", "deployment", "-n", chosen["namespace"], "-o", "json").stdout)["items"]
    assert deployment["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"] == "true"


def test_kustomize_install_is_accepted_by_the_api_server(kustomize_install, control_plane):
    assert "PodSecurity" not in kustomize_install.stderr, kustomize_install.stderr  # warn=restricted judges the template
    ns = json.loads(control_plane.kubectl("get", "namespace", BASE_NAMESPACE, "-o", "json").stdout)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    got = control_plane.kubectl("get", "deployment", "promptflow-netiso", "-n", BASE_NAMESPACE, "-o", "json")
    deployment = json.loads(got.stdout)
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "promptflow-netiso"


# -- least privilege, as the API server's authorizer sees it ------------------------------------------------------------
PFWS, PFOR, PFPEA, GRANTS = (f"{r}.{GROUP}" for r in ("promptflowworkspaces", "outboundrules", "privateendpointapprovals",
                                                        "azurescopegrants"))
ALLOWED = [
    ("watch", PFWS, ""), ("patch", PFWS, ""), ("patch", PFWS, "status"), ("update", PFOR, "status"),
    ("list", PFOR, ""), ("patch", PFPEA, "status"), ("delete", PFPEA, ""),
    ("create", "events", ""), ("patch", "events.events.k8s.io", ""),
    ("watch", GRANTS, ""),  # tenancy: read grants, mint tokens for one ServiceAccount name only (docs/tenancy.md)
    ("create", "serviceaccounts/promptflow-azure", "token"),
]
CRD = "customresourcedefinitions.apiextensions.k8s.io"
CLUSTER_SCAN = [("list", CRD, ""), ("watch", "namespaces", "")]
DENIED = [
    ("get", "secrets", ""), ("list", "secrets", ""), ("delete", "pods", ""), ("create", "pods", ""),
    ("create", CRD, ""), ("delete", CRD, ""),
    ("delete", PFWS, ""), ("create", PFWS, ""), ("delete", PFOR, ""), ("create", PFPEA, ""), ("get", "configmaps", ""),
    ("create", "rolebindings.rbac.authorization.k8s.io", ""), ("impersonate", "serviceaccounts", ""), ("*", "*", ""),
    ("create", GRANTS, ""), ("patch", GRANTS, ""), ("create", "serviceaccounts", "token"),
    ("create", "serviceaccounts/default", "token"), ("get", "serviceaccounts", ""),
]


def can_i(control_plane, user: str, verb: str, resource: str, subresource: str, namespace: str | None) -> bool:
    args = ["auth", "can-i", verb, resource, f"--as={user}"]
    args += [f"--subresource={subresource}"] if subresource else []
    args += ["-n", namespace] if namespace else ["--all-namespaces"]
    res = control_plane.kubectl(*args, check=False)
    assert res.stdout.strip() in ("yes", "no"), res.stderr
    return res.stdout.strip() == "yes"


def assert_rights(control_plane, user: str, namespace: str | None, allowed, denied) -> None:
    wrong = [("should be allowed", *c) for c in allowed if not can_i(control_plane, user, *c, namespace)]
    wrong += [("should be denied", *c) for c in denied if can_i(control_plane, user, *c, namespace)]
    assert not wrong, f"{user} in {namespace or 'all namespaces'}: {wrong}"


def test_kustomize_operator_has_least_privilege(kustomize_install, control_plane, namespace):
    assert_rights(control_plane, BASE_SA, namespace, ALLOWED + CLUSTER_SCAN, DENIED)
    assert_rights(control_plane, BASE_SA, None, [("watch", PFWS, ""), ("list", PFPEA, "")], [("list", "secrets", "")])


def test_chart_operator_has_least_privilege(helm_install, control_plane, namespace):
    cluster = helm_install["cluster"]
    assert_rights(control_plane, cluster["sa"], namespace, ALLOWED + CLUSTER_SCAN, DENIED)


def test_namespaced_chart_confines_the_operator_to_its_namespaces(helm_install, control_plane, namespace):
    scoped = helm_install["namespaced"]
    assert_rights(control_plane, scoped["sa"], scoped["watched"], ALLOWED + CLUSTER_SCAN, DENIED)
    # Another namespace, or all of them: nothing but kopf's read-only scanning of CRDs and namespaces.
    assert_rights(control_plane, scoped["sa"], namespace, CLUSTER_SCAN, ALLOWED + DENIED)
    assert_rights(control_plane, scoped["sa"], None, [], [("list", PFWS, ""), ("watch", PFOR, "")])


def test_both_install_paths_grant_the_same_rights(render):
    def rules(docs: list[dict], name: str) -> set:
        role = next(d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == name)
        return {(tuple(r["apiGroups"]), res, verb) for r in role["rules"] for res in r["resources"] for verb in r["verbs"]}

    from_kustomize = rules(kustomize(REPO / "deploy" / "base"), "promptflow-netiso")
    assert from_kustomize == rules(render(release="pfn"), "pfn-promptflow-netiso")


# -- restricted pod security --------------------------------------------------------------------------------------------
def pod_from(deployment: dict, namespace: str, name: str) -> dict:
    template = copy.deepcopy(deployment["spec"]["template"])
    metadata = {**template["metadata"], "name": name, "namespace": namespace}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]}


def dry_run_pod(control_plane, pod: dict) -> subprocess.CompletedProcess:
    return control_plane.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)


@pytest.mark.parametrize("install", ["kustomize", "helm"])
def test_operator_pod_passes_restricted_pod_security(install, control_plane, request):
    if install == "kustomize":
        request.getfixturevalue("kustomize_install")  # its namespace.yaml labels the namespace enforce=restricted
        deployment, namespace = find(kustomize(REPO / "deploy" / "base"), "Deployment"), BASE_NAMESPACE
    else:
        helm_install = request.getfixturevalue("helm_install")
        namespace = helm_install["cluster"]["namespace"]
        control_plane.kubectl("label", "namespace", namespace, "--overwrite",  # as the chart's NOTES tell people
                              "pod-security.kubernetes.io/enforce=restricted", "pod-security.kubernetes.io/warn=restricted")
        deployment = find(helm_install["cluster"]["docs"], "Deployment")

    accepted = dry_run_pod(control_plane, pod_from(deployment, namespace, "pss-check"))
    assert accepted.returncode == 0 and "PodSecurity" not in accepted.stderr, accepted.stderr

    # Negative control: the namespace really enforces `restricted`.
    weakened = pod_from(deployment, namespace, "pss-check-weakened")
    weakened["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    refused = dry_run_pod(control_plane, weakened)
    assert refused.returncode != 0 and 'violates PodSecurity "restricted' in refused.stderr, refused.stderr


# -- Argo CD -------------------------------------------------------------------------------------------------------------
def test_argocd_application_syncs_deploy_with_the_identity_it_names(tmp_path):
    app = yaml.safe_load((ARGOCD / "application.yaml").read_text())
    source = app["spec"]["source"]
    assert "ServerSideApply=true" in app["spec"]["syncPolicy"]["syncOptions"]
    assert "ignoreDifferences" not in app["spec"], "kopf state lives in status.kopf: nothing to ignore"

    # What Argo CD builds: the Application's path with its kustomize patches on top.
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "resources": [os.path.relpath(REPO / source["path"], overlay)],
        "patches": source["kustomize"]["patches"],
    }))
    docs = kustomize(overlay)
    sa = find(docs, "ServiceAccount")
    assert sa["metadata"]["annotations"]["azure.workload.identity/client-id"] == CLIENT_ID
    assert sa["metadata"]["namespace"] == app["spec"]["destination"]["namespace"]
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "CustomResourceDefinition"} == set(repo_crds())


def test_argocd_helm_application_renders_the_chart(kube_version, tmp_path):
    app = yaml.safe_load((ARGOCD / "application-helm.yaml").read_text())
    source = app["spec"]["source"]
    assert "ServerSideApply=true" in app["spec"]["syncPolicy"]["syncOptions"]
    namespace_labels = app["spec"]["syncPolicy"]["managedNamespaceMetadata"]["labels"]
    assert namespace_labels["pod-security.kubernetes.io/enforce"] == "restricted"
    rendered = load_all(helm("template", source["helm"]["releaseName"], str(REPO / source["path"]),
                             "-n", app["spec"]["destination"]["namespace"], "--kube-version", kube_version, "--include-crds",
                             "-f", values_file(tmp_path, source["helm"]["valuesObject"])).stdout)
    assert find(rendered, "ServiceAccount")["metadata"]["annotations"]["azure.workload.identity/client-id"] == CLIENT_ID
    assert {d["kind"] for d in rendered} >= {"CustomResourceDefinition", "Deployment", "ServiceMonitor", "PrometheusRule"}
