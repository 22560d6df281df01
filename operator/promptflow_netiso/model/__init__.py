"""Typed spec of the three kinds and the CRD schema source of truth (schema.py).

Handlers parse with `WorkspaceSpec.from_dict(spec)`, `OutboundRuleSpec.from_dict(spec)`, `ApprovalSpec.from_dict(spec)`;
API names (group, version, plurals, annotation) come from here so nothing spells them twice.
"""

from .approval import AllowPolicy, ApprovalMode, ApprovalSpec, ApprovalTarget, Decision
from .common import (
    API_VERSION,
    APPROVAL_TARGET_TYPES,
    CATEGORY,
    CONDITION_READY,
    GROUP,
    KIND_APPROVAL,
    KIND_OUTBOUND_RULE,
    KIND_WORKSPACE,
    KINDS,
    PLURAL_APPROVAL,
    PLURAL_OUTBOUND_RULE,
    PLURAL_WORKSPACE,
    PLURALS,
    POLICY_DETACH_ON_DELETE,
    POLICY_MANAGE,
    POLICY_SKIP,
    RECONCILE_POLICIES,
    RECONCILE_POLICY_ANNOTATION,
    SHORT_NAMES,
    VERSION,
    LocalRef,
    ReconcilePolicy,
    ResourceId,
    SpecError,
    parse_reconcile_policy,
)
from .outbound_rule import OutboundRuleSpec, PrivateEndpointDestination, Protocol, RuleAction, RuleType, ServiceTagDestination
from .workspace import (
    AutoApproval,
    AzureWorkspace,
    DeletionPolicy,
    DeploymentTarget,
    DeploymentTargetType,
    IsolationMode,
    NetworkMode,
    NetworkSpec,
    Provisioning,
    StorageRoles,
    WorkspaceSpec,
)

__all__ = [name for name in dir() if not name.startswith("_")]
