"""Bring-your-own VNet with an AKS deployment target, pure (no I/O, no clock): observed Azure state -> actions,
conditions and the status.deploymentTarget record.

Flow per reconcile (handlers/byo_network.py), only when `network.mode` is BringYourOwnVirtualNetwork and the
service limits hold: observe (the workspace's private endpoint connections and each Approved one's private
endpoint, the spec's VNet with its peerings, the AKS cluster, every other VNet its agent pools or the endpoints sit
in, the cluster's extensions, a stored extension install operation, the compute) -> `plan()` -> execute in order
(publicNetworkAccess, extension install, compute attach), stopping at the first failure -> `after_*` -> status.

Decisions (documented for users in docs/byo-vnet.md):
- Two VNets count as linked only when each has a peering to the other with peeringState Connected; anything less
  names the VNets and the side that is missing or not Connected.
- NetworkVerified: an Approved workspace private endpoint connection whose endpoint sits in the spec's VNet or one
  linked to it; every AKS agent pool subnet in the spec's VNet or a linked one; publicNetworkAccess as asked.
- Writes to the cluster or the workspace's computes happen only once the network is verified; the extension is
  installed only when the spec asks; the compute is attached only once the extension is Succeeded.
- A compute of that name that the operator did not attach and that differs from the spec is never overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Protocol, Sequence

from ..conditions import FALSE, TRUE, UNKNOWN, condition
from ..model import arm_id
from ..model.workspace import (
    CONDITION_COMPUTE_ATTACHED,
    CONDITION_EXTENSION_READY,
    CONDITION_NETWORK_VERIFIED,
    DeletionPolicy,
    WorkspaceSpec,
)

STEPS = (CONDITION_NETWORK_VERIFIED, CONDITION_EXTENSION_READY, CONDITION_COMPUTE_ATTACHED)
AZUREML_EXTENSION_TYPE = "microsoft.azureml.kubernetes"
CONNECTED, APPROVED, SUCCEEDED = "connected", "approved", "succeeded"
RUNNING_STATES = frozenset({"creating", "updating", "accepted", "inprogress", "running", "provisioning"})

REASON_VERIFIED = "Verified"
REASON_NO_WORKSPACE_ENDPOINT = "NoWorkspacePrivateEndpointInVnet"
REASON_AKS_NOT_IN_VNET = "AksNotInWorkspaceVnet"
REASON_AKS_MANAGED_VNET = "AksUsesManagedVnet"
REASON_PEERING_INCOMPLETE = "VnetPeeringNotConnected"
REASON_NOT_PEERED = "VnetsNotPeered"
REASON_SETTING_ACCESS = "SettingPublicNetworkAccess"
REASON_SKIPPED = "ReconcileSkipped"
REASON_READY = "Succeeded"
REASON_INSTALLING = "Installing"
REASON_NOT_INSTALLED = "ExtensionNotInstalled"
REASON_EXTENSION_FAILED = "ExtensionFailed"
REASON_ATTACHED = "Attached"
REASON_ATTACHING = "Attaching"
REASON_WAITING = "WaitingForPrerequisites"
REASON_COMPUTE_TAKEN = "ComputeNameTaken"
REASON_COMPUTE_FAILED = "ComputeFailed"
REASON_BLOCKED = "LimitsNotSatisfied"

# In-progress reasons: no Warning Event for these.
QUIET_REASONS = frozenset({REASON_SETTING_ACCESS, REASON_INSTALLING, REASON_ATTACHING, REASON_WAITING, REASON_BLOCKED})

EVENT_ACCESS_SET = "PublicNetworkAccessSet"
EVENT_EXTENSION_STARTED = "ExtensionInstallStarted"
EVENT_COMPUTE_ATTACHED = "ComputeAttached"
EVENT_COMPUTE_DETACHED = "ComputeDetached"
EVENT_DRIFT_CORRECTED = "DriftCorrected"


# --- what the planner reads (structural: planning imports nothing from azure/) ---------------------------------------


class PeeringLike(Protocol):
    remote_virtual_network_id: str | None
    peering_state: str | None


class VnetLike(Protocol):
    id: str
    peerings: Sequence[PeeringLike]


class ConnectionLike(Protocol):
    name: str
    private_endpoint_id: str | None
    status: str | None


class ClusterLike(Protocol):
    id: str
    agent_pool_subnet_ids: Sequence[str]


class ExtensionLike(Protocol):
    name: str
    extension_type: str | None
    provisioning_state: str | None
    error: str | None


class PollLike(Protocol):
    done: bool
    status: str | None


class ComputeLike(Protocol):
    id: str
    compute_type: str | None
    resource_id: str | None
    namespace: str | None
    provisioning_state: str | None
    errors: Sequence[str]


@dataclass(frozen=True)
class ReadError:
    """An Azure read that failed: the condition of its step carries Azure's words."""

    code: str
    text: str
    passing: bool = False  # throttling / transient: Unknown rather than False


@dataclass
class Observed:
    public_network_access: str | None = None  # as the workspace GET reports it
    vnet: VnetLike | None = None  # the spec's VNet (with its peerings)
    connections: Sequence[ConnectionLike] = ()
    endpoint_vnets: Mapping[str, str | None] = field(default_factory=dict)  # private endpoint ID (lower) -> VNet ID
    cluster: ClusterLike | None = None
    other_vnets: Mapping[str, VnetLike] = field(default_factory=dict)  # VNet ID (lower) -> VNet, for peering checks
    extensions: Sequence[ExtensionLike] | None = None
    extension_poll: PollLike | None = None
    compute: ComputeLike | None = None
    network_error: ReadError | None = None
    extension_error: ReadError | None = None
    compute_error: ReadError | None = None


@dataclass(frozen=True)
class Previous:
    """status.deploymentTarget as the operator last wrote it."""

    record: Mapping = field(default_factory=dict)

    @property
    def extension_operation(self) -> Mapping | None:
        op = self.record.get("extensionOperation")
        return op if isinstance(op, Mapping) and op.get("operationUrl") else None

    @property
    def compute_ours(self) -> bool:
        return bool(self.record.get("computeAttachedByOperator"))

    @property
    def extension_ours(self) -> bool:
        return bool(self.record.get("extensionInstalledByOperator"))

    @classmethod
    def from_status(cls, status: Mapping | None) -> "Previous":
        rec = (status or {}).get("deploymentTarget")
        return cls(rec if isinstance(rec, Mapping) else {})


# --- actions ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetPublicNetworkAccess:
    value: str
    previous: str | None
    summary: str = ""  # what NetworkVerified says once it is set

    condition_type = CONDITION_NETWORK_VERIFIED
    event_reason = EVENT_ACCESS_SET

    def describe(self) -> str:
        return f"workspace publicNetworkAccess set from {self.previous or 'unset'} to {self.value}"


@dataclass(frozen=True)
class InstallExtension:
    cluster_id: str
    name: str
    release_namespace: str
    settings: Mapping[str, str]

    condition_type = CONDITION_EXTENSION_READY
    event_reason = EVENT_EXTENSION_STARTED

    def describe(self) -> str:
        return (f"installing the Azure ML extension {self.name} ({AZUREML_EXTENSION_TYPE}) on AKS cluster "
                f"{label(self.cluster_id)}")


@dataclass(frozen=True)
class AttachCompute:
    name: str
    cluster_id: str
    namespace: str
    drift: str | None = None  # why an existing attachment is written again

    condition_type = CONDITION_COMPUTE_ATTACHED

    @property
    def event_reason(self) -> str:
        return EVENT_DRIFT_CORRECTED if self.drift else EVENT_COMPUTE_ATTACHED

    def describe(self) -> str:
        done = f"AKS cluster {label(self.cluster_id)} attached as Kubernetes compute {self.name} (namespace {self.namespace})"
        return f"{self.drift}; {done}" if self.drift else done


@dataclass(frozen=True)
class DetachCompute:
    name: str
    cluster_id: str | None

    condition_type = CONDITION_COMPUTE_ATTACHED
    event_reason = EVENT_COMPUTE_DETACHED

    def describe(self) -> str:
        return f"Kubernetes compute {self.name} detached (underlyingResourceAction=Detach; the AKS cluster is kept)"


Action = SetPublicNetworkAccess | InstallExtension | AttachCompute


@dataclass
class Plan:
    actions: tuple[Action, ...]
    conditions: list[dict]  # STEPS order
    record: dict  # status.deploymentTarget
    public_network_access: str | None = None  # status.publicNetworkAccess
    follow: bool = False  # an install or attach is running: look again soon

    def condition(self, type_: str) -> dict | None:
        return next((c for c in self.conditions if c["type"] == type_), None)


# --- the planner -----------------------------------------------------------------------------------------------------


def plan(spec: WorkspaceSpec, observed: Observed, *, manage: bool, previous: Previous) -> Plan:
    target = spec.deployment_target
    cluster_id = target.aks_cluster_id or ""
    record: dict = {
        "aksClusterId": cluster_id,
        "computeName": target.compute_name,
        "computeId": None,
        "computeAttachedByOperator": previous.compute_ours,
        "extensionName": None,
        "extensionInstalledByOperator": previous.extension_ours,
        "extensionOperation": dict(previous.extension_operation) if previous.extension_operation else None,
        "virtualNetworks": [],
        # A compute PUT recorded before it was sent (planning/compute_intent.py), settled before planning.
        "pendingWrite": previous.record.get("pendingWrite") or None,
    }
    actions: list[Action] = []
    follow = False

    net_cond, access_action, vnets = _network(spec, observed, manage)
    record["virtualNetworks"] = vnets
    if access_action:
        actions.append(access_action)
    verified = net_cond["status"] == TRUE or (access_action is not None and net_cond["reason"] == REASON_SETTING_ACCESS)

    ext_cond, ext_action, ext_name, ext_follow, op_done = _extension(spec, observed, manage, previous, verified)
    record["extensionName"] = ext_name
    if op_done:
        record["extensionOperation"] = None
    if ext_action:
        actions.append(ext_action)
    follow |= ext_follow

    comp_cond, comp_action, comp_follow = _compute(spec, observed, manage, previous,
                                                   ready=verified and ext_cond["status"] == TRUE)
    if observed.compute is not None:
        record["computeId"] = observed.compute.id
    if comp_action:
        actions.append(comp_action)
    follow |= comp_follow

    return Plan(tuple(actions), [net_cond, ext_cond, comp_cond], record,
                public_network_access=observed.public_network_access, follow=follow)


def blocked_conditions(why: str = "nothing is written to Azure until LimitsSatisfied is True") -> list[dict]:
    return [condition(t, UNKNOWN, REASON_BLOCKED, why) for t in STEPS]


# --- the network -----------------------------------------------------------------------------------------------------


def peering_state(vnet: VnetLike | None, remote_id: str) -> str | None:
    """peeringState of `vnet`'s peering to `remote_id`; None when it has none (or `vnet` is unknown)."""
    if vnet is None:
        return None
    for p in vnet.peerings:
        if arm_id.same(p.remote_virtual_network_id, remote_id):
            return p.peering_state or "Unknown"
    return None


def link_problem(ours: VnetLike, other_id: str, other: VnetLike | None) -> str | None:
    """None when `other_id` is the spec's VNet or peered with it Connected in both directions; otherwise what is
    missing, naming both VNets and the side."""
    if arm_id.same(other_id, ours.id):
        return None
    out_state, in_state = peering_state(ours, other_id), peering_state(other, ours.id)
    a, b = label(ours.id), label(other_id)
    if out_state is None and in_state is None:
        return f"VNets {a} and {b} are not peered (no peering in either direction)"
    problems = []
    for src, dst, state in ((a, b, out_state), (b, a, in_state)):
        if state is None:
            problems.append(f"the peering from {src} to {dst} is missing")
        elif state.lower() != CONNECTED:
            problems.append(f"the peering from {src} to {dst} is {state}")
    if not problems:
        return None
    return f"VNets {a} and {b} are not peered in both directions: " + "; ".join(problems) + " (both sides must be Connected)"


def _network(spec: WorkspaceSpec, obs: Observed, manage: bool):
    """-> (NetworkVerified condition, SetPublicNetworkAccess or None, VNets involved)."""
    if obs.network_error is not None:
        e = obs.network_error
        return condition(CONDITION_NETWORK_VERIFIED, UNKNOWN if e.passing else FALSE, pascal(e.code), e.text), None, []
    ours = obs.vnet
    assert ours is not None, "the spec's VNet is read before planning"
    cluster_id = spec.deployment_target.aks_cluster_id or ""
    involved = [ours.id]

    # Inbound: an Approved workspace private endpoint in our VNet or a linked one.
    inbound_ok, inbound_notes = None, []
    approved = [c for c in obs.connections if _lower(c.status) == APPROVED and c.private_endpoint_id]
    for c in approved:
        where = obs.endpoint_vnets.get(arm_id.key(c.private_endpoint_id))
        if where is None:
            inbound_notes.append(f"private endpoint {label(c.private_endpoint_id)} is not in a subnet of a VNet")
            continue
        problem = link_problem(ours, where, obs.other_vnets.get(arm_id.key(where)))
        if problem is None:
            inbound_ok = (c, where)
            break
        inbound_notes.append(f"private endpoint {label(c.private_endpoint_id)} is in VNet {label(where)}: {problem}")
    if inbound_ok is None:
        others = [f"{c.name} ({c.status or 'unknown'})" for c in obs.connections if c not in approved]
        text = f"no Approved private endpoint connection of the workspace is in VNet {label(ours.id)} or a VNet peered with it"
        details = inbound_notes + ([f"not Approved: {', '.join(others)}"] if others else [])
        if not obs.connections:
            details.append("the workspace has no private endpoint connections; create a private endpoint for the "
                           f"workspace (sub-resource amlworkspace) in a subnet of {label(ours.id)}")
        return (condition(CONDITION_NETWORK_VERIFIED, FALSE, REASON_NO_WORKSPACE_ENDPOINT,
                          text + (": " + "; ".join(details) if details else "")), None, involved)
    if not arm_id.same(inbound_ok[1], ours.id):
        involved.append(inbound_ok[1])

    # The AKS target: every agent pool subnet in our VNet or a linked one.
    cluster = obs.cluster
    assert cluster is not None
    if not cluster.agent_pool_subnet_ids:
        return (condition(CONDITION_NETWORK_VERIFIED, FALSE, REASON_AKS_MANAGED_VNET,
                          f"AKS cluster {label(cluster_id)} has no agent pool in a subnet of your own (no vnetSubnetID): "
                          f"it uses an AKS-managed VNet; deploy it into {label(ours.id)} or a VNet peered with it"),
                None, involved)
    reasons, notes, aks_vnets = [], [], []
    for subnet in cluster.agent_pool_subnet_ids:
        where = vnet_of_subnet(subnet)
        if where is None:
            reasons.append(REASON_AKS_NOT_IN_VNET)
            notes.append(f"agent pool subnet {subnet} is not a VNet subnet")
            continue
        problem = link_problem(ours, where, obs.other_vnets.get(arm_id.key(where)))
        if problem is None:
            if arm_id.key(where) not in {arm_id.key(v) for v in aks_vnets}:
                aks_vnets.append(where)
            continue
        in_state, out_state = peering_state(obs.other_vnets.get(arm_id.key(where)), ours.id), peering_state(ours, where)
        reasons.append(REASON_NOT_PEERED if in_state is None and out_state is None else REASON_PEERING_INCOMPLETE)
        notes.append(f"AKS cluster {label(cluster_id)} runs in VNet {label(where)}: {problem}")
    if notes:
        return condition(CONDITION_NETWORK_VERIFIED, FALSE, reasons[0], "; ".join(dict.fromkeys(notes))), None, involved
    involved += [v for v in aks_vnets if arm_id.key(v) not in {arm_id.key(i) for i in involved}]

    summary = (f"workspace private endpoint {label(inbound_ok[0].private_endpoint_id)} (Approved) in VNet "
               f"{label(inbound_ok[1])}; AKS cluster {label(cluster_id)} in VNet "
               + ", ".join(label(v) for v in aks_vnets)
               + ("; peerings Connected in both directions" if len(involved) > 1 else ""))
    desired = spec.network.public_network_access
    if desired is None:
        return condition(CONDITION_NETWORK_VERIFIED, TRUE, REASON_VERIFIED, summary), None, involved
    current = obs.public_network_access
    if (current or "").lower() == desired.value.lower():
        return (condition(CONDITION_NETWORK_VERIFIED, TRUE, REASON_VERIFIED, f"{summary}; public network access {desired.value}"),
                None, involved)
    if not manage:
        return (condition(CONDITION_NETWORK_VERIFIED, FALSE, REASON_SKIPPED,
                          f"{summary}; but public network access is {current or 'unset'}, the spec asks for "
                          f"{desired.value}; not changed because reconcile-policy is skip"), None, involved)
    action = SetPublicNetworkAccess(value=desired.value, previous=current, summary=summary)
    return (condition(CONDITION_NETWORK_VERIFIED, UNKNOWN, REASON_SETTING_ACCESS, f"{summary}; {action.describe()}"),
            action, involved)


# --- the Azure ML extension ------------------------------------------------------------------------------------------


def find_extension(extensions: Iterable[ExtensionLike], preferred_name: str) -> ExtensionLike | None:
    """The cluster's Azure ML extension, whatever it was named (the spec's name first)."""
    found = [e for e in extensions if _lower(e.extension_type) == AZUREML_EXTENSION_TYPE]
    found.sort(key=lambda e: _lower(e.name) != _lower(preferred_name))
    return found[0] if found else None


def _extension(spec: WorkspaceSpec, obs: Observed, manage: bool, previous: Previous, verified: bool):
    """-> (ExtensionReady condition, InstallExtension or None, extension name, follow, operation record done)."""
    target = spec.deployment_target
    want = target.extension
    cluster = label(target.aks_cluster_id or "")
    running_op = previous.extension_operation
    poll = obs.extension_poll
    if obs.extension_error is not None:
        e = obs.extension_error
        return condition(CONDITION_EXTENSION_READY, UNKNOWN if e.passing else FALSE, pascal(e.code), e.text), None, None, False, False
    if running_op is not None and poll is not None and not poll.done:
        return (condition(CONDITION_EXTENSION_READY, UNKNOWN, REASON_INSTALLING,
                          f"the Azure ML extension install on {cluster} started at {running_op.get('startedAt', '?')} is running"),
                None, want.name, True, False)
    op_done = running_op is not None  # finished (or expired): the record goes
    poll_error = getattr(poll, "error", None) if poll is not None else None
    ext = find_extension(obs.extensions or (), want.name)
    if ext is None:
        if poll_error is not None:
            return (condition(CONDITION_EXTENSION_READY, FALSE, pascal(getattr(poll_error, "code", None)), str(poll_error)),
                    None, None, False, op_done)
        missing = f"the Azure ML extension ({AZUREML_EXTENSION_TYPE}) is not installed on AKS cluster {cluster}"
        if not want.install:
            return (condition(CONDITION_EXTENSION_READY, FALSE, REASON_NOT_INSTALLED,
                              f"{missing}; install it (az k8s-extension create --extension-type {AZUREML_EXTENSION_TYPE} "
                              "--config enableInference=True ...) or set deploymentTarget.extension.install true"),
                    None, None, False, op_done)
        if not manage:
            return (condition(CONDITION_EXTENSION_READY, FALSE, REASON_SKIPPED,
                              f"{missing}; not installed because reconcile-policy is skip"), None, None, False, op_done)
        if not verified:
            return (condition(CONDITION_EXTENSION_READY, FALSE, REASON_NOT_INSTALLED,
                              f"{missing}; it is installed once {CONDITION_NETWORK_VERIFIED} is True"),
                    None, None, False, op_done)
        action = InstallExtension(cluster_id=target.aks_cluster_id or "", name=want.name,
                                  release_namespace=want.release_namespace, settings=want.configuration_settings())
        return condition(CONDITION_EXTENSION_READY, UNKNOWN, REASON_INSTALLING, action.describe()), action, want.name, False, op_done
    state = _lower(ext.provisioning_state)
    what = f"Azure ML extension {ext.name} ({AZUREML_EXTENSION_TYPE}) on AKS cluster {cluster}"
    if state == SUCCEEDED:
        return condition(CONDITION_EXTENSION_READY, TRUE, REASON_READY, f"{what} is Succeeded"), None, ext.name, False, op_done
    if state in RUNNING_STATES:
        return (condition(CONDITION_EXTENSION_READY, UNKNOWN, REASON_INSTALLING, f"{what} is {ext.provisioning_state}"),
                None, ext.name, True, op_done)
    detail = ext.error or (str(poll_error) if poll_error is not None else None)
    return (condition(CONDITION_EXTENSION_READY, FALSE, REASON_EXTENSION_FAILED,
                      f"{what} is {ext.provisioning_state or 'in an unknown state'}" + (f": {detail}" if detail else "")),
            None, ext.name, False, op_done)


# --- the Kubernetes compute ------------------------------------------------------------------------------------------


def _compute(spec: WorkspaceSpec, obs: Observed, manage: bool, previous: Previous, ready: bool):
    """-> (ComputeAttached condition, AttachCompute or None, follow)."""
    target = spec.deployment_target
    name, cluster_id, ns = target.compute_name, target.aks_cluster_id or "", target.namespace
    if obs.compute_error is not None:
        e = obs.compute_error
        return condition(CONDITION_COMPUTE_ATTACHED, UNKNOWN if e.passing else FALSE, pascal(e.code), e.text), None, False
    compute = obs.compute
    drift = None
    if compute is not None:
        same = (_lower(compute.compute_type) == "kubernetes" and arm_id.same(compute.resource_id, cluster_id)
                and (compute.namespace or "default") == ns)
        if same:
            state = _lower(compute.provisioning_state)
            if state == SUCCEEDED:
                return (condition(CONDITION_COMPUTE_ATTACHED, TRUE, REASON_ATTACHED,
                                  f"AKS cluster {label(cluster_id)} attached as Kubernetes compute {name} (namespace {ns})"),
                        None, False)
            if state in RUNNING_STATES:
                return (condition(CONDITION_COMPUTE_ATTACHED, UNKNOWN, REASON_ATTACHING,
                                  f"Kubernetes compute {name} is {compute.provisioning_state}"), None, True)
            detail = "; ".join(compute.errors)
            return (condition(CONDITION_COMPUTE_ATTACHED, FALSE, REASON_COMPUTE_FAILED,
                              f"Kubernetes compute {name} is {compute.provisioning_state or 'in an unknown state'}"
                              + (f": {detail}" if detail else "")), None, False)
        now = f"{compute.compute_type or 'a compute'} for {label(compute.resource_id or '')}"
        if _lower(compute.compute_type) == "kubernetes" and arm_id.same(compute.resource_id, cluster_id):
            now = f"Kubernetes compute in namespace {compute.namespace or 'default'}"
        if not previous.compute_ours:
            return (condition(CONDITION_COMPUTE_ATTACHED, FALSE, REASON_COMPUTE_TAKEN,
                              f"the workspace already has a compute named {name} ({now}) that the operator did not "
                              "attach; it is left alone: choose another deploymentTarget.computeName"), None, False)
        drift = f"compute {name} was {now}"
    elif previous.compute_ours and previous.record.get("computeId"):
        drift = f"compute {name} was detached outside the operator"
    if not manage:
        return (condition(CONDITION_COMPUTE_ATTACHED, FALSE, REASON_SKIPPED,
                          f"AKS cluster {label(cluster_id)} is not attached as compute {name}; not attached because "
                          "reconcile-policy is skip"), None, False)
    if not ready:
        return (condition(CONDITION_COMPUTE_ATTACHED, FALSE, REASON_WAITING,
                          f"AKS cluster {label(cluster_id)} is attached as compute {name} once "
                          f"{CONDITION_NETWORK_VERIFIED} and {CONDITION_EXTENSION_READY} are True"), None, False)
    action = AttachCompute(name=name, cluster_id=cluster_id, namespace=ns, drift=drift)
    return condition(CONDITION_COMPUTE_ATTACHED, UNKNOWN, REASON_ATTACHING, action.describe()), action, False


# --- outcomes of executed actions ------------------------------------------------------------------------------------


def after_access_set(plan_: Plan, action: SetPublicNetworkAccess, reported: str | None) -> None:
    plan_.public_network_access = reported or action.value
    _replace(plan_, condition(CONDITION_NETWORK_VERIFIED, TRUE, REASON_VERIFIED,
                              f"{action.summary}; public network access {plan_.public_network_access}"))


def after_extension_started(plan_: Plan, action: InstallExtension, operation_url: str | None, started_at: str) -> None:
    """`operation_url` None: Azure answered final (already Succeeded)."""
    plan_.record["extensionName"] = action.name
    plan_.record["extensionInstalledByOperator"] = True
    if operation_url:
        plan_.record["extensionOperation"] = {"operationUrl": operation_url, "startedAt": started_at}
        plan_.follow = True
        _replace(plan_, condition(CONDITION_EXTENSION_READY, UNKNOWN, REASON_INSTALLING,
                                  f"the Azure ML extension install on {label(action.cluster_id)} started at {started_at} is running"))
    else:
        _replace(plan_, condition(CONDITION_EXTENSION_READY, TRUE, REASON_READY,
                                  f"Azure ML extension {action.name} ({AZUREML_EXTENSION_TYPE}) on AKS cluster "
                                  f"{label(action.cluster_id)} is Succeeded"))


def after_compute_attached(plan_: Plan, action: AttachCompute, compute: ComputeLike) -> None:
    plan_.record["computeId"] = compute.id
    plan_.record["computeAttachedByOperator"] = True
    plan_.record["pendingWrite"] = None  # landed: the record has done its job
    state = _lower(compute.provisioning_state)
    if state == SUCCEEDED:
        c = condition(CONDITION_COMPUTE_ATTACHED, TRUE, REASON_ATTACHED,
                      f"AKS cluster {label(action.cluster_id)} attached as Kubernetes compute {action.name} (namespace {action.namespace})")
    elif state in RUNNING_STATES:
        c = condition(CONDITION_COMPUTE_ATTACHED, UNKNOWN, REASON_ATTACHING, f"Kubernetes compute {action.name} is {compute.provisioning_state}")
        plan_.follow = True
    else:
        c = condition(CONDITION_COMPUTE_ATTACHED, FALSE, REASON_COMPUTE_FAILED,
                      f"Kubernetes compute {action.name} is {compute.provisioning_state}: {'; '.join(compute.errors)}")
    _replace(plan_, c)


def after_failure(plan_: Plan, action: Action, code: str, text: str, passing: bool = False) -> None:
    _replace(plan_, condition(action.condition_type, UNKNOWN if passing else FALSE, pascal(code), text))


# --- deletion --------------------------------------------------------------------------------------------------------


def detaches_on_delete(spec: WorkspaceSpec | None, policy_manages: bool) -> bool:
    """Whether deletion detaches a compute the operator attached (deletionPolicy Delete under a managing policy)."""
    return spec is not None and policy_manages and spec.deletion_policy == DeletionPolicy.DELETE


def plan_delete(spec: WorkspaceSpec | None, policy_manages: bool, status: Mapping | None) -> DetachCompute | None:
    """Detach the compute on deletion only with deletionPolicy Delete, a managing policy, and only when the operator
    attached it. The extension is never removed (other workloads on the cluster may use it)."""
    record = Previous.from_status(status).record
    if not detaches_on_delete(spec, policy_manages):
        return None
    if not record.get("computeAttachedByOperator") or not record.get("computeName"):
        return None
    return DetachCompute(name=str(record["computeName"]), cluster_id=record.get("aksClusterId"))


# --- small helpers ---------------------------------------------------------------------------------------------------


vnet_of_subnet = arm_id.vnet_of_subnet
label = arm_id.label  # `<resource group>/<name>`: what a person recognises, unambiguous within a subscription


def pascal(code: str | None) -> str:
    cleaned = "".join(ch for ch in (code or "") if ch.isalnum())
    return (cleaned[0].upper() + cleaned[1:]) if cleaned else "AzureError"


def _replace(plan_: Plan, new: dict) -> None:
    plan_.conditions = [new if c["type"] == new["type"] else c for c in plan_.conditions]


def _lower(value: object) -> str:
    return str(value or "").lower()
