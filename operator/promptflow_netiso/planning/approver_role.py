"""The cure for Pending managed-network private endpoints, pure (no I/O, no clock).

Azure's built-in role *Azure AI Enterprise Network Connection Approver* lets a workspace's managed identity approve
the private endpoint connections its managed network requests on AI dependency resources; with it, Azure approves
them by itself, because Azure knows the real requester (we do not: an endpoint's name proves nothing). With
`spec.approverRole.assign` (or the older `privateEndpointApproval.auto`) the operator assigns that role to the
workspace identity at the narrowest scope that covers each PrivateEndpoint rule's target: the target itself.

Who does what (handlers/approver_role.py):
- the OutboundRule handler assigns the role on its target before it writes the rule (`rule_gate()`), and waits with
  a condition saying so until the assignment exists;
- the workspace handler's drift check judges every target against the identity's role assignments it lists anyway
  (`plan_for_workspace()`: one list per subscription, no read per target), restores one removed by hand, and
  records them in status.roleAssignments so `deletionPolicy: Delete` removes the ones the operator created;
- a rule whose connection stays Pending names the cause (`pending_cause()`).
Assignment names are deterministic (azure/roles.py `assignment_name`), so a crash between the PUT and the status
write never leaves a duplicate behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

from ..conditions import FALSE, TRUE, UNKNOWN, condition
from ..model import arm_id
from ..model.arm_id import ArmId
from ..model.workspace import CONDITION_APPROVER_ROLE_ASSIGNED

ROLE_APPROVER = "b556d68e-0be0-4f35-a333-ad7ee1ce17ea"  # same value as azure/roles.py (a unit test keeps them equal)
ROLE_NAME = "Azure AI Enterprise Network Connection Approver"

REASON_ASSIGNED = "Assigned"
REASON_ASSIGNING = "Assigning"
REASON_NOT_REQUESTED = "NotRequested"
REASON_NO_IDENTITY = "NoManagedIdentity"
REASON_NO_TARGETS = "NoPrivateEndpointRules"
REASON_SKIPPED = "ReconcileSkipped"
REASON_WAITING = "WaitingForApproverRole"  # an OutboundRule's Ready reason while its target's assignment is made
REASON_NOT_ASSIGNED = "ApproverRoleNotAssigned"  # the operator may not assign it there: a person must
EVENT_ASSIGNED = "ApproverRoleAssigned"
EVENT_DRIFT = "DriftCorrected"

# ARM answers these when the target lives in a tenant the operator's (and the workspace's) identity does not belong
# to: no role can be assigned there from here, only the target's owner can approve.
OTHER_TENANT_CODES = frozenset({"InvalidAuthenticationTokenTenant", "SubscriptionNotFound",
                                "InvalidAuthenticationTokenAudience", "LinkedAuthorizationFailed"})

AssignmentNameFn = Callable[[str, str, str], str]


def _lower(value: object) -> str:
    return str(value or "").strip().rstrip("/").lower()


def role_guid(role_definition_id: str | None) -> str:
    return _lower(role_definition_id).rsplit("/", 1)[-1]


covers = arm_id.covers  # an assignment at a scope applies to everything below it
short = arm_id.name_of  # the last segment of an ARM ID: what a person recognises in a message


def subscription_scope(resource_id: str) -> str | None:
    scope = ArmId.of(resource_id).subscription_scope if resource_id else None
    return str(scope) if scope is not None else None


def record(scope: str, name: str, created_by_operator: bool) -> dict:
    """The status.roleAssignments entry (same shape as the storage roles' records)."""
    return {"name": name, "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{ROLE_APPROVER}",
            "scope": scope, "createdByOperator": created_by_operator}


def is_approver_record(r: Mapping) -> bool:
    return role_guid(r.get("roleDefinitionId")) == ROLE_APPROVER


# --- which targets ---------------------------------------------------------------------------------------------------


def targets_of(rules: Iterable[Mapping], workspace: str) -> list[str]:
    """The distinct serviceResourceIds of the live PrivateEndpoint rules of `workspace` (objects as indexed: metadata
    + spec), sorted case-insensitively. Deleted rules no longer need the role (their assignments stay until the
    workspace's deletionPolicy removes them: another rule may come back to the same target)."""
    found: dict[str, str] = {}
    for rule in rules:
        if (rule.get("metadata") or {}).get("deletionTimestamp"):
            continue
        spec = rule.get("spec") or {}
        if spec.get("type") != "PrivateEndpoint" or (spec.get("workspaceRef") or {}).get("name") != workspace:
            continue
        rid = (spec.get("privateEndpoint") or {}).get("serviceResourceId")
        if isinstance(rid, str) and rid.strip():
            found.setdefault(arm_id.key(rid), str(ArmId.of(rid)))
    return [found[k] for k in sorted(found)]


def listing_scopes(workspace_resource_id: str, targets: Sequence[str]) -> list[str]:
    """Where to list the identity's role assignments (at, above and below): the workspace's subscription, which
    holds its storage account and usually every target, plus one per other subscription a target lives in. The
    number of reads does not grow with the number of targets."""
    scopes: list[str] = []
    for rid in (workspace_resource_id, *targets):
        scope = subscription_scope(rid)
        if scope is not None and scope not in scopes:
            scopes.append(scope)
    return scopes


class AssignmentLike:  # structural: azure.roles.Assignment
    name: str
    role_definition_id: str
    scope: str
    principal_id: str


def covering(assignments: Iterable[AssignmentLike], principal_id: str, target: str, ours: str | None = None):
    """The assignment that grants the approver role to this identity on `target` (at it or a scope above), ours
    first; None when there is none."""
    found = [a for a in assignments if _lower(a.principal_id) == _lower(principal_id)
             and role_guid(a.role_definition_id) == ROLE_APPROVER and covers(a.scope, target)]
    found.sort(key=lambda a: _lower(a.name) != _lower(ours))
    return found[0] if found else None


# --- the workspace's drift check --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssignApprover:
    scope: str  # the target resource
    principal_id: str
    vanished: str | None = None  # drift: our recorded assignment is gone from Azure (deleted by hand)

    condition_type = CONDITION_APPROVER_ROLE_ASSIGNED

    @property
    def event_reason(self) -> str:
        return EVENT_DRIFT if self.vanished else EVENT_ASSIGNED

    def describe(self) -> str:
        if self.vanished:
            return (f"{ROLE_NAME} assignment {self.vanished} on {short(self.scope)} was removed outside the operator; "
                    f"assigned again to the workspace identity {self.principal_id}")
        return f"{ROLE_NAME} assigned to the workspace identity {self.principal_id} on {short(self.scope)}"


@dataclass
class WorkspacePlan:
    condition: dict
    actions: list[AssignApprover]
    records: list[dict]  # every approver record status.roleAssignments keeps (the caller replaces its old ones)


def plan_for_workspace(*, wanted: bool, manage: bool, principal_id: str | None, targets: Sequence[str],
                       observed: Sequence[AssignmentLike] | None, previous: Iterable[Mapping],
                       assignment_name: AssignmentNameFn) -> WorkspacePlan:
    """`observed`: the identity's assignments listed at `listing_scopes()`, or None when they could not be read
    (then the operator's own records count, as for the storage roles). Records of assignments the operator created
    stay listed even when no longer wanted, so deletionPolicy Delete can still remove them."""
    previous = [dict(r) for r in previous if isinstance(r, Mapping) and is_approver_record(r)]
    kept = [r for r in previous if r.get("createdByOperator")]
    if not wanted:
        return WorkspacePlan(condition(CONDITION_APPROVER_ROLE_ASSIGNED, TRUE, REASON_NOT_REQUESTED,
                                       "approverRole.assign is false"), [], kept)
    if not principal_id:
        return WorkspacePlan(condition(CONDITION_APPROVER_ROLE_ASSIGNED, FALSE, REASON_NO_IDENTITY,
                                       f"the workspace has no system-assigned managed identity to assign {ROLE_NAME} "
                                       "to"), [], kept)
    if not targets:
        return WorkspacePlan(condition(CONDITION_APPROVER_ROLE_ASSIGNED, TRUE, REASON_NO_TARGETS,
                                       "no PrivateEndpoint outbound rule needs it yet"), [], kept)
    records: list[dict] = []
    actions: list[AssignApprover] = []
    for target in targets:
        ours = assignment_name(target, ROLE_APPROVER, principal_id)
        if observed is not None:
            found = covering(observed, principal_id, target, ours)
            if found is not None:
                records.append(record(found.scope, found.name, _lower(found.name) == _lower(ours)))
                continue
            mine = next((r for r in previous if _lower(r.get("name")) == _lower(ours)), None)
            actions.append(AssignApprover(target, principal_id, vanished=mine["name"] if mine else None))
        else:
            mine = next((r for r in previous if covers(r.get("scope") or "", target)), None)
            if mine is not None:
                records.append(mine)
            else:
                actions.append(AssignApprover(target, principal_id))
    names = {_lower(r["name"]) for r in records}
    records += [r for r in kept if _lower(r.get("name")) not in names]
    if not actions:
        return WorkspacePlan(condition(CONDITION_APPROVER_ROLE_ASSIGNED, TRUE, REASON_ASSIGNED,
                                       f"{ROLE_NAME} on {len(targets)} target(s): "
                                       + ", ".join(short(t) for t in targets)), [], records)
    missing = ", ".join(short(a.scope) for a in actions)
    if not manage:
        return WorkspacePlan(condition(CONDITION_APPROVER_ROLE_ASSIGNED, FALSE, REASON_SKIPPED,
                                       f"missing {ROLE_NAME} on {missing}; not assigned because reconcile-policy is "
                                       "skip"), [], records)
    return WorkspacePlan(condition(CONDITION_APPROVER_ROLE_ASSIGNED, FALSE, REASON_ASSIGNING,
                                   f"assigning {ROLE_NAME} on {missing}"), actions, records)


def placeholder(wanted: bool) -> dict:
    """The condition the workspace planner starts with; `plan_for_workspace()` decides the real one."""
    if not wanted:
        return condition(CONDITION_APPROVER_ROLE_ASSIGNED, TRUE, REASON_NOT_REQUESTED, "approverRole.assign is false")
    return condition(CONDITION_APPROVER_ROLE_ASSIGNED, UNKNOWN, REASON_ASSIGNING, "checking the targets")


def after_assigned(wp: WorkspacePlan, action: AssignApprover, name: str, created: bool, ours: str,
                   total_targets: int) -> None:
    wp.records = [r for r in wp.records if _lower(r.get("name")) != _lower(name)]
    wp.records.append(record(action.scope, name, created or _lower(name) == _lower(ours)))
    wp.actions = [a for a in wp.actions if a is not action]
    if not wp.actions:
        wp.condition = condition(CONDITION_APPROVER_ROLE_ASSIGNED, TRUE, REASON_ASSIGNED,
                                 f"{ROLE_NAME} on {total_targets} target(s)")


def after_failure(wp: WorkspacePlan, action: AssignApprover, code: str, text: str, passing: bool) -> None:
    reason = "".join(ch for ch in code if ch.isalnum()) or "AzureError"
    wp.condition = condition(CONDITION_APPROVER_ROLE_ASSIGNED, UNKNOWN if passing else FALSE, reason,
                             f"assigning {ROLE_NAME} on {short(action.scope)}: {text}")


# --- the OutboundRule's side ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkspaceApprover:
    """What a rule needs from its PromptFlowWorkspace for this (the handler builds it from a kopf index)."""

    wanted: bool = False
    principal_id: str | None = None
    scopes: tuple[str, ...] = ()  # approver assignments the workspace found for its identity (status.roleAssignments)

    def covered(self, target: str) -> str | None:
        """The recorded scope that grants the role on `target`, or None."""
        return next((s for s in self.scopes if covers(s, target)), None)


def workspace_approver(wanted: bool, status: Mapping | None) -> WorkspaceApprover:
    status = status or {}
    scopes = tuple(r.get("scope") for r in status.get("roleAssignments") or ()
                   if isinstance(r, Mapping) and is_approver_record(r) and r.get("scope"))
    principal = status.get("principalId")
    return WorkspaceApprover(wanted, principal if isinstance(principal, str) and principal else None, scopes)


def rule_record_matches(rule_status: Mapping | None, target: str, principal_id: str) -> bool:
    """Whether the rule's status.approverRole already records the assignment for this target and identity (then no
    write is needed: the workspace's drift check watches that it stays)."""
    rec = (rule_status or {}).get("approverRole")
    return (isinstance(rec, Mapping) and arm_id.same(rec.get("scope"), target)
            and _lower(rec.get("principalId")) == _lower(principal_id) and bool(rec.get("name")))


def rule_record(target: str, principal_id: str, name: str, created: bool) -> dict:
    return {"scope": target, "principalId": principal_id, "name": name, "createdByOperator": created}


def waiting_message(workspace: str, why: str) -> str:
    return f"waiting for {ROLE_NAME} on the target for PromptFlowWorkspace {workspace}'s identity: {why}"


def not_assignable_message(target: str, error: str, code: str) -> str:
    if code in OTHER_TENANT_CODES:
        return (f"{short(target)} is in another tenant (or a subscription this operator cannot reach), so {ROLE_NAME} "
                f"cannot be assigned there: its owner must approve the private endpoint connection ({error})")
    return (f"could not assign {ROLE_NAME} on {short(target)}: {error}. Grant the operator "
            "Microsoft.Authorization/roleAssignments/write on the target, or assign the role to the workspace "
            "identity yourself, or approve the connection on the target")


def pending_cause(*, target: str, workspace: str, approver: WorkspaceApprover, rule_status: Mapping | None) -> str:
    """Why a rule's private endpoint connection stays Pending, in the words a person acts on."""
    rec = (rule_status or {}).get("approverRole") or {}
    if isinstance(rec, Mapping) and rec.get("otherTenant"):
        return (f"{short(target)} is in another tenant: the workspace identity cannot hold {ROLE_NAME} there; "
                "a person with rights on the target must approve the connection")
    scope = approver.covered(target)
    if scope is not None:
        return (f"the workspace identity holds {ROLE_NAME} on {short(scope)}, yet Azure has not approved the "
                "connection: a person must approve it on the target (or with a PrivateEndpointApproval naming the "
                "managed network's subscription)")
    if approver.wanted:
        return (f"the workspace identity does not hold {ROLE_NAME} on {short(target)} yet (PromptFlowWorkspace "
                f"{workspace} is assigning it; see its ApproverRoleAssigned condition)")
    return (f"the workspace identity lacks {ROLE_NAME} on {short(target)}: set spec.approverRole.assign: true on "
            f"PromptFlowWorkspace {workspace} so Azure approves it by itself, or approve it on the target")
