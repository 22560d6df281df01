"""Bring-your-own VNet with an AKS deployment target, end to end: a real kube-apiserver, the operator as a process, the
Azure simulator behind the real SDK pipelines. Checked where a person checks: the object's conditions and status, its
Events, and which Azure requests were made (the simulator's log)."""

from __future__ import annotations

import json
import time

import pytest

from tests.sim.admin import SeededWorkspace
from tests.support.kube import condition, is_ready

pytestmark = pytest.mark.e2e

API, KIND = "netiso.promptflow.dev/v1alpha1", "PromptFlowWorkspace"
FILE_ROLE = "69566ab7-960f-475b-8e7c-b3118f30c6bd"
WAIT = 90


class Estate(SeededWorkspace):
    """A Default workspace, the customer's hub VNet (workspace private endpoint + AKS subnet) and a spoke VNet with an
    AKS subnet; peerings and the Azure ML extension as each test needs them."""

    def __init__(self, admin, prefix: str, *, kind: str = "Default", aks_in: str = "hub",
                 hub_to_spoke: str | None = None, spoke_to_hub: str | None = None, endpoint_in: str | None = "hub",
                 extension: bool = True, **seed):
        super().__init__(admin, prefix, kind=kind, **seed)
        base = f"/subscriptions/{self.sub}/resourceGroups/{self.rg}/providers"
        self.hub, self.spoke = (f"{base}/Microsoft.Network/virtualNetworks/{n}" for n in ("hub", "spoke"))
        self.other = f"{base}/Microsoft.Network/virtualNetworks/elsewhere"
        self.aks = f"{base}/Microsoft.ContainerService/managedClusters/aks1"
        peer = lambda name, remote, state: [{"name": name, "remoteVirtualNetworkId": remote, "peeringState": state}] if state else []  # noqa: E731
        admin.seed_vnet(self.hub, ["10.1.0.0/16"], subnets=[{"name": "pe", "addressPrefix": "10.1.0.0/24"},
                                                            {"name": "aks", "addressPrefix": "10.1.4.0/22"}],
                        peerings=peer("hub-to-spoke", self.spoke, hub_to_spoke))
        admin.seed_vnet(self.spoke, ["10.2.0.0/16"], subnets=[{"name": "aks", "addressPrefix": "10.2.0.0/22"}],
                        peerings=peer("spoke-to-hub", self.hub, spoke_to_hub))
        admin.seed_vnet(self.other, ["10.3.0.0/16"], subnets=[{"name": "pe", "addressPrefix": "10.3.0.0/24"}])
        if endpoint_in:
            vnet = {"hub": self.hub, "spoke": self.spoke, "elsewhere": self.other}[endpoint_in]
            admin.seed_private_endpoint(f"{base}/Microsoft.Network/privateEndpoints/ws-pe", f"{vnet}/subnets/pe", self.ws_id)
        admin.seed_aks(self.aks, f"{self.hub if aks_in == 'hub' else self.spoke}/subnets/aks")
        if extension:
            admin.seed_extension(self.aks, "azureml-ext")
        self.mark()

    def writes(self, since: int | None = None) -> list[tuple[str, str]]:
        return [(r["method"], r["path"]) for r in self.calls(since) if r["method"] != "GET"]

    def target_writes(self) -> list[tuple[str, str]]:
        """Writes beyond the storage role (which does not depend on the network)."""
        return [(m, p) for m, p in self.writes() if "/roleAssignments/" not in p]

    def count(self, method: str, needle: str) -> int:
        return sum(1 for r in self.calls() if r["method"] == method and needle.lower() in r["path"].lower())

    def label(self, vnet: str) -> str:
        return f"{self.rg}/{vnet.rsplit('/', 1)[-1]}"


def manifest(name: str, az: Estate, *, install: bool = False, deletion: str = "Retain", target: str = "Kubernetes",
             access: str | None = "Disabled") -> str:
    network = {"mode": "BringYourOwnVirtualNetwork", "virtualNetworkId": az.hub}
    if access:
        network["publicNetworkAccess"] = access
    dt = {"type": target}
    if target == "Kubernetes":
        dt.update({"aksClusterId": az.aks, "computeName": "pf-aks", "namespace": "promptflow",
                   "extension": {"install": install, "inference": {"allowInsecureConnections": True}}})
    return json.dumps({"apiVersion": API, "kind": KIND, "metadata": {"name": name}, "spec": {
        "azure": {"subscriptionId": az.sub, "resourceGroup": az.rg, "workspaceName": az.ws_name},
        "network": network, "deploymentTarget": dt, "deletionPolicy": deletion}})


def wait_condition(kube, ns: str, type_: str, status: str, reason: str | None = None) -> dict:
    def ok(o: dict) -> bool:
        c = condition(o, type_)
        return bool(c) and c["status"] == status and (reason is None or c["reason"] == reason)
    return kube.wait_for(KIND, ns, "pf", ok, WAIT, f"to show {type_}={status} {reason or ''}")


def drift_checks(operator, ns: str, n: int = 2) -> None:
    """Wait until `n` more drift checks of "pf" have run (each sets its last-drift-check metric; status is untouched)."""
    def stamp():
        for line in operator.scrape().splitlines():
            if (line.startswith("promptflow_netiso_last_drift_check_timestamp_seconds{") and f'kind="{KIND}"' in line
                    and f'namespace="{ns}"' in line and 'name="pf"' in line):
                return float(line.rsplit(" ", 1)[1])
        return None

    seen, deadline = stamp(), time.monotonic() + WAIT * n
    for _ in range(n):
        while stamp() in (None, seen):
            assert time.monotonic() < deadline, f"no drift check of {ns}/pf within {WAIT * n}s"
            time.sleep(0.25)
        seen = stamp()


def test_aks_in_the_workspace_vnet_is_verified_attached_then_left_alone_and_detached_on_delete(
        operator, kube, namespace, sim_admin):
    az = Estate(sim_admin, "byo-same")
    kube.apply(manifest("pf", az, deletion="Delete"), namespace)

    obj = kube.wait_for(KIND, namespace, "pf", is_ready, WAIT, "to be Ready")
    st = obj["status"]
    assert {c["type"]: c["status"] for c in st["conditions"]} == {
        "WorkspaceFound": "True", "LimitsSatisfied": "True", "IsolationApplied": "True", "NetworkProvisioned": "True",
        "StorageRolesAssigned": "True", "ApproverRoleAssigned": "True", "NetworkVerified": "True", "ExtensionReady": "True",
        "ComputeAttached": "True", "Ready": "True"}
    assert f"AKS cluster {az.rg}/aks1 in VNet {az.label(az.hub)}" in condition(obj, "NetworkVerified")["message"]
    assert condition(obj, "NetworkVerified")["message"].endswith("public network access Disabled")
    assert "azureml-ext" in condition(obj, "ExtensionReady")["message"]
    target = st["deploymentTarget"]
    assert (target["computeName"], target["computeAttachedByOperator"], target["extensionName"]) == ("pf-aks", True, "azureml-ext")
    assert target["extensionInstalledByOperator"] is False and target["virtualNetworks"] == [az.hub]
    assert st["publicNetworkAccess"] == "Disabled"
    # Bring-your-own VNet needs Storage File Data Privileged Contributor only (the guidance's step 2).
    assert [r["roleDefinitionId"].rsplit("/", 1)[-1] for r in st["roleAssignments"]] == [FILE_ROLE]
    assert sim_admin.computes(az.ws_id) == [{"name": "pf-aks", "resourceId": az.aks, "namespace": "promptflow",
                                             "computeType": "Kubernetes", "provisioningState": "Succeeded"}]
    assert sim_admin.workspace(az.ws_id)["body"]["properties"]["publicNetworkAccess"] == "Disabled"
    assert az.count("PATCH", f"/workspaces/{az.ws_name}") == 1
    assert az.count("PUT", "/computes/pf-aks") == 1
    assert az.count("PUT", "/extensions/") == 0  # one was there, under another name
    reasons = [e["reason"] for e in kube.events(namespace, "pf")]
    assert {"PublicNetworkAccessSet", "ComputeAttached"} <= set(reasons)

    since = az.mark()
    drift_checks(operator, namespace, n=2)
    assert az.writes(since) == []  # converged: reads only

    kube.delete(KIND, namespace, "pf")
    kube.wait_gone(KIND, namespace, "pf", WAIT)
    assert sim_admin.computes(az.ws_id) == []
    assert ("DELETE", f"/subscriptions/{az.sub}/resourceGroups/{az.rg}/providers/Microsoft.MachineLearningServices"
                      f"/workspaces/{az.ws_name}/computes/pf-aks") in az.writes(since)
    assert ("DELETE" not in {m for m, p in az.writes(since) if "/extensions/" in p})  # the extension stays


def test_aks_in_a_vnet_peered_both_ways_is_ready(operator, kube, namespace, sim_admin):
    az = Estate(sim_admin, "byo-peered", aks_in="spoke", hub_to_spoke="Connected", spoke_to_hub="Connected")
    kube.apply(manifest("pf", az), namespace)
    obj = kube.wait_for(KIND, namespace, "pf", is_ready, WAIT, "to be Ready")
    assert obj["status"]["deploymentTarget"]["virtualNetworks"] == [az.hub, az.spoke]
    assert "peerings Connected in both directions" in condition(obj, "NetworkVerified")["message"]

    since = az.mark()
    drift_checks(operator, namespace, n=2)
    calls = az.calls(since)
    checks = sum(1 for r in calls if r.get("route") == "ml.workspace.get")
    assert az.writes(since) == []
    # docs/byo-vnet.md: 9 reads per converged check with AKS in one peered VNet (the spoke is read for its side);
    # checks are counted by their workspace GET, so the tail of one that straddles the mark adds up to 8 more.
    assert sum(1 for r in calls if r["method"] == "GET") <= 9 * checks + 8
    assert sum(1 for r in calls if r.get("route") == "network.vnet.get") <= 2 * checks + 2


def test_a_peering_connected_on_one_side_only_names_the_missing_side_until_it_connects(operator, kube, namespace, sim_admin):
    az = Estate(sim_admin, "byo-oneside", aks_in="spoke", hub_to_spoke="Connected", spoke_to_hub="Initiated")
    kube.apply(manifest("pf", az), namespace)
    obj = wait_condition(kube, namespace, "NetworkVerified", "False", "VnetPeeringNotConnected")
    message = condition(obj, "NetworkVerified")["message"]
    assert f"the peering from {az.label(az.spoke)} to {az.label(az.hub)} is Initiated" in message
    assert f"{az.label(az.hub)} to {az.label(az.spoke)}" not in message  # that side is fine
    assert (condition(obj, "Ready")["status"], condition(obj, "Ready")["reason"]) == ("False", "VnetPeeringNotConnected")
    assert condition(obj, "ComputeAttached")["reason"] == "WaitingForPrerequisites"
    assert az.count("PUT", "/computes/") == 0
    assert "VnetPeeringNotConnected" in [e["reason"] for e in kube.events(namespace, "pf")]

    sim_admin.set_peering_state(az.spoke, "spoke-to-hub", "Connected")  # fixed in Azure; the object is not touched
    kube.wait_for(KIND, namespace, "pf", is_ready, WAIT, "to be Ready once the peering connects")


def test_an_unpeered_vnet_names_both_vnets(operator, kube, namespace, sim_admin):
    az = Estate(sim_admin, "byo-unpeered", aks_in="spoke")
    kube.apply(manifest("pf", az), namespace)
    obj = wait_condition(kube, namespace, "NetworkVerified", "False", "VnetsNotPeered")
    assert (f"VNets {az.label(az.hub)} and {az.label(az.spoke)} are not peered (no peering in either direction)"
            in condition(obj, "NetworkVerified")["message"])
    assert az.target_writes() == []  # not even publicNetworkAccess: nothing is changed on an unverified network


def test_no_workspace_private_endpoint_in_the_vnet_is_reported(operator, kube, namespace, sim_admin):
    az = Estate(sim_admin, "byo-nope", endpoint_in="elsewhere")
    kube.apply(manifest("pf", az), namespace)
    obj = wait_condition(kube, namespace, "NetworkVerified", "False", "NoWorkspacePrivateEndpointInVnet")
    message = condition(obj, "NetworkVerified")["message"]
    assert f"no Approved private endpoint connection of the workspace is in VNet {az.label(az.hub)}" in message
    assert f"is in VNet {az.label(az.other)}" in message
    assert az.target_writes() == []


def test_a_missing_extension_is_reported_then_installed_when_asked_and_the_cluster_attached(
        operator, kube, namespace, sim_admin):
    az = Estate(sim_admin, "byo-ext", extension=False)
    kube.apply(manifest("pf", az), namespace)
    obj = wait_condition(kube, namespace, "ExtensionReady", "False", "ExtensionNotInstalled")
    assert "microsoft.azureml.kubernetes) is not installed on AKS cluster" in condition(obj, "ExtensionReady")["message"]
    assert condition(obj, "NetworkVerified")["status"] == "True"
    assert az.count("PUT", "/extensions/") == 0 and az.count("PUT", "/computes/") == 0

    kube.apply(manifest("pf", az, install=True), namespace)
    obj = kube.wait_for(KIND, namespace, "pf", is_ready, WAIT, "to be Ready after installing the extension")
    target = obj["status"]["deploymentTarget"]
    assert (target["extensionName"], target["extensionInstalledByOperator"], target.get("extensionOperation")) == (
        "azureml", True, None)
    assert az.count("PUT", "/extensions/azureml") == 1 and az.count("PUT", "/computes/pf-aks") == 1
    reasons = [e["reason"] for e in kube.events(namespace, "pf")]
    assert {"ExtensionInstallStarted", "ComputeAttached"} <= set(reasons)


@pytest.mark.parametrize("kind", ["Hub", "Project"])
def test_hub_and_lean_workspaces_are_refused_with_the_guidance_reason(operator, kube, namespace, sim_admin, kind):
    seed = {}
    if kind == "Project":
        hub = SeededWorkspace(sim_admin, "byo-hub", kind="Hub")
        seed["hub_id"] = hub.ws_id
    az = Estate(sim_admin, "byo-kind", kind=kind, **seed)
    kube.apply(manifest("pf", az), namespace)
    obj = wait_condition(kube, namespace, "LimitsSatisfied", "False", "BringYourOwnVnetNotSupportedForKind")
    assert "hub and lean (project) workspaces support only the managed virtual network" in condition(obj, "LimitsSatisfied")["message"]
    assert {condition(obj, t)["reason"] for t in ("NetworkVerified", "ExtensionReady", "ComputeAttached")} == {"LimitsNotSatisfied"}
    drift_checks(operator, namespace, n=1)
    assert az.writes() == []


def test_byo_vnet_with_a_managed_online_endpoint_is_refused_at_admission(kube, unwatched_namespace, sim_admin):
    az = Estate(sim_admin, "byo-moe")
    res = kube.cp.kubectl("apply", "-n", unwatched_namespace, "-f", "-", check=False,
                          input=manifest("pf", az, target="ManagedOnlineEndpoint"))
    assert res.returncode != 0
    assert "a managed online endpoint needs a managed virtual network" in res.stderr
    assert "spec.deploymentTarget.type" in res.stderr


def test_an_extension_install_survives_an_operator_restart_and_is_not_started_twice(operator, kube, namespace, sim_admin):
    az = Estate(sim_admin, "byo-restart", extension=False)
    # The install's operation stays running for a while: long enough to kill the operator in the middle.
    sim_admin.faults(rf"/subscriptions/{az.sub}/.*/extensions/azureml$", "stuck-lro", method="PUT", count=1, stuck_s=8)
    try:
        kube.apply(manifest("pf", az, install=True), namespace)
        # The operation URL is written at once (before anything can fail), the condition with the handler's end.
        running = kube.wait_for(KIND, namespace, "pf",
                                lambda o: bool(((o.get("status") or {}).get("deploymentTarget") or {}).get("extensionOperation"))
                                and (condition(o, "ExtensionReady") or {}).get("reason") == "Installing",
                                WAIT, "to record the install's operation")
        assert running["status"]["deploymentTarget"]["extensionOperation"]["operationUrl"].startswith("https://")
        assert condition(running, "ExtensionReady")["reason"] == "Installing"
        operator.restart()  # SIGKILL, like a crashed pod, while Azure installs
        obj = kube.wait_for(KIND, namespace, "pf", is_ready, WAIT, "to be Ready after the restart")
    finally:
        sim_admin.clear_faults()
    assert az.count("PUT", "/extensions/azureml") == 1  # followed, never started again
    assert az.count("PUT", "/computes/pf-aks") == 1
    assert obj["status"]["deploymentTarget"]["extensionInstalledByOperator"] is True
