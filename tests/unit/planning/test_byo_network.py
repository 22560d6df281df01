"""Bring-your-own VNet planner: observed network, extension and compute -> conditions, actions, status record."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from promptflow_netiso.model import WorkspaceSpec
from promptflow_netiso.planning import byo_network as byo

SUB = "00000000-0000-0000-0000-000000000001"
BASE = f"/subscriptions/{SUB}/resourceGroups/rg/providers"
HUB, SPOKE, OTHER = (f"{BASE}/Microsoft.Network/virtualNetworks/{n}" for n in ("hub", "spoke", "other"))
AKS = f"{BASE}/Microsoft.ContainerService/managedClusters/aks"
PE = f"{BASE}/Microsoft.Network/privateEndpoints/ws-pe"


@dataclass
class Peering:
    remote_virtual_network_id: str
    peering_state: str


@dataclass
class Vnet:
    id: str
    peerings: list = field(default_factory=list)


@dataclass
class Conn:
    name: str
    private_endpoint_id: str
    status: str = "Approved"


@dataclass
class Cluster:
    id: str
    agent_pool_subnet_ids: tuple


@dataclass
class Ext:
    name: str = "azureml"
    extension_type: str = "microsoft.azureml.kubernetes"
    provisioning_state: str = "Succeeded"
    error: str | None = None


@dataclass
class Compute:
    id: str = f"{BASE}/Microsoft.MachineLearningServices/workspaces/ws/computes/promptflow-aks"
    compute_type: str = "Kubernetes"
    resource_id: str = AKS
    namespace: str = "default"
    provisioning_state: str = "Succeeded"
    errors: tuple = ()


@dataclass
class Poll:
    done: bool
    status: str | None = None
    error: object = None


def spec(install: bool = False, access: str | None = None) -> WorkspaceSpec:
    network = {"mode": "BringYourOwnVirtualNetwork", "virtualNetworkId": HUB}
    if access:
        network["publicNetworkAccess"] = access
    return WorkspaceSpec.from_dict({
        "azure": {"subscriptionId": SUB, "resourceGroup": "rg", "workspaceName": "ws"}, "network": network,
        "deploymentTarget": {"type": "Kubernetes", "aksClusterId": AKS,
                             "extension": {"install": install, "inference": {"allowInsecureConnections": True}}}})


def observed(aks_vnet: str = HUB, hub_peers: dict | None = None, spoke_peers: dict | None = None, *, pe_vnet: str = HUB,
             connections=None, extensions=None, compute=None, access: str | None = "Enabled", poll=None) -> byo.Observed:
    hub = Vnet(HUB, [Peering(k, v) for k, v in (hub_peers or {}).items()])
    spoke = Vnet(SPOKE, [Peering(k, v) for k, v in (spoke_peers or {}).items()])
    return byo.Observed(
        public_network_access=access, vnet=hub,
        connections=[Conn("c1", PE)] if connections is None else connections,
        endpoint_vnets={PE.lower(): pe_vnet}, cluster=Cluster(AKS, (f"{aks_vnet}/subnets/aks",)),
        other_vnets={SPOKE.lower(): spoke},
        extensions=[Ext()] if extensions is None else extensions, compute=compute, extension_poll=poll)


def run(obs: byo.Observed, s: WorkspaceSpec | None = None, manage: bool = True, previous: dict | None = None):
    return byo.plan(s or spec(), obs, manage=manage, previous=byo.Previous(previous or {}))


def cond(plan, type_):
    c = plan.condition(type_)
    return c["status"], c["reason"], c["message"]


def test_same_vnet_with_extension_attaches_the_cluster():
    plan = run(observed())
    assert cond(plan, "NetworkVerified")[:2] == ("True", "Verified")
    assert cond(plan, "ExtensionReady")[:2] == ("True", "Succeeded")
    [attach] = plan.actions
    assert (attach.name, attach.cluster_id, attach.namespace, attach.drift) == ("promptflow-aks", AKS, "default", None)
    assert cond(plan, "ComputeAttached")[:2] == ("Unknown", "Attaching")


def test_converged_target_plans_nothing():
    plan = run(observed(compute=Compute()), previous={"computeAttachedByOperator": True, "computeId": Compute().id})
    assert plan.actions == ()
    assert [c["status"] for c in plan.conditions] == ["True", "True", "True"]
    assert plan.record["computeAttachedByOperator"] is True and plan.record["virtualNetworks"] == [HUB]


@pytest.mark.parametrize("hub_state, spoke_state, reason, words", [
    ("Connected", "Connected", None, None),
    ("Connected", "Initiated", byo.REASON_PEERING_INCOMPLETE, "the peering from rg/spoke to rg/hub is Initiated"),
    (None, "Connected", byo.REASON_PEERING_INCOMPLETE, "the peering from rg/hub to rg/spoke is missing"),
    ("Disconnected", None, byo.REASON_PEERING_INCOMPLETE, "the peering from rg/hub to rg/spoke is Disconnected; "
                                                          "the peering from rg/spoke to rg/hub is missing"),
    (None, None, byo.REASON_NOT_PEERED, "VNets rg/hub and rg/spoke are not peered (no peering in either direction)"),
])
def test_aks_in_another_vnet_needs_a_peering_connected_both_ways(hub_state, spoke_state, reason, words):
    plan = run(observed(SPOKE, {SPOKE: hub_state} if hub_state else {}, {HUB: spoke_state} if spoke_state else {}))
    status, got_reason, message = cond(plan, "NetworkVerified")
    if reason is None:
        assert status == "True" and "peerings Connected in both directions" in message
        assert plan.record["virtualNetworks"] == [HUB, SPOKE]
        return
    assert (status, got_reason) == ("False", reason)
    assert words in message and "AKS cluster rg/aks runs in VNet rg/spoke" in message
    assert plan.actions == ()  # nothing is attached to an unverified network
    assert cond(plan, "ComputeAttached")[:2] == ("False", byo.REASON_WAITING)


@pytest.mark.parametrize("connections, pe_vnet, words", [
    ([], HUB, "the workspace has no private endpoint connections"),
    ([Conn("c1", PE, "Pending")], HUB, "not Approved: c1 (Pending)"),
    ([Conn("c1", PE)], OTHER, "private endpoint rg/ws-pe is in VNet rg/other: VNets rg/hub and rg/other are not peered"),
])
def test_inbound_needs_an_approved_workspace_endpoint_in_the_vnet(connections, pe_vnet, words):
    plan = run(observed(connections=connections, pe_vnet=pe_vnet))
    status, reason, message = cond(plan, "NetworkVerified")
    assert (status, reason) == ("False", byo.REASON_NO_WORKSPACE_ENDPOINT)
    assert words in message


def test_a_workspace_endpoint_in_a_peered_vnet_counts():
    plan = run(observed(pe_vnet=SPOKE, hub_peers={SPOKE: "Connected"}, spoke_peers={HUB: "Connected"}))
    assert cond(plan, "NetworkVerified")[0] == "True"


def test_aks_managed_vnet_is_refused():
    obs = observed()
    obs.cluster = Cluster(AKS, ())
    assert cond(run(obs), "NetworkVerified")[:2] == ("False", byo.REASON_AKS_MANAGED_VNET)


def test_public_network_access_is_set_once_when_it_differs_and_left_when_equal():
    plan = run(observed(access="Enabled"), spec(access="Disabled"))
    first = plan.actions[0]
    assert isinstance(first, byo.SetPublicNetworkAccess) and first.value == "Disabled"
    assert isinstance(plan.actions[1], byo.AttachCompute)  # the rest of the network is verified already
    byo.after_access_set(plan, first, "Disabled")
    assert cond(plan, "NetworkVerified")[:2] == ("True", "Verified")
    assert plan.public_network_access == "Disabled"
    assert not any(isinstance(a, byo.SetPublicNetworkAccess) for a in run(observed(access="Disabled"), spec(access="Disabled")).actions)
    skipped = run(observed(access="Enabled"), spec(access="Disabled"), manage=False)
    assert skipped.actions == () and cond(skipped, "NetworkVerified")[:2] == ("False", "ReconcileSkipped")


def test_missing_extension_is_reported_or_installed_when_asked():
    plan = run(observed(extensions=[]))
    assert cond(plan, "ExtensionReady")[:2] == ("False", byo.REASON_NOT_INSTALLED)
    assert plan.actions == ()
    plan = run(observed(extensions=[Ext("flux", "microsoft.flux")]), spec(install=True))
    [install] = plan.actions
    assert (install.name, install.release_namespace) == ("azureml", "azureml")
    assert install.settings == {"enableInference": "True", "inferenceRouterServiceType": "LoadBalancer",
                                "allowInsecureConnections": "True", "inferenceRouterHA": "True",
                                "internalLoadBalancerProvider": "azure"}
    byo.after_extension_started(plan, install, "https://arm/op/1", "2026-11-30T00:00:00Z")
    assert plan.record["extensionOperation"] == {"operationUrl": "https://arm/op/1", "startedAt": "2026-11-30T00:00:00Z"}
    assert plan.record["extensionInstalledByOperator"] is True and plan.follow


def test_a_running_install_is_followed_and_its_record_dropped_when_done():
    rec = {"extensionOperation": {"operationUrl": "https://arm/op/1", "startedAt": "t0"}, "extensionInstalledByOperator": True}
    running = run(observed(extensions=[Ext(provisioning_state="Creating")], poll=Poll(False)), spec(install=True), previous=rec)
    assert running.actions == () and running.follow
    assert cond(running, "ExtensionReady")[:2] == ("Unknown", "Installing")
    assert running.record["extensionOperation"]["operationUrl"] == "https://arm/op/1"
    done = run(observed(poll=Poll(True, "Succeeded")), spec(install=True), previous=rec)
    assert done.record["extensionOperation"] is None and cond(done, "ExtensionReady")[0] == "True"
    failed = run(observed(extensions=[Ext(provisioning_state="Failed", error="HelmInstallFailed: timed out")],
                          poll=Poll(True, "Failed")), spec(install=True), previous=rec)
    assert cond(failed, "ExtensionReady") == ("False", byo.REASON_EXTENSION_FAILED,
                                              "Azure ML extension azureml (microsoft.azureml.kubernetes) on AKS cluster "
                                              "rg/aks is Failed: HelmInstallFailed: timed out")
    assert failed.actions == ()


def test_someone_elses_compute_of_that_name_is_never_overwritten():
    other = Compute(resource_id=f"{BASE}/Microsoft.ContainerService/managedClusters/elsewhere")
    plan = run(observed(compute=other))
    assert plan.actions == ()
    assert cond(plan, "ComputeAttached")[:2] == ("False", byo.REASON_COMPUTE_TAKEN)


def test_our_compute_detached_by_hand_is_attached_again():
    plan = run(observed(compute=None), previous={"computeAttachedByOperator": True, "computeId": Compute().id})
    [attach] = plan.actions
    assert attach.drift == "compute promptflow-aks was detached outside the operator"
    assert attach.event_reason == "DriftCorrected"


def test_read_errors_carry_azures_words():
    obs = byo.Observed(network_error=byo.ReadError("AuthorizationFailed", "AuthorizationFailed: no read on vnet"),
                       extensions=[Ext()], compute=None)
    plan = run(obs)
    assert cond(plan, "NetworkVerified") == ("False", "AuthorizationFailed", "AuthorizationFailed: no read on vnet")
    assert plan.actions == ()


def test_deletion_detaches_only_what_the_operator_attached():
    delete = WorkspaceSpec.from_dict({"azure": {"subscriptionId": SUB, "resourceGroup": "rg", "workspaceName": "ws"},
                                      "network": {"mode": "BringYourOwnVirtualNetwork", "virtualNetworkId": HUB},
                                      "deploymentTarget": {"type": "Kubernetes", "aksClusterId": AKS},
                                      "deletionPolicy": "Delete"})
    ours = {"deploymentTarget": {"computeName": "promptflow-aks", "computeAttachedByOperator": True}}
    theirs = {"deploymentTarget": {"computeName": "promptflow-aks", "computeAttachedByOperator": False}}
    assert byo.plan_delete(delete, True, ours).name == "promptflow-aks"
    assert byo.plan_delete(delete, True, theirs) is None
    assert byo.plan_delete(delete, False, ours) is None  # skip / detach-on-delete
    assert byo.plan_delete(spec(), True, ours) is None  # Retain
