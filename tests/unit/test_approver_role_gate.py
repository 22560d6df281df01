"""The OutboundRule's approver-role gate with a fake Azure facade: one PUT at most, and the right wait or cause."""

from __future__ import annotations

from types import SimpleNamespace

from promptflow_netiso.azure.errors import AzureError, ErrorKind
from promptflow_netiso.azure.roles import EnsureResult
from promptflow_netiso.handlers import approver_role as gate
from promptflow_netiso.planning.approver_role import ROLE_APPROVER, WorkspaceApprover, rule_record

PRINCIPAL = "aaaaaaaa-0000-0000-0000-000000000001"
TARGET = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.Search/searchServices/s"


class FakeRoles:
    def __init__(self, error: AzureError | None = None):
        self.error = error
        self.calls: list[tuple] = []

    async def ensure(self, scope, role_id, principal_id):
        self.calls.append((scope, role_id, principal_id))
        if self.error:
            raise self.error
        return EnsureResult(name="n-1", created=True)


def azure(roles: FakeRoles):
    return SimpleNamespace(roles=roles)


async def test_not_wanted_or_skip_writes_nothing():
    roles = FakeRoles()
    assert (await gate.rule_gate(azure(roles), WorkspaceApprover(False), "ws", TARGET, {}, skip=False)).proceed
    assert (await gate.rule_gate(azure(roles), WorkspaceApprover(True, PRINCIPAL), "ws", TARGET, {}, skip=True)).proceed
    assert roles.calls == []


async def test_assigns_once_on_the_target_then_trusts_the_record():
    roles = FakeRoles()
    g = await gate.rule_gate(azure(roles), WorkspaceApprover(True, PRINCIPAL), "ws", TARGET, {}, skip=False)
    assert g.proceed and g.record == rule_record(TARGET, PRINCIPAL, "n-1", True)
    assert roles.calls == [(TARGET, ROLE_APPROVER, PRINCIPAL)]
    again = await gate.rule_gate(azure(roles), WorkspaceApprover(True, PRINCIPAL), "ws", TARGET,
                                 {"approverRole": g.record}, skip=False)
    covered = await gate.rule_gate(azure(roles), WorkspaceApprover(True, PRINCIPAL, (TARGET.rsplit("/", 4)[0],)),
                                   "ws", TARGET, {}, skip=False)
    assert again.proceed and covered.proceed and len(roles.calls) == 1


async def test_waits_for_the_identity():
    g = await gate.rule_gate(azure(FakeRoles()), WorkspaceApprover(True, None), "ws", TARGET, {}, skip=False)
    assert not g.proceed and g.conditions[-1]["reason"] == "WaitingForApproverRole"


async def test_forbidden_waits_with_azures_error_and_what_to_do():
    err = AzureError(status=403, code="AuthorizationFailed", message="no roleAssignments/write",
                     kind=ErrorKind.USER_FIXABLE)
    g = await gate.rule_gate(azure(FakeRoles(err)), WorkspaceApprover(True, PRINCIPAL), "ws", TARGET, {}, skip=False)
    ready = g.conditions[-1]
    assert not g.proceed and g.error is err
    assert ready["reason"] == "ApproverRoleNotAssigned" and ready["status"] == "False"
    assert "AuthorizationFailed: no roleAssignments/write" in ready["message"] and "roleAssignments/write" in ready["message"]


async def test_other_tenant_writes_the_rule_and_remembers_why():
    err = AzureError(status=401, code="InvalidAuthenticationTokenTenant", message="wrong issuer",
                     kind=ErrorKind.USER_FIXABLE)
    g = await gate.rule_gate(azure(FakeRoles(err)), WorkspaceApprover(True, PRINCIPAL), "ws", TARGET, {}, skip=False)
    assert g.proceed and g.record["otherTenant"] is True


# --- the workspace side: each approver-role PUT recorded before it is sent -------------------------------------------


def _workspace_call(roles: FakeRoles, monkeypatch):
    from promptflow_netiso.model import WorkspaceSpec
    from promptflow_netiso.planning import workspace_intent
    from promptflow_netiso.planning.workspace import Plan

    events: list[tuple] = []
    async def announce(body, write, type_, reason, message):  # the Event of a landed write, named after its record
        events.append((reason, message))
        announced.append(write)

    announced: list = []
    monkeypatch.setattr(gate, "announce", announce)
    spec = WorkspaceSpec.from_dict({"azure": {"subscriptionId": "11111111-2222-3333-4444-555555555555",
                                              "resourceGroup": "rg", "workspaceName": "w"},
                                    "approverRole": {"assign": True}})
    ws = SimpleNamespace(principal_id=PRINCIPAL, id="/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups"
                                                    "/rg/providers/Microsoft.MachineLearningServices/workspaces/w")
    plan = Plan((), [], {"pendingWrite": None})
    recorded: list = []

    async def record(write):
        recorded.append(write)
        assert roles.calls == [], "recorded before the PUT is sent"

    async def run():
        error = await gate.reconcile_workspace(None, plan, spec, ws, [TARGET], [], True, azure(roles),
                                               __import__("logging").getLogger("t"), [], record)
        return error, plan, recorded, events, workspace_intent, announced
    return run


async def test_the_workspace_records_each_approver_put_first_and_clears_it_with_the_outcome(monkeypatch):
    error, plan, recorded, events, wi, announced = await _workspace_call(FakeRoles(), monkeypatch)()
    [write] = recorded
    assert announced == [write], "its Event is named after the record it settles"
    assert write.operation == "PUT" and "/roleAssignments/" in write.target and write.target.startswith(TARGET)
    assert write.body_hash == wi.role_hash(write.target.rsplit("/", 1)[-1])  # what a restarted run settles by
    assert error is None and plan.status["pendingWrite"] is None
    assert [r for r, _ in events] == [write.event_reason]


async def test_a_put_azure_may_have_accepted_keeps_its_record_and_a_refused_one_clears_it(monkeypatch):
    maybe = AzureError(status=500, code="InternalServerError", message="x", kind=ErrorKind.TRANSIENT)
    error, plan, recorded, events, _, _ = await _workspace_call(FakeRoles(maybe), monkeypatch)()
    assert error is maybe and plan.status["pendingWrite"] == recorded[0].to_status() and events == []
    refused = AzureError(status=403, code="AuthorizationFailed", message="no", kind=ErrorKind.USER_FIXABLE)
    error, plan, _, _, _, _ = await _workspace_call(FakeRoles(refused), monkeypatch)()
    assert error is refused and plan.status["pendingWrite"] is None
