"""Install, upgrade and uninstall as people do it, against the real kube-apiserver: Helm (from the previous release's
chart, commit PREVIOUS on main, to this one) and `kubectl apply --server-side -k deploy/`, with custom objects present
that must survive every step. No kubelet runs here: the Deployment is accepted, its pods are judged by server-side
dry runs in test_deploy.py.

CRDs are cluster-wide, so these tests put the repository's CRDs back when they are done (other tests use them).
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest

from tests.e2e.test_deploy import CLIENT_ID, REPO, helm, load_all, values_file, with_client_id

pytestmark = pytest.mark.e2e

PREVIOUS = "a8e1ed5"  # the last commit of the previous chart version on main
API = "netiso.promptflow.dev/v1alpha1"
SUB = "00000000-0000-0000-0000-000000000001"
AOAI = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/aoai"
KINDS = ("PromptFlowWorkspace", "OutboundRule", "PrivateEndpointApproval")


def previous_tree(dest: Path) -> Path:
    """The repository at PREVIOUS (chart, CRDs, deploy/), symlinks intact, via git archive."""
    archive = dest / "previous.tar"
    subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", "-o", str(archive), PREVIOUS,
                    "charts", "crds", "deploy"], check=True, capture_output=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest / "previous", filter="tar")
    return dest / "previous"


def objects(name: str) -> list[dict]:
    meta = {"name": name, "labels": {"team": "a"}}
    return [
        {"apiVersion": API, "kind": "PromptFlowWorkspace", "metadata": meta, "spec": {
            "azure": {"subscriptionId": SUB, "resourceGroup": "rg", "workspaceName": "pf-workspace"},
            "network": {"mode": "ManagedVirtualNetwork", "isolationMode": "AllowOnlyApprovedOutbound"}}},
        {"apiVersion": API, "kind": "OutboundRule", "metadata": meta, "spec": {
            "workspaceRef": {"name": name}, "type": "PrivateEndpoint",
            "privateEndpoint": {"serviceResourceId": AOAI, "subresourceTarget": "account"}}},
        {"apiVersion": API, "kind": "PrivateEndpointApproval", "metadata": meta, "spec": {
            "targets": [{"resourceId": AOAI}], "allow": {"subscriptionIds": [SUB]}, "mode": "Observe"}},
    ]


def specs(cp, namespace: str, name: str) -> dict[str, dict]:
    out = {}
    for kind in KINDS:
        got = json.loads(cp.kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout)
        out[kind] = {"spec": got["spec"], "uid": got["metadata"]["uid"]}
    return out


@pytest.fixture
def restore_crds(control_plane):
    yield
    control_plane.apply_crds()


def in_namespace(tree: Path, namespace: str) -> Path:
    """deploy/ of `tree` installing into `namespace` (the shared promptflow-netiso namespace may be Terminating for
    good once another test removed it: no namespace controller runs here)."""
    base = tree / "deploy" / "base"
    kustomization, namespace_file = base / "kustomization.yaml", base / "namespace.yaml"
    kustomization.write_text(kustomization.read_text().replace("namespace: promptflow-netiso", f"namespace: {namespace}"))
    namespace_file.write_text(namespace_file.read_text().replace("name: promptflow-netiso", f"name: {namespace}"))
    return tree / "deploy"


def current_tree(dest: Path) -> Path:
    import shutil

    for part in ("crds", "deploy"):
        shutil.copytree(REPO / part, dest / "current" / part, symlinks=True)
    return dest / "current"


def crd_names(cp) -> set[str]:
    out = cp.kubectl("get", "crd", "-l", "app.kubernetes.io/part-of=promptflow-netiso", "-o", "name").stdout
    return set(out.split())


def test_helm_install_upgrade_uninstall_keeps_crds_and_objects(control_plane, unwatched_namespace, tmp_path,
                                                               restore_crds):
    previous = previous_tree(tmp_path)
    kubeconfig = f"--kubeconfig={control_plane.kubeconfig}"
    release, ns = f"pfu-{uuid.uuid4().hex[:5]}", f"pfn-upgrade-{uuid.uuid4().hex[:5]}"
    values = values_file(tmp_path, with_client_id())
    where = [release, "-n", ns, kubeconfig]

    # The previous release as its users have it: its CRDs, its chart.
    control_plane.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(previous / "crds"))
    out = helm("install", *where, str(previous / "charts" / "promptflow-netiso"), "--create-namespace",
               "-f", values).stdout
    assert "STATUS: deployed" in out
    for obj in objects("team-a"):
        control_plane.kubectl("apply", "--server-side", "-n", unwatched_namespace, "-f", "-", input=json.dumps(obj))
    before = specs(control_plane, unwatched_namespace, "team-a")

    # Upgrade as docs/gitops.md says: CRDs first (Helm never upgrades crds/), then the release.
    control_plane.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(REPO / "crds"))
    control_plane.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    out = helm("upgrade", *where, str(REPO / "charts" / "promptflow-netiso"), "-f", values, "--wait=false").stdout
    assert "STATUS: deployed" in out and "REVISION: 2" in out
    assert specs(control_plane, unwatched_namespace, "team-a") == before  # same objects (uids), same specs
    manifest = load_all(helm("get", "manifest", *where).stdout)
    assert {d["kind"] for d in manifest} >= {"Deployment", "Service", "NetworkPolicy", "ServiceAccount"}
    netpol = json.loads(control_plane.kubectl("get", "networkpolicy", "-n", ns, "-o", "json").stdout)["items"]
    assert len(netpol) == 1 and netpol[0]["spec"]["policyTypes"] == ["Ingress"]  # new in this chart version
    sa = json.loads(control_plane.kubectl("get", "sa", "-n", ns, "-o", "json").stdout)["items"]
    assert any(s["metadata"].get("annotations", {}).get("azure.workload.identity/client-id") == CLIENT_ID for s in sa)
    # The upgraded CRDs refuse typos for objects written from now on.
    typo = {**objects("typo")[0]}
    typo["spec"] = {**typo["spec"], "network": {"mode": "ManagedVirtualNetwork", "isolation": "AllowOnlyApprovedOutbound"}}
    res = control_plane.kubectl("create", "--raw", f"/apis/{API}/namespaces/{unwatched_namespace}/promptflowworkspaces",
                                "-f", "-", input=json.dumps(typo), check=False)
    assert res.returncode != 0 and "unknown field(s) isolation" in res.stderr, res.stderr

    # Uninstall: the release's objects go, the CRDs, their policies and every custom object stay.
    helm("uninstall", *where)
    assert json.loads(control_plane.kubectl("get", "deployment,networkpolicy", "-n", ns, "-o", "json").stdout)["items"] == []
    assert len(crd_names(control_plane)) >= 3
    assert specs(control_plane, unwatched_namespace, "team-a") == before
    policies = control_plane.kubectl("get", "validatingadmissionpolicies", "-o", "name").stdout
    assert "strict-fields" in policies
    control_plane.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_kustomize_apply_upgrade_and_delete_keep_crds_and_objects(control_plane, unwatched_namespace, tmp_path,
                                                                  restore_crds):
    ns = f"pfk-{uuid.uuid4().hex[:5]}"
    previous = in_namespace(previous_tree(tmp_path), ns)
    current = in_namespace(current_tree(tmp_path), ns)
    apply = ("apply", "--server-side", "--force-conflicts", "-k")
    control_plane.kubectl(*apply, str(previous))
    for obj in objects("team-k"):
        control_plane.kubectl("apply", "--server-side", "-n", unwatched_namespace, "-f", "-", input=json.dumps(obj))
    before = specs(control_plane, unwatched_namespace, "team-k")

    # Upgrade: apply the current deploy/ over the previous one (what Argo CD's sync does).
    res = control_plane.kubectl(*apply, str(current))
    assert "networkpolicy.networking.k8s.io/promptflow-netiso-metrics serverside-applied" in res.stdout, res.stdout
    assert "strict-fields" in res.stdout
    assert specs(control_plane, unwatched_namespace, "team-k") == before
    netpol = json.loads(control_plane.kubectl("get", "networkpolicy", "-n", ns, "-o", "json").stdout)["items"]
    assert [p["metadata"]["name"] for p in netpol] == ["promptflow-netiso-metrics"]

    # Removing the operator's workload (base/ without the namespace, which no controller here would finalize)
    # leaves the CRDs and the objects.
    for kind in ("deployment", "service", "networkpolicy", "serviceaccount"):
        control_plane.kubectl("delete", kind, "--all", "-n", ns, "--wait=false")
    assert len(crd_names(control_plane)) >= 3
    assert specs(control_plane, unwatched_namespace, "team-k") == before
