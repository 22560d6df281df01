"""What Argo CD, Flux and `kubectl wait` report for each kind, in each state, on objects the real operator wrote
(real kube-apiserver, Azure simulator). The verdicts come from the real code: our Argo CD health script in gopher-lua
and sigs.k8s.io/cli-utils/pkg/kstatus.

Set PROMPTFLOW_NETISO_CAPTURE_HEALTH=1 to (re)write deploy/argocd/health/testdata/<state>.yaml from these runs; the
table health_test.yaml is checked against them by tests/unit/test_argocd_health.py.
"""

from __future__ import annotations

import json
import os

import pytest
import yaml

from tests.sim.admin import SeededWorkspace
from tests.support.health import HEALTH_DIR, argocd_health, kstatus
from tests.support.kube import condition, is_ready

pytestmark = pytest.mark.e2e

API = "netiso.promptflow.dev/v1alpha1"
POLICY = "netiso.promptflow.dev/reconcile-policy"
WAIT = 180
CAPTURE = os.environ.get("PROMPTFLOW_NETISO_CAPTURE_HEALTH") == "1"


def capture(state: str, obj: dict) -> None:
    if not CAPTURE:
        return
    clean = json.loads(json.dumps(obj))
    meta = clean["metadata"]
    for key in ("managedFields", "uid", "resourceVersion", "creationTimestamp"):
        meta.pop(key, None)
    meta.get("annotations", {}).pop("kubectl.kubernetes.io/last-applied-configuration", None)
    if not meta.get("annotations"):
        meta.pop("annotations", None)
    meta["namespace"] = "team-a"
    (HEALTH_DIR / "testdata" / f"{state}.yaml").write_text(yaml.safe_dump(clean, sort_keys=False, width=120))


def verdicts(obj: dict) -> tuple[str, str]:
    return argocd_health(obj)["status"], kstatus(obj)["status"]


def workspace(name: str, az: SeededWorkspace, annotations: dict | None = None, isolation: str = "AllowInternetOutbound",
              roles: bool = True) -> str:
    meta: dict = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return json.dumps({"apiVersion": API, "kind": "PromptFlowWorkspace", "metadata": meta, "spec": {
        "azure": {"subscriptionId": az.sub, "resourceGroup": az.rg, "workspaceName": az.ws_name},
        "network": {"mode": "ManagedVirtualNetwork", "isolationMode": isolation},
        "storageRoles": {"assign": roles}}})


def rule(name: str, **spec) -> str:
    return json.dumps({"apiVersion": API, "kind": "OutboundRule", "metadata": {"name": name},
                       "spec": {"workspaceRef": {"name": "pf"}, **spec}})


def ready_reason(o: dict) -> str | None:
    c = condition(o, "Ready")
    return c["reason"] if c else None


def test_workspace_health_in_each_state(operator, kube, namespace, sim_admin, control_plane):
    az = SeededWorkspace(sim_admin, "hws", isolation_mode="AllowInternetOutbound")
    kube.apply(workspace(name="pf", az=az), namespace)
    ok = kube.wait_for("PromptFlowWorkspace", namespace, "pf", is_ready, WAIT, "to be Ready")
    assert verdicts(ok) == ("Healthy", "Current")
    capture("workspace-healthy", ok)
    # kubectl wait reads the same Ready condition.
    control_plane.kubectl("wait", "--for=condition=Ready", "pfws/pf", "-n", namespace, "--timeout=30s")

    # The spec moved on and the operator has not caught up yet: a copy with the next generation, as Argo CD would
    # see it in the moment between the write and the operator's status update.
    stale = json.loads(json.dumps(ok))
    stale["metadata"]["generation"] += 1
    assert verdicts(stale) == ("Progressing", "InProgress")
    capture("workspace-stale-generation", stale)

    # Cannot converge without a change in Azure: the identity may not assign roles.
    bad = SeededWorkspace(sim_admin, "hdeny", isolation_mode="AllowInternetOutbound")
    sim_admin.deny(bad.body["properties"]["storageAccount"], actions=["Microsoft.Authorization/roleAssignments/write"])
    kube.apply(workspace(name="denied", az=bad), namespace)
    denied = kube.wait_for("PromptFlowWorkspace", namespace, "denied",
                           lambda o: ready_reason(o) == "AuthorizationFailed" and condition(o, "Stalled"), WAIT,
                           "to report the 403 as Stalled")
    health, ks = argocd_health(denied), kstatus(denied)
    assert health["status"] == "Degraded" and health["message"].startswith("AuthorizationFailed: ")
    assert ks["status"] == "Failed" and ks["conditions"][0]["reason"] == "AuthorizationFailed"
    capture("workspace-degraded", denied)

    skip = SeededWorkspace(sim_admin, "hskip", isolation_mode="AllowInternetOutbound")
    kube.apply(workspace(name="skipped", az=skip, annotations={POLICY: "skip"}, isolation="AllowOnlyApprovedOutbound"),
               namespace)
    skipped = kube.wait_for("PromptFlowWorkspace", namespace, "skipped", lambda o: condition(o, "Ready") is not None,
                            WAIT, "to report")
    assert argocd_health(skipped)["status"] == "Suspended"
    assert kstatus(skipped)["status"] != "Failed"  # a choice, not a failure
    capture("workspace-suspended", skipped)


def test_outbound_rule_health_in_each_state(operator, kube, namespace, sim_admin):
    az = SeededWorkspace(sim_admin, "hrule", isolation_mode="AllowOnlyApprovedOutbound", provisioned=True)
    kube.apply(workspace(name="pf", az=az, isolation="AllowOnlyApprovedOutbound", roles=False), namespace)
    kube.wait_for("PromptFlowWorkspace", namespace, "pf", is_ready, WAIT, "to be Ready")
    base = f"/subscriptions/{az.sub}/resourceGroups/{az.rg}/providers/Microsoft.CognitiveServices/accounts"
    sim_admin.seed_target(f"{base}/waits", pe_behaviour="pending")

    kube.apply(rule("openai", type="FQDN", fqdn="api.openai.com"), namespace)
    kube.apply(rule("waits", type="PrivateEndpoint",
                    privateEndpoint={"serviceResourceId": f"{base}/waits", "subresourceTarget": "account"}), namespace)
    kube.apply(rule("missing", type="PrivateEndpoint",
                    privateEndpoint={"serviceResourceId": f"{base}/missing", "subresourceTarget": "account"}), namespace)

    ok = kube.wait_for("OutboundRule", namespace, "openai", is_ready, WAIT, "to be Ready")
    assert verdicts(ok) == ("Healthy", "Current")
    capture("outboundrule-healthy", ok)

    pending = kube.wait_for("OutboundRule", namespace, "waits",
                            lambda o: ready_reason(o) == "PrivateEndpointPending", WAIT, "to wait for approval")
    assert verdicts(pending) == ("Progressing", "InProgress")
    capture("outboundrule-progressing", pending)

    failed = kube.wait_for("OutboundRule", namespace, "missing",
                           lambda o: ready_reason(o) == "RuleFailed" and condition(o, "Stalled"), WAIT, "to fail")
    health, ks = argocd_health(failed), kstatus(failed)
    assert health["status"] == "Degraded" and "is Failed in Azure" in health["message"]
    assert ks["status"] == "Failed" and ks["conditions"][0]["reason"] == "RuleFailed"
    capture("outboundrule-degraded", failed)


def test_approval_health_in_each_state(operator, kube, namespace, sim_admin):
    az = SeededWorkspace(sim_admin, "happ", isolation_mode="AllowInternetOutbound")
    target = (f"/subscriptions/{az.sub}/resourceGroups/{az.rg}/providers/Microsoft.CognitiveServices/accounts/"
              "oai-health")
    sim_admin.seed_target(target, pe_behaviour="pending")

    def approval(name: str, mode: str) -> str:
        return json.dumps({"apiVersion": API, "kind": "PrivateEndpointApproval", "metadata": {"name": name},
                           "spec": {"targets": [{"resourceId": target}], "allow": {"subscriptionIds": [az.sub]},
                                    "mode": mode}})

    kube.apply(approval("approves", "Approve"), namespace)
    kube.apply(approval("observes", "Observe"), namespace)
    ok = kube.wait_for("PrivateEndpointApproval", namespace, "approves", is_ready, WAIT, "to be Ready")
    assert verdicts(ok) == ("Healthy", "Current")
    capture("privateendpointapproval-healthy", ok)
    observing = kube.wait_for("PrivateEndpointApproval", namespace, "observes",
                              lambda o: condition(o, "Ready") is not None, WAIT, "to report")
    assert argocd_health(observing)["status"] == "Suspended"
    assert kstatus(observing)["status"] == "Current"
    capture("privateendpointapproval-suspended", observing)
