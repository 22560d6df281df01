"""PrivateEndpointApproval planner: who gets approved, when, and what a person reads afterwards. Pure, no I/O."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import kopf
import pytest

from promptflow_netiso.model.approval import ApprovalSpec
from promptflow_netiso.planning import approval as p
from promptflow_netiso.planning.approval import Correlation, Intervals, Outcome, OutcomeKind, Policy, Verdict

NOW = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
SUB = "11111111-2222-3333-4444-555555555555"
FOREIGN = "99999999-8888-7777-6666-555555555555"
MS_SUB = "0f0f0f0f-aaaa-bbbb-cccc-0f0f0f0f0f0f"  # a Microsoft-owned subscription hosting managed-network endpoints
OPENAI = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/oai"
SEARCH = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Search/searchServices/srch"
INTERVALS = Intervals(pending=10, settled=300, blocked=120)


@dataclass(frozen=True)
class Conn:
    name: str
    private_endpoint_id: str | None
    status: str = "Pending"
    description: str | None = ""
    provisioning_state: str | None = "Succeeded"


def pe_id(sub: str = SUB, name: str = "pe1", rg: str = "net") -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/privateEndpoints/{name}"


def policy(mode: str = "Approve", min_pending: int = 120, skip: bool = False, description: str | None = None,
           uid: str = "3b0c2f5e-uid", **allow) -> Policy:
    spec = {"targets": [{"resourceId": OPENAI}, {"resourceId": SEARCH}], "mode": mode, "minPendingSeconds": min_pending,
            "allow": allow or {"subscriptionIds": [SUB]}}
    if allow.get("workspaceManagedNetwork"):
        spec["workspaceRef"] = {"name": "ws"}
        if not allow.get("privateEndpointIdPatterns"):
            allow.setdefault("subscriptionIds", [MS_SUB])  # narrowing needs something declared to narrow
    if description is not None:
        spec["description"] = description
    return Policy("team-a", "openai-approvals", ApprovalSpec.from_dict(spec), skip=skip, uid=uid)


NETWORK_ID = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"  # the workspace's managedNetwork.networkId
WORKSPACE_ID = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
FOUND = p.WorkspaceIdentity(WORKSPACE_ID, found=True)
OAI_RULE = p.PrivateEndpointRule(workspace="ws", azure_rule_name="oai-rule", target=OPENAI, status="Active")


def managed_pe(name: str = "oai-rule_0a1b2c3d", sub: str = MS_SUB) -> str:
    """The shape of a managed-network private endpoint: Microsoft-owned subscription, shared resource group pool."""
    return f"/subscriptions/{sub}/resourceGroups/commonHoboRG7/providers/Microsoft.Network/privateEndpoints/{name}"


MANAGED_PE = managed_pe()
TEAM_A = f"/subscriptions/{FOREIGN}/resourceGroups/*/providers/Microsoft.Network/privateEndpoints/team-a-*"
VOUCHING = p.correlate("ws", FOUND, NETWORK_ID, [OAI_RULE])
NOBODY = Correlation()
LONG_AGO = NOW - dt.timedelta(seconds=600)


# --- decide(): the only path to an approval -------------------------------------------------------------------------

DECIDE_CASES = [
    # id, connection, policy, first seen Pending, correlation, expected verdict
    ("allowed-subscription", Conn("c", pe_id()), policy(), LONG_AGO, NOBODY, Verdict.APPROVE),
    ("subscription-compares-case-insensitively", Conn("c", pe_id(SUB.upper())), policy(), LONG_AGO, NOBODY, Verdict.APPROVE),
    ("allow-list-in-upper-case", Conn("c", pe_id()), policy(subscriptionIds=[SUB.upper()]), LONG_AGO, NOBODY, Verdict.APPROVE),
    ("foreign-subscription", Conn("c", pe_id(FOREIGN)), policy(), LONG_AGO, NOBODY, Verdict.NOT_ALLOWED),
    ("subscription-guid-only-in-the-name-does-not-count",
     Conn("c", pe_id(FOREIGN, name=SUB)), policy(), LONG_AGO, NOBODY, Verdict.NOT_ALLOWED),
    ("glob-pattern", Conn("c", pe_id(FOREIGN, name="team-a-pe")),
     policy(privateEndpointIdPatterns=[TEAM_A]), LONG_AGO, NOBODY, Verdict.APPROVE),
    ("glob-pattern-case-insensitive", Conn("c", pe_id(FOREIGN, name="TEAM-A-PE")),
     policy(privateEndpointIdPatterns=[TEAM_A.upper()]), LONG_AGO, NOBODY, Verdict.APPROVE),
    ("glob-pattern-not-matching", Conn("c", pe_id(FOREIGN, name="team-b-pe")),
     policy(privateEndpointIdPatterns=[TEAM_A]), LONG_AGO, NOBODY, Verdict.NOT_ALLOWED),
    ("glob-question-mark-is-one-character", Conn("c", pe_id(FOREIGN, name="pe10")),
     policy(privateEndpointIdPatterns=[TEAM_A.replace("team-a-*", "pe?")]), LONG_AGO, NOBODY, Verdict.NOT_ALLOWED),
    ("glob-pattern-in-another-subscription", Conn("c", pe_id(SUB, name="team-a-pe")),
     policy(privateEndpointIdPatterns=[TEAM_A]), LONG_AGO, NOBODY, Verdict.NOT_ALLOWED),
    ("star-never-crosses-a-slash", Conn("c", pe_id(FOREIGN, name="team-a-pe")),
     policy(privateEndpointIdPatterns=[f"/subscriptions/{FOREIGN}/*"]), LONG_AGO, NOBODY, Verdict.NOT_ALLOWED),
    ("star-inside-one-segment-only", Conn("c", pe_id(FOREIGN, name="team-a-pe", rg="rg-a/x")),
     policy(privateEndpointIdPatterns=[TEAM_A]), LONG_AGO, NOBODY, Verdict.NOT_ALLOWED),
    ("no-private-endpoint-id", Conn("c", None), policy(), LONG_AGO, NOBODY, Verdict.NOT_ALLOWED),
    ("pending-in-lower-case", Conn("c", pe_id(), status="pending"), policy(), LONG_AGO, NOBODY, Verdict.APPROVE),
    ("approved-is-never-touched", Conn("c", pe_id(), status="Approved"), policy(), LONG_AGO, NOBODY, Verdict.UNTOUCHED),
    ("rejected-is-never-touched", Conn("c", pe_id(), status="Rejected"), policy(), LONG_AGO, NOBODY, Verdict.UNTOUCHED),
    ("disconnected-is-never-touched", Conn("c", pe_id(), status="Disconnected"), policy(), LONG_AGO, NOBODY,
     Verdict.UNTOUCHED),
    ("rejected-foreign-is-untouched-not-notallowed", Conn("c", pe_id(FOREIGN), status="Rejected"), policy(), LONG_AGO,
     NOBODY, Verdict.UNTOUCHED),
    ("min-time-exactly-reached", Conn("c", pe_id()), policy(min_pending=120), NOW - dt.timedelta(seconds=120), NOBODY,
     Verdict.APPROVE),
    ("min-time-one-second-short", Conn("c", pe_id()), policy(min_pending=120), NOW - dt.timedelta(seconds=119), NOBODY,
     Verdict.WAITING),
    ("first-seen-now", Conn("c", pe_id()), policy(min_pending=120), None, NOBODY, Verdict.WAITING),
    ("zero-minimum-approves-at-first-sight", Conn("c", pe_id()), policy(min_pending=0), None, NOBODY, Verdict.APPROVE),
    ("azure-still-updating-it", Conn("c", pe_id(), provisioning_state="Updating"), policy(), LONG_AGO, NOBODY,
     Verdict.WAITING),
    ("no-provisioning-state-reported", Conn("c", pe_id(), provisioning_state=None), policy(), LONG_AGO, NOBODY,
     Verdict.APPROVE),
    ("observe-mode", Conn("c", pe_id()), policy(mode="Observe"), LONG_AGO, NOBODY, Verdict.WOULD_APPROVE),
    ("observe-mode-still-waits-for-minimum", Conn("c", pe_id()), policy(mode="Observe"), NOW, NOBODY, Verdict.WAITING),
    ("observe-mode-reports-not-allowed", Conn("c", pe_id(FOREIGN)), policy(mode="Observe"), LONG_AGO, NOBODY,
     Verdict.NOT_ALLOWED),
    ("reconcile-policy-skip-writes-nothing", Conn("c", pe_id()), policy(skip=True), LONG_AGO, NOBODY,
     Verdict.WOULD_APPROVE),
    ("workspace-managed-network", Conn("c", MANAGED_PE), policy(workspaceManagedNetwork=True), LONG_AGO, VOUCHING,
     Verdict.APPROVE),
    ("workspace-managed-network-id-case-insensitive", Conn("c", MANAGED_PE.upper()), policy(workspaceManagedNetwork=True),
     LONG_AGO, VOUCHING, Verdict.APPROVE),
    ("workspace-has-no-rule-to-this-target", Conn("c", MANAGED_PE), policy(workspaceManagedNetwork=True), LONG_AGO,
     p.correlate("ws", FOUND, NETWORK_ID, [p.PrivateEndpointRule("ws", "oai-rule", SEARCH)]), Verdict.NOT_ALLOWED),
    ("another-workspace-same-rule-name", Conn("c", managed_pe("oai-rule_99999999")),
     policy(workspaceManagedNetwork=True), LONG_AGO, VOUCHING, Verdict.NOT_ALLOWED),
    ("same-workspace-other-rule", Conn("c", managed_pe("search-rule_0a1b2c3d")),
     policy(workspaceManagedNetwork=True), LONG_AGO, VOUCHING, Verdict.NOT_ALLOWED),
    ("workspace-not-ready-waits-instead-of-refusing", Conn("c", MANAGED_PE), policy(workspaceManagedNetwork=True),
     LONG_AGO, Correlation(workspace="ws", unavailable="workspace ws not found"), Verdict.WAITING),
    # The spoof: an endpoint named exactly like the workspace's managed endpoint, in a customer's subscription.
    ("spoof-named-like-the-managed-endpoint-in-another-subscription", Conn("c", managed_pe(sub=FOREIGN)),
     policy(workspaceManagedNetwork=True), LONG_AGO, VOUCHING, Verdict.NOT_ALLOWED),
    ("spoof-with-the-rule-not-existing-yet", Conn("c", managed_pe(sub=FOREIGN)), policy(workspaceManagedNetwork=True),
     LONG_AGO, Correlation(workspace="ws", unavailable="workspace ws has no managed network yet"), Verdict.NOT_ALLOWED),
    ("name-correlation-alone-never-widens", Conn("c", MANAGED_PE), policy(subscriptionIds=[SUB]), LONG_AGO, VOUCHING,
     Verdict.NOT_ALLOWED),
    ("narrowed-policy-refuses-an-allowed-subscription-not-named-like-the-workspace",
     Conn("c", managed_pe("someone-else_12345678")), policy(workspaceManagedNetwork=True), LONG_AGO, VOUCHING,
     Verdict.NOT_ALLOWED),
    ("policy-without-workspace-ignores-correlation", Conn("c", MANAGED_PE), policy(subscriptionIds=[SUB]), LONG_AGO,
     VOUCHING, Verdict.NOT_ALLOWED),
    ("managed-network-subscription-is-not-the-users", Conn("c", MANAGED_PE), policy(subscriptionIds=[SUB]), LONG_AGO,
     NOBODY, Verdict.NOT_ALLOWED),
]


@pytest.mark.parametrize("conn,pol,first_seen,corr,expected", [c[1:] for c in DECIDE_CASES], ids=[c[0] for c in DECIDE_CASES])
def test_decide(conn, pol, first_seen, corr, expected):
    assert p.decide(conn, OPENAI, pol, NOW, corr, first_seen).verdict is expected


def test_decide_target_id_compares_case_insensitively_with_workspace_rules():
    d = p.decide(Conn("c", MANAGED_PE), OPENAI.upper(), policy(workspaceManagedNetwork=True), NOW, VOUCHING, LONG_AGO)
    assert d.verdict is Verdict.APPROVE
    assert f"allowed subscription {MS_SUB}" in d.reason and "named like workspace ws's managed network" in d.reason


# --- correlation: what the workspace vouches for ----------------------------------------------------------------------


def test_workspace_not_found_vouches_for_nobody():
    corr = p.correlate("ws", p.WorkspaceIdentity(WORKSPACE_ID, found=False), NETWORK_ID, [OAI_RULE], "team-a")
    assert not corr.vouches_for(OPENAI, MANAGED_PE)
    assert "PromptFlowWorkspace ws in namespace team-a" in corr.unavailable
    assert "missing" in p.correlate("ws", None, None, [OAI_RULE]).unavailable


def test_workspace_without_managed_network_vouches_for_nobody():
    corr = p.correlate("ws", FOUND, None, [OAI_RULE])
    assert corr.unavailable == "workspace ws has no managed network yet"


def test_rules_of_other_workspaces_do_not_count():
    other = p.PrivateEndpointRule("other-ws", "oai-rule", OPENAI)
    assert not p.correlate("ws", FOUND, NETWORK_ID, [other]).vouches_for(OPENAI, MANAGED_PE)


def test_system_rule_names_already_carry_the_network_suffix():
    rule = p.PrivateEndpointRule("ws", "__SYS_PE_oai_0a1b2c3d", OPENAI)
    corr = p.correlate("ws", FOUND, NETWORK_ID, [rule])
    assert corr.vouches_for(OPENAI, managed_pe("__SYS_PE_oai_0a1b2c3d"))


def test_only_private_endpoint_resources_are_vouched_for():
    not_a_pe = MANAGED_PE.replace("privateEndpoints", "networkInterfaces")
    assert not VOUCHING.vouches_for(OPENAI, not_a_pe)
    assert not VOUCHING.vouches_for(OPENAI, MANAGED_PE + "/extra")


@pytest.mark.parametrize("spec,status,expected", [
    ({"type": "FQDN", "workspaceRef": {"name": "ws"}, "fqdn": "x.example.com"}, {}, None),
    ({"type": "PrivateEndpoint", "workspaceRef": {"name": "ws"},
      "privateEndpoint": {"serviceResourceId": OPENAI, "subresourceTarget": "account"}},
     {"ruleStatus": "Active"}, p.PrivateEndpointRule("ws", "obj-name", OPENAI, "Active")),
    ({"type": "PrivateEndpoint", "workspaceRef": {"name": "ws"}, "ruleName": "spec-name",
      "privateEndpoint": {"serviceResourceId": OPENAI}}, {}, p.PrivateEndpointRule("ws", "spec-name", OPENAI)),
    ({"type": "PrivateEndpoint", "workspaceRef": {"name": "ws"}, "ruleName": "spec-name",
      "privateEndpoint": {"serviceResourceId": OPENAI}},
     {"azureRuleName": "adopted", "privateEndpointConnection": {"privateEndpointId": MANAGED_PE}},
     p.PrivateEndpointRule("ws", "adopted", OPENAI, None)),
])
def test_private_endpoint_rule_from_object(spec, status, expected):
    assert p.private_endpoint_rule("obj-name", spec, status) == expected


def test_workspace_identity_from_object():
    spec = {"azure": {"subscriptionId": SUB, "resourceGroup": "rg", "workspaceName": "ws"}}
    assert p.workspace_identity(spec, {}) == p.WorkspaceIdentity(WORKSPACE_ID, found=False)
    assert p.workspace_identity(spec, {"workspaceResourceId": WORKSPACE_ID, "managedNetworkId": NETWORK_ID}) == \
        p.WorkspaceIdentity(WORKSPACE_ID, found=True, managed_network_id=NETWORK_ID)
    assert p.workspace_identity({}, {}) is None


def test_waiting_says_when_it_becomes_eligible():
    d = p.decide(Conn("c", pe_id()), OPENAI, policy(min_pending=120), NOW, NOBODY, NOW - dt.timedelta(seconds=20))
    assert d.eligible_at == NOW + dt.timedelta(seconds=100)
    assert "eligible in 100s" in d.reason


def test_waiting_for_the_workspace_names_the_workspace_problem():
    d = p.decide(Conn("c", MANAGED_PE), OPENAI, policy(workspaceManagedNetwork=True), NOW,
                 Correlation(workspace="ws", unavailable="PromptFlowWorkspace ws not found"), LONG_AGO)
    assert d.verdict is Verdict.WAITING and "PromptFlowWorkspace ws not found" in d.reason


def test_not_allowed_names_the_requester_and_its_subscription():
    d = p.decide(Conn("c", pe_id(FOREIGN)), OPENAI, policy(), NOW, NOBODY, LONG_AGO)
    assert pe_id(FOREIGN) in d.reason and f"subscription {FOREIGN}" in d.reason


# --- the approval description ---------------------------------------------------------------------------------------


def test_description_opens_with_the_policy_token_and_names_operator_and_policy_object():
    pol = policy()
    text = pol.approval_description()
    assert text.startswith(pol.token + " Approved by promptflow-netiso")
    assert "PrivateEndpointApproval team-a/openai-approvals" in text
    assert pol.carries_token(text)


def test_long_description_is_shortened_but_keeps_the_token_first_and_names_the_policy():
    pol = policy(description="x" * 500)
    text = pol.approval_description()
    assert len(text) <= p.MAX_DESCRIPTION and pol.carries_token(text)
    assert text.endswith("(promptflow-netiso, PrivateEndpointApproval team-a/openai-approvals)")


def test_very_long_names_are_cut_at_the_end_never_at_the_token():
    pol = Policy("n" * 63, "a" * 200, policy().spec, uid="u")
    text = pol.approval_description()
    assert len(text) == p.MAX_DESCRIPTION and pol.carries_token(text)


def test_attribution_is_exact_not_a_substring():
    app, app2 = policy(uid="uid-app"), policy(uid="uid-app2")
    assert app.token != app2.token
    assert not app.carries_token(app2.approval_description())
    assert not app.carries_token("Approved by hand, copying PrivateEndpointApproval team-a/openai-approvals")
    assert not app.carries_token("note " + app.approval_description())  # the token must come first


# --- plan + finish: one check ---------------------------------------------------------------------------------------


def observe(*conns, target=OPENAI):
    return p.TargetObservation(target, tuple(conns))


def check(pol, observations, previous=(), corr=NOBODY, outcomes=None, blocked=None, now=NOW, in_flight=None,
          audit_trail=None):
    plan = p.plan(pol, observations, previous, corr, now, blocked, in_flight=in_flight)
    report = p.finish(pol, plan, outcomes or {}, now, INTERVALS, audit_trail=audit_trail)
    return plan, report


def approved(conn: Conn, pol: Policy) -> Outcome:
    return Outcome(OutcomeKind.APPROVED, Conn(conn.name, conn.private_endpoint_id, "Approved", pol.approval_description()))


def test_first_sight_waits_and_records_when_it_was_first_seen_pending():
    plan, report = check(policy(), [observe(Conn("c1", pe_id()))])
    assert plan.approvals == ()
    [entry] = report.connections
    assert entry["decision"] == "Waiting" and entry["firstSeenPending"] == "2026-03-01T12:00:00Z"
    assert report.pending_count == 1
    assert report.next_check_in == 10  # Pending and ours to approve: the short interval


def test_first_seen_pending_from_status_survives_a_restart_and_makes_it_eligible():
    previous = [{"target": OPENAI, "name": "c1", "state": "Pending", "firstSeenPending": "2026-03-01T11:57:00Z",
                 "decision": "Waiting"}]
    plan, _ = check(policy(), [observe(Conn("c1", pe_id()))], previous)
    assert [r.connection.name for r in plan.approvals] == ["c1"]


def test_sub_second_first_sighting_never_shortens_the_minimum_time():
    # Status keeps whole seconds. Seen first at 12:00:00.7; 119.8 s later it must still wait for 120 s.
    seen_at = NOW + dt.timedelta(milliseconds=700)
    _, first = check(policy(min_pending=120), [observe(Conn("c1", pe_id()))], now=seen_at)
    assert first.connections[0]["firstSeenPending"] == "2026-03-01T12:00:01Z"
    plan, _ = check(policy(min_pending=120), [observe(Conn("c1", pe_id()))], first.connections,
                    now=seen_at + dt.timedelta(seconds=119.8))
    assert plan.approvals == ()
    plan, _ = check(policy(min_pending=120), [observe(Conn("c1", pe_id()))], first.connections,
                    now=seen_at + dt.timedelta(seconds=120.3))
    assert len(plan.approvals) == 1


def test_zero_minimum_approves_at_first_sight_between_whole_seconds():
    plan, _ = check(policy(min_pending=0), [observe(Conn("c1", pe_id()))], now=NOW + dt.timedelta(milliseconds=400))
    assert len(plan.approvals) == 1


def test_previous_status_matches_connections_case_insensitively():
    previous = [{"target": OPENAI.lower(), "name": "C1", "state": "Pending", "firstSeenPending": "2026-03-01T11:57:00Z"}]
    plan, _ = check(policy(), [observe(Conn("c1", pe_id()), target=OPENAI.upper())], previous)
    assert len(plan.approvals) == 1


def test_approval_outcome_is_recorded_with_event_and_audit():
    pol = policy(min_pending=0)
    conn = Conn("c1", pe_id())
    plan, report = check(pol, [observe(conn)], outcomes={p.connection_key(OPENAI, "c1"): approved(conn, pol)})
    [entry] = report.connections
    assert entry["state"] == "Approved" and entry["decision"] == "Approved"
    assert entry["approvedAt"] == "2026-03-01T12:00:00Z"
    assert report.approved_count == 1 and report.pending_count == 0
    [event] = report.events
    assert event.type == "Normal" and event.reason == "Approved"
    for part in ("c1", OPENAI, pe_id(), "PrivateEndpointApproval team-a/openai-approvals"):
        assert part in event.message
    assert report.audit == [{"action": "approve", "target": OPENAI, "connection": "c1", "requester": pe_id(),
                             "policy": "PrivateEndpointApproval team-a/openai-approvals",
                             "matchedBy": f"requester is allowed subscription {SUB}"}]
    assert report.approved_targets == [OPENAI]
    assert report.conditions[0]["status"] == "True"


def test_only_allowed_old_enough_pending_connections_are_planned():
    conns = [Conn("ok", pe_id()), Conn("foreign", pe_id(FOREIGN)), Conn("young", pe_id(name="pe2")),
             Conn("done", pe_id(name="pe3"), status="Approved"), Conn("no", pe_id(name="pe4"), status="Rejected")]
    previous = [{"target": OPENAI, "name": n, "firstSeenPending": "2026-03-01T11:00:00Z"} for n in ("ok", "foreign")]
    plan, report = check(policy(), [observe(*conns)], previous)
    assert [r.connection.name for r in plan.approvals] == ["ok"]
    by_name = {e["name"]: e["decision"] for e in report.connections}
    assert by_name == {"ok": "Waiting", "foreign": "NotAllowed", "young": "Waiting", "done": "Untouched",
                       "no": "Untouched"}


def test_foreign_pending_connection_is_reported_once_and_does_not_shorten_the_interval():
    conn = Conn("foreign", pe_id(FOREIGN))
    _, first = check(policy(), [observe(conn)])
    assert [e.reason for e in first.events] == ["NotAllowed"]
    assert first.next_check_in == 300
    _, second = check(policy(), [observe(conn)], previous=first.connections)
    assert second.events == []
    assert second.pending_count == 1
    assert second.conditions[0]["status"] == "True"


def test_observe_mode_plans_nothing_and_reports_would_approve_once():
    pol = policy(mode="Observe", min_pending=0)
    conn = Conn("c1", pe_id())
    plan, report = check(pol, [observe(conn)])
    assert plan.approvals == ()
    assert report.connections[0]["decision"] == "WouldApprove"
    assert [e.reason for e in report.events] == ["WouldApprove"]
    assert report.conditions[0]["reason"] == "Observing" and "Observe mode" in report.conditions[0]["message"]
    _, again = check(pol, [observe(conn)], previous=report.connections)
    assert again.events == []


def test_restart_mid_approval_records_our_landed_approval_without_a_second_put():
    pol = policy()
    landed = Conn("c1", pe_id(), "Approved", pol.approval_description())
    previous = [{"target": OPENAI, "name": "c1", "state": "Pending", "firstSeenPending": "2026-03-01T11:00:00Z",
                 "decision": "Waiting"}]
    flying = [{"target": OPENAI, "name": "c1", "startedAt": "2026-03-01T11:59:00Z"}]
    plan, report = check(pol, [observe(landed)], previous, in_flight=flying)
    assert plan.approvals == ()
    [entry] = report.connections
    assert entry["decision"] == "Approved" and entry["approvedAt"] == "2026-03-01T12:00:00Z"
    assert entry["firstSeenPending"] == "2026-03-01T11:00:00Z"
    # Status records an approval before its Event, so the old process posted none: this one does, once.
    assert [e.reason for e in report.events] == ["Approved"]
    assert report.audit[0]["matchedBy"] == f"requester is allowed subscription {SUB}" and report.approved_count == 1
    assert report.in_flight == [] and len(report.audit_trail) == 1
    _, later = check(pol, [observe(landed)], report.connections, in_flight=report.in_flight)
    assert later.events == [] and later.audit == [] and later.approved_targets == []


def test_a_hand_approval_copying_our_description_is_never_claimed():
    pol = policy()
    copied = Conn("c1", pe_id(), "Approved", pol.approval_description())
    previous = [{"target": OPENAI, "name": "c1", "state": "Pending", "firstSeenPending": "2026-03-01T11:00:00Z",
                 "decision": "Waiting"}]
    _, report = check(pol, [observe(copied)], previous)  # no in-flight record: we never sent an approval
    assert report.connections[0]["decision"] == "Untouched" and report.approved_count == 0
    assert report.events == [] and report.audit == []


def test_a_long_running_approval_is_followed_never_sent_again():
    pol = policy(min_pending=0)
    conn = Conn("c1", pe_id())
    key = p.connection_key(OPENAI, "c1")
    running = Outcome(OutcomeKind.IN_PROGRESS, operation_url="https://arm/op/1", started_at="2026-03-01T12:00:00Z")
    plan, report = check(pol, [observe(conn)], outcomes={key: running})
    assert len(plan.approvals) == 1
    assert report.in_flight == [{"target": OPENAI, "name": "c1", "startedAt": "2026-03-01T12:00:00Z",
                                 "operationUrl": "https://arm/op/1"}]
    assert report.events == [] and report.connections[0]["decision"] == "Waiting"
    # Next check (maybe another process): the recorded operation is followed, no approval is planned.
    plan, again = check(pol, [observe(conn)], report.connections, in_flight=report.in_flight)
    assert plan.approvals == () and [r.connection.name for r in plan.follows] == ["c1"]
    assert again.in_flight == report.in_flight  # nothing polled this time: still on record
    done = Outcome(OutcomeKind.APPROVED, Conn("c1", pe_id(), "Approved", pol.approval_description()))
    _, last = check(pol, [observe(conn)], report.connections, outcomes={key: done}, in_flight=report.in_flight)
    assert last.in_flight == [] and [e.reason for e in last.events] == ["Approved"] and len(last.audit_trail) == 1


def test_audit_trail_in_status_is_bounded():
    pol = policy(min_pending=0)
    conn = Conn("c1", pe_id())
    trail = [{"time": "2026-01-01T00:00:00Z", "connection": f"old{i}"} for i in range(40)]
    _, report = check(pol, [observe(conn)], outcomes={p.connection_key(OPENAI, "c1"): approved(conn, pol)},
                      audit_trail=trail)
    assert len(report.audit_trail) == 20 and report.audit_trail[-1]["connection"] == "c1"


def test_status_shows_each_requesters_subscription():
    _, report = check(policy(mode="Observe"), [observe(Conn("c1", pe_id(FOREIGN)), Conn("c2", MANAGED_PE))])
    assert {e["name"]: e["requesterSubscription"] for e in report.connections} == {"c1": FOREIGN, "c2": MS_SUB}


def test_approved_at_is_kept_across_checks():
    pol = policy()
    conn = Conn("c1", pe_id(), "Approved", pol.approval_description())
    previous = [{"target": OPENAI, "name": "c1", "state": "Approved", "decision": "Approved",
                 "approvedAt": "2026-02-01T00:00:00Z", "firstSeenPending": "2026-01-31T23:58:00Z"}]
    _, report = check(pol, [observe(conn)], previous)
    assert report.connections[0]["approvedAt"] == "2026-02-01T00:00:00Z"
    assert report.approved_count == 1


def test_approved_by_someone_else_is_untouched():
    conn = Conn("c1", pe_id(), "Approved", "Auto-Approved")
    _, report = check(policy(), [observe(conn)])
    assert report.connections[0]["decision"] == "Untouched" and "approvedAt" not in report.connections[0]
    assert report.approved_count == 0


def test_our_approval_later_rejected_by_a_person_is_left_alone():
    pol = policy()
    conn = Conn("c1", pe_id(), "Rejected", "rejected by security")
    previous = [{"target": OPENAI, "name": "c1", "state": "Approved", "decision": "Approved",
                 "approvedAt": "2026-02-01T00:00:00Z"}]
    plan, report = check(pol, [observe(conn)], previous)
    assert plan.approvals == ()
    assert report.connections[0]["decision"] == "Untouched"
    assert report.connections[0]["approvedAt"] == "2026-02-01T00:00:00Z"


def test_not_pending_on_put_means_read_again_and_leave_it():
    pol = policy(min_pending=0)
    conn = Conn("c1", pe_id())
    outcome = Outcome(OutcomeKind.NOT_PENDING, Conn("c1", pe_id(), "Rejected", "no"),
                      error="PrivateEndpointConnectionStatusNotPending: status is Rejected")
    _, report = check(pol, [observe(conn)], outcomes={p.connection_key(OPENAI, "c1"): outcome})
    entry = report.connections[0]
    assert entry["state"] == "Rejected" and entry["decision"] == "Untouched"
    assert [e.reason for e in report.events] == []
    assert report.conditions[0]["status"] == "True"


def test_not_pending_because_our_own_earlier_put_landed_is_recorded_once():
    pol = policy(min_pending=0)
    conn = Conn("c1", pe_id())
    ours = Conn("c1", pe_id(), "Approved", pol.approval_description())
    outcome = Outcome(OutcomeKind.NOT_PENDING, ours, error="PrivateEndpointConnectionStatusNotPending: Approved")
    flying = [{"target": OPENAI, "name": "c1", "startedAt": "2026-03-01T11:59:00Z"}]
    _, report = check(pol, [observe(conn)], outcomes={p.connection_key(OPENAI, "c1"): outcome}, in_flight=flying)
    entry = report.connections[0]
    assert entry["decision"] == "Approved" and entry["approvedAt"] == "2026-03-01T12:00:00Z"
    assert [e.reason for e in report.events] == ["Approved"] and report.approved_count == 1
    _, later = check(pol, [observe(ours)], report.connections)
    assert later.events == [] and later.approved_count == 1


def test_forbidden_approval_asks_for_a_person_without_retry_storm():
    pol = policy(min_pending=0)
    conn = Conn("c1", pe_id())
    err = "AuthorizationFailed: The client does not have authorization to perform action"
    _, report = check(pol, [observe(conn)], outcomes={p.connection_key(OPENAI, "c1"): Outcome(OutcomeKind.DENIED, error=err)})
    ready = report.conditions[0]
    assert ready["status"] == "False" and ready["reason"] == "ManualApprovalRequired" and err in ready["message"]
    assert report.denied == {p.arm_key(OPENAI): err}
    assert report.next_check_in == INTERVALS.blocked
    assert [e.reason for e in report.events] == ["ManualApprovalRequired"]
    # The next check while the block holds: no PUT, still asking for a person, no new Event.
    plan, again = check(pol, [observe(conn)], previous=report.connections, blocked=report.denied)
    assert plan.approvals == ()
    assert again.conditions[0]["reason"] == "ManualApprovalRequired"
    assert again.events == [] and again.next_check_in == INTERVALS.blocked
    # The block lifted, one more attempt, 403 again: still one Warning in all, not one per attempt.
    _, third = check(pol, [observe(conn)], previous=again.connections,
                     outcomes={p.connection_key(OPENAI, "c1"): Outcome(OutcomeKind.DENIED, error=err)})
    assert third.events == [] and third.conditions[0]["reason"] == "ManualApprovalRequired"


def test_block_on_one_target_does_not_stop_another():
    pol = policy(min_pending=0)
    plan, _ = check(pol, [observe(Conn("a", pe_id())), observe(Conn("b", pe_id()), target=SEARCH)],
                    blocked={p.arm_key(OPENAI): "AuthorizationFailed: no"})
    assert [(r.target, r.connection.name) for r in plan.approvals] == [(SEARCH, "b")]


def test_failed_approval_retries_after_the_error_kinds_delay():
    pol = policy(min_pending=0)
    outcome = Outcome(OutcomeKind.FAILED, error="InternalServerError: boom", retry_in=3.5)
    _, report = check(pol, [observe(Conn("c1", pe_id()))], outcomes={p.connection_key(OPENAI, "c1"): outcome})
    assert report.conditions[0]["reason"] == "ApprovalFailed" and "InternalServerError: boom" in report.conditions[0]["message"]
    assert report.next_check_in == 3.5
    assert report.connections[0]["decision"] == "Waiting"


def test_unreadable_target_keeps_its_history_and_reports_the_azure_error():
    previous = [{"target": SEARCH, "name": "s1", "state": "Pending", "firstSeenPending": "2026-03-01T11:00:00Z",
                 "decision": "Waiting"}]
    err = p.TargetObservation(SEARCH, error="AuthorizationFailed: no read", error_code="AuthorizationFailed")
    _, report = check(policy(), [observe(Conn("c1", pe_id(), "Approved")), err], previous)
    assert {e["name"] for e in report.connections} == {"c1", "s1"}
    reachable = report.conditions[1]
    assert reachable["type"] == "TargetsReachable" and reachable["status"] == "False"
    assert reachable["reason"] == "AuthorizationFailed" and f"{SEARCH}: AuthorizationFailed: no read" == reachable["message"]
    assert report.conditions[0]["status"] == "False" and report.conditions[0]["reason"] == "AuthorizationFailed"
    assert report.next_check_in == INTERVALS.blocked


def test_connections_gone_from_azure_or_targets_gone_from_spec_leave_status():
    previous = [{"target": OPENAI, "name": "gone", "state": "Pending"},
                {"target": "/subscriptions/x/resourceGroups/r/providers/Microsoft.KeyVault/vaults/old", "name": "k"}]
    _, report = check(policy(), [observe(Conn("c1", pe_id(), "Approved"))], previous)
    assert [e["name"] for e in report.connections] == ["c1"]


def test_workspace_not_ready_is_reported_when_the_policy_relies_on_it():
    pol = policy(workspaceManagedNetwork=True)
    corr = Correlation(workspace="ws", unavailable="PromptFlowWorkspace ws not found in namespace team-a")
    _, report = check(pol, [observe(Conn("c1", MANAGED_PE))], corr=corr)
    assert report.conditions[0]["reason"] == "WorkspaceNotReady"
    assert "not found" in report.conditions[0]["message"]


@pytest.mark.parametrize(
    "conns,previous,expected",
    [
        pytest.param([], [], 300, id="nothing-at-all"),
        pytest.param([Conn("c", pe_id(), "Approved")], [], 300, id="all-settled"),
        pytest.param([Conn("c", pe_id())], [], 10, id="fresh-pending"),
        pytest.param([Conn("c", pe_id())], [{"target": OPENAI, "name": "c", "firstSeenPending": "2026-03-01T11:58:03Z"}],
                     3, id="wakes-exactly-at-eligibility"),
        pytest.param([Conn("c", pe_id())], [{"target": OPENAI, "name": "c", "firstSeenPending": "2026-03-01T11:58:00.5Z"}],
                     1, id="never-sooner-than-the-floor"),
        pytest.param([Conn("c", pe_id(FOREIGN))], [], 300, id="foreign-pending-is-not-ours"),
        pytest.param([Conn("c", pe_id(), provisioning_state="Updating")],
                     [{"target": OPENAI, "name": "c", "firstSeenPending": "2026-03-01T11:00:00Z"}], 10,
                     id="azure-busy-with-it"),
    ],
)
def test_next_check_interval(conns, previous, expected):
    _, report = check(policy(), [observe(*conns)], previous)
    assert report.next_check_in == expected


def test_status_fields_and_target_metrics():
    previous = [{"target": OPENAI, "name": "c", "firstSeenPending": "2026-03-01T11:58:00Z"}]
    _, report = check(policy(min_pending=600), [observe(Conn("c", pe_id()), Conn("d", pe_id(name="x"), "Approved"))],
                      previous)
    fields = report.status_fields(NOW)
    assert fields["pendingCount"] == 1 and fields["approvedCount"] == 0 and fields["lastCheck"] == "2026-03-01T12:00:00Z"
    counts, oldest = p.target_metrics(report.connections, NOW)[OPENAI]
    assert counts == {"Pending": 1, "Approved": 1} and oldest == 120


# --- the handler's check() with a fake Azure facade: reads shared, writes only where the plan says -------------------

import asyncio  # noqa: E402
import json  # noqa: E402
from types import SimpleNamespace  # noqa: E402

from promptflow_netiso.azure.errors import AzureError, ErrorKind  # noqa: E402
from promptflow_netiso.azure.pec import Connection  # noqa: E402
from promptflow_netiso.handlers import approval as handler  # noqa: E402
from promptflow_netiso.settings import Settings  # noqa: E402

SETTINGS = Settings(approval_pending_interval=10, approval_settled_interval=300, slow_retry=120)


def azure_conn(target: str, name: str, pe: str, status: str = "Pending", description: str = "") -> Connection:
    return Connection(id=f"{target}/privateEndpointConnections/{name}", name=name, target=target,
                      private_endpoint_id=pe, status=status, description=description, provisioning_state="Succeeded")


class FakePec:
    """Azure as the handler sees it: connections per target, a log of calls, scripted approval errors."""

    def __init__(self, connections: dict[str, list[Connection]], approve_errors: dict[str, AzureError] | None = None):
        self.connections = connections
        self.approve_errors = approve_errors or {}
        self.calls: list[tuple[str, str]] = []

    async def list(self, target):
        self.calls.append(("list", target))
        await asyncio.sleep(0)  # let concurrent checks overlap, as real I/O would
        return list(self.connections[target])

    async def get(self, target, name):
        self.calls.append(("get", name))
        return next(c for c in self.connections[target] if c.name == name)

    async def begin_approve(self, connection, description):
        from promptflow_netiso.azure.pec import ApprovalStarted

        self.calls.append(("approve", connection.name))
        if connection.name in self.approve_errors:
            raise self.approve_errors[connection.name]
        approved = azure_conn(connection.target, connection.name, connection.private_endpoint_id, "Approved",
                              description)
        self.connections[connection.target] = [approved if c.name == connection.name else c
                                               for c in self.connections[connection.target]]
        return ApprovalStarted(approved)


def forbidden() -> AzureError:
    return AzureError(status=403, code="AuthorizationFailed", message="no write on privateEndpointConnections",
                      kind=ErrorKind.USER_FIXABLE)


@pytest.fixture(autouse=True)
def status_writes(monkeypatch):
    """The early status writes (in-flight records) go to a list instead of a Kubernetes API server."""
    writes: list[dict] = []

    async def patch_status(plural, namespace, name, status):
        writes.append(json.loads(json.dumps(status)))
    monkeypatch.setattr(handler, "patch_status", patch_status)
    return writes


async def run_check(pec: FakePec, pol: Policy, status: dict | None = None, schedule=None):
    handler._reads.invalidate(OPENAI)
    handler._reads.invalidate(SEARCH)
    memo = SimpleNamespace(azure=SimpleNamespace(pec=pec))
    return await handler.check(memo, pol, status or {}, NOBODY, schedule or handler._Schedule(), SETTINGS)


async def test_check_approves_eligible_connection_once_and_reports_it():
    pec = FakePec({OPENAI: [azure_conn(OPENAI, "c1", pe_id())], SEARCH: []})
    report = await run_check(pec, policy(min_pending=0))
    assert [c for c in pec.calls if c[0] == "approve"] == [("approve", "c1")]
    assert report.connections[0]["decision"] == "Approved" and report.approved_count == 1
    assert policy().carries_token(pec.connections[OPENAI][0].description)
    again = await run_check(pec, policy(min_pending=0), {"connections": report.connections})
    assert [c for c in pec.calls if c[0] == "approve"] == [("approve", "c1")]  # nothing changed: no new write
    assert again.approved_count == 1 and again.events == []


async def test_policies_watching_the_same_target_share_one_read():
    pec = FakePec({OPENAI: [azure_conn(OPENAI, "c1", pe_id(FOREIGN))], SEARCH: []})
    handler._reads.invalidate(OPENAI)
    handler._reads.invalidate(SEARCH)
    memo = SimpleNamespace(azure=SimpleNamespace(pec=pec))
    await asyncio.gather(*(handler.check(memo, policy(), {}, NOBODY, handler._Schedule(), SETTINGS)
                           for _ in range(5)))
    assert pec.calls.count(("list", OPENAI)) == 1


async def test_not_pending_on_approve_reads_the_connection_again():
    err = AzureError(status=409, code="PrivateEndpointConnectionStatusNotPending", message="it is Rejected",
                     kind=ErrorKind.CONFLICT)
    pec = FakePec({OPENAI: [azure_conn(OPENAI, "c1", pe_id())], SEARCH: []}, approve_errors={"c1": err})
    pending = pec.connections[OPENAI][0]

    async def rejected_meanwhile(target, name):
        pec.calls.append(("get", name))
        return azure_conn(OPENAI, "c1", pe_id(), "Rejected", "by a person")
    pec.get = rejected_meanwhile
    report = await run_check(pec, policy(min_pending=0))
    assert ("get", "c1") in pec.calls and pending.status == "Pending"
    assert report.connections[0]["state"] == "Rejected" and report.connections[0]["decision"] == "Untouched"


async def test_forbidden_target_is_not_knocked_on_again_until_the_slow_retry():
    pec = FakePec({OPENAI: [azure_conn(OPENAI, "a", pe_id()), azure_conn(OPENAI, "b", pe_id(name="pe2"))],
                   SEARCH: [azure_conn(SEARCH, "s", pe_id(name="pe3"))]},
                  approve_errors={"a": forbidden(), "b": forbidden()})
    schedule = handler._Schedule()
    report = await run_check(pec, policy(min_pending=0), schedule=schedule)
    approves = [c for c in pec.calls if c[0] == "approve"]
    # One 403 on the account is enough to know; the search service (other target) is approved regardless.
    assert sorted(approves) == [("approve", "a"), ("approve", "s")]
    assert report.conditions[0]["reason"] == "ManualApprovalRequired"
    assert {e["name"]: e["decision"] for e in report.connections} == {"a": "Waiting", "b": "Waiting", "s": "Approved"}
    pec.calls.clear()
    await run_check(pec, policy(min_pending=0), {"connections": report.connections}, schedule)
    assert [c for c in pec.calls if c[0] == "approve"] == []  # still blocked: reads only
    schedule.blocked = {k: (0.0, v[1]) for k, v in schedule.blocked.items()}  # the slow retry has passed
    await run_check(pec, policy(min_pending=0), {"connections": report.connections}, schedule)
    assert [c for c in pec.calls if c[0] == "approve"] == [("approve", "a")]


async def test_observe_mode_never_writes():
    pec = FakePec({OPENAI: [azure_conn(OPENAI, "c1", pe_id())], SEARCH: []})
    report = await run_check(pec, policy(mode="Observe", min_pending=0))
    assert [c[0] for c in pec.calls] == ["list", "list"]
    assert report.connections[0]["decision"] == "WouldApprove"


async def test_unreadable_target_becomes_a_condition_not_an_exception():
    class Unreadable(FakePec):
        async def list(self, target):
            if target == SEARCH:
                raise AzureError(status=404, code="ResourceNotFound", message="no such search service",
                                 kind=ErrorKind.NOT_FOUND)
            return await super().list(target)
    report = await run_check(Unreadable({OPENAI: []}), policy())
    assert report.conditions[1]["reason"] == "ResourceNotFound"
    assert report.next_check_in == SETTINGS.slow_retry


async def test_nudge_wakes_exactly_the_policies_watching_that_target():
    watching, other = handler._schedule_of("uid-watching"), handler._schedule_of("uid-other")
    try:
        watching.targets, other.targets = frozenset({p.arm_key(OPENAI)}), frozenset({p.arm_key(SEARCH)})
        watching.due = other.due = asyncio.get_running_loop().time() + 3600
        handler.nudge(OPENAI.upper())
        assert watching.wake.is_set() and not other.wake.is_set()

        class NeverStopped:
            async def wait(self):
                await asyncio.Event().wait()
        await asyncio.wait_for(handler._wait_until_due(watching, NeverStopped()), timeout=5)
        assert not watching.wake.is_set()  # consumed: the next wait sleeps again
    finally:
        handler.STATES.forget("uid-watching")
        handler.STATES.forget("uid-other")


async def test_check_records_the_approval_in_status_before_sending_it(status_writes):
    pec = FakePec({OPENAI: [azure_conn(OPENAI, "c1", pe_id())], SEARCH: []})
    report = await run_check(pec, policy(min_pending=0))
    [first] = status_writes[:1]
    assert first == {"inFlight": [{"target": OPENAI, "name": "c1", "startedAt": first["inFlight"][0]["startedAt"]}]}
    assert report.in_flight == [] and report.approved_count == 1


async def test_check_follows_a_recorded_long_running_approval_without_a_second_put():
    pec = FakePec({OPENAI: [azure_conn(OPENAI, "c1", pe_id())], SEARCH: []})
    polls: list[str] = []

    async def poll_approve(connection, url):
        polls.append(url)
        return azure_conn(OPENAI, "c1", pe_id(), "Approved", policy().approval_description())
    pec.poll_approve = poll_approve
    status = {"inFlight": [{"target": OPENAI, "name": "c1", "startedAt": "2026-03-01T11:59:00Z",
                            "operationUrl": "https://arm.example/op/1"}],
              "connections": [{"target": OPENAI, "name": "c1", "state": "Pending", "decision": "Waiting",
                               "firstSeenPending": "2026-03-01T11:00:00Z"}]}
    report = await run_check(pec, policy(min_pending=0), status)
    assert polls == ["https://arm.example/op/1"]
    assert [c for c in pec.calls if c[0] == "approve"] == []
    assert report.connections[0]["decision"] == "Approved" and report.in_flight == []
    assert [e.reason for e in report.events] == ["Approved"] and len(report.audit) == 1


async def test_a_rule_turning_active_nudges_the_policies_watching_its_target_and_rules_are_read_from_the_copies():
    from promptflow_netiso.handlers import outbound_rule

    watching = handler._schedule_of("uid-nudged")
    watching.targets = frozenset({p.arm_key(OPENAI)})
    spec = {"type": "PrivateEndpoint", "workspaceRef": {"name": "ws"}, "privateEndpoint": {"serviceResourceId": OPENAI}}
    def body(spec: dict, status: dict) -> kopf.Body:
        return kopf.Body({"metadata": {}, "spec": spec, "status": status})

    try:
        copy = await outbound_rule.rules_by_workspace(namespace="ns", name="r-nudge", uid="u1",
                                                      body=body(spec, {"ruleStatus": "Provisioning"}))
        assert not watching.wake.is_set()
        await outbound_rule.rules_by_workspace(namespace="ns", name="r-nudge", uid="u1",
                                               body=body(spec, {"ruleStatus": "Active"}))
        assert watching.wake.is_set()  # turned active: the policy looks again soon
        fqdn = await outbound_rule.rules_by_workspace(namespace="ns", name="r-fqdn", uid="u2", body=body(
            {"type": "FQDN", "workspaceRef": {"name": "ws"}, "fqdn": "a.b"}, {}))
        index = {("ns", "ws"): [copy[("ns", "ws")], fqdn[("ns", "ws")]]}
        [rule] = handler._private_endpoint_rules(index, "ns", "ws")  # FQDN rules are not correlated
        assert (rule.azure_rule_name, rule.target, rule.workspace) == ("r-nudge", OPENAI, "ws")
    finally:
        handler.STATES.forget("uid-nudged")
