"""Private endpoint connections on target resources, and the managed network's requests for them.

When a PrivateEndpoint outbound rule becomes Active, Azure ML creates a private endpoint in a Microsoft-owned
subscription; the target resource then shows a connection in state Pending until its owner approves it (or the
service auto-approves). Per target, the simulator auto-approves after a delay, leaves it Pending, or rejects it.

Azure's cure for the Pending case (FACTS.md): when the workspace's managed identity holds *Azure AI Enterprise
Network Connection Approver* on the target or a scope above it (resource group, subscription), the managed network
approves its own connection after a short delay, whatever the target's behaviour; without it a "pending" target
stays Pending. Only the managed network's own connections get this: one created by anyone else (seeded) never does.

Shape (see README.md "Private endpoint connections"):
  private endpoint id: /subscriptions/<MICROSOFT_MANAGED_SUBSCRIPTION_ID>/resourceGroups/commonHoboRG<n>
                       /providers/Microsoft.Network/privateEndpoints/<pe name>
  pe name:             <rule name>_<first 8 hex of managedNetwork.networkId> (system rules already end with it)
  connection name:     <pe name>.<guid>
"""

from __future__ import annotations

import time

from . import ids
from .armhttp import ArmError
from .constants import APPROVER_ROLE_ID, MANAGED_PE_RESOURCE_GROUP_POOL, MICROSOFT_MANAGED_SUBSCRIPTION_ID
from .model import Connection, Estate, OutboundRule, Resource, Workspace
from .scheduler import Scheduler

# Which subresources each target type offers (lowercased type -> lowercased group IDs); others accept anything.
SUBRESOURCES = {
    "microsoft.cognitiveservices/accounts": {"account"},
    "microsoft.search/searchservices": {"searchservice"},
    "microsoft.storage/storageaccounts": {"blob", "file", "table", "queue", "dfs", "web"},
    "microsoft.keyvault/vaults": {"vault"},
    "microsoft.machinelearningservices/workspaces": {"amlworkspace"},
    "microsoft.containerregistry/registries": {"registry"},
}


def network_suffix(ws: Workspace) -> str:
    return ws.network_id.replace("-", "")[:8].lower()


def private_endpoint_name(ws: Workspace, rule_name: str) -> str:
    suffix = "_" + network_suffix(ws)
    return rule_name if rule_name.endswith(suffix) else rule_name + suffix


def private_endpoint_id(ws: Workspace, rule_name: str) -> str:
    pool = int(network_suffix(ws) or "0", 16) % MANAGED_PE_RESOURCE_GROUP_POOL
    return (f"/subscriptions/{MICROSOFT_MANAGED_SUBSCRIPTION_ID}/resourceGroups/commonHoboRG{pool}"
            f"/providers/Microsoft.Network/privateEndpoints/{private_endpoint_name(ws, rule_name)}")


def requester_key(ws: Workspace, rule_name: str) -> str:
    return f"{ids.key(ws.id)}|{rule_name.lower()}"


class PrivateEndpoints:
    def __init__(self, estate: Estate, scheduler: Scheduler):
        self.estate = estate
        self.scheduler = scheduler

    def ensure_for_rule(self, ws: Workspace, rule: OutboundRule) -> str | None:
        """Create the connection a PrivateEndpoint rule asks for. Returns an error text if the PE cannot exist."""
        target_id = rule.destination.get("serviceResourceId", "")
        target = self.estate.resource(target_id)
        if target is None:
            return (f"Failed to create private endpoint '{private_endpoint_name(ws, rule.name)}': the resource "
                    f"'{target_id}' was not found or the workspace identity cannot access it.")
        requester = requester_key(ws, rule.name)
        if any(c.requested_by_rule == requester for c in target.connections.values()):
            return None
        pe_name = private_endpoint_name(ws, rule.name)
        name = f"{pe_name}.{ids.stable_guid(ws.id, ws.network_id, rule.name, target.id)}"
        conn = Connection(name=name, private_endpoint_id=private_endpoint_id(ws, rule.name), status="Pending",
                          description="", group_ids=[rule.destination.get("subresourceTarget", "")],
                          requested_by_rule=requester)
        target.connections[name.lower()] = conn
        self._schedule_decision(target, conn, ws)
        return None

    def identity_may_approve(self, ws: Workspace, target: Resource) -> bool:
        """The workspace identity holds the approver role at the target or any scope above it."""
        principal = (ws.principal_id or "").lower()
        for a in self.estate.role_assignments.values():
            if (principal and a.principal_id.lower() == principal
                    and a.role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower() == APPROVER_ROLE_ID
                    and _covers(a.scope, target.id)):
                return True
        return False

    def _schedule_decision(self, target: Resource, conn: Connection, ws: Workspace | None = None) -> None:
        if target.pe_behaviour == "pending" and ws is not None and self.identity_may_approve(ws, target):
            def approve_by_role() -> None:
                current = target.connections.get(conn.name.lower())
                if current is conn and conn.status == "Pending":
                    conn.status = "Approved"
                    conn.description = "Auto-Approved (managed network identity holds the approver role)"
            self.scheduler.after(target.approve_after_s, approve_by_role)
            return
        if target.pe_behaviour == "pending":
            return  # the stuck case: only somebody with rights on the target can approve it

        new_status = "Approved" if target.pe_behaviour == "auto-approve" else "Rejected"
        description = "Auto-Approved" if new_status == "Approved" else "Rejected by the resource owner"

        def decide() -> None:
            current = target.connections.get(conn.name.lower())
            if current is conn and conn.status == "Pending":
                conn.status, conn.description = new_status, description

        self.scheduler.after(target.approve_after_s, decide)

    def remove_for_rule(self, ws: Workspace, rule: OutboundRule) -> None:
        if not isinstance(rule.destination, dict):
            return
        target = self.estate.resource(rule.destination.get("serviceResourceId", ""))
        if target is None:
            return
        requester = requester_key(ws, rule.name)
        for k, conn in list(target.connections.items()):
            if conn.requested_by_rule == requester:
                del target.connections[k]

    def seed(self, target: Resource, *, private_endpoint_id: str, name: str | None = None, status: str = "Pending",
             description: str = "", group_ids: list[str] | None = None, created_at: float | None = None) -> Connection:
        pe_name = private_endpoint_id.rstrip("/").rsplit("/", 1)[-1]
        name = name or f"{pe_name}.{ids.stable_guid(private_endpoint_id, target.id)}"
        conn = Connection(name=name, private_endpoint_id=private_endpoint_id, status=status, description=description,
                          group_ids=group_ids or [], created_at=created_at or time.time())
        target.connections[name.lower()] = conn
        return conn

    def set_state(self, target: Resource, name: str, status: str, description: str | None = None) -> Connection:
        conn = target.connections.get(name.lower())
        if conn is None:
            raise ArmError(404, "PrivateEndpointConnectionNotFound",
                           f"Private endpoint connection '{name}' not found on '{target.id}'.")
        conn.status = status
        if description is not None:
            conn.description = description
        return conn


def _covers(assigned_scope: str, scope: str) -> bool:
    a, s = ids.key(assigned_scope).rstrip("/"), ids.key(scope).rstrip("/")
    return s == a or s.startswith(a + "/")
