"""Bring-your-own VNet with an AKS target, called from handlers/workspace.py when `network.mode` is
BringYourOwnVirtualNetwork: observe -> planning/byo_network.py -> act -> fold into the workspace's plan.

Reads per converged check (documented in docs/byo-vnet.md): the workspace's private endpoint connections (1 list),
the private endpoint of each Approved connection (1 each, stopping at the first one in a linked VNet), the spec's VNet
(1, peerings included), the AKS cluster (1), each other VNet an agent pool or endpoint sits in (1 each, for the
peering back), the cluster's extensions (1 list) and the compute (1). Nothing is written when nothing differs.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Mapping

import kopf

from ..azure.errors import AzureError, ErrorKind
from ..azure.ml import workspace_path
from ..model import arm_id
from ..model.workspace import WorkspaceSpec
from ..planning import byo_network as byo
from ..planning import compute_intent
from ..planning.intent import STATUS_KEY as PENDING_WRITE
from ..planning.intent import Outcome, PendingWrite
from ..planning.byo_network import AttachCompute, InstallExtension, Observed, ReadError, SetPublicNetworkAccess
from . import intent
from .announce import announce, announce_settled
from .common import post_event

# How soon a detach sent before a restart, and still running in Azure, is looked at again.
DETACH_RECHECK = 5.0
PASSING_KINDS = (ErrorKind.THROTTLED, ErrorKind.TRANSIENT, ErrorKind.CONFLICT, ErrorKind.UNKNOWN)


def _read_error(err: AzureError) -> ReadError:
    return ReadError(err.code, str(err), passing=err.kind in PASSING_KINDS)


async def observe(azure: Any, spec: WorkspaceSpec, ws: Any, previous: byo.Previous,
                  logger: logging.Logger) -> tuple[Observed, AzureError | None]:
    """Everything the planner needs; a failed read becomes its step's ReadError (and the error is returned, so the
    handler retries on Azure's terms). Later steps are still read: they report on their own."""
    sub, rg, ws_name = spec.coordinates
    target = spec.deployment_target
    obs = Observed(public_network_access=getattr(ws, "public_network_access", None))
    first_error: AzureError | None = None

    try:
        obs.vnet = await azure.network.get_virtual_network(spec.network.virtual_network_id)
        obs.connections = await azure.computes.list_workspace_connections(sub, rg, ws_name)
        obs.cluster = await azure.network.get_aks_cluster(target.aks_cluster_id)
        wanted_vnets: list[str] = []
        for conn in obs.connections:
            if (conn.status or "").lower() != byo.APPROVED or not conn.private_endpoint_id:
                continue
            try:
                pe = await azure.network.get_private_endpoint(conn.private_endpoint_id)
            except AzureError as err:
                if err.kind is not ErrorKind.NOT_FOUND:
                    raise
                where = None  # the endpoint is gone; its connection counts for nothing
            else:
                where = byo.vnet_of_subnet(pe.subnet_id)
            obs.endpoint_vnets = {**obs.endpoint_vnets, arm_id.key(conn.private_endpoint_id): where}
            if where and arm_id.same(where, obs.vnet.id):
                break  # one in our own VNet settles the inbound side
            if where:
                wanted_vnets.append(where)
        wanted_vnets += [v for v in map(byo.vnet_of_subnet, obs.cluster.agent_pool_subnet_ids) if v]
        others: dict[str, Any] = {}
        for vnet_id in wanted_vnets:
            key = arm_id.key(vnet_id)
            if key == arm_id.key(obs.vnet.id) or key in others:
                continue
            try:
                others[key] = await azure.network.get_virtual_network(vnet_id)
            except AzureError as err:
                if err.kind is not ErrorKind.NOT_FOUND:
                    raise
                logger.info("VNet %s is not readable (%s): its peering back counts as missing", vnet_id, err.code)
        obs.other_vnets = others
    except AzureError as err:
        obs.network_error, first_error = _read_error(err), err

    op = previous.extension_operation
    try:
        if op is not None:
            try:
                obs.extension_poll = await azure.computes.poll_extension(op["operationUrl"])
            except AzureError as err:
                if err.kind is not ErrorKind.NOT_FOUND:
                    raise
                logger.info("extension install operation is no longer known to Azure (%s); reading the extension", err.code)
        obs.extensions = await azure.computes.list_extensions(target.aks_cluster_id)
    except AzureError as err:
        obs.extension_error = _read_error(err)
        first_error = first_error or err

    try:
        obs.compute = await azure.computes.get_compute(sub, rg, ws_name, target.compute_name)
    except AzureError as err:
        obs.compute_error = _read_error(err)
        first_error = first_error or err
    return obs, first_error


async def reconcile(body: Any, spec: WorkspaceSpec, ws: Any, azure: Any, status: Mapping, manage: bool,
                    persist: Callable[[dict], Any], record: Callable[[dict], Awaitable[Any]], now: Callable[[], str],
                    logger: logging.Logger) -> tuple[list[dict], dict, bool, AzureError | None]:
    """-> (conditions, status fields, follow soon, first Azure error). `persist` writes status fields at once (the
    extension's poll URL must survive a crash right after the install started); `record` does too, but raises
    when the API server does not confirm (an intent record before the compute PUT: no record, no PUT)."""
    obs, read_error = await observe(azure, spec, ws, byo.Previous.from_status(status), logger)
    # A compute PUT recorded before a crash (planning/compute_intent.py): ours if Azure holds what we sent.
    recorded = compute_intent.pending_of(status)
    settled = compute_intent.settle(recorded, target=_compute_target(spec),
                                    compute=obs.compute, readable=obs.compute_error is None)
    await announce_settled(body, recorded, settled.events)
    previous = byo.Previous.from_status(compute_intent.with_ownership(status, settled))
    plan = byo.plan(spec, obs, manage=manage, previous=previous)
    error = await _execute(body, plan, spec, ws, azure, persist, record, now, logger)
    fields = {"deploymentTarget": plan.record, "publicNetworkAccess": plan.public_network_access}
    return plan.conditions, fields, plan.follow, error or read_error


def _compute_target(spec: WorkspaceSpec) -> str:
    return compute_intent.compute_target(workspace_path(*spec.coordinates), spec.deployment_target.compute_name)


async def _attach(plan: byo.Plan, action: AttachCompute, spec: WorkspaceSpec, ws: Any, azure: Any,
                  persist: Callable[[dict], Any], record: Callable[[dict], Awaitable[Any]]) -> PendingWrite:
    """Record the PUT in status.deploymentTarget.pendingWrite (confirmed) before it is sent, add the poll URL once
    Azure accepted it; the outcome (ownership) clears the record. A passing failure keeps it: Azure may have
    accepted the PUT, and the next run settles it from the compute."""
    sub, rg, ws_name = spec.coordinates
    write = intent.pending("PUT", _compute_target(spec), compute_intent.compute_hash("Kubernetes", action.cluster_id,
                                                                                       action.namespace),
                           action.event_reason, action.describe())
    plan.record[PENDING_WRITE] = write.to_status()
    await record({"deploymentTarget": dict(plan.record)})

    async def accepted(url: str | None) -> None:
        if url:
            plan.record[PENDING_WRITE] = {**write.to_status(), "pollUrl": url}
            await persist({"deploymentTarget": dict(plan.record)})

    try:
        compute = await azure.computes.attach_kubernetes(sub, rg, ws_name, action.name, getattr(ws, "location", None),
                                                         action.cluster_id, action.namespace, on_accepted=accepted)
    except AzureError as err:
        if err.kind not in PASSING_KINDS:  # refused outright: nothing of it can have landed
            plan.record[PENDING_WRITE] = None
        raise
    byo.after_compute_attached(plan, action, compute)
    return write


async def _execute(body: Any, plan: byo.Plan, spec: WorkspaceSpec, ws: Any, azure: Any,
                   persist: Callable[[dict], Any], record: Callable[[dict], Awaitable[Any]], now: Callable[[], str],
                   logger: logging.Logger) -> AzureError | None:
    sub, rg, ws_name = spec.coordinates
    for action in plan.actions:
        attached: PendingWrite | None = None
        try:
            if isinstance(action, SetPublicNetworkAccess):
                reported = await azure.computes.set_public_network_access(sub, rg, ws_name, action.value)
                byo.after_access_set(plan, action, reported)
            elif isinstance(action, InstallExtension):
                started_at = now()
                url = await azure.computes.begin_install_extension(action.cluster_id, action.name,
                                                                   action.release_namespace, dict(action.settings))
                byo.after_extension_started(plan, action, url, started_at)
                if url:
                    await persist({"deploymentTarget": plan.record})  # before anything else can fail
            elif isinstance(action, AttachCompute):
                attached = await _attach(plan, action, spec, ws, azure, persist, record)
            else:  # pragma: no cover
                raise TypeError(f"unexpected action {action!r}")
        except AzureError as err:
            byo.after_failure(plan, action, err.code, str(err), passing=err.kind in PASSING_KINDS)
            logger.warning("%s failed: %s", type(action).__name__, err)
            return err
        if attached is not None:  # its record is cleared with this run's status: the Event first (announce.py)
            await announce(body, attached, "Normal", action.event_reason, action.describe())
        else:
            post_event(body, "Normal", action.event_reason, action.describe())
    return None


async def delete(body: Any, spec: WorkspaceSpec | None, policy_manages: bool, status: Mapping, azure: Any,
                 record: Callable[[PendingWrite], Awaitable[Any]]) -> dict:
    """Detach the compute the operator attached (deletionPolicy Delete). Returns the status fields that say so,
    for the caller's next status write (so a retry of the deletion does not detach again); raises AzureError when
    Azure refused (the caller retries, as for role assignments). A compute PUT or detach recorded before a crash is
    settled first from the compute Azure shows: an attach that landed is ours (and is detached), a detach that
    landed is not sent again."""
    if spec is None or not byo.detaches_on_delete(spec, policy_manages):
        return {}  # the policy keeps the compute, whoever attached it: no reads
    sub, rg, ws_name = spec.coordinates
    target = _compute_target(spec)
    attach, detach = compute_intent.pending_of(status), PendingWrite.from_status(status)
    detach = detach if detach is not None and detach.is_for("DELETE", target) else None
    compute: Any = None
    if attach is not None or detach is not None:
        compute = await azure.computes.get_compute(sub, rg, ws_name, spec.deployment_target.compute_name)
    settled = compute_intent.settle(attach, target=target, compute=compute)
    await announce_settled(body, attach, settled.events)
    owned = compute_intent.with_ownership(status, settled)
    action = byo.plan_delete(spec, policy_manages, owned)
    if action is None:
        return {}
    detached = {"deploymentTarget": {**(owned.get("deploymentTarget") or {}), "computeAttachedByOperator": False,
                                     PENDING_WRITE: None}}
    if detach is not None:
        done = compute_intent.settle_detach(detach, compute)
        if done.outcome is Outcome.RUNNING:  # not a failure: look again soon, without a second DELETE
            raise kopf.TemporaryError(f"the detach of compute {action.name} sent before a restart is still running",
                                      delay=DETACH_RECHECK)
        if done.outcome is Outcome.LANDED:
            await announce_settled(body, detach, done.events)
            return detached
    write = intent.pending("DELETE", target, "", action.event_reason, action.describe())
    await record(write)
    await azure.computes.detach(sub, rg, ws_name, action.name)
    await announce(body, write, "Normal", action.event_reason, action.describe())
    return detached
