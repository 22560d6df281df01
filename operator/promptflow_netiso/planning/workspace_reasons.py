"""The words a person reads about a PromptFlowWorkspace: condition reasons and Event reasons (PascalCase, stable: alerts
and runbooks match them), and the Azure values the workspace planners compare with. Pure constants, shared by
planning/workspace.py, planning/workspace_limits.py and planning/storage_roles.py."""

from __future__ import annotations

ISOLATION_DISABLED = "Disabled"
NETWORK_ACTIVE = "Active"
WORKSPACE_KINDS_WITHOUT_BYO_VNET = ("hub", "project")  # lower-cased: ARM kinds are case-insensitive

# Reasons a person reads in conditions, Events and alerts (PascalCase, stable).
REASON_FOUND = "Found"
REASON_WITHIN_LIMITS = "WithinLimits"
REASON_BYO_VNET_NOT_SUPPORTED = "BringYourOwnVnetNotSupportedForKind"
REASON_ENDPOINT_NEEDS_MANAGED_VNET = "ManagedOnlineEndpointRequiresManagedVnet"
REASON_MANAGED_NETWORK_ALREADY_ENABLED = "ManagedNetworkAlreadyEnabled"
REASON_BLOCKED = "LimitsNotSatisfied"
REASON_WAITING_FOR_WORKSPACE = "WaitingForWorkspace"
REASON_APPLIED = "Applied"
REASON_APPLYING = "Applying"
REASON_NOT_APPLICABLE = "NotApplicable"
REASON_SKIPPED = "ReconcileSkipped"
REASON_INHERITED_FROM_HUB = "InheritedFromHub"
REASON_ACTIVE = "Active"
REASON_NOT_REQUESTED = "NotRequested"
REASON_PROVISIONING = "Provisioning"
REASON_PROVISIONING_FAILED = "ProvisioningFailed"
REASON_ASSIGNED = "Assigned"
REASON_ASSIGNING = "Assigning"
REASON_NO_STORAGE = "NoLinkedStorageAccount"
REASON_NO_IDENTITY = "NoManagedIdentity"

# Event reasons for Azure writes.
EVENT_ISOLATION_SET = "IsolationModeSet"
EVENT_DRIFT_CORRECTED = "DriftCorrected"
EVENT_PROVISIONING_STARTED = "ProvisioningStarted"
EVENT_ROLE_ASSIGNED = "RoleAssigned"
EVENT_ROLE_REMOVED = "RoleAssignmentRemoved"
