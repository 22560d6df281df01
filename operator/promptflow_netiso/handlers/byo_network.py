"""Bring-your-own VNet with an AKS target, called from handlers/workspace.py when `network.mode` is
BringYourOwnVirtualNetwork: observe -> planning/byo_network.py -> act -> fold into the workspace's plan.

Reads per converged check (documented in docs/byo-vnet.md): the workspace's private endpoint connections (1 list),
the private endpoint of each Approved connection (1 each, stopping at the first one in a linked VNet), the spec's VNet
(1, peerings included), the AKS cluster (1), each other VNet an agent pool or endpoint sits in (1 each, for the
peering back), the cluster's extensions (1 list) and the compute (1). Nothing is written when nothing differs.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

from ..azure.errors import AzureError, ErrorKind
from ..model.workspace import WorkspaceSpec
from ..planning import byo_network as byo
from ..planning.byo_network import AttachCompute, InstallExtension, Observed, ReadError, SetPublicNetworkAccess
from .common import post_event

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
            obs.endpoint_vnets = {**obs.endpoint_vnets, conn.private_endpoint_id.lower(): where}
            if where and where.lower() == obs.vnet.id.lower():
                break  # one in our own VNet settles the inbound side
            if where:
                wanted_vnets.append(where)
        wanted_vnets += [v for v in map(byo.vnet_of_subnet, obs.cluster.agent_pool_subnet_ids) if v]
        others: dict[str, Any] = {}
        for vnet_id in wanted_vnets:
            key = vnet_id.lower()
            if key == obs.vnet.id.lower() or key in others:
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
                    persist: Callable[[dict], Any], now: Callable[[], str],
                    logger: logging.Logger) -> tuple[list[dict], dict, bool, AzureError | None]:
    """-> (conditions, status fields, follow soon, first Azure error). `persist` writes status fields at once (the
    extension's poll URL must survive a crash right after the install started)."""
    previous = byo.Previous.from_status(status)
    obs, read_error = await observe(azure, spec, ws, previous, logger)
    plan = byo.plan(spec, obs, manage=manage, previous=previous)
    error = await _execute(body, plan, spec, ws, azure, persist, now, logger)
    fields = {"deploymentTarget": plan.record, "publicNetworkAccess": plan.public_network_access}
    return plan.conditions, fields, plan.follow, error or read_error


async def _execute(body: Any, plan: byo.Plan, spec: WorkspaceSpec, ws: Any, azure: Any,
                   persist: Callable[[dict], Any], now: Callable[[], str], logger: logging.Logger) -> AzureError | None:
    sub, rg, ws_name = spec.coordinates
    for action in plan.actions:
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
                compute = await azure.computes.attach_kubernetes(sub, rg, ws_name, action.name,
                                                                 getattr(ws, "location", None), action.cluster_id,
                                                                 action.namespace)
                byo.after_compute_attached(plan, action, compute)
            else:  # pragma: no cover
                raise TypeError(f"unexpected action {action!r}")
        except AzureError as err:
            byo.after_failure(plan, action, err.code, str(err), passing=err.kind in PASSING_KINDS)
            logger.warning("%s failed: %s", type(action).__name__, err)
            return err
        post_event(body, "Normal", action.event_reason, action.describe())
    return None


async def delete(body: Any, spec: WorkspaceSpec | None, policy_manages: bool, status: Mapping, azure: Any) -> str | None:
    """Detach the compute the operator attached (deletionPolicy Delete). Returns what was done, for the summary
    Event; raises AzureError when Azure refused (the caller retries, as for role assignments)."""
    action = byo.plan_delete(spec, policy_manages, status)
    if action is None or spec is None:
        return None
    sub, rg, ws_name = spec.coordinates
    await azure.computes.detach(sub, rg, ws_name, action.name)
    post_event(body, "Normal", action.event_reason, action.describe())
    return action.describe()
