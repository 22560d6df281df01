"""The service limits a PromptFlowWorkspace spec must respect before anything is written to Azure, pure: a
bring-your-own VNet is impossible for hub and project workspaces, for a managed online endpoint target, and once a
managed network exists (Azure cannot disable it). A violation blocks every write with a clear reason."""

from __future__ import annotations

from typing import Protocol

from ..model import arm_id
from ..model.workspace import DeploymentTargetType, WorkspaceSpec
from .workspace_reasons import (
    ISOLATION_DISABLED,
    REASON_BYO_VNET_NOT_SUPPORTED,
    REASON_ENDPOINT_NEEDS_MANAGED_VNET,
    REASON_MANAGED_NETWORK_ALREADY_ENABLED,
    WORKSPACE_KINDS_WITHOUT_BYO_VNET,
)


class _NetworkLike(Protocol):
    isolation_mode: str | None


class _WorkspaceLike(Protocol):
    kind: str | None
    managed_network: _NetworkLike | None


def limit_violations(spec: WorkspaceSpec, ws: _WorkspaceLike) -> list[tuple[str, str]]:
    """The service limits the spec would break, as (reason, message); empty when the spec is possible."""
    found: list[tuple[str, str]] = []
    if spec.network.managed:
        return found
    kind = (ws.kind or "Default").lower()
    if kind in WORKSPACE_KINDS_WITHOUT_BYO_VNET:
        found.append((REASON_BYO_VNET_NOT_SUPPORTED,
                      f"{ws.kind} workspaces cannot use a bring-your-own virtual network (Azure's prompt flow "
                      "guidance: hub and lean (project) workspaces support only the managed virtual network); "
                      "use network.mode ManagedVirtualNetwork"))
    if spec.deployment_target.type == DeploymentTargetType.MANAGED_ONLINE_ENDPOINT:
        found.append((REASON_ENDPOINT_NEEDS_MANAGED_VNET,
                      "a managed online endpoint deployment target requires a managed virtual network; "
                      "with a bring-your-own virtual network set deploymentTarget.type Kubernetes and aksClusterId"))
    current = _isolation_of(ws)
    if current != ISOLATION_DISABLED:
        found.append((REASON_MANAGED_NETWORK_ALREADY_ENABLED,
                      f"the workspace already has a managed virtual network (isolation mode {current}) and Azure "
                      "cannot disable it, so it cannot switch to a bring-your-own virtual network"))
    return found


def limits_summary(spec: WorkspaceSpec, ws: _WorkspaceLike) -> str:
    target = spec.deployment_target
    if spec.network.managed:
        where = "managed virtual network"
    else:
        where = f"bring-your-own virtual network {arm_id.name_of(spec.network.virtual_network_id or '')}"
    if target.type == DeploymentTargetType.KUBERNETES:
        deploy = f"deployments to AKS cluster {arm_id.name_of(target.aks_cluster_id or '')} as compute {target.compute_name}"
    else:
        deploy = "deployments to managed online endpoints"
    return f"{ws.kind or 'Default'} workspace, {where}, {deploy}"


def _isolation_of(ws: _WorkspaceLike) -> str:
    mn = ws.managed_network
    return mn.isolation_mode if mn and mn.isolation_mode else ISOLATION_DISABLED
