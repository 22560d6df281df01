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

Beside it: planning/byo_shapes.py (what the planner reads, its actions, reasons and Plan; re-exported here),
planning/byo_network_check.py (NetworkVerified), planning/compute_intent.py (the attach recorded before it is sent).
"""

from __future__ import annotations

from typing import Iterable, Mapping

from ..conditions import FALSE, TRUE, UNKNOWN, condition
from ..model import arm_id
from ..model.workspace import (
    CONDITION_COMPUTE_ATTACHED,
    CONDITION_EXTENSION_READY,
    CONDITION_NETWORK_VERIFIED,
    DeletionPolicy,
    WorkspaceSpec,
)
from .byo_network_check import link_problem, peering_state, verify_network  # noqa: F401 (re-exported)
from .byo_shapes import (  # noqa: F401 (the shapes, reasons and helpers, re-exported)
    APPROVED,
    CONNECTED,
    SUCCEEDED,
    AZUREML_EXTENSION_TYPE,
    EVENT_ACCESS_SET,
    EVENT_COMPUTE_ATTACHED,
    EVENT_COMPUTE_DETACHED,
    EVENT_DRIFT_CORRECTED,
    EVENT_EXTENSION_STARTED,
    QUIET_REASONS,
    REASON_AKS_MANAGED_VNET,
    REASON_AKS_NOT_IN_VNET,
    REASON_ATTACHED,
    REASON_ATTACHING,
    REASON_BLOCKED,
    REASON_COMPUTE_FAILED,
    REASON_COMPUTE_TAKEN,
    REASON_EXTENSION_FAILED,
    REASON_INSTALLING,
    REASON_NOT_INSTALLED,
    REASON_NOT_PEERED,
    REASON_NO_WORKSPACE_ENDPOINT,
    REASON_PEERING_INCOMPLETE,
    REASON_READY,
    REASON_SETTING_ACCESS,
    REASON_SKIPPED,
    REASON_VERIFIED,
    REASON_WAITING,
    RUNNING_STATES,
    STEPS,
    Action,
    AttachCompute,
    ClusterLike,
    ComputeLike,
    ConnectionLike,
    DetachCompute,
    ExtensionLike,
    InstallExtension,
    Observed,
    PeeringLike,
    Plan,
    PollLike,
    Previous,
    ReadError,
    SetPublicNetworkAccess,
    VnetLike,
    label,
    pascal,
    replace_condition,
    vnet_of_subnet,
)
from .byo_shapes import lower as _lower
from .byo_shapes import replace_condition as _replace

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

    net_cond, access_action, vnets = verify_network(spec, observed, manage)
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
