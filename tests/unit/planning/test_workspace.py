"""PromptFlowWorkspace planner: what gets written to Azure, and what a person reads in status. Pure, no I/O."""

from __future__ import annotations

import pytest

from promptflow_netiso.azure import roles
from promptflow_netiso.azure.errors import AzureError, ErrorKind
from promptflow_netiso.azure.ml import ManagedNetwork, ProvisionResult, Workspace
from promptflow_netiso.conditions import ready_summary
from promptflow_netiso.model.workspace import WorkspaceSpec
from promptflow_netiso.planning import workspace as p
from promptflow_netiso.planning.workspace import (
    AssignRole,
    ObservedAssignment,
    Previous,
    RemoveRole,
    SetIsolationMode,
    StartProvisioning,
)

SUB = "11111111-2222-3333-4444-555555555555"
RG_ID = f"/subscriptions/{SUB}/resourceGroups/rg"
STORAGE = f"{RG_ID}/providers/Microsoft.Storage/storageAccounts/wsstore"
PRINCIPAL = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
VNET = f"{RG_ID}/providers/Microsoft.Network/virtualNetworks/vnet"
AKS = f"{RG_ID}/providers/Microsoft.ContainerService/managedClusters/aks"
OPENAI = f"{RG_ID}/providers/Microsoft.CognitiveServices/accounts/oai"
SEARCH = f"{RG_ID}/providers/Microsoft.Search/searchServices/srch"
SQL = f"{RG_ID}/providers/Microsoft.Sql/servers/sql"
FILE, TABLE = p.ROLE_FILE_DATA_PRIVILEGED_CONTRIBUTOR, p.ROLE_TABLE_DATA_CONTRIBUTOR
ALLOW_INTERNET, ONLY_APPROVED = "AllowInternetOutbound", "AllowOnlyApprovedOutbound"
PROVISIONING = {"operationUrl": "https://arm.example/operations/1", "startedAt": "2026-03-01T12:00:00Z"}


def spec(mode: str = "ManagedVirtualNetwork", isolation: str | None = ALLOW_INTERNET, provision: bool = False,
         spark: bool = False, assign: bool = True, target: str = "ManagedOnlineEndpoint", deletion: str = "Retain",
         auto: bool = False, min_pending: int = 120) -> WorkspaceSpec:
    network: dict = {"mode": mode, "provision": {"enabled": provision, "includeSpark": spark}}
    if mode == "ManagedVirtualNetwork" and isolation:
        network["isolationMode"] = isolation
    if mode == "BringYourOwnVirtualNetwork":
        network["virtualNetworkId"] = VNET
    deployment: dict = {"type": target}
    if target == "Kubernetes":
        deployment["aksClusterId"] = AKS
    return WorkspaceSpec.from_dict({
        "azure": {"subscriptionId": SUB, "resourceGroup": "rg", "workspaceName": "ws"},
        "network": network,
        "storageRoles": {"assign": assign},
        "deploymentTarget": deployment,
        "deletionPolicy": deletion,
        "privateEndpointApproval": {"auto": auto, "minPendingSeconds": min_pending},
    })


def workspace(kind: str = "Default", isolation: str | None = ALLOW_INTERNET, network: str | None = "Inactive",
              spark_ready: bool = False, principal: str | None = PRINCIPAL, storage: str | None = STORAGE,
              ) -> Workspace:
    managed = None if isolation is None else ManagedNetwork(isolation_mode=isolation, status=network, spark_ready=spark_ready,
                                                            network_id=None)
    return Workspace(id=f"{RG_ID}/providers/Microsoft.MachineLearningServices/workspaces/ws", name="ws", kind=kind,
                     location="westeurope", principal_id=principal, storage_account_id=storage, managed_network=managed)


def ours(role: str, scope: str = STORAGE, principal: str = PRINCIPAL) -> ObservedAssignment:
    return ObservedAssignment(roles.assignment_name(scope, role, principal), f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}", scope, principal)


BOTH_ROLES = (ours(FILE), ours(TABLE))


def plan(s: WorkspaceSpec, ws: Workspace, policy: str = "manage", previous: Previous = Previous(generation=1),
         assignments=BOTH_ROLES, result: ProvisionResult | None = None) -> p.Plan:
    return p.plan(s, ws, policy=policy, previous=previous, assignment_name=roles.assignment_name,
                  assignments=assignments, provision_result=result)


def cond(pl: p.Plan, type_: str) -> tuple[str, str]:
    c = pl.condition(type_)
    assert c is not None, f"{type_} missing"
    return c["status"], c["reason"]


def ready(pl: p.Plan) -> dict:
    return ready_summary(pl.conditions, p.STEPS)


# --- converged: nothing to write -------------------------------------------------------------------------------------


def test_converged_workspace_needs_no_write_and_is_ready():
    pl = plan(spec(), workspace())
    assert pl.actions == ()
    assert ready(pl)["status"] == "True"
    assert pl.status["isolationMode"] == ALLOW_INTERNET
    assert pl.status["principalId"] == PRINCIPAL
    assert pl.status["workspaceKind"] == "Default"
    assert [r["createdByOperator"] for r in pl.status["roleAssignments"]] == [True, True]


def test_converged_when_role_assignments_were_not_read_trusts_the_operators_own_records():
    first = plan(spec(), workspace())
    previous = Previous.from_status({"roleAssignments": first.status["roleAssignments"]}, generation=1)
    pl = plan(spec(), workspace(), previous=previous, assignments=None)
    assert pl.actions == ()
    assert cond(pl, "StorageRolesAssigned") == ("True", "Assigned")


# --- service limits ---------------------------------------------------------------------------------------------------

LIMIT_CASES = [
    # id, workspace kind, network mode, deployment target, current isolation, expected reasons (empty: allowed)
    ("default-managed-endpoint", "Default", "ManagedVirtualNetwork", "ManagedOnlineEndpoint", None, []),
    ("hub-managed", "Hub", "ManagedVirtualNetwork", "ManagedOnlineEndpoint", None, []),
    ("default-managed-aks", "Default", "ManagedVirtualNetwork", "Kubernetes", None, []),
    ("default-byo-aks", "Default", "BringYourOwnVirtualNetwork", "Kubernetes", None, []),
    ("default-byo-aks-disabled", "Default", "BringYourOwnVirtualNetwork", "Kubernetes", "Disabled", []),
    ("hub-byo", "Hub", "BringYourOwnVirtualNetwork", "Kubernetes", None, [p.REASON_BYO_VNET_NOT_SUPPORTED]),
    ("project-byo", "Project", "BringYourOwnVirtualNetwork", "Kubernetes", None, [p.REASON_BYO_VNET_NOT_SUPPORTED]),
    ("kind-case-insensitive", "hub", "BringYourOwnVirtualNetwork", "Kubernetes", None, [p.REASON_BYO_VNET_NOT_SUPPORTED]),
    ("byo-endpoint", "Default", "BringYourOwnVirtualNetwork", "ManagedOnlineEndpoint", None, [p.REASON_ENDPOINT_NEEDS_MANAGED_VNET]),
    ("hub-byo-endpoint", "Hub", "BringYourOwnVirtualNetwork", "ManagedOnlineEndpoint", None,
     [p.REASON_BYO_VNET_NOT_SUPPORTED, p.REASON_ENDPOINT_NEEDS_MANAGED_VNET]),
    ("byo-on-managed-workspace", "Default", "BringYourOwnVirtualNetwork", "Kubernetes", ONLY_APPROVED, [p.REASON_MANAGED_NETWORK_ALREADY_ENABLED]),
]


@pytest.mark.parametrize("kind,mode,target,current,expected", [c[1:] for c in LIMIT_CASES], ids=[c[0] for c in LIMIT_CASES])
def test_service_limits(kind, mode, target, current, expected):
    s = spec(mode=mode, target=target)
    ws = workspace(kind=kind, isolation=current if mode != "ManagedVirtualNetwork" else ALLOW_INTERNET)
    assert [reason for reason, _ in p.limit_violations(s, ws)] == expected
    pl = plan(s, ws, assignments=(ours(FILE), ours(TABLE)))
    if expected:
        assert cond(pl, "LimitsSatisfied") == ("False", expected[0])
        assert ready(pl)["reason"] == expected[0]
    else:
        assert cond(pl, "LimitsSatisfied") == ("True", p.REASON_WITHIN_LIMITS)


def test_hub_asked_for_byo_vnet_is_refused_with_a_clear_reason_and_no_write():
    pl = plan(spec(mode="BringYourOwnVirtualNetwork", target="Kubernetes", provision=True), workspace(kind="Hub", isolation=None), assignments=())
    assert pl.actions == ()
    message = pl.condition("LimitsSatisfied")["message"]
    assert "Hub workspaces cannot use a bring-your-own virtual network" in message
    for step in ("IsolationApplied", "NetworkProvisioned", "StorageRolesAssigned"):
        assert cond(pl, step) == ("Unknown", p.REASON_BLOCKED)
    assert ready(pl)["status"] == "False"


def test_blocked_plan_keeps_records_needed_for_deletion_and_following_provisioning():
    record = p.role_record(STORAGE, FILE, "n1", True)
    previous = Previous.from_status({"roleAssignments": [record], "provisioning": PROVISIONING}, generation=1)
    pl = plan(spec(mode="BringYourOwnVirtualNetwork", target="Kubernetes"), workspace(kind="Hub", isolation=None), previous=previous)
    assert pl.status["roleAssignments"] == [record]
    assert pl.status["provisioning"] == PROVISIONING


# --- isolation mode ----------------------------------------------------------------------------------------------------

ISOLATION_CASES = [
    # id, desired, current in Azure, policy, previous (applied generation, applied mode), expected action or None, condition
    ("same", ALLOW_INTERNET, ALLOW_INTERNET, "manage", None, None, ("True", "Applied")),
    ("first-apply", ONLY_APPROVED, "Disabled", "manage", None, SetIsolationMode(ONLY_APPROVED, "Disabled", drift=False), ("False", "Applying")),
    ("never-configured", ALLOW_INTERNET, None, "manage", None, SetIsolationMode(ALLOW_INTERNET, "Disabled", drift=False), ("False", "Applying")),
    ("spec-changed", ONLY_APPROVED, ALLOW_INTERNET, "manage", (1, ALLOW_INTERNET), SetIsolationMode(ONLY_APPROVED, ALLOW_INTERNET, drift=False), ("False", "Applying")),
    ("drift", ONLY_APPROVED, ALLOW_INTERNET, "manage", (2, ONLY_APPROVED), SetIsolationMode(ONLY_APPROVED, ALLOW_INTERNET, drift=True), ("False", "Applying")),
    ("skip-reports-difference", ONLY_APPROVED, ALLOW_INTERNET, "skip", (2, ONLY_APPROVED), None, ("False", p.REASON_SKIPPED)),
    ("skip-converged", ALLOW_INTERNET, ALLOW_INTERNET, "skip", None, None, ("True", "Applied")),
    ("detach-on-delete-writes", ONLY_APPROVED, ALLOW_INTERNET, "detach-on-delete", None, SetIsolationMode(ONLY_APPROVED, ALLOW_INTERNET, drift=False), ("False", "Applying")),
]


@pytest.mark.parametrize("desired,current,policy,prev,action,expected", [c[1:] for c in ISOLATION_CASES], ids=[c[0] for c in ISOLATION_CASES])
def test_isolation_mode(desired, current, policy, prev, action, expected):
    status = {}
    if prev:
        status = {"isolationMode": prev[1], "conditions": [{"type": "IsolationApplied", "status": "True", "reason": "Applied", "observedGeneration": prev[0]}]}
    pl = plan(spec(isolation=desired), workspace(isolation=current), policy=policy, previous=Previous.from_status(status, generation=2))
    assert [a for a in pl.actions if isinstance(a, SetIsolationMode)] == ([action] if action else [])
    assert cond(pl, "IsolationApplied") == expected


def test_a_refused_isolation_change_shows_azures_error_verbatim():
    """2025-12-01 has no changeableIsolationModes: the planner does not guess which changes Azure allows; Azure's
    refusal is the answer, shown as it came."""
    pl = plan(spec(isolation=ALLOW_INTERNET), workspace(isolation=ONLY_APPROVED))
    (action,) = pl.actions
    assert action == SetIsolationMode(ALLOW_INTERNET, ONLY_APPROVED, drift=False)
    p.after_failure(pl, action, "UserError", "UserError: Changing the managed network isolation mode is not supported")
    assert cond(pl, "IsolationApplied") == ("False", "UserError")
    assert "is not supported" in pl.condition("IsolationApplied")["message"]


def test_a_project_inherits_its_hubs_network_and_is_never_written():
    pl = plan(spec(isolation=ONLY_APPROVED, provision=True), workspace(kind="Project", isolation=ALLOW_INTERNET, network="Inactive"))
    assert pl.actions == ()
    assert cond(pl, "IsolationApplied") == ("False", p.REASON_INHERITED_FROM_HUB)
    assert cond(pl, "NetworkProvisioned") == ("False", p.REASON_INHERITED_FROM_HUB)


def test_a_project_whose_hub_matches_is_ready():
    pl = plan(spec(isolation=ONLY_APPROVED, provision=True), workspace(kind="Project", isolation=ONLY_APPROVED, network="Active"))
    assert pl.actions == ()
    assert ready(pl)["status"] == "True"


def test_drift_correction_is_announced_as_such():
    action = SetIsolationMode(ONLY_APPROVED, ALLOW_INTERNET, drift=True)
    assert action.event_reason == "DriftCorrected"
    assert "changed to AllowInternetOutbound outside the operator" in action.describe()
    assert SetIsolationMode(ONLY_APPROVED, "Disabled", drift=False).event_reason == "IsolationModeSet"


def test_byo_vnet_never_writes_the_isolation_mode():
    pl = plan(spec(mode="BringYourOwnVirtualNetwork", target="Kubernetes"), workspace(isolation="Disabled"), assignments=(ours(FILE),))
    assert pl.actions == ()
    assert cond(pl, "IsolationApplied") == ("True", p.REASON_NOT_APPLICABLE)
    assert cond(pl, "NetworkProvisioned") == ("True", p.REASON_NOT_APPLICABLE)
    assert ready(pl)["status"] == "True"


# --- provisioning ----------------------------------------------------------------------------------------------------

PROVISION_CASES = [
    # id, enabled, include spark, network status, spark ready, previous record, poll result, policy,
    #     expected action, expected condition, record kept, follow
    ("not-requested", False, False, "Inactive", False, None, None, "manage", None, ("True", p.REASON_NOT_REQUESTED), None, False),
    ("not-requested-but-active", False, False, "Active", False, None, None, "manage", None, ("True", p.REASON_ACTIVE), None, False),
    ("already-active", True, False, "Active", False, None, None, "manage", None, ("True", p.REASON_ACTIVE), None, False),
    ("start", True, False, "Inactive", False, None, None, "manage", StartProvisioning(False), ("Unknown", p.REASON_PROVISIONING), None, False),
    ("start-never-provisioned", True, False, None, False, None, None, "manage", StartProvisioning(False), ("Unknown", p.REASON_PROVISIONING), None, False),
    ("start-for-spark", True, True, "Active", False, None, None, "manage", StartProvisioning(True), ("Unknown", p.REASON_PROVISIONING), None, False),
    ("spark-ready", True, True, "Active", True, None, None, "manage", None, ("True", p.REASON_ACTIVE), None, False),
    ("skip-does-not-start", True, False, "Inactive", False, None, None, "skip", None, ("False", p.REASON_SKIPPED), None, False),
    ("running-is-followed-not-restarted", True, False, "Inactive", False, PROVISIONING, ProvisionResult(False, None, None), "manage",
     None, ("Unknown", p.REASON_PROVISIONING), PROVISIONING, True),
    ("running-followed-under-skip", True, False, "Inactive", False, PROVISIONING, ProvisionResult(False, None, None), "skip",
     None, ("Unknown", p.REASON_PROVISIONING), PROVISIONING, True),
    ("finished-active", True, False, "Inactive", False, PROVISIONING, ProvisionResult(True, "Active", True), "manage",
     None, ("True", p.REASON_ACTIVE), None, False),
    ("finished-async-operation-style", True, False, "Inactive", False, PROVISIONING, ProvisionResult(True, "Succeeded", None), "manage",
     None, ("True", p.REASON_ACTIVE), None, False),
    ("finished-failed", True, False, "Inactive", False, PROVISIONING,
     ProvisionResult(True, "Failed", None, error=AzureError(status=200, code="SubnetFull", message="no room", kind=ErrorKind.USER_FIXABLE)),
     "manage", None, ("False", "SubnetFull"), None, False),
]


@pytest.mark.parametrize("enabled,spark,network,spark_ready,record,result,policy,action,expected,kept,follow",
                         [c[1:] for c in PROVISION_CASES], ids=[c[0] for c in PROVISION_CASES])
def test_provisioning(enabled, spark, network, spark_ready, record, result, policy, action, expected, kept, follow):
    previous = Previous.from_status({"provisioning": record} if record else {}, generation=1)
    pl = plan(spec(provision=enabled, spark=spark), workspace(network=network, spark_ready=spark_ready), policy=policy, previous=previous, result=result)
    assert [a for a in pl.actions if isinstance(a, StartProvisioning)] == ([action] if action else [])
    assert cond(pl, "NetworkProvisioned") == expected
    assert pl.status["provisioning"] == kept
    assert pl.follow_provisioning is follow


def test_finished_provisioning_is_reported_active_even_before_the_workspace_says_so():
    previous = Previous.from_status({"provisioning": PROVISIONING}, generation=1)
    pl = plan(spec(provision=True), workspace(network="Inactive"), previous=previous, result=ProvisionResult(True, "Active", True))
    assert pl.status["managedNetworkStatus"] == "Active"
    assert pl.status["sparkReady"] is True
    assert ready(pl)["status"] == "True"


def test_failed_provisioning_shows_the_azure_error_verbatim():
    err = AzureError(status=200, code="SubnetFull", message="no room", kind=ErrorKind.USER_FIXABLE)
    previous = Previous.from_status({"provisioning": PROVISIONING}, generation=1)
    pl = plan(spec(provision=True), workspace(), previous=previous, result=ProvisionResult(True, "Failed", None, error=err))
    assert pl.condition("NetworkProvisioned")["message"] == "SubnetFull: no room"


# --- storage roles ---------------------------------------------------------------------------------------------------


def test_managed_vnet_assigns_file_and_table_roles_to_the_workspace_identity_on_its_storage():
    pl = plan(spec(), workspace(), assignments=())
    assert list(pl.actions) == [AssignRole(STORAGE, FILE, PRINCIPAL), AssignRole(STORAGE, TABLE, PRINCIPAL)]
    assert cond(pl, "StorageRolesAssigned") == ("False", p.REASON_ASSIGNING)


def test_byo_vnet_assigns_only_the_file_role():
    pl = plan(spec(mode="BringYourOwnVirtualNetwork", target="Kubernetes"), workspace(isolation="Disabled"), assignments=())
    assert list(pl.actions) == [AssignRole(STORAGE, FILE, PRINCIPAL)]


def test_only_the_missing_role_is_assigned():
    pl = plan(spec(), workspace(), assignments=(ours(FILE),))
    assert list(pl.actions) == [AssignRole(STORAGE, TABLE, PRINCIPAL)]
    assert "Storage Table Data Contributor" in pl.condition("StorageRolesAssigned")["message"]


def test_an_equivalent_assignment_made_by_someone_else_counts_and_is_not_ours():
    theirs = [ObservedAssignment("1234", f"/providers/Microsoft.Authorization/roleDefinitions/{r}", STORAGE, PRINCIPAL.upper()) for r in (FILE, TABLE)]
    pl = plan(spec(), workspace(), assignments=theirs)
    assert pl.actions == ()
    assert [r["createdByOperator"] for r in pl.status["roleAssignments"]] == [False, False]


def test_an_assignment_inherited_from_the_resource_group_counts():
    inherited = [ObservedAssignment("5678", r, RG_ID, PRINCIPAL) for r in (FILE, TABLE)]
    assert plan(spec(), workspace(), assignments=inherited).actions == ()


def test_an_assignment_on_another_storage_account_or_principal_does_not_count():
    other = [ObservedAssignment("x", FILE, STORAGE + "2", PRINCIPAL), ObservedAssignment("y", TABLE, STORAGE, "someone-else")]
    assert len(plan(spec(), workspace(), assignments=other).actions) == 2


def test_a_new_identity_gets_new_assignments_and_the_old_records_are_kept_for_deletion():
    old = p.role_record(STORAGE, FILE, roles.assignment_name(STORAGE, FILE, "old-principal"), True)
    previous = Previous.from_status({"roleAssignments": [old]}, generation=1)
    pl = plan(spec(), workspace(), previous=previous, assignments=None)
    assert list(pl.actions) == [AssignRole(STORAGE, FILE, PRINCIPAL), AssignRole(STORAGE, TABLE, PRINCIPAL)]
    assert old in pl.status["roleAssignments"]


def test_a_new_identity_is_not_masked_by_the_old_identitys_records_of_both_roles():
    old = [p.role_record(STORAGE, r, roles.assignment_name(STORAGE, r, "old-principal"), True) for r in (FILE, TABLE)]
    previous = Previous.from_status({"roleAssignments": old, "principalId": "old-principal"}, generation=1)
    pl = plan(spec(), workspace(), previous=previous, assignments=())
    assert list(pl.actions) == [AssignRole(STORAGE, FILE, PRINCIPAL), AssignRole(STORAGE, TABLE, PRINCIPAL)]
    assert all(a.event_reason == p.EVENT_ROLE_ASSIGNED for a in pl.actions)  # a first grant, not drift
    assert all(r in pl.status["roleAssignments"] for r in old)


# --- drift: Azure's list is the truth, status only tells drift from a first assignment --------------------------------


def converged_previous(assignments=BOTH_ROLES) -> Previous:
    first = plan(spec(), workspace(), assignments=assignments)
    return Previous.from_status({"roleAssignments": first.status["roleAssignments"], "principalId": PRINCIPAL}, generation=1)


def test_an_assignment_deleted_by_hand_is_assigned_again_and_announced_as_drift():
    previous = converged_previous()
    pl = plan(spec(), workspace(), previous=previous, assignments=(ours(FILE),))
    table = roles.assignment_name(STORAGE, TABLE, PRINCIPAL)
    assert list(pl.actions) == [AssignRole(STORAGE, TABLE, PRINCIPAL, vanished=table)]
    action = pl.actions[0]
    assert action.event_reason == "DriftCorrected"
    assert action.describe() == (f"Storage Table Data Contributor assignment {table} on wsstore was removed outside the "
                                 f"operator; assigned again to the workspace identity {PRINCIPAL}")
    assert cond(pl, "StorageRolesAssigned") == ("False", p.REASON_ASSIGNING)
    assert table not in [r["name"] for r in pl.status["roleAssignments"]]  # the stale record does not stand in

    p.after_role_assigned(pl, action, table, created=True, ours=table)
    assert cond(pl, "StorageRolesAssigned") == ("True", p.REASON_ASSIGNED)
    assert sorted(r["name"] for r in pl.status["roleAssignments"]) == sorted(r["name"] for r in previous.role_assignments)


def test_an_equivalent_granted_by_hand_in_place_of_a_deleted_one_counts_and_is_not_ours():
    previous = converged_previous()
    by_hand = ObservedAssignment("9999", f"/providers/Microsoft.Authorization/roleDefinitions/{TABLE}", RG_ID, PRINCIPAL)
    pl = plan(spec(), workspace(), previous=previous, assignments=(ours(FILE), by_hand))
    assert pl.actions == ()
    assert cond(pl, "StorageRolesAssigned") == ("True", p.REASON_ASSIGNED)
    table = next(r for r in pl.status["roleAssignments"] if r["roleDefinitionId"].endswith(TABLE))
    assert (table["name"], table["scope"], table["createdByOperator"]) == ("9999", RG_ID, False)


def test_our_own_assignment_is_the_one_recorded_beside_an_equivalent_so_deletion_still_finds_it():
    by_hand = [ObservedAssignment("9999", f"/providers/Microsoft.Authorization/roleDefinitions/{r}", RG_ID, PRINCIPAL) for r in (FILE, TABLE)]
    pl = plan(spec(), workspace(), previous=converged_previous(), assignments=(*by_hand, *BOTH_ROLES))
    assert pl.actions == ()
    assert [r["createdByOperator"] for r in pl.status["roleAssignments"]] == [True, True]


def test_an_equivalent_someone_else_made_that_disappears_is_replaced_by_ours_as_drift():
    theirs = [ObservedAssignment("1234", f"/providers/Microsoft.Authorization/roleDefinitions/{r}", STORAGE, PRINCIPAL) for r in (FILE, TABLE)]
    previous = converged_previous(theirs)
    pl = plan(spec(), workspace(), previous=previous, assignments=(theirs[0],))
    assert list(pl.actions) == [AssignRole(STORAGE, TABLE, PRINCIPAL, vanished="1234")]


def test_skip_reports_an_assignment_deleted_by_hand_without_assigning():
    pl = plan(spec(), workspace(), policy="skip", previous=converged_previous(), assignments=(ours(FILE),))
    assert pl.actions == ()
    assert cond(pl, "StorageRolesAssigned") == ("False", p.REASON_SKIPPED)


TARGET_CASES = [
    # id, spec, workspace, what plan() needs listed
    ("managed", spec(), workspace(), (STORAGE, PRINCIPAL)),
    ("byo", spec(mode="BringYourOwnVirtualNetwork", target="Kubernetes"), workspace(isolation="Disabled"), (STORAGE, PRINCIPAL)),
    ("not-requested", spec(assign=False), workspace(), None),
    ("no-storage", spec(), workspace(storage=None), None),
    ("no-identity", spec(), workspace(principal=None), None),
    ("blocked-by-limits", spec(mode="BringYourOwnVirtualNetwork", target="Kubernetes"), workspace(kind="Hub", isolation=None), None),
]


@pytest.mark.parametrize("s,ws,expected", [c[1:] for c in TARGET_CASES], ids=[c[0] for c in TARGET_CASES])
def test_role_assignments_are_read_only_when_the_plan_needs_them(s, ws, expected):
    assert p.assignment_target(s, ws) == expected


def test_unreadable_assignments_fall_back_to_records_and_only_a_lasting_error_is_shown():
    previous = converged_previous()
    text = "AuthorizationFailed: The client 'x' does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/read'"
    passing = plan(spec(), workspace(), previous=previous, assignments=None)
    p.after_assignments_unreadable(passing, "TooManyRequests", "TooManyRequests: slow down", passing=True)
    assert passing.actions == () and cond(passing, "StorageRolesAssigned") == ("True", p.REASON_ASSIGNED)

    lasting = plan(spec(), workspace(), previous=previous, assignments=None)
    p.after_assignments_unreadable(lasting, "AuthorizationFailed", text)
    assert lasting.actions == ()
    assert lasting.condition("StorageRolesAssigned")["message"] == text
    assert (ready(lasting)["status"], ready(lasting)["reason"]) == ("False", "AuthorizationFailed")
    assert len(lasting.status["roleAssignments"]) == 2  # records kept for deletion


ROLE_BLOCKER_CASES = [
    ("no-storage", workspace(storage=None), ("False", p.REASON_NO_STORAGE)),
    ("no-identity", workspace(principal=None), ("False", p.REASON_NO_IDENTITY)),
]


@pytest.mark.parametrize("ws,expected", [c[1:] for c in ROLE_BLOCKER_CASES], ids=[c[0] for c in ROLE_BLOCKER_CASES])
def test_roles_cannot_be_assigned_without_storage_or_identity(ws, expected):
    pl = plan(spec(), ws, assignments=())
    assert pl.actions == ()
    assert cond(pl, "StorageRolesAssigned") == expected


def test_roles_not_requested():
    pl = plan(spec(assign=False), workspace(), assignments=())
    assert pl.actions == ()
    assert cond(pl, "StorageRolesAssigned") == ("True", p.REASON_NOT_REQUESTED)


def test_skip_reports_missing_roles_without_assigning():
    pl = plan(spec(isolation=ONLY_APPROVED, provision=True), workspace(), policy="skip", assignments=())
    assert pl.actions == ()
    assert cond(pl, "StorageRolesAssigned") == ("False", p.REASON_SKIPPED)
    assert "missing Storage File Data Privileged Contributor, Storage Table Data Contributor" in pl.condition("StorageRolesAssigned")["message"]


def test_role_constants_match_the_azure_layer():
    assert p.ROLE_FILE_DATA_PRIVILEGED_CONTRIBUTOR == roles.ROLE_STORAGE_FILE_DATA_PRIVILEGED_CONTRIBUTOR
    assert p.ROLE_TABLE_DATA_CONTRIBUTOR == roles.ROLE_STORAGE_TABLE_DATA_CONTRIBUTOR


# --- a first reconcile, end to end through the outcome helpers --------------------------------------------------------


def test_first_reconcile_writes_in_order_and_ends_ready_with_provisioning_followed():
    pl = plan(spec(isolation=ONLY_APPROVED, provision=True), workspace(isolation=None, network=None), assignments=())
    assert [type(a) for a in pl.actions] == [SetIsolationMode, StartProvisioning, AssignRole, AssignRole]
    p.after_isolation_set(pl, pl.actions[0], ONLY_APPROVED)
    p.after_provisioning_started(pl, "https://arm.example/op/9", "2026-03-01T12:00:00Z")
    p.after_role_assigned(pl, pl.actions[2], roles.assignment_name(STORAGE, FILE, PRINCIPAL), True, roles.assignment_name(STORAGE, FILE, PRINCIPAL))
    assert cond(pl, "StorageRolesAssigned") == ("False", p.REASON_ASSIGNING)  # one of two done
    p.after_role_assigned(pl, pl.actions[3], "existing-one", False, roles.assignment_name(STORAGE, TABLE, PRINCIPAL))
    assert cond(pl, "IsolationApplied") == ("True", "Applied")
    assert cond(pl, "NetworkProvisioned") == ("Unknown", p.REASON_PROVISIONING)
    assert cond(pl, "StorageRolesAssigned") == ("True", p.REASON_ASSIGNED)
    assert pl.status["isolationMode"] == ONLY_APPROVED
    assert pl.status["provisioning"] == {"operationUrl": "https://arm.example/op/9", "startedAt": "2026-03-01T12:00:00Z"}
    assert pl.follow_provisioning
    assert [(r["name"], r["createdByOperator"]) for r in pl.status["roleAssignments"]] == [
        (roles.assignment_name(STORAGE, FILE, PRINCIPAL), True), ("existing-one", False)]
    assert ready(pl)["reason"] == p.REASON_PROVISIONING


def test_provisioning_that_finishes_at_once_is_active():
    pl = plan(spec(provision=True), workspace(), assignments=BOTH_ROLES)
    p.after_provisioning_started(pl, None, "2026-03-01T12:00:00Z")
    assert cond(pl, "NetworkProvisioned") == ("True", p.REASON_ACTIVE)
    assert pl.status["provisioning"] is None
    assert ready(pl)["status"] == "True"


def test_an_azure_error_reaches_the_condition_verbatim():
    pl = plan(spec(), workspace(), assignments=())
    text = "AuthorizationFailed: The client 'x' does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/write'"
    c = p.after_failure(pl, pl.actions[0], "AuthorizationFailed", text)
    assert (c["status"], c["reason"], c["message"]) == ("False", "AuthorizationFailed", text)
    assert ready(pl)["message"] == text


def test_unreachable_workspace_conditions():
    conds = p.unreachable_conditions("ResourceNotFound", "ResourceNotFound: The Resource 'ws' was not found.")
    summary = ready_summary(conds, p.STEPS)
    assert (summary["status"], summary["reason"]) == ("False", "ResourceNotFound")
    assert summary["message"] == "ResourceNotFound: The Resource 'ws' was not found."


@pytest.mark.parametrize("code,reason", [("AuthorizationFailed", "AuthorizationFailed"), ("too-many_requests", "Toomanyrequests"), ("", "AzureError")])
def test_reasons_are_kubernetes_friendly(code, reason):
    assert p.pascal(code) == reason


# --- deletion --------------------------------------------------------------------------------------------------------

OURS_RECORD = p.role_record(STORAGE, FILE, "ours-1", True)
THEIRS_RECORD = p.role_record(STORAGE, TABLE, "theirs-1", False)
DELETE_CASES = [
    # id, deletion policy, reconcile policy, expected removals
    ("retain", "Retain", "manage", []),
    ("delete-removes-only-ours", "Delete", "manage", [RemoveRole(STORAGE, "ours-1", FILE)]),
    ("delete-detached", "Delete", "detach-on-delete", []),
    ("delete-skipped", "Delete", "skip", []),
]


@pytest.mark.parametrize("deletion,policy,expected", [c[1:] for c in DELETE_CASES], ids=[c[0] for c in DELETE_CASES])
def test_deletion_follows_the_declared_policy(deletion, policy, expected):
    dp = p.plan_delete(spec(deletion=deletion), policy, [OURS_RECORD, THEIRS_RECORD, OURS_RECORD])
    assert list(dp.actions) == expected
    assert "workspace" in dp.summary.lower() or "untouched" in dp.summary


def test_a_provisioning_post_that_may_still_run_after_a_crash_is_not_sent_again():
    pl = p.plan(spec(provision=True), workspace(network="Inactive"), policy="manage", previous=Previous(generation=1),
                assignment_name=roles.assignment_name, assignments=BOTH_ROLES, provisioning_held="2026-11-30T12:00:00Z")
    assert [a for a in pl.actions if isinstance(a, StartProvisioning)] == []
    assert cond(pl, "NetworkProvisioned") == ("Unknown", p.REASON_PROVISIONING)
    assert "before an operator restart" in pl.condition("NetworkProvisioned")["message"] and pl.follow_provisioning
