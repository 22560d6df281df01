"""Seeding and drift: the operations behind the admin API (and the standalone --state-file)."""

from __future__ import annotations

import fnmatch
import time
import uuid
from typing import Any

from . import ids
from .armhttp import ArmError
from .constants import BUILTIN_ROLES, PE_BEHAVIOURS, PE_STATES
from .ml_bodies import workspace_body
from .model import ClusterExtension, Deny, ManagedCluster, MlCompute, PrivateEndpoint, Resource, ResourceGroup, RoleAssignment, Subscription, VirtualNetwork, Workspace
from .routes_roles import assignment_body, covers
from .world import World


class SeedError(ValueError):
    """Bad admin input: answered with 400 and the message."""


def _require(data: dict[str, Any], *names: str) -> list[Any]:
    missing = [n for n in names if not data.get(n)]
    if missing:
        raise SeedError(f"missing field(s): {', '.join(missing)}")
    return [data[n] for n in names]


def _parse_id(resource_id: str) -> ids.ResourceId:
    try:
        return ids.parse(resource_id)
    except ValueError as exc:
        raise SeedError(str(exc)) from None


class Seeder:
    def __init__(self, world: World):
        self.w = world

    # ---- containers ----------------------------------------------------------------------------------------
    def subscription(self, sub: str, display_name: str = "") -> Subscription:
        found = self.w.estate.subscription(sub)
        if found is None:
            found = self.w.estate.subscriptions[sub.lower()] = Subscription(sub, display_name or f"sim {sub[:8]}")
        return found

    def resource_group(self, sub: str, rg: str, location: str = "eastus") -> ResourceGroup:
        self.subscription(sub)
        found = self.w.estate.resource_group(sub, rg)
        if found is None:
            found = self.w.estate.resource_groups[f"{sub}/{rg}".lower()] = ResourceGroup(sub, rg, location)
        return found

    def principal(self, principal_id: str, principal_type: str = "ServicePrincipal") -> None:
        self.w.estate.principals[principal_id.lower()] = principal_type

    # ---- resources -----------------------------------------------------------------------------------------
    def resource(self, data: dict[str, Any]) -> Resource:
        (resource_id,) = _require(data, "resourceId")
        rid = _parse_id(resource_id)
        behaviour = data.get("peBehaviour", self.w.config.default_pe_behaviour)
        if behaviour not in PE_BEHAVIOURS:
            raise SeedError(f"peBehaviour must be one of {PE_BEHAVIOURS}")
        self.resource_group(rid.subscription, rid.resource_group, data.get("location", "eastus"))
        found = self.w.estate.resource(resource_id)
        if found is None:
            found = Resource(id=str(rid), location=data.get("location", "eastus"), pe_behaviour=behaviour,
                             approve_after_s=self.w.config.default_approve_after_s)
            self.w.estate.resources[ids.key(resource_id)] = found
        if "peBehaviour" in data:
            found.pe_behaviour = behaviour
        if "approveAfterS" in data:
            found.approve_after_s = float(data["approveAfterS"])
        found.kind = data.get("kind", found.kind)
        found.properties.update(data.get("properties") or {})
        return found

    def workspace(self, data: dict[str, Any]) -> dict[str, Any]:
        sub, rg, name = _require(data, "subscriptionId", "resourceGroup", "name")
        location = data.get("location", "eastus")
        kind = data.get("kind", "Default")
        if kind not in ("Default", "Hub", "Project"):
            raise SeedError("kind must be Default, Hub or Project")
        self.resource_group(sub, rg, location)
        base = f"/subscriptions/{sub}/resourceGroups/{rg}/providers"
        short = "".join(ch for ch in name.lower() if ch.isalnum())[:16]
        hub_id = data.get("hubId")
        if kind == "Project":
            if not hub_id or ids.key(hub_id) not in self.w.estate.workspaces:
                raise SeedError("a Project needs hubId naming a seeded Hub workspace")
        ws = Workspace(
            subscription_id=sub, resource_group=rg, name=name, kind=kind, location=location,
            principal_id=data.get("principalId") or self.w.guid(), tenant_id=self.w.tenant_id,
            workspace_id=data.get("workspaceId") or self.w.guid(),
            storage_account=data.get("storageAccount") or f"{base}/Microsoft.Storage/storageAccounts/st{short}",
            key_vault=data.get("keyVault") or f"{base}/Microsoft.KeyVault/vaults/kv{short}",
            container_registry=data.get("containerRegistry"),
            application_insights=data.get("applicationInsights") or f"{base}/microsoft.insights/components/appi{short}",
            hub_id=hub_id, tags=dict(data.get("tags") or {}),
            extra_properties=dict(data.get("extraProperties") or {}),
            user_assigned_identities={uai: {"clientId": self.w.guid(), "principalId": self.w.guid()}
                                      for uai in data.get("userAssignedIdentities") or []},
        )
        self.principal(ws.principal_id)
        for dependency in (ws.storage_account, ws.key_vault):  # the workspace's own resources exist too
            if self.w.estate.resource(dependency) is None:
                self.resource({"resourceId": dependency, "location": location})
        self.w.estate.workspaces[ids.key(ws.id)] = ws
        mode = data.get("isolationMode", "Disabled")
        if kind == "Project":
            mode = "Disabled"  # projects carry no network of their own
        if mode != "Disabled":
            self.w.mn.validate_mode_change(ws, mode)
            self.w.mn.apply_mode(ws, mode)
        for rule_name, props in (data.get("rules") or {}).items():
            rule = self.w.mn.parse_rule(ws, rule_name, {"properties": props})
            ws.rules[rule.name.lower()] = rule
        if data.get("provisioned"):
            if mode == "Disabled":
                raise SeedError("provisioned needs an isolationMode other than Disabled")
            self.w.mn.activate(ws, bool(data.get("sparkReady")))
        return workspace_body(ws, self.w.mn.owner(ws), "2025-12-01")

    def vnet(self, data: dict[str, Any]) -> VirtualNetwork:
        (resource_id,) = _require(data, "resourceId")
        rid = _parse_id(resource_id)
        self.resource_group(rid.subscription, rid.resource_group)
        vnet = VirtualNetwork(id=str(rid), location=data.get("location", "eastus"),
                              address_prefixes=list(data.get("addressPrefixes") or ["10.0.0.0/16"]),
                              subnets=[dict(s) for s in data.get("subnets") or []],
                              peerings=[dict(p) for p in data.get("peerings") or []],
                              nat_gateway_id=data.get("natGatewayId"))
        for s in vnet.subnets:
            _require(s, "name")
        for p in vnet.peerings:
            _require(p, "name", "remoteVirtualNetworkId")
        self.w.estate.vnets[ids.key(resource_id)] = vnet
        return vnet

    def aks(self, data: dict[str, Any]) -> ManagedCluster:
        (resource_id,) = _require(data, "resourceId")
        rid = _parse_id(resource_id)
        self.resource_group(rid.subscription, rid.resource_group)
        pools = [dict(p) for p in data.get("agentPools") or [{"name": "system"}]]
        for p in pools:
            _require(p, "name")
        cluster = ManagedCluster(id=str(rid), location=data.get("location", "eastus"),
                                 kubernetes_version=data.get("kubernetesVersion", "1.32.0"), agent_pools=pools,
                                 network_plugin=data.get("networkPlugin", "azure"))
        self.w.estate.clusters[ids.key(resource_id)] = cluster
        return cluster

    def peering_state(self, data: dict[str, Any]) -> dict[str, Any]:
        """Change one side of a peering behind everybody's back (Initiated | Connected | Disconnected); a missing
        peering is added when `remoteVirtualNetworkId` is given, removed with state "" (None)."""
        vnet_id, name = _require(data, "vnetId", "name")
        vnet = self.w.estate.vnets.get(ids.key(vnet_id))
        if vnet is None:
            raise SeedError(f"unknown vnet {vnet_id}")
        state = data.get("peeringState")
        found = next((p for p in vnet.peerings if p["name"].lower() == name.lower()), None)
        if not state:
            vnet.peerings = [p for p in vnet.peerings if p is not found]
            return {"removed": found is not None}
        if state not in ("Initiated", "Connected", "Disconnected"):
            raise SeedError("peeringState must be Initiated, Connected or Disconnected")
        if found is None:
            (remote,) = _require(data, "remoteVirtualNetworkId")
            found = {"name": name, "remoteVirtualNetworkId": remote}
            vnet.peerings.append(found)
        found["peeringState"] = state
        return dict(found)

    def private_endpoint(self, data: dict[str, Any]) -> PrivateEndpoint:
        """A customer's private endpoint in a subnet, connected to `targetId` (a workspace: then it is among the
        workspace's privateEndpointConnections)."""
        pe_id, subnet_id = _require(data, "privateEndpointId", "subnetId")
        rid = _parse_id(pe_id)
        self.resource_group(rid.subscription, rid.resource_group)
        status = data.get("status", "Approved")
        if status not in PE_STATES:
            raise SeedError(f"status must be one of {PE_STATES}")
        pe = PrivateEndpoint(id=str(rid), subnet_id=subnet_id, target_id=data.get("targetId") or "",
                             group_ids=list(data.get("groupIds") or ["amlworkspace"]),
                             connection_name=data.get("connectionName") or f"{rid.name}.{uuid.uuid4()}",
                             status=status, description=data.get("description") or
                             ("Auto-Approved" if status == "Approved" else ""),
                             location=data.get("location", "eastus"))
        self.w.estate.private_endpoints[ids.key(pe.id)] = pe
        return pe

    def extension(self, data: dict[str, Any]) -> ClusterExtension:
        """An extension already on a cluster (as `az k8s-extension create` leaves it). `failWith`: a later PUT of
        it (a reinstall with other settings) ends Failed with this message."""
        cluster_id, name = _require(data, "clusterId", "name")
        state = data.get("provisioningState", "Succeeded")
        ext = ClusterExtension(cluster_id=cluster_id, name=name,
                               extension_type=data.get("extensionType") or "microsoft.azureml.kubernetes",
                               provisioning_state=state, release_namespace=data.get("releaseNamespace") or "azureml",
                               configuration_settings={str(k): str(v) for k, v in (data.get("configurationSettings") or {}).items()},
                               fail_with=data.get("failWith"))
        if data.get("delete"):
            self.w.estate.extensions.pop(ids.key(ext.id), None)
        else:
            self.w.estate.extensions[ids.key(ext.id)] = ext
        return ext

    def compute(self, data: dict[str, Any]) -> dict[str, Any]:
        """A Kubernetes compute attached by someone else (Succeeded at once)."""
        workspace_id, name, cluster_id = _require(data, "workspaceId", "name", "resourceId")
        ws = self.w.estate.workspaces.get(ids.key(workspace_id))
        if ws is None:
            raise SeedError(f"unknown workspace {workspace_id}")
        c = MlCompute(workspace_id=ws.id, name=name, resource_id=cluster_id, namespace=data.get("namespace") or "default",
                      description=data.get("description"), location=ws.location,
                      instance_types=data.get("instanceTypes"), default_instance_type=data.get("defaultInstanceType"))
        self.w.estate.computes[ids.key(c.id)] = c
        return {"id": c.id, "name": c.name}

    def computes(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        (workspace_id,) = _require(data, "workspaceId")
        prefix = ids.key(workspace_id) + "/computes/"
        return [{"name": c.name, "resourceId": c.resource_id, "namespace": c.namespace, "computeType": c.compute_type,
                 "provisioningState": c.provisioning_state}
                for k, c in self.w.estate.computes.items() if k.startswith(prefix)]

    # ---- connections ---------------------------------------------------------------------------------------
    def _target(self, data: dict[str, Any]) -> Resource:
        (target_id,) = _require(data, "targetId")
        target = self.w.estate.resource(target_id)
        if target is None:
            raise SeedError(f"unknown target {target_id}; seed it first")
        return target

    def connection(self, data: dict[str, Any]) -> dict[str, Any]:
        target = self._target(data)
        (pe_id,) = _require(data, "privateEndpointId")
        status = data.get("status", "Pending")
        if status not in PE_STATES:
            raise SeedError(f"status must be one of {PE_STATES}")
        conn = self.w.pe.seed(target, private_endpoint_id=pe_id, name=data.get("name"), status=status,
                              description=data.get("description", ""), group_ids=data.get("groupIds"),
                              created_at=time.time() - float(data.get("ageS", 0)))
        return connection_view(target, conn)

    def connection_state(self, data: dict[str, Any]) -> dict[str, Any]:
        target = self._target(data)
        name, status = _require(data, "name", "status")
        if status not in PE_STATES:
            raise SeedError(f"status must be one of {PE_STATES}")
        try:
            conn = self.w.pe.set_state(target, name, status, data.get("description"))
        except ArmError as err:
            raise SeedError(err.message) from None
        return connection_view(target, conn)

    # ---- drift ---------------------------------------------------------------------------------------------
    def workspace_drift(self, data: dict[str, Any]) -> dict[str, Any]:
        """Change a workspace behind the operator's back: no LRO, no ratchet, no lock."""
        (workspace_id,) = _require(data, "workspaceId")
        ws = self.w.estate.workspaces.get(ids.key(workspace_id))
        if ws is None:
            raise SeedError(f"unknown workspace {workspace_id}")
        if "isolationMode" in data:
            self.w.mn.apply_mode(ws, data["isolationMode"])
        for name in data.get("removeRules") or []:
            self.w.mn.remove_rule(ws, name)
        for rule_name, props in (data.get("addRules") or {}).items():
            rule = self.w.mn.parse_rule(ws, rule_name, {"properties": props})
            ws.rules[rule.name.lower()] = rule
            self.w.mn.realise(ws, rule)
        if data.get("networkStatus") == "Active":
            self.w.mn.activate(ws, bool(data.get("sparkReady", ws.spark_ready)))
        elif data.get("networkStatus") == "Inactive":
            ws.network_status = "Inactive"
        if "firewallSku" in data:
            ws.firewall_sku = data["firewallSku"]
        return workspace_body(ws, self.w.mn.owner(ws), "2025-12-01")

    def role_assignments(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        """Role assignments whose scope is at or below `scopePrefix` (optionally of one principal), as ARM shows them."""
        (prefix,) = _require(data, "scopePrefix")
        principal = (data.get("principalId") or "").lower()
        return [assignment_body(a) for a in self.w.estate.role_assignments.values()
                if covers(prefix, a.scope) and (not principal or a.principal_id.lower() == principal)]

    def role_assignment(self, data: dict[str, Any]) -> dict[str, Any]:
        """Grant a role as a person in the portal would (no ARM request is logged). `roleId`: a built-in role GUID."""
        scope, role, principal = _require(data, "scope", "roleId", "principalId")
        role = role.rsplit("/", 1)[-1].lower()
        if role not in BUILTIN_ROLES:
            raise SeedError(f"unknown built-in role {role}")
        if not self.w.estate.scope_exists(scope):
            raise SeedError(f"unknown scope {scope}")
        for other in self.w.estate.role_assignments.values():
            if (ids.key(other.scope) == ids.key(scope) and other.principal_id.lower() == principal.lower()
                    and other.role_definition_id.rsplit("/", 1)[-1].lower() == role):
                raise SeedError(f"{principal} already holds {role} at {scope} ({other.name})")
        sub = ids.key(scope).split("/")[2]
        created = RoleAssignment(name=data.get("name") or str(uuid.uuid4()), scope="/" + scope.strip("/"),
                                 role_definition_id=f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}",
                                 principal_id=principal, principal_type=self.w.estate.principals.get(principal.lower(), "ServicePrincipal"))
        self.w.estate.role_assignments[ids.key(created.id)] = created
        return assignment_body(created)

    def delete_role_assignment(self, data: dict[str, Any]) -> dict[str, Any]:
        """Delete an assignment as a person in the portal would (no ARM request, so it is not in the request log)."""
        (assignment_id,) = _require(data, "assignmentId")
        removed = self.w.estate.role_assignments.pop(ids.key(assignment_id), None)
        if removed is None:
            raise SeedError(f"unknown role assignment {assignment_id}")
        return assignment_body(removed)

    # ---- authorization -------------------------------------------------------------------------------------
    def deny(self, data: dict[str, Any]) -> Deny:
        (prefix,) = _require(data, "scopePrefix")
        deny = Deny(scope_prefix=prefix, actions=list(data.get("actions") or ["*"]), principal_id=data.get("principalId"))
        self.w.estate.denies.append(deny)
        return deny

    def grant(self, data: dict[str, Any]) -> int:
        """Remove deny rules under the prefix (for the given actions/principal, or all). Returns how many."""
        (prefix,) = _require(data, "scopePrefix")
        before = len(self.w.estate.denies)
        actions = data.get("actions")
        self.w.estate.denies = [
            d for d in self.w.estate.denies
            if not (ids.key(d.scope_prefix).startswith(ids.key(prefix))
                    and (actions is None or set(actions) & set(d.actions))
                    and (data.get("principalId") is None or d.principal_id == data["principalId"]))]
        return before - len(self.w.estate.denies)


def is_denied(world: World, principal_id: str, action: str, scope: str) -> bool:
    scope_key = ids.key(scope)
    for d in world.estate.denies:
        if d.principal_id and d.principal_id.lower() != principal_id.lower():
            continue
        if scope_key.startswith(ids.key(d.scope_prefix)) and any(fnmatch.fnmatch(action.lower(), a.lower()) for a in d.actions):
            return True
    return False


def connection_view(target: Resource, conn) -> dict[str, Any]:
    """The admin's raw view of a connection, including how the simulator correlates it."""
    return {"targetId": target.id, "id": f"{target.id}/privateEndpointConnections/{conn.name}", "name": conn.name,
            "privateEndpointId": conn.private_endpoint_id, "status": conn.status, "description": conn.description,
            "groupIds": list(conn.group_ids), "createdAt": conn.created_at, "requestedByRule": conn.requested_by_rule}
