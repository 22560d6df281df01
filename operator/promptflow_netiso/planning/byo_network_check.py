"""NetworkVerified for a bring-your-own-VNet workspace, pure: is the workspace reachable from the VNet (an Approved
workspace private endpoint in the spec's VNet or one linked to it), do the AKS agent pools sit in the spec's VNet or
a linked one, and is publicNetworkAccess as asked. Two VNets count as linked only when each has a peering to the
other with peeringState Connected; anything less names the VNets and the side that is missing or not Connected."""

from __future__ import annotations

from ..conditions import FALSE, TRUE, UNKNOWN, condition
from ..model import arm_id
from ..model.workspace import CONDITION_NETWORK_VERIFIED, WorkspaceSpec
from .byo_shapes import (
    APPROVED,
    CONNECTED,
    REASON_AKS_MANAGED_VNET,
    REASON_AKS_NOT_IN_VNET,
    REASON_NO_WORKSPACE_ENDPOINT,
    REASON_NOT_PEERED,
    REASON_PEERING_INCOMPLETE,
    REASON_SETTING_ACCESS,
    REASON_SKIPPED,
    REASON_VERIFIED,
    Observed,
    SetPublicNetworkAccess,
    VnetLike,
    label,
    pascal,
    vnet_of_subnet,
)
from .byo_shapes import lower as _lower

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


def verify_network(spec: WorkspaceSpec, obs: Observed, manage: bool):
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
