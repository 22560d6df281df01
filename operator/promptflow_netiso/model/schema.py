"""The three CustomResourceDefinitions, built as plain dicts: the single source of truth for crds/*.yaml.

Validation lives here so that bad input is refused at admission with a message naming the field: enums and defaults
in OpenAPI, everything else in CEL (`x-kubernetes-validations`) with a human message. Every string and list carries
maxLength/maxItems so the API server can bound the CEL cost. Regenerate the YAML with

    python -m promptflow_netiso.model.schema --out crds/      (or: promptflow-netiso crds --out crds/)
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, Iterable

import yaml

from .approval import (
    DEFAULT_DESCRIPTION,
    LITERAL_SUBSCRIPTION_RE,
    MAX_AUDIT,
    MAX_TARGETS,
    NEEDS_REQUESTERS,
    PATTERN_NEEDS_SUBSCRIPTION,
    ApprovalMode,
    Decision,
)
from .common import (
    AKS_CLUSTER_TYPE,
    ANY_ARM_ID_RE,
    APPROVAL_TARGET_TYPES,
    AZURE_NAME_RE,
    CATEGORY,
    FQDN_RE,
    GROUP,
    GUID_RE,
    K8S_NAME_RE,
    KIND_APPROVAL,
    KIND_OUTBOUND_RULE,
    KIND_WORKSPACE,
    MIN_PENDING_SECONDS_DEFAULT,
    MIN_PENDING_SECONDS_MAX,
    PLURALS,
    PORT_RANGES_RE,
    RECONCILE_POLICY_ANNOTATION,
    RESOURCE_GROUP_RE,
    SERVICE_TAG_RE,
    SHORT_NAMES,
    SINGULARS,
    SUBRESOURCE_RE,
    VERSION,
    VIRTUAL_NETWORK_TYPE,
    arm_id_re,
)
from .grant import (APPROVAL_TARGETS, GRANT_NAME, KIND_GRANT, MAX_SCOPES, PLURAL_GRANT, RULE_TARGETS, SCOPE_RE,
                    SHORT_NAME_GRANT, WORKSPACES)
from .outbound_rule import Protocol, RuleAction, RuleType
from .private_link import GROUP_IDS
from .strict_fields import keep_unknown_fields, strict_fields_policy
from .workspace import (
    DEFAULT_COMPUTE_NAME,
    DEFAULT_COMPUTE_NAMESPACE,
    DEFAULT_EXTENSION_NAME,
    DEFAULT_EXTENSION_NAMESPACE,
    DeletionPolicy,
    DeploymentTargetType,
    InferenceRouterServiceType,
    IsolationMode,
    NetworkMode,
    PublicNetworkAccess,
)

REGENERATE = "python -m promptflow_netiso.model.schema --out crds/"
ARM_ID_MAX = 1024

Schema = dict[str, Any]


# --- schema building blocks ---------------------------------------------------------------------------------------
def rule(
    expr: str,
    message: str | None = None,
    *,
    message_expression: str | None = None,
    field_path: str | None = None,
    reason: str | None = None,
    optional_old_self: bool | None = None,
) -> Schema:
    r: Schema = {"rule": expr}
    if message is not None:
        r["message"] = message
    if message_expression is not None:
        r["messageExpression"] = message_expression
    if field_path is not None:
        r["fieldPath"] = field_path
    if reason is not None:
        r["reason"] = reason
    if optional_old_self is not None:
        r["optionalOldSelf"] = optional_old_self
    return r


def cel_str(value: str) -> str:
    """A CEL raw string literal (regexes keep their backslashes)."""
    assert "'" not in value, value
    return f"r'{value}'"


def matches(regex: str, message: str) -> Schema:
    return rule(f"self.matches({cel_str(regex)})", message)


def first_failing(checks: Iterable[tuple[str, str]]) -> list[Schema]:
    """Ordered checks where only the first violated one reports, so one mistake yields one precise message
    (`https://x/y` says "no scheme", not also "no path" and "not a host name")."""
    rules, earlier = [], []
    for ok, message in checks:
        guard = " && ".join(f"({e})" for e in earlier)
        rules.append(rule(f"{guard} ? ({ok}) : true" if guard else ok, message))
        earlier.append(ok)
    return rules


def string(description: str, *, max_length: int, min_length: int | None = None, rules: list[Schema] | None = None,
           default: str | None = None, enum: Iterable[str] | None = None, fmt: str | None = None) -> Schema:
    s: Schema = {"type": "string", "description": description}
    if enum is not None:
        s["enum"] = list(enum)
    else:
        s["maxLength"] = max_length
        if min_length is not None:
            s["minLength"] = min_length
    if fmt:
        s["format"] = fmt
    if default is not None:
        s["default"] = default
    if rules:
        s["x-kubernetes-validations"] = rules
    return s


def enum_of(description: str, values: Iterable[Any], default: Any = None) -> Schema:
    return string(description, max_length=0, enum=[str(v) for v in values],
                  default=str(default) if default is not None else None)


def boolean(description: str, default: bool | None = None) -> Schema:
    s: Schema = {"type": "boolean", "description": description}
    if default is not None:
        s["default"] = default
    return s


def integer(description: str, *, minimum: int | None = None, maximum: int | None = None,
            default: int | None = None) -> Schema:
    s: Schema = {"type": "integer", "format": "int64", "description": description}
    if minimum is not None:
        s["minimum"] = minimum
    if maximum is not None:
        s["maximum"] = maximum
    if default is not None:
        s["default"] = default
    return s


def obj(description: str, properties: dict[str, Schema], *, required: list[str] | None = None,
        rules: list[Schema] | None = None, default: dict | None = None) -> Schema:
    s: Schema = {"type": "object", "description": description, "properties": properties}
    if required:
        s["required"] = required
    if default is not None:
        s["default"] = default
    if rules:
        s["x-kubernetes-validations"] = rules
    return s


def array(description: str, items: Schema, *, max_items: int, min_items: int | None = None,
          list_type: str | None = None, map_keys: list[str] | None = None,
          rules: list[Schema] | None = None) -> Schema:
    s: Schema = {"type": "array", "description": description, "items": items, "maxItems": max_items}
    if min_items is not None:
        s["minItems"] = min_items
    if list_type:
        s["x-kubernetes-list-type"] = list_type
    if map_keys:
        s["x-kubernetes-list-map-keys"] = map_keys
    if rules:
        s["x-kubernetes-validations"] = rules
    return s


def immutable(what: str) -> Schema:
    return rule("self == oldSelf", f"is immutable: {what}")


def status_str(description: str) -> Schema:
    # Status is written only by the operator: lenient (nullable, no CEL) so a status patch never fails validation.
    return {"type": "string", "nullable": True, "description": description}


def status_bool(description: str) -> Schema:
    return {"type": "boolean", "nullable": True, "description": description}


def status_int(description: str) -> Schema:
    return {"type": "integer", "format": "int64", "nullable": True, "description": description}


def status_obj(description: str, properties: dict[str, Schema]) -> Schema:
    return {"type": "object", "nullable": True, "description": description, "properties": properties}


def guid(description: str) -> Schema:
    return string(description, max_length=36, rules=[
        matches(GUID_RE, "must be a GUID such as 00000000-0000-0000-0000-000000000000")])


def arm_id(description: str, provider_type: str | None) -> Schema:
    regex = ANY_ARM_ID_RE if provider_type is None else arm_id_re(provider_type)
    shape = provider_type or "<Namespace>/<type>"
    return string(description, max_length=ARM_ID_MAX, rules=[matches(
        regex, f"must be an ARM resource ID /subscriptions/<guid>/resourceGroups/<group>/providers/{shape}/<name>")])


def local_ref(description: str) -> Schema:
    return obj(description, {
        "name": string("Name of the object in the same namespace.", max_length=253, min_length=1,
                       rules=[matches(K8S_NAME_RE, "must be a Kubernetes object name (lower-case RFC 1123 subdomain)")]),
    }, required=["name"])


def conditions(types: Iterable[str]) -> Schema:
    return array(
        f"Latest observations of the object's state (Kubernetes convention). Types: {', '.join(types)}; "
        "Ready summarises the others. Stalled (present only when True) means the object cannot converge without a "
        "change: kstatus, Flux and Argo CD read it as failed/degraded.",
        {
            "type": "object",
            "description": "One condition.",
            "required": ["type", "status"],
            "properties": {
                "type": {"type": "string", "maxLength": 316, "description": "Condition type, e.g. Ready."},
                "status": {"type": "string", "enum": ["True", "False", "Unknown"],
                           "description": "True, False or Unknown."},
                "reason": {"type": "string", "maxLength": 1024,
                           "description": "PascalCase reason for the last transition."},
                "message": {"type": "string", "maxLength": 32768,
                            "description": "Human-readable details; Azure errors appear verbatim as <Code>: <message>."},
                "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0,
                                       "description": "metadata.generation the condition was computed for."},
                "lastTransitionTime": {"type": "string", "format": "date-time",
                                       "description": "When the status last changed (RFC 3339)."},
            },
        },
        max_items=32, list_type="map", map_keys=["type"],
    )


def common_status(types: Iterable[str]) -> dict[str, Schema]:
    return {
        "observedGeneration": status_int("metadata.generation of the spec the operator last acted on."),
        "conditions": conditions(types),
        "kopf": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                 "description": "Operator bookkeeping (kopf progress and diff base). Not for users."},
    }


def printer(name: str, path: str, description: str, *, type_: str = "string", priority: int = 0) -> Schema:
    col: Schema = {"name": name, "type": type_, "jsonPath": path, "description": description}
    if priority:
        col["priority"] = priority
    return col


READY_COLUMNS = [
    printer("Ready", '.status.conditions[?(@.type=="Ready")].status', "Whether the object has converged."),
    printer("Reason", '.status.conditions[?(@.type=="Ready")].reason', "Why it is (not) ready."),
]
AGE = printer("Age", ".metadata.creationTimestamp", "Time since creation.", type_="date")
MESSAGE = printer("Message", '.status.conditions[?(@.type=="Ready")].message', "Details of the Ready condition.",
                  priority=1)
POLICY_DOC = (f" The annotation {RECONCILE_POLICY_ANNOTATION} (manage | skip | detach-on-delete) controls whether the "
              "operator writes to Azure: skip observes and reports only, detach-on-delete leaves Azure untouched "
              "when the object is deleted.")


# --- PromptFlowWorkspace ------------------------------------------------------------------------------------------
def network_transition_rules() -> list[Schema]:
    """Edits Azure cannot follow, refused at admission (transition rules: only checked on update). Tightening
    (AllowInternetOutbound -> AllowOnlyApprovedOutbound) stays allowed."""
    managed, byo = NetworkMode.MANAGED.value, NetworkMode.BRING_YOUR_OWN.value
    approved = IsolationMode.ALLOW_ONLY_APPROVED_OUTBOUND.value
    return [
        rule(f"!(oldSelf.mode == '{managed}' && self.mode == '{byo}')",
             f"cannot change from {managed} to {byo}: Azure cannot move a workspace's managed virtual network to "
             "your own virtual network; create a new workspace (and PromptFlowWorkspace) with your network",
             field_path=".mode", reason="FieldValueForbidden"),
        rule(f"!has(oldSelf.isolationMode) || oldSelf.isolationMode != '{approved}' || "
             f"(has(self.isolationMode) && self.isolationMode == '{approved}')",
             f"cannot loosen isolationMode from {approved}: Azure does not allow going back to "
             "AllowInternetOutbound; allow what the workspace needs with OutboundRule objects instead",
             field_path=".isolationMode", reason="FieldValueForbidden"),
    ]


def workspace_spec() -> Schema:
    managed, byo = NetworkMode.MANAGED.value, NetworkMode.BRING_YOUR_OWN.value
    network = obj(
        "Network isolation of the workspace.",
        {
            "mode": enum_of(f"{managed}: Azure manages a virtual network for the workspace (the operator sets its "
                            f"isolation mode and outbound rules). {byo}: the workspace uses your own virtual "
                            "network; the operator only verifies it.", NetworkMode, NetworkMode.MANAGED),
            "isolationMode": enum_of(
                f"Outbound isolation of the managed virtual network; only with mode {managed}, where it defaults "
                "to AllowInternetOutbound. AllowOnlyApprovedOutbound blocks everything except the workspace's "
                "required rules and the OutboundRule objects that reference this workspace. Azure does not allow "
                "going back from AllowOnlyApprovedOutbound to AllowInternetOutbound.", IsolationMode),
            "provision": obj(
                "Whether to start provisioning of the managed network now (Azure otherwise creates it lazily, "
                "when the first compute is created).",
                {
                    "enabled": boolean("Start provisionManagedNetwork when the managed network is not Active.",
                                       False),
                    "includeSpark": boolean("Also provision the network for serverless Spark.", False),
                }, default={"enabled": False, "includeSpark": False}),
            "virtualNetworkId": arm_id(f"ARM ID of your Microsoft.Network/virtualNetworks; required with mode "
                                       f"{byo}, forbidden otherwise.", VIRTUAL_NETWORK_TYPE),
            "publicNetworkAccess": enum_of(
                f"Only with mode {byo}: the workspace's publicNetworkAccess the operator keeps (Disabled: reachable "
                "only through its private endpoints). Left out: not managed.", PublicNetworkAccess),
        },
        # Defaults spelled out in full: the API server validates a default without applying the nested ones.
        default={"mode": managed, "provision": {"enabled": False, "includeSpark": False}},
        rules=[
            rule(f"self.mode == '{managed}' || !has(self.isolationMode)",
                 f"isolationMode applies only to mode {managed}", field_path=".isolationMode",
                 reason="FieldValueForbidden"),
            rule(f"self.mode != '{byo}' || has(self.virtualNetworkId)",
                 f"virtualNetworkId is required when mode is {byo}", field_path=".virtualNetworkId",
                 reason="FieldValueRequired"),
            rule(f"self.mode == '{byo}' || !has(self.virtualNetworkId)",
                 f"virtualNetworkId applies only to mode {byo}", field_path=".virtualNetworkId",
                 reason="FieldValueForbidden"),
            rule(f"self.mode == '{byo}' || !has(self.publicNetworkAccess)",
                 f"publicNetworkAccess applies only to mode {byo}", field_path=".publicNetworkAccess",
                 reason="FieldValueForbidden"),
            rule(f"self.mode == '{managed}' || !has(self.provision) || !self.provision.enabled",
                 f"provisioning applies only to mode {managed}", field_path=".provision.enabled",
                 reason="FieldValueForbidden"),
            *network_transition_rules(),
        ],
    )
    kubernetes = DeploymentTargetType.KUBERNETES.value
    return obj(
        "Desired network isolation of one Azure Machine Learning workspace used for prompt flow.",
        {
            "azure": obj(
                "Which Azure Machine Learning workspace (or hub/project) this object manages. Immutable once set.",
                {
                    "subscriptionId": guid("Azure subscription ID (GUID) of the workspace."),
                    "resourceGroup": string(
                        "Resource group of the workspace.", max_length=90, min_length=1,
                        rules=[matches(RESOURCE_GROUP_RE, "must be a resource group name: 1-90 letters, digits, "
                                       "'-', '_', '.', '(' or ')', not ending in '.'")]),
                    "workspaceName": string(
                        "Name of the Azure Machine Learning workspace.", max_length=33,
                        rules=[matches(AZURE_NAME_RE, "must be a workspace name: 3-33 letters, digits, '_' or '-', "
                                       "starting with a letter or digit")]),
                },
                required=["subscriptionId", "resourceGroup", "workspaceName"],
                rules=[immutable("the workspace coordinates cannot change; create a new PromptFlowWorkspace")],
            ),
            "network": network,
            "storageRoles": obj(
                "Role assignments prompt flow needs on the workspace's linked storage account.",
                {"assign": boolean("Assign Storage File Data Privileged Contributor and Storage Table Data "
                                   "Contributor to the workspace's managed identity.", True)},
                default={"assign": True}),
            "approverRole": obj(
                "Cure Pending managed-network private endpoints the way Azure does: assign Azure AI Enterprise "
                "Network Connection Approver to the workspace's managed identity on each PrivateEndpoint rule's "
                "target (before the rule is written), so Azure approves the managed network's connections itself. "
                "The operator needs Microsoft.Authorization/roleAssignments/write on those targets.",
                {"assign": boolean("Assign the approver role on the targets of this workspace's PrivateEndpoint "
                                   "outbound rules.", False)}),  # no object default: objects stored before this
                                                                  # field existed read back unchanged after an upgrade
            "privateEndpointApproval": obj(
                "Kept for compatibility: auto: true now means approverRole.assign: true (the operator approves "
                "nothing itself for it). To approve connections by a declared requester use a "
                "PrivateEndpointApproval.",
                {
                    "auto": boolean("Same as approverRole.assign.", False),
                    "minPendingSeconds": integer(
                        "No longer used (kept so existing objects stay valid).",
                        minimum=0, maximum=MIN_PENDING_SECONDS_MAX, default=MIN_PENDING_SECONDS_DEFAULT),
                },
                default={"auto": False, "minPendingSeconds": MIN_PENDING_SECONDS_DEFAULT}),
            "deploymentTarget": obj(
                "Where prompt flows of this workspace are deployed.",
                {
                    "type": enum_of(f"ManagedOnlineEndpoint (uses the managed network) or {kubernetes} (an AKS "
                                    "cluster in your own virtual network).", DeploymentTargetType,
                                    DeploymentTargetType.MANAGED_ONLINE_ENDPOINT),
                    "aksClusterId": arm_id(f"ARM ID of the Microsoft.ContainerService/managedClusters; required "
                                           f"when type is {kubernetes}, forbidden otherwise.", AKS_CLUSTER_TYPE),
                    "computeName": string(
                        f"Name of the Kubernetes compute the cluster is attached as (type {kubernetes}); "
                        f"{DEFAULT_COMPUTE_NAME} when left out.",
                        max_length=16, min_length=2,
                        rules=[matches(r"^[a-zA-Z][a-zA-Z0-9-]{1,15}$", "must be a compute name: 2-16 letters, "
                                       "digits or '-', starting with a letter")]),
                    "namespace": string(
                        "Kubernetes namespace on the cluster that Azure ML deploys prompt flows into; "
                        f"{DEFAULT_COMPUTE_NAMESPACE} when left out.",
                        max_length=63, min_length=1,
                        rules=[matches(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                                       "must be a Kubernetes namespace name (lower-case RFC 1123 label)")]),
                    "extension": obj(
                        "The Azure ML cluster extension (microsoft.azureml.kubernetes) that a Kubernetes compute needs. "
                        "Always verified; installed only when install is true.",
                        {
                            "install": boolean("Install the extension when the cluster has none (the install runs "
                                               "for minutes; the operator follows it across restarts).", False),
                            "name": string("Extension name used when installing.", max_length=253, min_length=1,
                                           default=DEFAULT_EXTENSION_NAME, rules=[matches(
                                               r"^[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$",
                                               "must be an extension name: letters, digits, '-', '_', '.'")]),
                            "releaseNamespace": string(
                                "Namespace of the extension's release on the cluster.", max_length=63, min_length=1,
                                default=DEFAULT_EXTENSION_NAMESPACE, rules=[matches(
                                    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                                    "must be a Kubernetes namespace name (lower-case RFC 1123 label)")]),
                            "inference": obj(
                                "Inference settings of the extension (configurationSettings).",
                                {
                                    "routerServiceType": enum_of("inferenceRouterServiceType.",
                                                                 InferenceRouterServiceType,
                                                                 InferenceRouterServiceType.LOAD_BALANCER),
                                    "internalLoadBalancer": boolean(
                                        "With LoadBalancer: a private IP in your VNet (internalLoadBalancerProvider "
                                        "azure), as a network-isolated workspace needs.", True),
                                    "allowInsecureConnections": boolean("Serve scoring over HTTP (no TLS).", False),
                                    "sslSecret": string("Kubernetes secret (in releaseNamespace) holding the HTTPS "
                                                        "certificate and key.", max_length=253, min_length=1),
                                    "sslCname": string("Host name the HTTPS certificate is for.", max_length=253,
                                                       min_length=1),
                                    "highAvailability": boolean("inferenceRouterHA: run the router with replicas "
                                                                "(needs at least 3 nodes).", True),
                                },
                                ),
                        },
                        rules=[rule("!self.install || (has(self.inference) && (self.inference.allowInsecureConnections"
                                    " || (has(self.inference.sslSecret) && has(self.inference.sslCname))))",
                                    "installing the extension with HTTPS scoring needs inference.sslSecret and "
                                    "inference.sslCname; or set inference.allowInsecureConnections true",
                                    field_path=".inference.sslSecret", reason="FieldValueRequired")]),
                },
                default={"type": DeploymentTargetType.MANAGED_ONLINE_ENDPOINT.value},
                rules=[
                    rule(f"self.type != '{kubernetes}' || has(self.aksClusterId)",
                         f"aksClusterId is required when type is {kubernetes}", field_path=".aksClusterId",
                         reason="FieldValueRequired"),
                    rule(f"self.type == '{kubernetes}' || !has(self.aksClusterId)",
                         f"aksClusterId applies only to type {kubernetes}", field_path=".aksClusterId",
                         reason="FieldValueForbidden"),
                ]),
            "deletionPolicy": enum_of(
                "What happens in Azure when this object is deleted. Retain leaves Azure as it is. Delete removes "
                "what the operator created (role assignments it made); the workspace itself is never deleted.",
                DeletionPolicy, DeletionPolicy.RETAIN),
        },
        required=["azure"],
        rules=[rule(
            f"!has(self.deploymentTarget) || self.deploymentTarget.type != '{kubernetes}' || "
            f"(has(self.network) && self.network.mode == '{byo}')",
            f"deployment to Kubernetes (AKS) needs network.mode {byo}; a managed virtual network deploys to "
            "ManagedOnlineEndpoint", field_path=".deploymentTarget.type"),
            rule(f"!has(self.network) || self.network.mode != '{byo}' || "
                 f"(has(self.deploymentTarget) && self.deploymentTarget.type == '{kubernetes}')",
                 f"a managed online endpoint needs a managed virtual network: with network.mode {byo} set "
                 f"deploymentTarget.type {kubernetes} and aksClusterId", field_path=".deploymentTarget.type")],
    )


def pending_write_status() -> Schema:
    return status_obj("An Azure write recorded before it was sent, until it is known to have landed (crash safety: "
                      "a restarted operator resumes or recognises it instead of sending it again).", {
        "operation": status_str("HTTP method: PUT, POST, PATCH or DELETE."),
        "target": status_str("ARM path written."),
        "bodyHash": status_str("Hash of the fields the operator owns in the body sent."),
        "startedAt": status_str("When the write was recorded (RFC 3339)."),
        "pollUrl": status_str("Azure's long-running operation URL, once Azure accepted the write."),
        "event": status_obj("The Event the write announces once it has landed.", {
            "reason": status_str("Event reason."),
            "message": status_str("Event message."),
        }),
    })


def workspace_status() -> Schema:
    from .workspace import CONDITION_TYPES

    return obj("Observed state, written by the operator.", {
        **common_status(CONDITION_TYPES),
        "workspaceKind": status_str("Azure workspace kind: Default, Hub, Project, ..."),
        "isolationMode": status_str("Isolation mode Azure reports for the managed network."),
        "managedNetworkStatus": status_str("Managed network status in Azure: Inactive or Active."),
        "sparkReady": status_bool("Whether the managed network is provisioned for serverless Spark."),
        "principalId": status_str("Object ID of the workspace's system-assigned managed identity."),
        "storageAccountId": status_str("ARM ID of the workspace's linked storage account."),
        "workspaceResourceId": status_str("ARM ID of the workspace."),
        "provisioning": status_obj("A managed network provisioning operation in progress (resumed after restarts).", {
            "operationUrl": status_str("Azure's operation URL to poll."),
            "startedAt": status_str("When provisioning started (RFC 3339)."),
        }),
        "roleAssignments": {
            "type": "array", "nullable": True, "description": "Role assignments on the storage account.",
            "items": {"type": "object", "description": "One role assignment.", "properties": {
                "name": status_str("Role assignment name (GUID)."),
                "roleDefinitionId": status_str("Role definition (GUID or ARM ID)."),
                "scope": status_str("Scope of the assignment (the storage account ID)."),
                "createdByOperator": status_bool("Whether the operator created it (only those are removed with "
                                                 "deletionPolicy Delete)."),
            }},
        },
        "publicNetworkAccess": status_str("The workspace's publicNetworkAccess as Azure reports it."),
        "deploymentTarget": status_obj("The AKS deployment target of a bring-your-own-VNet workspace.", {
            "aksClusterId": status_str("ARM ID of the AKS cluster."),
            "computeName": status_str("Name of the Kubernetes compute in the workspace."),
            "computeId": status_str("ARM ID of that compute, when it exists."),
            "computeAttachedByOperator": status_bool("Whether the operator attached it (only then is it detached "
                                                     "with deletionPolicy Delete)."),
            "extensionName": status_str("Name of the Azure ML extension found (or installed) on the cluster."),
            "extensionInstalledByOperator": status_bool("Whether the operator installed the extension."),
            "extensionOperation": status_obj("An extension install in progress (resumed after restarts).", {
                "operationUrl": status_str("Azure's operation URL to poll."),
                "startedAt": status_str("When the install started (RFC 3339)."),
            }),
            "virtualNetworks": {"type": "array", "nullable": True,
                                "items": {"type": "string", "description": "ARM ID of a VNet."},
                                "description": "VNets verified: the workspace's first, then peered ones in use."},
            "pendingWrite": pending_write_status(),  # the compute attach PUT, recorded before it is sent
        }),
        "lastDriftCheck": status_str("No longer written (the operator removes it): when a drift check last ran is "
                                     "the metric promptflow_netiso_last_drift_check_timestamp_seconds."),
        "pendingWrite": pending_write_status(),
    })


# --- OutboundRule -------------------------------------------------------------------------------------------------
def fqdn_schema() -> Schema:
    return string(
        "Host name the workspace may reach, e.g. api.openai.com or *.svc.pinecone.io: no scheme, path or port; "
        "a wildcard only as a single leading '*.' label. Required when type is FQDN.",
        max_length=253, min_length=1,
        rules=first_failing([
            ("!self.contains('://')", "must be a host name without a scheme such as https://"),
            ("!self.contains('/')", "must be a host name without a path"),
            ("!self.contains(':')", "must be a host name without a port"),
            ("!self.contains('*') || (self.startsWith('*.') && self.lastIndexOf('*') == 0)",
             "may contain a wildcard only as a single leading '*.' label"),
            (f"self.matches({cel_str(FQDN_RE)})", "must be a host name such as api.openai.com"),
        ]),
    )


def port_ranges_schema() -> Schema:
    shape = f"self.matches({cel_str(PORT_RANGES_RE)})"
    in_range = ("self == '*' || self.split(',').all(r, r.trim().split('-').all(p, int(p) >= 1 && "
                "int(p) <= 65535))")
    ordered = ("self == '*' || self.split(',').all(r, r.trim().split('-').size() == 1 || "
               "int(r.trim().split('-')[0]) <= int(r.trim().split('-')[1]))")
    return string(
        "Destination ports: a port (443), a range (8000-8080), a comma list (80,443,8000-8080 or 80, 443) or * for "
        "any.",
        max_length=128, min_length=1,
        rules=first_failing([
            (shape, "must be ports and ranges separated by commas, e.g. 443, 80,443, 80, 443 or 8000-8080, or *"),
            (in_range, "ports must be within 1-65535"),
            (ordered, "a port range must go from low to high, e.g. 8000-8080"),
        ]),
    )


def private_endpoint_schema() -> Schema:
    """Target and sub-resource from one table (private_link.GROUP_IDS), and a target Azure cannot repoint."""
    types = "|".join(re.escape(t) for t in GROUP_IDS)
    return obj(
        "Private endpoint from the managed network to an Azure resource. Required when type is PrivateEndpoint.",
        {
            "serviceResourceId": string(
                "ARM ID of the target resource, a private-link-capable type, e.g. an Azure OpenAI account "
                "(Microsoft.CognitiveServices/accounts). Immutable: Azure cannot repoint a private endpoint.",
                max_length=ARM_ID_MAX,
                rules=[
                    matches(arm_id_re(f"({types})", escape=False),
                            "must be the ARM ID of a resource that accepts private endpoints: "
                            f"{', '.join(GROUP_IDS)}"),
                    rule("self.lowerAscii() == oldSelf.lowerAscii()",
                         "is immutable: Azure cannot repoint a private endpoint at another resource; create a new "
                         "OutboundRule (and delete this one)"),
                ]),
            "subresourceTarget": string(
                "Sub-resource (group ID) of the target, one the target's type has: account (Azure OpenAI, AI "
                "services), searchService, blob, file, table, queue, dfs, vault, ... Immutable.", max_length=64,
                rules=[
                    matches(SUBRESOURCE_RE, "must be a sub-resource name such as account, blob or searchService"),
                    rule("self.lowerAscii() == oldSelf.lowerAscii()",
                         "is immutable: Azure cannot change the sub-resource of a private endpoint; create a new "
                         "OutboundRule (and delete this one)"),
                ]),
            "sparkEnabled": boolean("Also make the endpoint available to serverless Spark.", False),
        },
        required=["serviceResourceId", "subresourceTarget"],
        rules=[subresource_of_target()],
    )


def subresource_of_target() -> Schema:
    """The sub-resource is one the target's type has: one lookup in a map of the table, by the type read off the
    ID's segments 6 and 7 (the ID's own rule admits only top-level IDs of the table's types). It was one rule with
    two regexes per type, compiled and run on every write of a PrivateEndpoint rule, its status writes included."""
    segments = "self.serviceResourceId.lowerAscii().split('/')"
    type_ = f"({segments}[6] + '/' + {segments}[7])"
    group_ids = "{" + ", ".join(f"'{t.lower()}': [" + ", ".join(f"'{g.lower()}'" for g in ids) + "]"
                                for t, ids in GROUP_IDS.items()) + "}"
    messages = "{" + ", ".join(f"'{t.lower()}': 'is not a sub-resource of {t}; it has: {', '.join(ids)}'"
                               for t, ids in GROUP_IDS.items()) + "}"
    return rule(f"{segments}.size() != 9 || !({type_} in {group_ids}) || "
                f"self.subresourceTarget.lowerAscii() in {group_ids}[{type_}]",
                message_expression=f"'subresourceTarget ' + self.subresourceTarget + ' ' + {messages}[{type_}]",
                field_path=".subresourceTarget", reason="FieldValueInvalid")


def outbound_rule_spec() -> Schema:
    fqdn, pe, st = RuleType.FQDN.value, RuleType.PRIVATE_ENDPOINT.value, RuleType.SERVICE_TAG.value
    destination_rules = []
    for kind, key in ((fqdn, "fqdn"), (pe, "privateEndpoint"), (st, "serviceTag")):
        destination_rules += [
            rule(f"self.type != '{kind}' || has(self.{key})", f"{key} is required when type is {kind}",
                 field_path=f".{key}", reason="FieldValueRequired"),
            rule(f"self.type == '{kind}' || !has(self.{key})",
                 message_expression=f"'{key} must not be set when type is ' + self.type + "
                                    "' (set exactly one destination, matching type)'",
                 field_path=f".{key}", reason="FieldValueForbidden"),
        ]
    return obj(
        "One user-defined outbound rule of a workspace's managed virtual network: exactly one destination, "
        "matching type.",
        {
            "workspaceRef": {**local_ref("The PromptFlowWorkspace (same namespace) whose managed network gets this "
                                         "rule. Immutable."),
                             "x-kubernetes-validations": [immutable("move the rule by creating a new OutboundRule")]},
            "ruleName": string(
                "Name of the rule in Azure; defaults to metadata.name. Immutable.", max_length=33,
                rules=[matches(AZURE_NAME_RE, "must be a rule name: 3-33 letters, digits, '_' or '-', starting "
                               "with a letter or digit")]),
            "type": {**enum_of("Kind of destination: FQDN (a host name), PrivateEndpoint (a private endpoint to an "
                               "Azure resource) or ServiceTag (an Azure service tag). Immutable.", RuleType),
                     "x-kubernetes-validations": [immutable("delete and recreate the OutboundRule")]},
            "fqdn": fqdn_schema(),
            "privateEndpoint": private_endpoint_schema(),
            "serviceTag": obj(
                "Azure service tag destination. Required when type is ServiceTag.",
                {
                    "serviceTag": string("Service tag, e.g. AzureActiveDirectory or Storage.WestEurope.",
                                         max_length=80, rules=[matches(SERVICE_TAG_RE, "must be a service tag "
                                                                       "such as AzureActiveDirectory")]),
                    "protocol": enum_of("Protocol: TCP, UDP, ICMP or * (any).", Protocol),
                    "portRanges": port_ranges_schema(),
                    "action": enum_of("Allow or Deny.", RuleAction, RuleAction.ALLOW),
                    "addressPrefixes": array(
                        "Read-only in Azure: filled in by Azure from the service tag. Not accepted here.",
                        string("An IP address or CIDR range.", max_length=43), max_items=64),
                },
                required=["serviceTag", "protocol", "portRanges"],
                rules=[rule("!has(self.addressPrefixes)",
                            "addressPrefixes is read-only in Azure (it is filled in from the service tag): remove "
                            "it from spec.serviceTag", field_path=".addressPrefixes")]),
            "adopt": boolean("Take over a same-named UserDefined rule that already exists in Azure (created by hand) "
                             "instead of reporting a conflict.", False),
        },
        required=["workspaceRef", "type"],
        rules=destination_rules,
    )


def outbound_rule_root_rules() -> list[Schema]:
    effective = "(has({0}.spec.ruleName) ? {0}.spec.ruleName : {0}.metadata.name)"
    return [
        rule(f"has(self.spec.ruleName) || self.metadata.name.matches({cel_str(AZURE_NAME_RE)})",
             "metadata.name is not a valid Azure rule name (3-33 letters, digits, '_' or '-', starting with a letter "
             "or digit): set spec.ruleName", field_path=".spec.ruleName", reason="FieldValueRequired"),
        # The Azure name is spec.ruleName or metadata.name: adding/removing ruleName must not rename the rule.
        rule(f"{effective.format('self')} == {effective.format('oldSelf')}",
             "is immutable: the Azure rule name (spec.ruleName, else metadata.name) cannot change",
             field_path=".spec.ruleName"),
    ]


def outbound_rule_status() -> Schema:
    from .outbound_rule import CONDITION_TYPES

    return obj("Observed state, written by the operator.", {
        **common_status(CONDITION_TYPES),
        "azureRuleName": status_str("Name of the rule in Azure."),
        "ruleStatus": status_str("Rule status in Azure: Inactive, Provisioning, Active, Failed or Deleting."),
        "category": status_str("Rule category in Azure (UserDefined for rules this operator manages)."),
        "errorInformation": status_str("Azure's error information for the rule, verbatim."),
        "destination": status_str("Destination in short form."),
        # Ownership record: Azure rules carry no tags, so whether the operator may delete the rule lives here.
        "created": status_bool("Whether the operator created (or adopted) the Azure rule; only then does deleting "
                               "this object delete it."),
        "pendingWrite": pending_write_status(),
        "azure": status_obj("Where the rule lives in Azure (recorded so deletion works without the workspace "
                            "object).", {
            "subscriptionId": status_str("Subscription ID of the workspace."),
            "resourceGroup": status_str("Resource group of the workspace."),
            "workspaceName": status_str("Name of the Azure Machine Learning workspace."),
        }),
        "privateEndpointConnection": status_obj("The private endpoint connection on the target (PrivateEndpoint "
                                                "rules).", {
            "target": status_str("ARM ID of the target resource."),
            "name": status_str("Connection name on the target."),
            "state": status_str("Pending, Approved, Rejected or Disconnected."),
            "privateEndpointId": status_str("ARM ID of the private endpoint in the managed network."),
        }),
        "approverRole": status_obj("The approver role assignment made for the target before the rule was written "
                                   "(PrivateEndpoint rules of a workspace with approverRole.assign).", {
            "scope": status_str("ARM ID the role is assigned on (the target)."),
            "principalId": status_str("The workspace's managed identity."),
            "name": status_str("Name (GUID) of the role assignment."),
            "createdByOperator": status_bool("Whether the operator created it (else it existed already)."),
            "otherTenant": status_bool("The target is in another tenant: no role can be assigned there."),
        }),
    })


# --- PrivateEndpointApproval --------------------------------------------------------------------------------------
def approval_spec() -> Schema:
    types = "|".join(re.escape(t) for t in APPROVAL_TARGET_TYPES)
    target_re = arm_id_re(f"({types})", escape=False)
    allow = obj(
        "Whose private endpoints may be approved. Must name somebody: subscriptionIds or privateEndpointIdPatterns "
        "(workspaceManagedNetwork only narrows them).",
        {
            "workspaceManagedNetwork": boolean(
                "Narrows the policy (never widens it): of the requesters subscriptionIds or "
                "privateEndpointIdPatterns allow, approve only those named like the private endpoints the managed "
                "network of spec.workspaceRef creates for its PrivateEndpoint outbound rules. A name alone proves "
                "nothing: anyone can name a private endpoint anything in their own subscription.", False),
            "subscriptionIds": array("Approve private endpoints that live in these subscriptions (Observe mode "
                                     "shows each Pending requester's subscription).",
                                     guid("Subscription ID (GUID)."), max_items=50, list_type="set"),
            "privateEndpointIdPatterns": array(
                "Approve private endpoints whose ARM ID matches one of these patterns, compared one path segment at "
                "a time (case-insensitive; * and ? never cross a '/'; the subscription is written out), e.g. "
                "/subscriptions/<guid>/resourceGroups/rg-ml-*/providers/Microsoft.Network/privateEndpoints/*.",
                string("A pattern over the full private endpoint resource ID.", max_length=ARM_ID_MAX, min_length=1,
                       rules=[matches(LITERAL_SUBSCRIPTION_RE, PATTERN_NEEDS_SUBSCRIPTION)]),
                max_items=50, list_type="set"),
        },
        rules=[rule(
            "(has(self.subscriptionIds) && size(self.subscriptionIds) > 0) || "
            "(has(self.privateEndpointIdPatterns) && size(self.privateEndpointIdPatterns) > 0)",
            NEEDS_REQUESTERS)],
    )
    return obj(
        "Approves (or reports) pending private endpoint connections on Azure resources, for requesters the policy "
        "allows.",
        {
            "workspaceRef": local_ref("The PromptFlowWorkspace (same namespace) whose managed network's private "
                                      "endpoints allow.workspaceManagedNetwork refers to."),
            "targets": array(
                f"Resources whose private endpoint connections are watched (1-{MAX_TARGETS}). Supported: "
                f"{', '.join(APPROVAL_TARGET_TYPES)}.",
                obj("One target resource.", {
                    "resourceId": string(
                        "ARM ID of the target resource.", max_length=ARM_ID_MAX,
                        rules=[matches(target_re, "must be the ARM ID of a supported resource: "
                                       f"{', '.join(APPROVAL_TARGET_TYPES)}")]),
                }, required=["resourceId"]),
                max_items=MAX_TARGETS, min_items=1, list_type="map", map_keys=["resourceId"],
                # The list-map key catches exact duplicates; ARM IDs are case-insensitive, so compare lower-cased too.
                rules=[rule("self.all(t, self.filter(u, u.resourceId.lowerAscii() == t.resourceId.lowerAscii())"
                            ".size() == 1)", "lists the same resource twice (ARM IDs are case-insensitive)")]),
            "allow": allow,
            "minPendingSeconds": integer(
                "How long a connection must have been Pending before it is approved, to let Azure's own "
                "auto-approval happen first.", minimum=0, maximum=MIN_PENDING_SECONDS_MAX,
                default=MIN_PENDING_SECONDS_DEFAULT),
            "mode": enum_of("Approve: approve allowed connections. Observe: only report what would be approved.",
                            ApprovalMode),
            "description": string("Description written on approved connections.", max_length=140, min_length=1,
                                  default=DEFAULT_DESCRIPTION),
        },
        required=["targets", "allow", "mode"],
        rules=[rule(
            "!has(self.allow.workspaceManagedNetwork) || !self.allow.workspaceManagedNetwork || "
            "has(self.workspaceRef)",
            "workspaceRef is required when allow.workspaceManagedNetwork is true", field_path=".workspaceRef",
            reason="FieldValueRequired")],
    )


def approval_status() -> Schema:
    from .approval import CONDITION_TYPES

    decisions = ", ".join(d.value for d in Decision)
    return obj("Observed state, written by the operator.", {
        **common_status(CONDITION_TYPES),
        "connections": {
            "type": "array", "nullable": True, "description": "Private endpoint connections seen on the targets.",
            "items": {"type": "object", "description": "One connection.", "properties": {
                "target": status_str("ARM ID of the target resource."),
                "name": status_str("Connection name."),
                "privateEndpointId": status_str("ARM ID of the requesting private endpoint."),
                "state": status_str("Pending, Approved, Rejected or Disconnected."),
                "firstSeenPending": status_str("When the operator first saw it Pending (RFC 3339)."),
                "approvedAt": status_str("When the operator approved it (RFC 3339)."),
                "decision": status_str(f"What the operator decided: {decisions}."),
                "reason": status_str("Why."),
                "requesterSubscription": status_str("Subscription of the requesting private endpoint: pin it in "
                                                    "allow.subscriptionIds once you know it is yours."),
            }},
        },
        "inFlight": {
            "type": "array", "nullable": True,
            "description": "Approvals sent and not finished yet, written before waiting so a restart follows the "
                           "same operation instead of sending the approval again.",
            "items": {"type": "object", "description": "One approval under way.", "properties": {
                "target": status_str("ARM ID of the target resource."),
                "name": status_str("Connection name."),
                "startedAt": status_str("When the approval was sent (RFC 3339)."),
                "operationUrl": status_str("Poll URL of Azure's long-running operation, if any."),
            }},
        },
        "audit": {
            "type": "array", "nullable": True,
            "description": f"The last {MAX_AUDIT} approvals this policy made (every one is also an Event and a "
                           "line of the promptflow_netiso.audit log).",
            "items": {"type": "object", "description": "One approval.", "properties": {
                "time": status_str("When Azure accepted it (RFC 3339)."),
                "target": status_str("ARM ID of the target resource."),
                "connection": status_str("Connection name."),
                "requester": status_str("ARM ID of the approved private endpoint."),
                "matchedBy": status_str("The allow rule that named the requester."),
            }},
        },
        "pendingCount": status_int("Connections currently Pending."),
        "approvedCount": status_int("Connections currently Approved."),
        "lastCheck": status_str("When the targets were last listed (RFC 3339)."),
    })


# --- assembly -----------------------------------------------------------------------------------------------------
def crd(kind: str, description: str, spec: Schema, status: Schema, columns: list[Schema],
        root_rules: list[Schema] | None = None) -> Schema:
    plural = PLURALS[kind]
    root: Schema = {
        "type": "object",
        "description": description + POLICY_DOC,
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": f"API version of this object: {GROUP}/{VERSION}."},
            "kind": {"type": "string", "description": f"Kind of this object: {kind}."},
            "metadata": {"type": "object"},
            "spec": keep_unknown_fields(spec),  # typos refused by name, see strict_fields.py
            "status": status,
        },
    }
    if root_rules:
        root["x-kubernetes-validations"] = root_rules
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{GROUP}",
            "labels": {"app.kubernetes.io/name": "promptflow-netiso", "app.kubernetes.io/part-of": "promptflow-netiso"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": SINGULARS[kind],
                "shortNames": [SHORT_NAMES[kind]],
                "categories": [CATEGORY],
            },
            "versions": [{
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": columns,
                "schema": {"openAPIV3Schema": root},
            }],
        },
    }


def build_crds() -> dict[str, Schema]:
    """Kind -> CRD manifest (a plain dict)."""
    return {
        KIND_WORKSPACE: crd(
            KIND_WORKSPACE,
            "PromptFlowWorkspace converges the network isolation of an Azure Machine Learning workspace for prompt "
            "flow: managed virtual network isolation mode and provisioning, storage role assignments, and approval "
            "of its private endpoints.",
            workspace_spec(), workspace_status(),
            [*READY_COLUMNS,
             printer("Isolation", ".status.isolationMode", "Isolation mode in Azure."),
             printer("Network", ".status.managedNetworkStatus", "Managed network status in Azure."),
             printer("Kind", ".status.workspaceKind", "Azure workspace kind."),
             printer("Target", ".spec.deploymentTarget.type", "ManagedOnlineEndpoint or Kubernetes."),
             printer("Compute", ".status.deploymentTarget.computeName", "Kubernetes compute the AKS cluster is "
                     "attached as (bring-your-own VNet)."),
             AGE,
             printer("AKS", ".spec.deploymentTarget.aksClusterId", "AKS cluster of the Kubernetes target.", priority=1),
             printer("Workspace", ".spec.azure.workspaceName", "Azure workspace name.", priority=1),
             MESSAGE]),
        KIND_OUTBOUND_RULE: crd(
            KIND_OUTBOUND_RULE,
            "OutboundRule is one user-defined outbound rule (FQDN, PrivateEndpoint or ServiceTag) of a "
            "PromptFlowWorkspace's managed virtual network.",
            outbound_rule_spec(), outbound_rule_status(),
            [*READY_COLUMNS,
             printer("Type", ".spec.type", "FQDN, PrivateEndpoint or ServiceTag."),
             printer("Destination", ".status.destination", "Where the rule allows traffic to."),
             printer("Status", ".status.ruleStatus", "Rule status in Azure."),
             printer("Connection", ".status.privateEndpointConnection.state",
                     "Private endpoint connection state on the target."),
             AGE,
             printer("Workspace", ".spec.workspaceRef.name", "The PromptFlowWorkspace.", priority=1),
             MESSAGE],
            root_rules=outbound_rule_root_rules()),
        KIND_APPROVAL: crd(
            KIND_APPROVAL,
            "PrivateEndpointApproval approves pending private endpoint connections on Azure resources (Azure OpenAI, "
            "AI Search, Storage, Key Vault) when the requester is allowed, after Azure had time to auto-approve.",
            approval_spec(), approval_status(),
            [*READY_COLUMNS,
             printer("Mode", ".spec.mode", "Approve or Observe."),
             printer("Pending", ".status.pendingCount", "Connections Pending.", type_="integer"),
             printer("Approved", ".status.approvedCount", "Connections Approved.", type_="integer"),
             AGE,
             MESSAGE]),
        KIND_GRANT: grant_crd(),
    }


def file_name(kind: str) -> str:
    return f"{GROUP}_{({**PLURALS, KIND_GRANT: PLURAL_GRANT})[kind]}.yaml"


# --- AzureScopeGrant (docs/tenancy.md): written by cluster admins, read by the admission policy and the operator ---
def grant_scopes(what: str, governs: str) -> Schema:
    return array(
        f"Azure scopes {governs} may name: /subscriptions/<guid>, /subscriptions/<guid>/resourceGroups/<group>, "
        "a resource ID or a prefix of one; '/' is every scope. Case-insensitive, like ARM.",
        string("One ARM scope (no trailing '/').", max_length=ARM_ID_MAX, rules=[matches(
            SCOPE_RE, f"spec.{what}: must be '/', /subscriptions/<guid>, /subscriptions/<guid>/resourceGroups/<group> "
                      "or a resource ID (prefix) under it, without a trailing '/'")]),
        max_items=MAX_SCOPES, list_type="set")


def grant_crd() -> Schema:
    spec = obj("Which Azure scopes the objects of this namespace may name. Absent or empty lists grant nothing.", {
        WORKSPACES: grant_scopes(WORKSPACES, "PromptFlowWorkspaces (spec.azure)"),
        RULE_TARGETS: grant_scopes(RULE_TARGETS, "PrivateEndpoint OutboundRules (spec.privateEndpoint.serviceResourceId)"),
        APPROVAL_TARGETS: grant_scopes(APPROVAL_TARGETS, "PrivateEndpointApprovals (spec.targets[].resourceId)"),
        "identity": obj(
            "Optional: the namespace's own Azure identity. The operator requests a token for this ServiceAccount "
            "(TokenRequest, audience api://AzureADTokenExchange) and exchanges it with Entra ID for the identity "
            "clientId names, whose federated credential must trust system:serviceaccount:<namespace>:<name>; this "
            "namespace's objects then reach Azure only with that identity.", {
                "serviceAccountName": string("A ServiceAccount in this namespace.", max_length=253, min_length=1,
                                             rules=[matches(K8S_NAME_RE, "must be a Kubernetes object name")]),
                "clientId": guid("Client ID of the managed identity or app registration (as in the ServiceAccount's "
                                 "azure.workload.identity/client-id annotation)."),
                "tenantId": guid("Entra ID tenant of the identity; defaults to the operator's AZURE_TENANT_ID."),
            }, required=["serviceAccountName", "clientId"]),
    }, default={})
    root: Schema = {
        "type": "object",
        "description": "AzureScopeGrant says which Azure scopes the promptflow-netiso objects of its namespace may "
                       "name. Written by cluster admins (namespace editors cannot); one per namespace, named "
                       f"'{GRANT_NAME}'. Without it the namespace can reach nothing in Azure.",
        "properties": {
            "apiVersion": {"type": "string", "description": f"API version of this object: {GROUP}/{VERSION}."},
            "kind": {"type": "string", "description": f"Kind of this object: {KIND_GRANT}."},
            "metadata": {"type": "object"},
            "spec": spec,
        },
        "x-kubernetes-validations": [rule(
            f"self.metadata.name == '{GRANT_NAME}'",
            f"metadata.name: must be '{GRANT_NAME}': one AzureScopeGrant per namespace, the one the admission "
            "policy and the operator read", reason="FieldValueInvalid")],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{PLURAL_GRANT}.{GROUP}",
            "labels": {"app.kubernetes.io/name": "promptflow-netiso", "app.kubernetes.io/part-of": "promptflow-netiso"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": KIND_GRANT, "listKind": f"{KIND_GRANT}List", "plural": PLURAL_GRANT,
                      "singular": KIND_GRANT.lower(), "shortNames": [SHORT_NAME_GRANT], "categories": [CATEGORY]},
            "versions": [{
                "name": VERSION,
                "served": True,
                "storage": True,
                "additionalPrinterColumns": [
                    printer("Workspaces", f".spec.{WORKSPACES}", "Scopes PromptFlowWorkspaces may name."),
                    printer("Rule-Targets", f".spec.{RULE_TARGETS}", "Scopes PrivateEndpoint rules may target."),
                    printer("Approval-Targets", f".spec.{APPROVAL_TARGETS}", "Scopes approvals may approve on."),
                    printer("Identity", ".spec.identity.serviceAccountName",
                            "ServiceAccount whose Azure identity this namespace uses (empty: the operator's)."),
                    AGE,
                ],
                "schema": {"openAPIV3Schema": root},
            }],
        },
    }


class _Dumper(yaml.SafeDumper):
    """Block style, and long descriptions kept on one line (stable diffs, no re-wrapping)."""


STRICT_FIELDS_FILE = f"{GROUP}_strict-fields-policies.yaml"


def render_crds() -> dict[str, str]:
    """File name -> YAML text of every CRD (what crds/ must contain), plus the policies refusing unknown fields
    (they ship with the CRDs, so no install has the CRDs without them), plus kopf's peering CRDs (model/peering.py)."""
    from .peering import peering_crds

    header = f"# Generated from promptflow_netiso/model/schema.py. Do not edit: run `{REGENERATE}`.\n"

    def dump(doc: Schema) -> str:
        return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=100_000, default_flow_style=False,
                         allow_unicode=True)

    crds = build_crds()
    files = {file_name(kind): header + dump(manifest) for kind, manifest in crds.items()}
    policies = [doc for kind, manifest in crds.items()
                for doc in strict_fields_policy(kind, manifest["spec"]["versions"][0]["schema"]["openAPIV3Schema"])]
    files[STRICT_FIELDS_FILE] = header + "---\n".join(dump(doc) for doc in policies)
    files.update({name: header + dump(manifest) for name, manifest in peering_crds().items()})
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the CRDs generated from the Python models.")
    parser.add_argument("--out", default="crds", help="directory to write to (default: crds)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in sorted(render_crds().items()):
        (out / name).write_text(text)
        print(f"wrote {out / name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
