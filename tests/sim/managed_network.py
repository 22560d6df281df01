"""Azure ML managed-network behaviour: isolation ratchet, Required rules, provisioning, rule lifecycle.

- The managed network does not exist until provisioned: status Inactive, rules Inactive.
- Provisioning (or a compute) makes it Active; every rule is then realised (PE rules create connections).
- AllowOnlyApprovedOutbound adds service-owned Required ServiceTag rules; both managed modes add Required
  PrivateEndpoint rules to the workspace's storage account, key vault and container registry.
- Project workspaces share their hub's managed network.
"""

from __future__ import annotations

import hashlib

import re

from . import ids
from .armhttp import user_error
from .constants import CHANGEABLE_ISOLATION_MODES, ISOLATION_MODES, REQUIRED_SERVICE_TAGS
from .model import Estate, OutboundRule, Workspace
from .private_endpoints import SUBRESOURCES, PrivateEndpoints, network_suffix

RULE_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$")
# Host names, optionally with one leading '*.'; underscores allowed because the official examples use them.
_LABEL = r"[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?"
FQDN_RE = re.compile(rf"^(\*\.)?({_LABEL}\.)*{_LABEL}$")
RULE_TYPES = ("FQDN", "PrivateEndpoint", "ServiceTag")
PROTOCOLS = ("TCP", "UDP", "ICMP", "*")
PORT_RANGES_RE = re.compile(r"^(\*|\d{1,5}(-\d{1,5})?)(,\s*\d{1,5}(-\d{1,5})?)*$")

_FQDN_TEMPLATES = {
    "microsoft.cognitiveservices/accounts": ["{name}.openai.azure.com", "{name}.cognitiveservices.azure.com"],
    "microsoft.search/searchservices": ["{name}.search.windows.net"],
    "microsoft.keyvault/vaults": ["{name}.vault.azure.net"],
    "microsoft.containerregistry/registries": ["{name}.azurecr.io"],
}


def _fqdns_for(service_resource_id: str, subresource: str) -> list[str]:
    try:
        rid = ids.parse(service_resource_id)
    except ValueError:
        return []
    full_type = rid.full_type.lower()
    if full_type == "microsoft.storage/storageaccounts":
        return [f"{rid.name.lower()}.{subresource.lower()}.core.windows.net"]
    return [t.format(name=rid.name.lower()) for t in _FQDN_TEMPLATES.get(full_type, [])]



def service_tag_prefixes(tag: str) -> list[str]:
    """The address ranges Azure fills into a ServiceTag rule (read-only): stable per tag, two documentation ranges."""
    n = int(hashlib.sha256(tag.lower().encode()).hexdigest()[:4], 16)
    return [f"198.51.{n % 256}.0/24", f"203.0.{(n >> 8) % 256}.0/24"]


class ManagedNetworks:
    def __init__(self, estate: Estate, pe: PrivateEndpoints, rng_guid):
        self.estate = estate
        self.pe = pe
        self._guid = rng_guid  # () -> str, seeded: network IDs repeat across runs with the same seed

    # ---- which workspace owns the network ------------------------------------------------------------------
    def owner(self, ws: Workspace) -> Workspace:
        """Projects share their hub's managed network."""
        if ws.kind == "Project" and ws.hub_id:
            hub = self.estate.workspaces.get(ids.key(ws.hub_id))
            if hub is not None:
                return hub
        return ws

    def ensure_writable(self, ws: Workspace) -> None:
        if ws.kind == "Project":
            raise user_error(f"Workspace '{ws.name}' is a project: its managed network is inherited from hub "
                             f"'{ws.hub_id}'. Update the hub's managed network instead.")

    # ---- isolation mode ------------------------------------------------------------------------------------
    def validate_mode_change(self, ws: Workspace, mode: str) -> None:
        if mode not in ISOLATION_MODES:
            raise user_error(f"Invalid isolation mode '{mode}'. Allowed values: {', '.join(ISOLATION_MODES)}.")
        if mode != ws.isolation_mode and mode not in CHANGEABLE_ISOLATION_MODES[ws.isolation_mode]:
            raise user_error(f"Changing the managed network isolation mode from '{ws.isolation_mode}' to '{mode}' is "
                             f"not supported. Allowed: {CHANGEABLE_ISOLATION_MODES[ws.isolation_mode] or 'none'}.")

    def apply_mode(self, ws: Workspace, mode: str) -> None:
        """Set the mode (validated by the caller, or forced by admin drift) and reconcile Required rules."""
        ws.isolation_mode = mode
        if mode == "Disabled":
            ws.network_status = None
            for name in [k for k, r in ws.rules.items() if r.category == "Required"]:
                self.pe.remove_for_rule(ws, ws.rules.pop(name))
            return
        if not ws.network_id:
            ws.network_id = self._guid()
        if ws.network_status is None:
            ws.network_status = "Inactive"
        self.sync_required_rules(ws)

    def sync_required_rules(self, ws: Workspace) -> None:
        wanted = {r.name.lower(): r for r in self.required_rules(ws)}
        for k, rule in list(ws.rules.items()):
            if rule.category == "Required" and k not in wanted:
                self.pe.remove_for_rule(ws, ws.rules.pop(k))
        for k, rule in wanted.items():
            if k not in ws.rules:
                ws.rules[k] = rule
                self.realise(ws, rule)

    def required_rules(self, ws: Workspace) -> list[OutboundRule]:
        if ws.isolation_mode == "Disabled":
            return []
        suffix = network_suffix(ws)
        rules = []
        for resource_id, subresources in ((ws.storage_account, ("blob", "file")), (ws.key_vault, ("vault",)),
                                          (ws.container_registry, ("registry",))):
            if not resource_id:
                continue
            name = ids.parse(resource_id).name.lower()
            for sub in subresources:
                rules.append(OutboundRule(
                    name=f"__SYS_PE_{name}_{sub}_{suffix}", type="PrivateEndpoint", category="Required",
                    destination={"serviceResourceId": resource_id, "subresourceTarget": sub, "sparkEnabled": True,
                                 "sparkStatus": "Inactive"},
                    fqdns=_fqdns_for(resource_id, sub)))
        if ws.isolation_mode == "AllowOnlyApprovedOutbound":
            for tag in REQUIRED_SERVICE_TAGS:
                rules.append(OutboundRule(
                    name=f"__SYS_ST_{tag.replace('.', '_')}", type="ServiceTag", category="Required",
                    destination={"serviceTag": tag, "protocol": "TCP", "portRanges": "443", "action": "Allow",
                                 "addressPrefixes": service_tag_prefixes(tag)}))
        return rules

    # ---- provisioning --------------------------------------------------------------------------------------
    def activate(self, ws: Workspace, include_spark: bool) -> None:
        ws.network_status = "Active"
        ws.spark_ready = ws.spark_ready or include_spark
        for rule in list(ws.rules.values()):
            self.realise(ws, rule)

    def realise(self, ws: Workspace, rule: OutboundRule) -> None:
        """Bring one rule to its steady state given the network's state."""
        if ws.network_status != "Active":
            rule.status, rule.error_information = "Inactive", None
            return
        error = None
        if rule.type == "PrivateEndpoint":
            error = self.pe.ensure_for_rule(ws, rule)
            spark = bool(rule.destination.get("sparkEnabled")) and ws.spark_ready and error is None
            rule.destination["sparkStatus"] = "Active" if spark else "Inactive"
        rule.status, rule.error_information = ("Failed", error) if error else ("Active", None)

    # ---- user rules ----------------------------------------------------------------------------------------
    def parse_rule(self, ws: Workspace, name: str, body: dict) -> OutboundRule:
        """Validate a PUT body the way the service does; returns the rule to store."""
        if ws.isolation_mode == "Disabled":
            raise user_error(f"Managed network is not enabled for workspace '{ws.name}'. Set "
                             "properties.managedNetwork.isolationMode before adding outbound rules.")
        if name.lower().startswith("__sys"):
            raise user_error(f"Outbound rule '{name}' is a Required rule owned by Azure Machine Learning and cannot be modified.")
        if not RULE_NAME_RE.match(name):
            raise user_error(f"Invalid outbound rule name '{name}': it must match {RULE_NAME_RE.pattern}.")
        props = body.get("properties")
        if not isinstance(props, dict):
            raise user_error("The request body must contain 'properties'.")
        rule_type = props.get("type")
        if rule_type not in RULE_TYPES:
            raise user_error(f"Invalid outbound rule type '{rule_type}'. Allowed values: {', '.join(RULE_TYPES)}.")
        category = props.get("category") or "UserDefined"
        if category != "UserDefined":
            raise user_error(f"Outbound rule category '{category}' cannot be set by users; only UserDefined rules can be created.")
        dest = props.get("destination")
        fqdns: list[str] = []
        if rule_type == "FQDN":
            if not isinstance(dest, str) or not FQDN_RE.match(dest):
                raise user_error(f"Invalid FQDN destination {dest!r}: give a host name without scheme, port or path.")
        elif rule_type == "ServiceTag":
            dest = self._service_tag_destination(dest)
        else:
            dest, fqdns = self._private_endpoint_destination(ws, name, dest)
        existing = ws.rules.get(name.lower())
        return OutboundRule(name=existing.name if existing else name, type=rule_type, destination=dest,
                            category="UserDefined", fqdns=fqdns)

    @staticmethod
    def _service_tag_destination(dest) -> dict:
        if not isinstance(dest, dict) or not isinstance(dest.get("serviceTag"), str) or not dest["serviceTag"]:
            raise user_error("A ServiceTag rule needs destination.serviceTag.")
        protocol = dest.get("protocol", "TCP")
        if protocol not in PROTOCOLS:
            raise user_error(f"Invalid protocol '{protocol}'. Allowed values: {', '.join(PROTOCOLS)}.")
        ports = dest.get("portRanges", "")
        if not isinstance(ports, str) or not PORT_RANGES_RE.match(ports):
            raise user_error(f"Invalid portRanges {ports!r}: use e.g. '443', '80,443' or '8000-8080'.")
        action = dest.get("action", "Allow")
        if action not in ("Allow", "Deny"):
            raise user_error(f"Invalid action '{action}'. Allowed values: Allow, Deny.")
        # addressPrefixes is read-only (2025-12-01): whatever a client sends is ignored; Azure fills it in.
        return {"serviceTag": dest["serviceTag"], "protocol": protocol, "portRanges": ports, "action": action,
                "addressPrefixes": service_tag_prefixes(dest["serviceTag"])}

    def _private_endpoint_destination(self, ws: Workspace, name: str, dest) -> tuple[dict, list[str]]:
        if not isinstance(dest, dict):
            raise user_error("A PrivateEndpoint rule needs destination.serviceResourceId and destination.subresourceTarget.")
        resource_id, subresource = dest.get("serviceResourceId"), dest.get("subresourceTarget")
        try:
            rid = ids.parse(resource_id or "")
        except ValueError:
            raise user_error(f"Invalid serviceResourceId {resource_id!r}: expected an ARM resource ID.") from None
        if not isinstance(subresource, str) or not subresource:
            raise user_error("destination.subresourceTarget is required for PrivateEndpoint rules.")
        allowed = SUBRESOURCES.get(rid.full_type.lower())
        if allowed is not None and subresource.lower() not in allowed:
            raise user_error(f"Invalid subresourceTarget '{subresource}' for resource type '{rid.full_type}'. "
                             f"Allowed values: {', '.join(sorted(allowed))}.")
        for other in ws.rules.values():
            if (other.name.lower() != name.lower() and other.type == "PrivateEndpoint"
                    and other.destination.get("serviceResourceId", "").lower() == str(rid).lower()
                    and other.destination.get("subresourceTarget", "").lower() == subresource.lower()):
                raise user_error(f"An outbound rule to the same destination already exists: '{other.name}' "
                                 f"({resource_id}, {subresource}).")
        spark = dest.get("sparkEnabled", False)
        if not isinstance(spark, bool):
            raise user_error("destination.sparkEnabled must be a boolean.")
        return ({"serviceResourceId": resource_id, "subresourceTarget": subresource, "sparkEnabled": spark,
                 "sparkStatus": "Inactive"}, _fqdns_for(resource_id, subresource))

    def store_rule(self, ws: Workspace, rule: OutboundRule) -> None:
        """Accepted PUT: the rule shows Provisioning (Inactive on an unprovisioned network) until the LRO ends."""
        previous = ws.rules.get(rule.name.lower())
        if previous is not None and previous.type == "PrivateEndpoint" and previous.destination != rule.destination:
            self.pe.remove_for_rule(ws, previous)
        rule.status = "Provisioning" if ws.network_status == "Active" else "Inactive"
        ws.rules[rule.name.lower()] = rule

    def finish_rule(self, ws: Workspace, name: str) -> None:
        rule = ws.rules.get(name.lower())
        if rule is not None:
            self.realise(ws, rule)

    def remove_rule(self, ws: Workspace, name: str) -> None:
        rule = ws.rules.pop(name.lower(), None)
        if rule is not None:
            self.pe.remove_for_rule(ws, rule)
