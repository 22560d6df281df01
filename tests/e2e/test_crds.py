"""The three CRDs against a real kube-apiserver: samples apply, printer columns and `kubectl explain` work, the
status subresource keeps spec generations apart, and admission refuses bad input naming the offending field."""

from __future__ import annotations

import copy
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptflow_netiso.model import ApprovalSpec, OutboundRuleSpec, WorkspaceSpec
from promptflow_netiso.model.grant import GrantSpec

pytestmark = pytest.mark.e2e

SAMPLES = Path(__file__).resolve().parents[2] / "crds" / "samples"
API = "netiso.promptflow.dev/v1alpha1"
SUB = "00000000-0000-0000-0000-000000000001"
RG_ID = f"/subscriptions/{SUB}/resourceGroups/rg-promptflow/providers"
AOAI = f"{RG_ID}/Microsoft.CognitiveServices/accounts/aoai-promptflow"
VNET = f"{RG_ID}/Microsoft.Network/virtualNetworks/vnet-promptflow"
AKS = f"{RG_ID}/Microsoft.ContainerService/managedClusters/aks-promptflow"
DELETE = object()  # marks a field to remove in a variant


def manifest(kind: str, name: str, spec: dict) -> dict:
    return {"apiVersion": API, "kind": kind, "metadata": {"name": name}, "spec": spec}


WORKSPACE = manifest("PromptFlowWorkspace", "ws", {
    "azure": {"subscriptionId": SUB, "resourceGroup": "rg-promptflow", "workspaceName": "pf-workspace"},
    "network": {"mode": "ManagedVirtualNetwork", "isolationMode": "AllowOnlyApprovedOutbound"},
})
FQDN_RULE = manifest("OutboundRule", "openai-api", {
    "workspaceRef": {"name": "ws"}, "type": "FQDN", "fqdn": "api.openai.com"})
PE_RULE = manifest("OutboundRule", "azure-openai", {
    "workspaceRef": {"name": "ws"}, "type": "PrivateEndpoint",
    "privateEndpoint": {"serviceResourceId": AOAI, "subresourceTarget": "account"}})
TAG_RULE = manifest("OutboundRule", "azure-monitor", {
    "workspaceRef": {"name": "ws"}, "type": "ServiceTag",
    "serviceTag": {"serviceTag": "AzureMonitor", "protocol": "TCP", "portRanges": "443"}})
APPROVAL = manifest("PrivateEndpointApproval", "approve", {
    "workspaceRef": {"name": "ws"}, "targets": [{"resourceId": AOAI}],
    "allow": {"subscriptionIds": [SUB], "workspaceManagedNetwork": True}, "mode": "Approve"})


def variant(base: dict, changes: dict[str, Any]) -> dict:
    """A copy of `base` with dotted paths set (or removed with DELETE)."""
    obj = copy.deepcopy(base)
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = obj
        for key in parents:
            node = node.setdefault(key, {})
        if value is DELETE:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return obj


def apply(cp, namespace: str, obj: dict, check: bool = True):
    return cp.kubectl("apply", "--server-side", "-n", namespace, "-f", "-", input=json.dumps(obj), check=check)


def get(cp, namespace: str, kind: str, name: str) -> dict:
    return json.loads(cp.kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout)


def patch_status(cp, namespace: str, kind: str, name: str, status: dict) -> None:
    cp.kubectl("patch", kind, name, "-n", namespace, "--subresource=status", "--type=merge",
               "-p", json.dumps({"status": status}))


def ready(reason: str, message: str = "") -> list[dict]:
    return [{"type": "Ready", "status": "True", "reason": reason, "message": message,
             "lastTransitionTime": "2025-01-01T00:00:00Z", "observedGeneration": 1}]


@pytest.fixture
def namespace(unwatched_namespace):
    """These tests prove what the API server does; no operator may touch their objects."""
    return unwatched_namespace


@pytest.fixture(scope="module")
def shared_namespace(control_plane):
    """One namespace for objects that admission refuses (they never exist, so they cannot collide)."""
    name = f"t-crd-invalid-{uuid.uuid4().hex[:5]}"
    control_plane.kubectl("create", "namespace", name)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


# --- samples -------------------------------------------------------------------------------------------------------
def test_every_sample_applies_and_is_listed_by_the_category(control_plane, namespace):
    files = sorted(SAMPLES.glob("*.yaml"))
    kinds = {yaml.safe_load(f.read_text())["kind"] for f in files}
    assert kinds == {"PromptFlowWorkspace", "OutboundRule", "PrivateEndpointApproval", "AzureScopeGrant"}

    control_plane.kubectl("apply", "--server-side", "-n", namespace, "-f", str(SAMPLES))

    listed = control_plane.kubectl("get", "promptflow", "-n", namespace, "-o", "name").stdout.split()
    expected = {f"{yaml.safe_load(f.read_text())['kind'].lower()}.netiso.promptflow.dev/"
                f"{yaml.safe_load(f.read_text())['metadata']['name']}" for f in files}
    assert set(listed) == expected


def test_the_readme_example_applies(control_plane, namespace):
    text = (SAMPLES / "README.md").read_text()
    examples = [block.split("```", 1)[0] for block in text.split("```yaml\n")[1:]]
    assert examples
    for example in examples:
        control_plane.kubectl("apply", "--server-side", "-n", namespace, "-f", "-", input=example)


def test_the_operator_reads_the_same_defaults_the_api_server_fills_in(control_plane, namespace):
    """Server-defaulted samples parse to the same typed specs as the samples as written: Python and the CRD agree."""
    control_plane.kubectl("apply", "--server-side", "-n", namespace, "-f", str(SAMPLES))
    parsers = {"PromptFlowWorkspace": WorkspaceSpec, "OutboundRule": OutboundRuleSpec,
               "PrivateEndpointApproval": ApprovalSpec, "AzureScopeGrant": GrantSpec}
    for f in sorted(SAMPLES.glob("*.yaml")):
        written = yaml.safe_load(f.read_text())
        stored = get(control_plane, namespace, written["kind"], written["metadata"]["name"])
        parse = parsers[written["kind"]].from_dict
        assert parse(stored["spec"]) == parse(written["spec"]), f.name


def test_minimal_workspace_gets_documented_defaults(control_plane, namespace):
    minimal = manifest("PromptFlowWorkspace", "minimal", {
        "azure": {"subscriptionId": SUB, "resourceGroup": "rg-promptflow", "workspaceName": "pf-min"}})
    apply(control_plane, namespace, minimal)
    spec = get(control_plane, namespace, "pfws", "minimal")["spec"]
    assert spec["network"] == {"mode": "ManagedVirtualNetwork", "provision": {"enabled": False, "includeSpark": False}}
    assert spec["storageRoles"] == {"assign": True}
    assert spec["privateEndpointApproval"] == {"auto": False, "minPendingSeconds": 120}
    assert "approverRole" not in spec  # absent means off; no default, so objects from before it read back unchanged
    assert spec["deploymentTarget"] == {"type": "ManagedOnlineEndpoint"}
    assert spec["deletionPolicy"] == "Retain"


# --- kubectl get / explain -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "obj,short,status,headers,cells",
    [
        pytest.param(WORKSPACE, "pfws",
                     {"isolationMode": "AllowOnlyApprovedOutbound", "managedNetworkStatus": "Active",
                      "workspaceKind": "Default", "conditions": ready("Converged")},
                     ["NAME", "READY", "REASON", "ISOLATION", "NETWORK", "KIND", "TARGET", "COMPUTE", "AGE"],
                     ["True", "Converged", "AllowOnlyApprovedOutbound", "Active", "Default", "ManagedOnlineEndpoint"],
                     id="workspace"),
        pytest.param(PE_RULE, "pfor",
                     {"destination": "aoai-promptflow/account", "ruleStatus": "Active",
                      "privateEndpointConnection": {"state": "Pending"}, "conditions": ready("Applied")},
                     ["NAME", "READY", "REASON", "TYPE", "DESTINATION", "STATUS", "CONNECTION", "AGE"],
                     ["True", "Applied", "PrivateEndpoint", "aoai-promptflow/account", "Active", "Pending"],
                     id="outbound-rule"),
        pytest.param(APPROVAL, "pfpea",
                     {"pendingCount": 2, "approvedCount": 3, "conditions": ready("Watching")},
                     ["NAME", "READY", "REASON", "MODE", "PENDING", "APPROVED", "AGE"],
                     ["True", "Watching", "Approve", "2", "3"], id="approval"),
    ],
)
def test_kubectl_get_shows_printer_columns(control_plane, namespace, obj, short, status, headers, cells):
    name = obj["metadata"]["name"]
    apply(control_plane, namespace, obj)
    patch_status(control_plane, namespace, short, name, status)
    lines = control_plane.kubectl("get", short, name, "-n", namespace).stdout.splitlines()
    assert lines[0].split() == headers
    row = lines[1].split()
    assert row[0] == name
    assert row[1:1 + len(cells)] == cells


def test_wide_output_shows_the_ready_message(control_plane, namespace):
    apply(control_plane, namespace, WORKSPACE)
    patch_status(control_plane, namespace, "pfws", "ws", {"conditions": [
        {"type": "Ready", "status": "False", "reason": "AzureError",
         "message": "AuthorizationFailed: no rights", "lastTransitionTime": "2025-01-01T00:00:00Z"}]})
    out = control_plane.kubectl("get", "pfws", "ws", "-n", namespace, "-o", "wide").stdout
    assert "WORKSPACE" in out.splitlines()[0] and "MESSAGE" in out.splitlines()[0]
    assert "pf-workspace" in out and "AuthorizationFailed: no rights" in out


@pytest.mark.parametrize(
    "path,expected",
    [
        ("promptflowworkspace.spec.network", ["Network isolation of the workspace", "isolationMode", "provision"]),
        ("promptflowworkspace.spec.network.isolationMode", ["AllowOnlyApprovedOutbound", "AllowInternetOutbound"]),
        ("pfws.spec.azure", ["Immutable", "subscriptionId"]),
        ("outboundrule.spec.fqdn", ["api.openai.com", "no scheme, path or port"]),
        ("outboundrule.spec.serviceTag.portRanges", ["8000-8080"]),
        ("privateendpointapproval.spec.allow", ["Must name somebody", "privateEndpointIdPatterns", "narrows"]),
        ("privateendpointapproval.spec.minPendingSeconds", ["auto-approval"]),
        ("privateendpointapproval.status.connections.decision", ["WouldApprove"]),
    ],
)
def test_kubectl_explain_teaches_the_api(control_plane, path, expected):
    # The API server publishes a new CRD's OpenAPI a moment after it is Established: poll briefly.
    deadline, out = time.monotonic() + 30, None
    while time.monotonic() < deadline:
        out = control_plane.kubectl("explain", path, check=False)
        if out.returncode == 0:
            break
        time.sleep(0.5)
    assert out is not None and out.returncode == 0, out.stderr
    for text in expected:
        assert text in out.stdout, f"{text!r} not in kubectl explain {path}:\n{out.stdout}"


# --- status subresource --------------------------------------------------------------------------------------------
def test_spec_change_bumps_generation_and_status_change_does_not(control_plane, namespace):
    apply(control_plane, namespace, WORKSPACE)
    assert get(control_plane, namespace, "pfws", "ws")["metadata"]["generation"] == 1

    patch_status(control_plane, namespace, "pfws", "ws", {
        "observedGeneration": 1, "isolationMode": "AllowOnlyApprovedOutbound",
        "kopf": {"progress": {"reconcile": {"retries": 1}}}})
    after_status = get(control_plane, namespace, "pfws", "ws")
    assert after_status["metadata"]["generation"] == 1
    assert after_status["status"]["isolationMode"] == "AllowOnlyApprovedOutbound"
    # kopf keeps its progress in status.kopf: the schema must preserve it.
    assert after_status["status"]["kopf"] == {"progress": {"reconcile": {"retries": 1}}}

    apply(control_plane, namespace, variant(WORKSPACE, {"spec.network.provision": {"enabled": True}}))
    after_spec = get(control_plane, namespace, "pfws", "ws")
    assert after_spec["metadata"]["generation"] == 2
    assert after_spec["status"]["observedGeneration"] == 1


FULL_STATUS = {
    "workspace": (WORKSPACE, "pfws", {
        "observedGeneration": 1, "conditions": ready("Converged"),
        "workspaceKind": "Default", "isolationMode": "AllowOnlyApprovedOutbound", "managedNetworkStatus": "Active",
        "sparkReady": False, "principalId": "11111111-1111-1111-1111-111111111111",
        "storageAccountId": f"{RG_ID}/Microsoft.Storage/storageAccounts/stpf",
        "workspaceResourceId": f"{RG_ID}/Microsoft.MachineLearningServices/workspaces/pf-workspace",
        "provisioning": {"operationUrl": "https://management.azure.com/op/1", "startedAt": "2025-01-01T00:00:00Z"},
        "roleAssignments": [{"name": "22222222-2222-2222-2222-222222222222", "scope": f"{RG_ID}/x",
                             "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/"
                                                 "69566ab7-960f-475b-8e7c-b3118f30c6bd", "createdByOperator": True}],
        "lastDriftCheck": "2025-01-01T00:00:00Z"}),
    "outbound-rule": (PE_RULE, "pfor", {
        "observedGeneration": 1, "conditions": ready("Applied"), "azureRuleName": "azure-openai",
        "ruleStatus": "Active", "category": "UserDefined", "errorInformation": "", "destination": "aoai/account",
        "privateEndpointConnection": {"target": AOAI, "name": "pec-1", "state": "Approved",
                                      "privateEndpointId": f"{RG_ID}/Microsoft.Network/privateEndpoints/pe"},
        "created": True,
        "azure": {"subscriptionId": SUB, "resourceGroup": "rg-promptflow", "workspaceName": "pf-workspace"}}),
    "approval": (APPROVAL, "pfpea", {
        "observedGeneration": 1, "conditions": ready("Watching"), "pendingCount": 0, "approvedCount": 1,
        "lastCheck": "2025-01-01T00:00:00Z",
        "connections": [{"target": AOAI, "name": "pec-1", "privateEndpointId": f"{RG_ID}/x", "state": "Approved",
                         "firstSeenPending": "2025-01-01T00:00:00Z", "approvedAt": "2025-01-01T00:02:00Z",
                         "decision": "Approved", "reason": "approved by this policy"}]}),
}


@pytest.mark.parametrize("obj,short,status", FULL_STATUS.values(), ids=FULL_STATUS.keys())
def test_every_status_field_the_operator_writes_is_kept(control_plane, namespace, obj, short, status):
    """Fields missing from the schema would be pruned silently: the operator would forget what it did."""
    apply(control_plane, namespace, obj)
    patch_status(control_plane, namespace, short, obj["metadata"]["name"], status)
    assert get(control_plane, namespace, short, obj["metadata"]["name"])["status"] == status


def test_status_written_through_the_main_resource_is_ignored(control_plane, namespace):
    apply(control_plane, namespace, FQDN_RULE)
    control_plane.kubectl("patch", "pfor", "openai-api", "-n", namespace, "--type=merge",
                          "-p", json.dumps({"status": {"ruleStatus": "Active"}}))
    assert "ruleStatus" not in get(control_plane, namespace, "pfor", "openai-api").get("status", {})


# --- admission refuses bad input, naming the field -----------------------------------------------------------------
WS_BYO = variant(WORKSPACE, {"spec.network": {"mode": "BringYourOwnVirtualNetwork", "virtualNetworkId": VNET},
                             "spec.deploymentTarget": {"type": "Kubernetes", "aksClusterId": AKS}})
PE_TARGET_SQL = f"{RG_ID}/Microsoft.Sql/servers/sql-promptflow"

INVALID = [
    # PromptFlowWorkspace
    ("ws-subscription-not-guid", WORKSPACE, {"spec.azure.subscriptionId": "my-subscription"},
     "spec.azure.subscriptionId"),
    ("ws-resource-group-trailing-dot", WORKSPACE, {"spec.azure.resourceGroup": "rg-promptflow."},
     "spec.azure.resourceGroup"),
    ("ws-workspace-name-too-short", WORKSPACE, {"spec.azure.workspaceName": "pf"}, "spec.azure.workspaceName"),
    ("ws-workspace-name-bad-char", WORKSPACE, {"spec.azure.workspaceName": "pf.workspace"},
     "spec.azure.workspaceName"),
    ("ws-missing-azure", WORKSPACE, {"spec.azure": DELETE}, "spec.azure"),
    ("ws-unknown-network-mode", WORKSPACE, {"spec.network.mode": "Hybrid"}, "spec.network.mode"),
    ("ws-isolation-disabled", WORKSPACE, {"spec.network.isolationMode": "Disabled"}, "spec.network.isolationMode"),
    ("ws-isolation-with-own-vnet", WS_BYO, {"spec.network.isolationMode": "AllowInternetOutbound"},
     "spec.network.isolationMode"),
    ("ws-own-vnet-without-id", WS_BYO, {"spec.network.virtualNetworkId": DELETE}, "spec.network.virtualNetworkId"),
    ("ws-vnet-id-of-wrong-type", WS_BYO, {"spec.network.virtualNetworkId": AOAI}, "spec.network.virtualNetworkId"),
    ("ws-vnet-id-with-managed-network", WORKSPACE, {"spec.network.virtualNetworkId": VNET},
     "spec.network.virtualNetworkId"),
    ("ws-provision-with-own-vnet", WS_BYO, {"spec.network.provision": {"enabled": True}},
     "spec.network.provision.enabled"),
    ("ws-kubernetes-without-aks", WS_BYO, {"spec.deploymentTarget": {"type": "Kubernetes"}},
     "spec.deploymentTarget.aksClusterId"),
    ("ws-kubernetes-with-managed-network", WORKSPACE,
     {"spec.deploymentTarget": {"type": "Kubernetes", "aksClusterId": AKS}}, "spec.deploymentTarget.type"),
    ("ws-own-vnet-with-managed-online-endpoint", WS_BYO, {"spec.deploymentTarget": {"type": "ManagedOnlineEndpoint"}},
     "spec.deploymentTarget.type"),
    ("ws-public-access-with-managed-network", WORKSPACE, {"spec.network.publicNetworkAccess": "Disabled"},
     "spec.network.publicNetworkAccess"),
    ("ws-extension-install-without-tls", WS_BYO, {"spec.deploymentTarget.extension": {"install": True}},
     "spec.deploymentTarget.extension.inference.sslSecret"),
    ("ws-compute-name-too-long", WS_BYO, {"spec.deploymentTarget.computeName": "a-very-long-compute-name"},
     "spec.deploymentTarget.computeName"),
    ("ws-aks-id-of-wrong-type", WS_BYO, {"spec.deploymentTarget": {"type": "Kubernetes", "aksClusterId": VNET}},
     "spec.deploymentTarget.aksClusterId"),
    ("ws-min-pending-over-a-day", WORKSPACE, {"spec.privateEndpointApproval": {"minPendingSeconds": 86401}},
     "spec.privateEndpointApproval.minPendingSeconds"),
    ("ws-unknown-deletion-policy", WORKSPACE, {"spec.deletionPolicy": "Orphan"}, "spec.deletionPolicy"),
    # OutboundRule
    ("rule-fqdn-with-scheme", FQDN_RULE, {"spec.fqdn": "https://api.openai.com"}, "spec.fqdn"),
    ("rule-fqdn-with-path", FQDN_RULE, {"spec.fqdn": "api.openai.com/v1"}, "spec.fqdn"),
    ("rule-fqdn-with-port", FQDN_RULE, {"spec.fqdn": "api.openai.com:443"}, "spec.fqdn"),
    ("rule-fqdn-inner-wildcard", FQDN_RULE, {"spec.fqdn": "api.*.openai.com"}, "spec.fqdn"),
    ("rule-fqdn-two-wildcards", FQDN_RULE, {"spec.fqdn": "*.*.pinecone.io"}, "spec.fqdn"),
    ("rule-fqdn-ip-address", FQDN_RULE, {"spec.fqdn": "10.0.0.1"}, "spec.fqdn"),
    ("rule-fqdn-missing", FQDN_RULE, {"spec.fqdn": DELETE}, "spec.fqdn"),
    ("rule-second-destination", FQDN_RULE, {"spec.serviceTag": TAG_RULE["spec"]["serviceTag"]}, "spec.serviceTag"),
    ("rule-destination-not-matching-type", PE_RULE, {"spec.type": "FQDN"}, "spec.privateEndpoint"),
    ("rule-unknown-type", FQDN_RULE, {"spec.type": "IPRange"}, "spec.type"),
    ("rule-pe-target-not-an-arm-id", PE_RULE, {"spec.privateEndpoint.serviceResourceId": "aoai-promptflow"},
     "spec.privateEndpoint.serviceResourceId"),
    ("rule-pe-subresource-missing", PE_RULE, {"spec.privateEndpoint.subresourceTarget": DELETE},
     "spec.privateEndpoint.subresourceTarget"),
    ("rule-port-above-65535", TAG_RULE, {"spec.serviceTag.portRanges": "443,70000"}, "spec.serviceTag.portRanges"),
    ("rule-port-zero", TAG_RULE, {"spec.serviceTag.portRanges": "0"}, "spec.serviceTag.portRanges"),
    ("rule-port-range-reversed", TAG_RULE, {"spec.serviceTag.portRanges": "8080-8000"}, "spec.serviceTag.portRanges"),
    ("rule-unknown-protocol", TAG_RULE, {"spec.serviceTag.protocol": "HTTP"}, "spec.serviceTag.protocol"),
    ("rule-unknown-action", TAG_RULE, {"spec.serviceTag.action": "Block"}, "spec.serviceTag.action"),
    ("rule-read-only-address-prefixes", TAG_RULE, {"spec.serviceTag.addressPrefixes": ["10.0.0.0/24"]},
     "spec.serviceTag.addressPrefixes"),
    ("rule-name-too-short", FQDN_RULE, {"spec.ruleName": "ai"}, "spec.ruleName"),
    ("rule-object-name-not-an-azure-name", FQDN_RULE,
     {"metadata.name": "allow-openai-api-for-every-prompt-flow-in-prod"}, "spec.ruleName"),
    ("rule-missing-workspace-ref", FQDN_RULE, {"spec.workspaceRef": DELETE}, "spec.workspaceRef"),
    # PrivateEndpointApproval
    ("pea-allows-nobody", APPROVAL, {"spec.allow": {}}, "spec.allow"),
    ("pea-allows-empty-lists", APPROVAL, {"spec.allow": {"subscriptionIds": [], "privateEndpointIdPatterns": []}},
     "spec.allow"),
    ("pea-wildcard-only-pattern", APPROVAL, {"spec.allow": {"privateEndpointIdPatterns": ["*"]}},
     "spec.allow.privateEndpointIdPatterns[0]"),
    ("pea-pattern-any-subscription", APPROVAL, {"spec.allow": {"privateEndpointIdPatterns": ["/subscriptions/*"]}},
     "spec.allow.privateEndpointIdPatterns[0]"),
    ("pea-pattern-any-prefix", APPROVAL,
     {"spec.allow": {"privateEndpointIdPatterns": ["*/providers/Microsoft.Network/privateEndpoints/*"]}},
     "spec.allow.privateEndpointIdPatterns[0]"),
    ("pea-workspace-name-alone", APPROVAL, {"spec.allow": {"workspaceManagedNetwork": True}}, "spec.allow"),
    ("pea-pattern-not-a-resource-id", APPROVAL, {"spec.allow": {"privateEndpointIdPatterns": ["pe-promptflow-*"]}},
     "spec.allow.privateEndpointIdPatterns[0]"),
    ("pea-subscription-not-guid", APPROVAL, {"spec.allow": {"subscriptionIds": ["prod"]}},
     "spec.allow.subscriptionIds[0]"),
    ("pea-unsupported-target", APPROVAL, {"spec.targets": [{"resourceId": PE_TARGET_SQL}]},
     "spec.targets[0].resourceId"),
    ("pea-no-targets", APPROVAL, {"spec.targets": []}, "spec.targets"),
    ("pea-same-target-twice-in-other-case", APPROVAL,
     {"spec.targets": [{"resourceId": AOAI}, {"resourceId": AOAI.lower()}]}, "spec.targets"),
    ("pea-managed-network-without-workspace", APPROVAL, {"spec.workspaceRef": DELETE}, "spec.workspaceRef"),
    ("pea-mode-missing", APPROVAL, {"spec.mode": DELETE}, "spec.mode"),
    ("pea-unknown-mode", APPROVAL, {"spec.mode": "Auto"}, "spec.mode"),
    ("pea-negative-min-pending", APPROVAL, {"spec.minPendingSeconds": -1}, "spec.minPendingSeconds"),
]


def test_every_invalid_base_is_valid(control_plane, namespace):
    """The invalid objects below are one change away from these, so each refusal is caused by that change."""
    for base in (WORKSPACE, WS_BYO, FQDN_RULE, PE_RULE, TAG_RULE, APPROVAL):
        apply(control_plane, namespace, variant(base, {"metadata.name": "base-" + uuid.uuid4().hex[:6]}))


@pytest.mark.parametrize("base,changes,field", [pytest.param(*c[1:], id=c[0]) for c in INVALID])
def test_admission_refuses_invalid_object_naming_the_field(control_plane, shared_namespace, base, changes, field):
    obj = variant(base, changes)
    res = apply(control_plane, shared_namespace, obj, check=False)
    assert res.returncode != 0, f"accepted: {json.dumps(obj['spec'])}"
    assert "is invalid" in res.stderr, res.stderr
    assert f"{field}:" in res.stderr, f"{field} not named in:\n{res.stderr}"


IMMUTABLE = [
    ("ws-subscription", WORKSPACE, {"spec.azure.subscriptionId": "00000000-0000-0000-0000-000000000002"},
     "spec.azure"),
    ("ws-workspace-name", WORKSPACE, {"spec.azure.workspaceName": "pf-other"}, "spec.azure"),
    ("rule-type", FQDN_RULE, {"spec.type": "ServiceTag", "spec.fqdn": DELETE,
                              "spec.serviceTag": TAG_RULE["spec"]["serviceTag"]}, "spec.type"),
    ("rule-workspace-ref", FQDN_RULE, {"spec.workspaceRef.name": "other"}, "spec.workspaceRef"),
    ("rule-name-added", FQDN_RULE, {"spec.ruleName": "openai-api-2"}, "spec.ruleName"),
]


@pytest.mark.parametrize("base,changes,field", [pytest.param(*c[1:], id=c[0]) for c in IMMUTABLE])
def test_identity_fields_are_immutable(control_plane, namespace, base, changes, field):
    apply(control_plane, namespace, base)
    res = apply(control_plane, namespace, variant(base, changes), check=False)
    assert res.returncode != 0, "update accepted"
    assert f"{field}:" in res.stderr and "immutable" in res.stderr, res.stderr


def test_rule_name_equal_to_object_name_may_be_spelled_out(control_plane, namespace):
    """Adding spec.ruleName is fine when the Azure name stays the same."""
    apply(control_plane, namespace, FQDN_RULE)
    apply(control_plane, namespace, variant(FQDN_RULE, {"spec.ruleName": "openai-api"}))
    assert get(control_plane, namespace, "pfor", "openai-api")["spec"]["ruleName"] == "openai-api"
