"""SimAdmin: a synchronous (urllib) client of the simulator's /_sim/ admin API, for tests and the demo.

    admin = SimAdmin(sim.url, sim.ca_file)      # or sim.admin
    ws = admin.seed_workspace(sub, "rg", "ws1", isolation_mode="AllowInternetOutbound")
    admin.seed_target(account_id, pe_behaviour="pending")
    admin.faults(r"^ml\\.rule\\.put$", "429", rate=1.0, count=1)
    writes = [r for r in admin.requests() if r["method"] != "GET"]

Blocking by design: call it from sync code, or via asyncio.to_thread from async tests.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any


class SimAdminError(RuntimeError):
    pass


def unique_names(prefix: str = "t") -> tuple[str, str]:
    """A fresh (subscription id, resource group name): tests isolate themselves with these on a shared simulator."""
    return str(uuid.uuid4()), f"rg-{prefix}-{uuid.uuid4().hex[:8]}"


class SimAdmin:
    def __init__(self, url: str, ca_file: str, timeout_s: float = 30.0):
        self.url = url.rstrip("/")
        self._ssl = ssl.create_default_context(cafile=ca_file)
        self._timeout = timeout_s

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None, query: dict[str, Any] | None = None) -> Any:
        url = f"{self.url}/_sim/{path}"
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data = json.dumps({k: v for k, v in (body or {}).items() if v is not None}).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self._ssl, timeout=self._timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")
            raise SimAdminError(f"{method} /_sim/{path} -> {err.code}: {detail}") from None

    # ---- lifecycle / configuration -------------------------------------------------------------------------
    def health(self) -> bool:
        return bool(self._call("GET", "health")["ok"])

    def info(self) -> dict[str, Any]:
        return self._call("GET", "info")

    def reset(self) -> None:
        self._call("POST", "reset", {})

    def config(self, **changes: Any) -> dict[str, Any]:
        """Read, or change (lro_duration_s=, provision_duration_s=, rule_duration_s=<float|None>, batch_rules_at_end=, retry_after_s=,
        token_lifetime_s=, page_size=,
        default_pe_behaviour=, default_approve_after_s=, throttle=<dict|None>) the runtime configuration."""
        if not changes:
            return self._call("GET", "config")
        names = {"lro_duration_s": "lroDurationS", "provision_duration_s": "provisionDurationS",
                 "rule_duration_s": "ruleDurationS", "batch_rules_at_end": "batchRulesAtEnd",
                 "retry_after_s": "retryAfterS", "token_lifetime_s": "tokenLifetimeS", "page_size": "pageSize",
                 "default_pe_behaviour": "defaultPeBehaviour", "default_approve_after_s": "defaultApproveAfterS",
                 "throttle": "throttle"}
        body = {names[k]: v for k, v in changes.items()}
        if "throttle" in changes and changes["throttle"] is None:
            body["throttle"] = False  # explicit "disable", survives the None-stripping in _call
        if "rule_duration_s" in changes and changes["rule_duration_s"] is None:
            body["ruleDurationS"] = False  # likewise: back to lro_duration_s
        return self._call("PATCH", "config", body)

    # ---- seeding -------------------------------------------------------------------------------------------
    def seed_subscription(self, subscription_id: str, display_name: str = "") -> dict[str, Any]:
        return self._call("POST", "subscriptions", {"subscriptionId": subscription_id, "displayName": display_name})

    def seed_resource_group(self, subscription_id: str, name: str, location: str = "eastus") -> dict[str, Any]:
        return self._call("POST", "resourceGroups", {"subscriptionId": subscription_id, "name": name, "location": location})

    def seed_workspace(self, sub: str, rg: str, name: str, kind: str = "Default", isolation_mode: str = "Disabled", *,
                       storage_account: str | None = None, key_vault: str | None = None,
                       container_registry: str | None = None, principal_id: str | None = None,
                       hub_id: str | None = None, location: str = "eastus", provisioned: bool = False,
                       spark_ready: bool = False, rules: dict[str, dict] | None = None,
                       user_assigned_identities: list[str] | None = None,
                       extra_properties: dict[str, Any] | None = None, tags: dict[str, str] | None = None) -> dict[str, Any]:
        """Create a workspace (and its subscription, resource group, storage account and key vault). Returns its
        GET body at 2025-12-01. `rules`: user-defined outbound rules (name -> rule properties) present from the start."""
        return self._call("POST", "workspaces", {
            "subscriptionId": sub, "resourceGroup": rg, "name": name, "kind": kind, "isolationMode": isolation_mode,
            "storageAccount": storage_account, "keyVault": key_vault, "containerRegistry": container_registry,
            "principalId": principal_id, "hubId": hub_id, "location": location, "provisioned": provisioned,
            "sparkReady": spark_ready, "rules": rules, "userAssignedIdentities": user_assigned_identities,
            "extraProperties": extra_properties, "tags": tags})

    def workspace(self, workspace_id: str) -> dict[str, Any]:
        """{"body": GET body, "busyOperation": id of the managed-network write in flight or None}."""
        return self._call("GET", "workspaces", query={"workspaceId": workspace_id})

    def seed_target(self, resource_id: str, pe_behaviour: str | None = None, approve_after_s: float | None = None, *,
                    location: str = "eastus", kind: str | None = None, properties: dict | None = None) -> dict[str, Any]:
        """A private-endpoint target (or any resource a role can be scoped to). pe_behaviour: auto-approve | pending | reject."""
        return self._call("POST", "resources", {"resourceId": resource_id, "peBehaviour": pe_behaviour,
                                                "approveAfterS": approve_after_s, "location": location, "kind": kind,
                                                "properties": properties})

    seed_resource = seed_target

    def seed_principal(self, principal_id: str, principal_type: str = "ServicePrincipal") -> None:
        self._call("POST", "principals", {"principalId": principal_id, "principalType": principal_type})

    def seed_vnet(self, resource_id: str, address_prefixes: list[str] | None = None, subnets: list[dict] | None = None,
                  peerings: list[dict] | None = None, location: str = "eastus",
                  nat_gateway_id: str | None = None) -> dict[str, Any]:
        """subnets: [{name, addressPrefix, delegations?}], peerings: [{name, remoteVirtualNetworkId, peeringState?}]
        (one side each: seed the other VNet's peering back to make it Connected both ways)."""
        return self._call("POST", "vnets", {"resourceId": resource_id, "addressPrefixes": address_prefixes,
                                            "subnets": subnets, "peerings": peerings, "location": location,
                                            "natGatewayId": nat_gateway_id})

    def set_peering_state(self, vnet_id: str, name: str, state: str | None,
                          remote_vnet_id: str | None = None) -> dict[str, Any]:
        """One side of a peering: Initiated | Connected | Disconnected; None removes it; a new one needs the remote."""
        return self._call("PATCH", "vnets/peerings", {"vnetId": vnet_id, "name": name, "peeringState": state or "",
                                                      "remoteVirtualNetworkId": remote_vnet_id})

    def seed_private_endpoint(self, resource_id: str, subnet_id: str, target_id: str, *, status: str = "Approved",
                              connection_name: str | None = None, group_ids: list[str] | None = None) -> dict[str, Any]:
        """A private endpoint in `subnet_id` connected to `target_id` (a workspace: listed among its connections)."""
        return self._call("POST", "privateEndpoints", {"privateEndpointId": resource_id, "subnetId": subnet_id,
                                                       "targetId": target_id, "status": status,
                                                       "connectionName": connection_name, "groupIds": group_ids})

    def seed_extension(self, cluster_id: str, name: str = "azureml", *, extension_type: str | None = None,
                       provisioning_state: str = "Succeeded", configuration_settings: dict | None = None,
                       fail_with: str | None = None, delete: bool = False) -> dict[str, Any]:
        """An extension on a cluster (default: the Azure ML one, Succeeded); delete=True removes it."""
        return self._call("POST", "extensions", {"clusterId": cluster_id, "name": name, "extensionType": extension_type,
                                                 "provisioningState": provisioning_state,
                                                 "configurationSettings": configuration_settings,
                                                 "failWith": fail_with, "delete": delete})

    def seed_compute(self, workspace_id: str, name: str, cluster_id: str, *, namespace: str = "default",
                     description: str | None = None, instance_types: dict | None = None,
                     default_instance_type: str | None = None) -> dict[str, Any]:
        """A Kubernetes compute attached by someone else (Succeeded)."""
        return self._call("POST", "computes", {"workspaceId": workspace_id, "name": name, "resourceId": cluster_id,
                                               "namespace": namespace, "description": description,
                                               "instanceTypes": instance_types,
                                               "defaultInstanceType": default_instance_type})

    def computes(self, workspace_id: str) -> list[dict[str, Any]]:
        """The workspace's computes: name, resourceId, namespace, computeType, provisioningState."""
        return self._call("GET", "computes", query={"workspaceId": workspace_id})

    def seed_aks(self, resource_id: str, agent_pool_subnet_id: str | None = None, *, agent_pools: list[dict] | None = None,
                 location: str = "eastus", kubernetes_version: str = "1.32.0") -> dict[str, Any]:
        pools = agent_pools or [{"name": "system", "vnetSubnetID": agent_pool_subnet_id}]
        return self._call("POST", "aks", {"resourceId": resource_id, "agentPools": pools, "location": location,
                                          "kubernetesVersion": kubernetes_version})

    # ---- private endpoint connections ----------------------------------------------------------------------
    def connections(self, target_id: str) -> list[dict[str, Any]]:
        """Raw view: name, privateEndpointId, status, description, createdAt, requestedByRule."""
        return self._call("GET", "connections", query={"targetId": target_id})

    def seed_connection(self, target_id: str, private_endpoint_id: str, *, name: str | None = None,
                        status: str = "Pending", description: str = "", age_s: float = 0.0) -> dict[str, Any]:
        """An extra connection on a target, e.g. from a foreign subscription."""
        return self._call("POST", "connections", {"targetId": target_id, "privateEndpointId": private_endpoint_id,
                                                  "name": name, "status": status, "description": description,
                                                  "ageS": age_s})

    def set_connection_state(self, target_id: str, name: str, status: str, description: str | None = None) -> dict[str, Any]:
        return self._call("PATCH", "connections", {"targetId": target_id, "name": name, "status": status,
                                                   "description": description})

    # ---- drift (changes behind the operator's back) -------------------------------------------------------
    def set_isolation_mode(self, workspace_id: str, mode: str) -> dict[str, Any]:
        return self._call("PATCH", "workspaces", {"workspaceId": workspace_id, "isolationMode": mode})

    def set_workspace(self, workspace_id: str, *, network_status: str | None = None, spark_ready: bool | None = None,
                      remove_rules: list[str] | None = None, add_rules: dict[str, dict] | None = None,
                      isolation_mode: str | None = None, firewall_sku: str | None = None) -> dict[str, Any]:
        """network_status="Active" provisions the network (as creating a compute would)."""
        return self._call("PATCH", "workspaces", {"workspaceId": workspace_id, "networkStatus": network_status,
                                                  "sparkReady": spark_ready, "removeRules": remove_rules,
                                                  "addRules": add_rules, "isolationMode": isolation_mode,
                                                  "firewallSku": firewall_sku})

    def role_assignments(self, scope_prefix: str, principal_id: str | None = None) -> list[dict[str, Any]]:
        """Role assignments at or below the scope (ARM bodies: id, name, properties.{roleDefinitionId, principalId, scope})."""
        return self._call("GET", "roleAssignments", query={"scopePrefix": scope_prefix, "principalId": principal_id})

    def seed_role_assignment(self, scope: str, role_id: str, principal_id: str, name: str | None = None) -> dict[str, Any]:
        """Grant a built-in role "by hand in the portal": no ARM request is logged. Returns the ARM body."""
        return self._call("POST", "roleAssignments", {"scope": scope, "roleId": role_id, "principalId": principal_id,
                                                      "name": name})

    def delete_role_assignment(self, assignment_id: str) -> dict[str, Any]:
        """Remove an assignment "by hand in the portal": no ARM request is logged. Returns what was removed."""
        return self._call("DELETE", "roleAssignments", query={"assignmentId": assignment_id})

    # ---- authorization -------------------------------------------------------------------------------------
    def deny(self, scope_prefix: str, actions: list[str] | None = None, principal_id: str | None = None) -> dict[str, Any]:
        """403 AuthorizationFailed for matching actions (fnmatch patterns, default all) under the scope prefix."""
        return self._call("POST", "authorization/deny", {"scopePrefix": scope_prefix, "actions": actions,
                                                         "principalId": principal_id})

    def grant(self, scope_prefix: str, actions: list[str] | None = None, principal_id: str | None = None) -> int:
        return self._call("POST", "authorization/grant", {"scopePrefix": scope_prefix, "actions": actions,
                                                          "principalId": principal_id})["removed"]

    # ---- faults --------------------------------------------------------------------------------------------
    def faults(self, route: str, kind: str, rate: float = 1.0, *, method: str | None = None, count: int | None = None,
               delay_s: float | None = None, retry_after_s: int | None = None, stuck_s: float | None = None) -> dict[str, Any]:
        """Inject `kind` (429 | 500 | 503 | slow | drop | stuck-lro) on requests whose route name (e.g. ml.rule.put,
        pec.accounts.put, roles.put) or path matches the regex `route`."""
        return self._call("POST", "faults", {"route": route, "kind": kind, "rate": rate, "method": method,
                                             "count": count, "delayS": delay_s, "retryAfterS": retry_after_s,
                                             "stuckS": stuck_s})

    def chaos(self) -> list[dict[str, Any]]:
        return self._call("POST", "faults/profile", {"name": "chaos"})

    def list_faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "faults")

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def complete_operations(self) -> int:
        """Finish every running long-running operation now, including stuck ones."""
        return self._call("POST", "operations/complete", {})["completed"]

    def operations(self) -> list[dict[str, Any]]:
        return self._call("GET", "operations")

    # ---- identities ----------------------------------------------------------------------------------------
    def register_client(self, client_id: str | None = None, client_secret: str | None = None,
                        object_id: str | None = None, federated: list[dict] | None = None,
                        rbac: bool = False) -> dict[str, Any]:
        """Another app registration (e.g. a second caller to deny rights to). federated: [{issuer, subject,
        audience?}]. rbac=True: ARM authorizes it by its role assignments only (seed_role_assignment), as Azure does."""
        return self._call("POST", "clients", {"clientId": client_id, "clientSecret": client_secret,
                                              "objectId": object_id, "federated": federated, "rbac": rbac or None})

    def federated_token(self, subject: str | None = None, lifetime_s: int | None = None,
                        audience: str | None = None) -> str:
        return self._call("POST", "federated-tokens", {"subject": subject, "lifetimeS": lifetime_s,
                                                       "audience": audience})["token"]

    def trust_issuer(self, issuer: str, jwks: dict[str, Any]) -> None:
        """Accept federated tokens from another OIDC issuer (e.g. a real kube-apiserver's service-account issuer)."""
        self._call("POST", "issuers", {"issuer": issuer, "jwks": jwks})

    # ---- request log ---------------------------------------------------------------------------------------
    def requests(self, since: int = 0, service: str | None = "arm") -> list[dict[str, Any]]:
        """Logged requests after sequence number `since`: seq, time, method, path, apiVersion, status, route, fault."""
        return self._call("GET", "requests", query={"since": since, "service": service})["items"]

    def last_request_seq(self) -> int:
        return self._call("GET", "requests", query={"since": 2**62})["last"]


class SeededWorkspace:
    """One test's slice of the simulator: a workspace in a fresh subscription, and the ARM requests that touched it
    since `mark()` (the request log is shared by every test; the subscription keeps tests apart)."""

    def __init__(self, admin: SimAdmin, prefix: str, **seed: Any):
        self.admin = admin
        self.sub, self.rg = unique_names(prefix)
        self.ws_name = f"ws-{uuid.uuid4().hex[:8]}"
        self.body = admin.seed_workspace(self.sub, self.rg, self.ws_name, **seed)
        self.ws_id = self.body["id"]
        self.start = admin.last_request_seq()

    def mark(self) -> int:
        self.start = self.admin.last_request_seq()
        return self.start

    def calls(self, since: int | None = None) -> list[dict[str, Any]]:
        sub = self.sub.lower()
        return [r for r in self.admin.requests(since=self.start if since is None else since) if sub in r["path"].lower()]
