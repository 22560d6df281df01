"""PromptFlowWorkspace end to end: a real kube-apiserver, the Azure simulator behind the real SDK pipelines, and the
operator as a subprocess. Every claim is checked where a person would check it: the object's status and Events, and
the simulator's request log (which Azure calls were made, and how many).

Each test uses its own subscription and resource group, so the shared simulator's log can be filtered per test.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.sim.admin import SeededWorkspace
from tests.support.kube import condition, is_ready

pytestmark = pytest.mark.e2e

API = "netiso.promptflow.dev/v1alpha1"
KIND = "PromptFlowWorkspace"
POLICY = "netiso.promptflow.dev/reconcile-policy"
FILE_ROLE, TABLE_ROLE = "69566ab7-960f-475b-8e7c-b3118f30c6bd", "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
WAIT = 90  # generous: the machine is shared; nothing here asserts how fast


class Azure(SeededWorkspace):
    """A Default workspace with isolation Disabled by default, plus its identity and storage account."""

    def __init__(self, admin, prefix: str, kind: str = "Default", isolation: str = "Disabled", **seed):
        super().__init__(admin, prefix, kind=kind, isolation_mode=isolation, **seed)
        self.principal = self.body["identity"]["principalId"]
        self.storage = self.body["properties"]["storageAccount"]

    def writes(self, since: int | None = None) -> list[dict]:
        return [r for r in self.calls(since) if r["method"] != "GET"]

    def isolation_mode(self) -> str:
        return self.admin.workspace(self.ws_id)["body"]["properties"]["managedNetwork"]["isolationMode"]


def count(calls: list[dict], method: str, needle: str) -> int:
    """Attempts, whatever Azure answered: a refused second start is still a second start."""
    return sum(1 for r in calls if r["method"] == method and needle.lower() in r["path"].lower())


def workspace_manifest(name: str, az: Azure, *, mode: str = "ManagedVirtualNetwork", isolation: str | None = None,
                       provision: bool = False, deletion: str = "Retain", policy: str | None = None,
                       auto: bool = False, extra: dict | None = None) -> str:
    network: dict = {"mode": mode}
    if isolation:
        network["isolationMode"] = isolation
    if provision:
        network["provision"] = {"enabled": True}
    spec = {"azure": {"subscriptionId": az.sub, "resourceGroup": az.rg, "workspaceName": az.ws_name},
            "network": network, "deletionPolicy": deletion,
            "privateEndpointApproval": {"auto": auto, "minPendingSeconds": 5}, **(extra or {})}
    meta: dict = {"name": name}
    if policy:
        meta["annotations"] = {POLICY: policy}
    return json.dumps({"apiVersion": API, "kind": KIND, "metadata": meta, "spec": spec})


def ready(kube, ns: str, name: str, timeout: float = WAIT) -> dict:
    return kube.wait_for(KIND, ns, name, is_ready, timeout, "to be Ready")


def drift_stamp(operator, ns: str, name: str) -> float | None:
    """promptflow_netiso_last_drift_check_timestamp_seconds of one workspace (a drift check leaves no trace in status)."""
    for line in operator.scrape().splitlines():
        if (line.startswith("promptflow_netiso_last_drift_check_timestamp_seconds{") and 'kind="PromptFlowWorkspace"' in line
                and f'namespace="{ns}"' in line and f'name="{name}"' in line):
            return float(line.rsplit(" ", 1)[1])
    return None


def drift_checks(operator, kube, ns: str, name: str, n: int = 2) -> dict:
    """Wait until `n` more drift checks have run (each one sets the workspace's last-drift-check metric)."""
    seen = drift_stamp(operator, ns, name)
    deadline = time.monotonic() + WAIT * n
    for _ in range(n):
        while drift_stamp(operator, ns, name) in (None, seen):
            assert time.monotonic() < deadline, f"no drift check of {ns}/{name} within {WAIT * n}s"
            time.sleep(0.25)
        seen = drift_stamp(operator, ns, name)
    return kube.get(KIND, ns, name)


def reasons(kube, ns: str, name: str) -> list[str]:
    return [e["reason"] for e in kube.events(ns, name)]


# --- create -> Ready -------------------------------------------------------------------------------------------------


def test_create_converges_with_one_write_per_step_and_a_converged_workspace_gets_no_write(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "create")
    kube.apply(workspace_manifest("pf", az, isolation="AllowOnlyApprovedOutbound", provision=True), namespace)

    obj = ready(kube, namespace, "pf")
    st = obj["status"]
    assert (st["isolationMode"], st["managedNetworkStatus"], st["workspaceKind"]) == ("AllowOnlyApprovedOutbound", "Active", "Default")
    assert st["principalId"] == az.principal and st["storageAccountId"].lower() == az.storage.lower()
    assert sorted(r["roleDefinitionId"].rsplit("/", 1)[-1] for r in st["roleAssignments"]) == sorted([FILE_ROLE, TABLE_ROLE])
    assert all(r["createdByOperator"] for r in st["roleAssignments"])
    assert {c["type"]: c["status"] for c in st["conditions"]} == {
        "WorkspaceFound": "True", "LimitsSatisfied": "True", "IsolationApplied": "True",
        "NetworkProvisioned": "True", "StorageRolesAssigned": "True", "ApproverRoleAssigned": "True", "Ready": "True"}
    assert az.isolation_mode() == "AllowOnlyApprovedOutbound"

    calls = az.calls()
    assert count(calls, "PATCH", "/workspaces/") == 1
    assert count(calls, "POST", "/provisionManagedNetwork") == 1
    assert count(calls, "PUT", "/roleAssignments/") == 2
    seen = reasons(kube, namespace, "pf")
    assert {"IsolationModeSet", "ProvisioningStarted", "RoleAssigned"} <= set(seen)
    assert seen.count("RoleAssigned") == 2

    since = az.mark()
    drift_checks(operator, kube, namespace, "pf", n=1)
    version = kube.get(KIND, namespace, "pf")["metadata"]["resourceVersion"]
    drift_checks(operator, kube, namespace, "pf", n=2)
    assert az.writes(since) == []
    # Nor a Kubernetes write: when it was checked is a metric, not status (no etcd churn, no GitOps refresh).
    assert kube.get(KIND, namespace, "pf")["metadata"]["resourceVersion"] == version


def test_isolation_change_is_applied_with_exactly_one_azure_write(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "change")
    kube.apply(workspace_manifest("pf", az, isolation="AllowInternetOutbound"), namespace)
    ready(kube, namespace, "pf")
    since = az.mark()

    kube.apply(workspace_manifest("pf", az, isolation="AllowOnlyApprovedOutbound"), namespace)
    obj = kube.wait_for(KIND, namespace, "pf", lambda o: is_ready(o) and o["status"]["isolationMode"] == "AllowOnlyApprovedOutbound",
                        WAIT, "to apply the new isolation mode")
    assert obj["status"]["observedGeneration"] == 2
    assert az.isolation_mode() == "AllowOnlyApprovedOutbound"
    assert [(w["method"], "/workspaces/" in w["path"]) for w in az.writes(since)] == [("PATCH", True)]


# --- provisioning and restarts -----------------------------------------------------------------------------------


def test_provisioning_starts_once_and_roles_are_not_duplicated_when_the_operator_restarts(operator, kube, namespace, sim_admin):
    previous = sim_admin.config()["provisionDurationS"]
    sim_admin.config(provision_duration_s=8)  # long enough to kill the operator while it runs
    try:
        az = Azure(sim_admin, "restart")
        kube.apply(workspace_manifest("pf", az, isolation="AllowOnlyApprovedOutbound", provision=True), namespace)
        running = kube.wait_for(KIND, namespace, "pf", lambda o: bool((o.get("status") or {}).get("provisioning")),
                                WAIT, "to start provisioning")
        assert running["status"]["provisioning"]["operationUrl"].startswith("https://")
        operator.restart()  # SIGKILL, like a crashed pod, mid-operation
        obj = ready(kube, namespace, "pf")
    finally:
        sim_admin.config(provision_duration_s=previous)
    assert obj["status"]["managedNetworkStatus"] == "Active"
    assert "provisioning" not in obj["status"]
    calls = az.calls()
    assert count(calls, "POST", "/provisionManagedNetwork") == 1
    assert count(calls, "PUT", "/roleAssignments/") == 2

    operator.restart()
    since = az.mark()
    drift_checks(operator, kube, namespace, "pf", n=2)
    assert az.writes(since) == []
    assert count(az.calls(), "PUT", "/roleAssignments/") == 0


# --- drift ----------------------------------------------------------------------------------------------------------


def test_drift_in_azure_is_corrected_and_announced(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "drift")
    kube.apply(workspace_manifest("pf", az, isolation="AllowOnlyApprovedOutbound"), namespace)
    ready(kube, namespace, "pf")
    since = az.mark()

    sim_admin.set_isolation_mode(az.ws_id, "AllowInternetOutbound")  # "someone changed it in the portal"
    kube.wait_for(KIND, namespace, "pf", lambda o: "DriftCorrected" in reasons(kube, namespace, "pf"), WAIT,
                  "to correct the drift")
    ready(kube, namespace, "pf")
    assert az.isolation_mode() == "AllowOnlyApprovedOutbound"
    assert [w["method"] for w in az.writes(since)] == ["PATCH"]
    event = next(e for e in kube.events(namespace, "pf") if e["reason"] == "DriftCorrected")
    assert "AllowInternetOutbound" in event["message"] and "AllowOnlyApprovedOutbound" in event["message"]



def test_a_role_assignment_deleted_by_hand_is_restored_by_the_next_drift_check(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "roledrift")
    kube.apply(workspace_manifest("pf", az, isolation="AllowInternetOutbound"), namespace)
    recorded = {r["roleDefinitionId"].rsplit("/", 1)[-1]: r for r in ready(kube, namespace, "pf")["status"]["roleAssignments"]}
    table = recorded[TABLE_ROLE]
    table_id = f"{table['scope']}/providers/Microsoft.Authorization/roleAssignments/{table['name']}"
    since = az.mark()

    removed = sim_admin.delete_role_assignment(table_id)  # "someone removed it in the portal"
    assert removed["name"] == table["name"]
    kube.wait_for(KIND, namespace, "pf", lambda o: "DriftCorrected" in reasons(kube, namespace, "pf"), WAIT,
                  "to restore the role assignment")
    obj = ready(kube, namespace, "pf")

    granted = {(a["name"], a["properties"]["roleDefinitionId"].rsplit("/", 1)[-1])
               for a in sim_admin.role_assignments(az.storage, az.principal)}
    assert granted == {(recorded[FILE_ROLE]["name"], FILE_ROLE), (table["name"], TABLE_ROLE)}  # back, under its old name
    writes = az.writes(since)
    assert [(w["method"], w["status"]) for w in writes] == [("PUT", 201)]
    assert table["name"] in writes[0]["path"]
    event = next(e for e in kube.events(namespace, "pf") if e["reason"] == "DriftCorrected")
    assert "Storage Table Data Contributor" in event["message"] and table["name"] in event["message"]
    assert "removed outside the operator" in event["message"]
    assert sorted(r["name"] for r in obj["status"]["roleAssignments"]) == sorted(r["name"] for r in recorded.values())

    since = az.mark()
    drift_checks(operator, kube, namespace, "pf", n=2)
    assert az.writes(since) == []  # converged again: nothing more to correct


def test_an_equivalent_assignment_made_by_hand_after_a_deletion_counts_as_done(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "roleequiv")
    kube.apply(workspace_manifest("pf", az, isolation="AllowInternetOutbound"), namespace)
    recorded = {r["roleDefinitionId"].rsplit("/", 1)[-1]: r for r in ready(kube, namespace, "pf")["status"]["roleAssignments"]}
    table = recorded[TABLE_ROLE]
    group = f"/subscriptions/{az.sub}/resourceGroups/{az.rg}"
    since = az.mark()

    # Someone replaces the operator's Table grant on the account with one on the whole resource group.
    sim_admin.delete_role_assignment(f"{table['scope']}/providers/Microsoft.Authorization/roleAssignments/{table['name']}")
    by_hand = sim_admin.seed_role_assignment(group, TABLE_ROLE, az.principal)
    obj = kube.wait_for(KIND, namespace, "pf",
                        lambda o: any(r["name"] == by_hand["name"] for r in (o.get("status") or {}).get("roleAssignments") or ()),
                        WAIT, "to record the assignment made by hand")
    assert is_ready(obj)
    record = next(r for r in obj["status"]["roleAssignments"] if r["name"] == by_hand["name"])
    assert (record["scope"].lower(), record["createdByOperator"]) == (group.lower(), False)
    assert table["name"] not in [r["name"] for r in obj["status"]["roleAssignments"]]
    assert az.writes(since) == []  # nothing assigned again: the identity still holds the role
    assert "DriftCorrected" not in reasons(kube, namespace, "pf")

# --- control annotation -----------------------------------------------------------------------------------------


def test_skip_observes_and_reports_but_writes_nothing(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "skip")
    kube.apply(workspace_manifest("pf", az, isolation="AllowOnlyApprovedOutbound", provision=True, policy="skip"), namespace)
    obj = kube.wait_for(KIND, namespace, "pf", lambda o: condition(o, "IsolationApplied")["reason"] == "ReconcileSkipped",
                        WAIT, "to report what it would change")
    assert condition(obj, "Ready")["status"] == "False"
    assert condition(obj, "StorageRolesAssigned")["reason"] == "ReconcileSkipped"
    assert obj["status"]["isolationMode"] == "Disabled"
    drift_checks(operator, kube, namespace, "pf", n=2)
    assert az.writes() == []
    assert az.isolation_mode() == "Disabled"

    # Back to manage: the same object converges without any other change.
    kube.cp.kubectl("annotate", KIND, "pf", "-n", namespace, f"{POLICY}-")
    ready(kube, namespace, "pf")
    assert az.isolation_mode() == "AllowOnlyApprovedOutbound"


# --- deletion -------------------------------------------------------------------------------------------------------

DELETE_CASES = [
    # id, deletionPolicy, annotation, role assignments removed from Azure
    ("retain", "Retain", None, 0),
    ("delete", "Delete", None, 2),
    ("delete-but-detached", "Delete", "detach-on-delete", 0),
]


@pytest.mark.parametrize("deletion,policy,removed", [c[1:] for c in DELETE_CASES], ids=[c[0] for c in DELETE_CASES])
def test_deletion_follows_the_declared_policy(operator, kube, namespace, sim_admin, deletion, policy, removed):
    az = Azure(sim_admin, "del")
    kube.apply(workspace_manifest("pf", az, isolation="AllowInternetOutbound", deletion=deletion, policy=policy), namespace)
    ready(kube, namespace, "pf")
    since = az.mark()

    kube.delete(KIND, namespace, "pf")
    kube.wait_gone(KIND, namespace, "pf", WAIT)
    writes = az.writes(since)
    assert count(writes, "DELETE", "/roleAssignments/") == removed
    assert [w for w in writes if w["method"] != "DELETE"] == []  # nothing else touched
    assert sim_admin.workspace(az.ws_id)["body"]["name"] == az.ws_name  # the workspace itself always stays


def test_a_deletion_blocked_by_azure_is_released_by_detach_on_delete(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "stuckdel")
    kube.apply(workspace_manifest("pf", az, isolation="AllowInternetOutbound", deletion="Delete"), namespace)
    ready(kube, namespace, "pf")
    sim_admin.deny(az.storage, actions=["Microsoft.Authorization/roleAssignments/delete"])
    try:
        kube.delete(KIND, namespace, "pf")
        kube.wait_for(KIND, namespace, "pf", lambda o: "DeleteFailed" in reasons(kube, namespace, "pf"), WAIT,
                      "to report the failed deletion")
        event = next(e for e in kube.events(namespace, "pf") if e["reason"] == "DeleteFailed")
        assert event["message"].startswith("AuthorizationFailed: ") and "detach-on-delete" in event["message"]
        kube.cp.kubectl("annotate", KIND, "pf", "-n", namespace, f"{POLICY}=detach-on-delete", "--overwrite")
        kube.wait_gone(KIND, namespace, "pf", WAIT)
    finally:
        sim_admin.grant(az.storage)


# --- errors -------------------------------------------------------------------------------------------------------


def test_an_azure_403_is_shown_verbatim_and_recovers_when_the_role_is_granted(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "forbidden")
    sim_admin.deny(az.storage, actions=["Microsoft.Authorization/roleAssignments/write"])
    kube.apply(workspace_manifest("pf", az, isolation="AllowInternetOutbound"), namespace)
    obj = kube.wait_for(KIND, namespace, "pf", lambda o: condition(o, "StorageRolesAssigned")["reason"] == "AuthorizationFailed",
                        WAIT, "to report the 403")
    message = condition(obj, "StorageRolesAssigned")["message"]
    assert message.startswith("AuthorizationFailed: ")
    assert "Microsoft.Authorization/roleAssignments/write" in message
    assert condition(obj, "Ready")["message"] == message  # Ready carries the first failing step verbatim
    assert condition(obj, "IsolationApplied")["status"] == "True"  # the steps before it were done
    assert "AuthorizationFailed" in reasons(kube, namespace, "pf")

    sim_admin.grant(az.storage)  # the fix happens in Azure only; the object is not touched
    obj = ready(kube, namespace, "pf")
    assert len(obj["status"]["roleAssignments"]) == 2


def test_a_hub_asked_for_bring_your_own_vnet_is_refused_with_a_clear_reason(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "hub", kind="Hub")
    base = f"/subscriptions/{az.sub}/resourceGroups/{az.rg}/providers"
    extra = {"deploymentTarget": {"type": "Kubernetes", "aksClusterId": f"{base}/Microsoft.ContainerService/managedClusters/aks"}}
    manifest = json.loads(workspace_manifest("pf", az, mode="BringYourOwnVirtualNetwork", extra=extra))
    manifest["spec"]["network"]["virtualNetworkId"] = f"{base}/Microsoft.Network/virtualNetworks/vnet"
    kube.apply(json.dumps(manifest), namespace)

    obj = kube.wait_for(KIND, namespace, "pf", lambda o: condition(o, "LimitsSatisfied")["status"] == "False",
                        WAIT, "to refuse the spec")
    limits = condition(obj, "LimitsSatisfied")
    assert limits["reason"] == "BringYourOwnVnetNotSupportedForKind"
    assert "Hub workspaces cannot use a bring-your-own virtual network" in limits["message"]
    assert (condition(obj, "Ready")["status"], condition(obj, "Ready")["reason"]) == ("False", "BringYourOwnVnetNotSupportedForKind")
    assert obj["status"]["workspaceKind"] == "Hub"
    drift_checks(operator, kube, namespace, "pf", n=1)
    assert az.writes() == []


def test_throttling_is_honoured_with_retry_after(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "throttle")
    retry_after = 4
    sim_admin.faults(rf"/subscriptions/{az.sub}/.*/workspaces/{az.ws_name}$", "429", method="GET", count=1,
                     retry_after_s=retry_after)
    try:
        kube.apply(workspace_manifest("pf", az, isolation="AllowInternetOutbound"), namespace)
        ready(kube, namespace, "pf")
    finally:
        sim_admin.clear_faults()
    gets = [r for r in az.calls() if r["method"] == "GET" and r["path"].lower().endswith(f"/workspaces/{az.ws_name}")]
    throttled = [i for i, r in enumerate(gets) if r["status"] == 429]
    assert len(throttled) == 1, gets
    retry = gets[throttled[0] + 1]
    assert retry["time"] - gets[throttled[0]]["time"] >= retry_after  # not a speed check: it must not come sooner


# --- the approver role on PrivateEndpoint targets ---------------------------------------------------------------------

APPROVER_ROLE = "b556d68e-0be0-4f35-a333-ad7ee1ce17ea"  # Azure AI Enterprise Network Connection Approver


def pe_rule(name: str, workspace: str, target: str, subresource: str) -> str:
    return json.dumps({"apiVersion": API, "kind": "OutboundRule", "metadata": {"name": name},
                       "spec": {"workspaceRef": {"name": workspace}, "type": "PrivateEndpoint",
                                "privateEndpoint": {"serviceResourceId": target, "subresourceTarget": subresource}}})


def approver_grants(sim_admin, target: str, principal: str) -> list[dict]:
    return [a for a in sim_admin.role_assignments(target, principal)
            if a["properties"]["roleDefinitionId"].rsplit("/", 1)[-1] == APPROVER_ROLE]


def test_approver_role_follows_the_rules_is_drift_checked_and_removed_with_delete(operator, kube, namespace, sim_admin):
    az = Azure(sim_admin, "approver")
    base = f"/subscriptions/{az.sub}/resourceGroups/{az.rg}/providers"
    storage, openai = f"{base}/Microsoft.Storage/storageAccounts/data{az.ws_name[3:]}", f"{base}/Microsoft.CognitiveServices/accounts/oai"
    for target in (storage, openai):
        sim_admin.seed_target(target, pe_behaviour="pending")
    kube.apply(workspace_manifest("pf", az, isolation="AllowOnlyApprovedOutbound", provision=True, deletion="Delete",
                                  auto=True), namespace)  # the older spelling of approverRole.assign: true
    # Two rules to one storage account (blob and file): one target, one assignment.
    kube.apply(pe_rule("data-blob", "pf", storage, "blob"), namespace)
    kube.apply(pe_rule("data-file", "pf", storage, "file"), namespace)
    kube.apply(pe_rule("oai", "pf", openai, "account"), namespace)

    def recorded(o: dict) -> set[str]:
        return {r["scope"].lower() for r in (o.get("status") or {}).get("roleAssignments") or ()
                if r["roleDefinitionId"].rsplit("/", 1)[-1] == APPROVER_ROLE and r["createdByOperator"]}
    obj = kube.wait_for(KIND, namespace, "pf", lambda o: recorded(o) == {storage.lower(), openai.lower()}
                        and condition(o, "ApproverRoleAssigned")["status"] == "True", WAIT,
                        "to record the approver role on both targets")
    for target in (storage, openai):
        assert len(approver_grants(sim_admin, target, az.principal)) == 1  # one each, deterministic names
    assert kube.get("PrivateEndpointApproval", namespace, "pf-auto") is None

    # Someone removes one in the portal: the next drift check (one list, no read per target) restores it.
    [grant] = approver_grants(sim_admin, openai, az.principal)
    since = az.mark()
    sim_admin.delete_role_assignment(grant["id"])
    kube.wait_for(KIND, namespace, "pf", lambda o: any(e["reason"] == "DriftCorrected" and "oai" in e["message"]
                                                       for e in kube.events(namespace, "pf")), WAIT,
                  "to restore the approver role")
    assert [a["name"] for a in approver_grants(sim_admin, openai, az.principal)] == [grant["name"]]
    lists = [r for r in az.calls(since) if r["method"] == "GET" and "roleassignments" in r["path"].lower()]
    assert lists and all(r["path"].lower().rstrip("/").endswith(
        f"/subscriptions/{az.sub}/providers/microsoft.authorization/roleassignments".lower()) for r in lists)

    # deletionPolicy Delete removes what the operator created (the storage roles and both approver assignments).
    since = az.mark()
    for rule in ("data-blob", "data-file", "oai"):
        kube.delete("OutboundRule", namespace, rule)
    kube.delete(KIND, namespace, "pf")
    kube.wait_gone(KIND, namespace, "pf", WAIT)
    assert approver_grants(sim_admin, storage, az.principal) == []
    assert approver_grants(sim_admin, openai, az.principal) == []
    assert obj["status"]["roleAssignments"]
