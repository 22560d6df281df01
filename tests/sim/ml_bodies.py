"""Response bodies of Microsoft.MachineLearningServices, shaped like the official examples.

Bodies are serialised as soon as they are built, so they share nested values with the model instead of copying
them (copying dominated the cost of a workspace GET).
"""

from __future__ import annotations

from typing import Any

from .constants import CHANGEABLE_ISOLATION_MODES, OMIT_NULLS_API_VERSIONS
from .model import OutboundRule, Workspace

RULE_TYPE = "workspace/outboundRules"  # the service's literal, not the ARM type string (see FACTS.md)


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def rule_properties(rule: OutboundRule, api_version: str, *, embedded: bool = False) -> dict[str, Any]:
    props: dict[str, Any] = {"type": rule.type, "destination": rule.destination, "status": rule.status,
                             "category": rule.category}
    if rule.type == "PrivateEndpoint" and api_version >= "2026-07-01":
        props["fqdns"] = list(rule.fqdns)  # newer versions report the PE's FQDNs beside the destination
    if not embedded or rule.error_information is not None:
        props["errorInformation"] = rule.error_information
    return props


def rule_body(ws: Workspace, rule: OutboundRule, api_version: str, *, v2: bool = False) -> dict[str, Any]:
    parent = f"{ws.id}/managedNetworks/default" if v2 else ws.id
    body = {"id": f"{parent}/outboundRules/{rule.name}", "name": rule.name, "type": RULE_TYPE,
            "properties": rule_properties(rule, api_version)}
    return _drop_nulls(body) if api_version in OMIT_NULLS_API_VERSIONS else body


def managed_network(network: Workspace, api_version: str) -> dict[str, Any]:
    """`properties.managedNetwork` of a workspace (for a project: its hub's network)."""
    body: dict[str, Any] = {"isolationMode": network.isolation_mode,
                            "changeableIsolationModes": list(CHANGEABLE_ISOLATION_MODES[network.isolation_mode]),
                            **network.monitoring}
    if network.isolation_mode == "Disabled":
        return body
    body["networkId"] = network.network_id
    body["firewallSku"] = network.firewall_sku
    body["outboundRules"] = {r.name: rule_properties(r, api_version, embedded=True) for r in network.rules.values()}
    body["status"] = {"status": network.network_status, "sparkReady": network.spark_ready}
    return body


def workspace_body(ws: Workspace, network: Workspace, api_version: str) -> dict[str, Any]:
    identity: dict[str, Any] = {"type": "SystemAssigned", "principalId": ws.principal_id, "tenantId": ws.tenant_id}
    if ws.user_assigned_identities:
        identity["type"] = "SystemAssigned,UserAssigned"
        identity["userAssignedIdentities"] = ws.user_assigned_identities
    props: dict[str, Any] = {
        "friendlyName": ws.name,
        "description": "",
        "storageAccount": ws.storage_account,
        "keyVault": ws.key_vault,
        "applicationInsights": ws.application_insights,
        "containerRegistry": ws.container_registry,
        "discoveryUrl": f"https://{ws.location}.api.azureml.ms/discovery",
        "hbiWorkspace": False,
        "allowPublicAccessWhenBehindVnet": False,
        "publicNetworkAccess": ws.public_network_access,
        "privateLinkCount": 0,
        "privateEndpointConnections": [],
        "sharedPrivateLinkResources": [],
        "serviceProvisionedResourceGroup": f"{ws.name}_{ws.workspace_id.replace('-', '')[:16]}",
        "workspaceId": ws.workspace_id,
        "provisioningState": "Updating" if ws.updating else "Succeeded",
        "managedNetwork": managed_network(network, api_version),
    }
    if ws.kind == "Project" and ws.hub_id:
        props["hubResourceId"] = ws.hub_id
    props.update(ws.extra_properties)
    body = {"id": ws.id, "name": ws.name, "type": "Microsoft.MachineLearningServices/workspaces", "kind": ws.kind,
            "location": ws.location, "identity": identity, "sku": {"name": "Basic", "tier": "Basic"},
            "tags": dict(ws.tags), "properties": props}
    return _drop_nulls(body) if api_version in OMIT_NULLS_API_VERSIONS else body


def managed_network_v2_body(ws: Workspace, network: Workspace, api_version: str) -> dict[str, Any]:
    """The 2026-03-15-preview `workspaces/{ws}/managedNetworks/default` resource."""
    has_firewall = network.isolation_mode == "AllowOnlyApprovedOutbound"
    mn: dict[str, Any] = {"firewallSku": network.firewall_sku, "isolationMode": network.isolation_mode,
                          "networkId": network.network_id,
                          "firewallPublicIpAddress": _firewall_ip(network) if has_firewall else None,
                          "outboundRules": {r.name: rule_properties(r, api_version) for r in network.rules.values()}}
    return {"name": "default", "type": "Microsoft.MachineLearningServices/workspaces/managedNetworks",
            "id": f"{ws.id}/managedNetworks/default",
            "properties": {"managedNetwork": mn, "provisioningState": "Updating" if ws.updating else "Succeeded"}}


def _firewall_ip(ws: Workspace) -> str:
    digits = int(ws.network_id.replace("-", "")[:8] or "0", 16)
    return f"20.{(digits >> 16) & 255}.{(digits >> 8) & 255}.{digits & 255}"


def provision_body(network: Workspace) -> dict[str, Any]:
    return {"status": network.network_status or "Inactive", "sparkReady": network.spark_ready}
