"""OutboundRule planner: what is written to Azure, what is refused, and what a person reads. Pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from promptflow_netiso.azure.ml import OutboundRule
from promptflow_netiso.model.outbound_rule import OutboundRuleSpec
from promptflow_netiso.planning import outbound_rule as p
from promptflow_netiso.planning.outbound_rule import (
    Coordinates,
    DeleteRule,
    Observed,
    Previous,
    PutRule,
    Retry,
    WorkspaceFacts,
)

SUB = "11111111-2222-3333-4444-555555555555"
MS_SUB = "6a1c5f0e-3b7d-4c2a-9e8f-0d4b2a7c91e3"
OPENAI = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/oai"
COORDS = Coordinates(SUB, "rg", "ws1")
NETWORK_ID = "0a1b2c3d-0000-4444-8888-abcdefabcdef"


@dataclass(frozen=True)
class Conn:
    name: str
    target: str
    private_endpoint_id: str | None
    status: str = "Pending"


def spec(**overrides) -> OutboundRuleSpec:
    body = {"workspaceRef": {"name": "ws"}, "type": "FQDN", "fqdn": "api.openai.com", **overrides}
    return OutboundRuleSpec.from_dict(body)


def pe_spec(**pe) -> OutboundRuleSpec:
    return OutboundRuleSpec.from_dict({"workspaceRef": {"name": "ws"}, "type": "PrivateEndpoint",
                                       "privateEndpoint": {"serviceResourceId": OPENAI, "subresourceTarget": "account", **pe}})


def tag_spec(**st) -> OutboundRuleSpec:
    return OutboundRuleSpec.from_dict({"workspaceRef": {"name": "ws"}, "type": "ServiceTag",
                                       "serviceTag": {"serviceTag": "AzureOpenAI", "protocol": "TCP", "portRanges": "443", **st}})


def azure_rule(s: OutboundRuleSpec, name: str = "r1", **changes) -> OutboundRule:
    props = s.to_azure_properties()
    rule = OutboundRule(name=name, type=props["type"], category="UserDefined", status="Active",
                        destination=props["destination"], error_information=None)
    return replace(rule, **changes)


def ready_ws(isolation: str = "AllowOnlyApprovedOutbound", **kw) -> WorkspaceFacts:
    return WorkspaceFacts(name="ws", found=True, ready=True, coordinates=COORDS, isolation_mode=isolation, **kw)


OWNED = Previous(created=True, coordinates=COORDS, applied_generation=1)
NEW = Previous()


def run(s=None, observed=None, previous=NEW, ws=None, policy="manage", generation=1, network_id=None) -> p.Plan:
    return p.plan(spec=s or spec(), rule_name="r1", workspace=ws or ready_ws(), observed=observed,
                  previous=previous, policy=policy, generation=generation, network_id=network_id)


def cond(plan: p.Plan, type_: str) -> dict:
    return next(c for c in plan.conditions if c["type"] == type_)


def puts(plan: p.Plan) -> list[PutRule]:
    return [a for a in plan.actions if isinstance(a, PutRule)]


# --- what gets written ----------------------------------------------------------------------------------------------

WRITE_CASES = [
    # id, spec, Azure's rule (None = absent), previous status, generation, expected PUT reason (None = no write)
    ("absent-fqdn-is-created", spec(), None, NEW, 1, "Created"),
    ("absent-pe-is-created", pe_spec(), None, NEW, 1, "Created"),
    ("absent-service-tag-is-created", tag_spec(), None, NEW, 1, "Created"),
    ("matching-rule-no-write", spec(), azure_rule(spec()), OWNED, 1, None),
    ("fqdn-compares-case-insensitively", spec(), azure_rule(spec(), destination="API.OpenAI.com"), OWNED, 1, None),
    ("pe-id-compares-case-insensitively", pe_spec(),
     azure_rule(pe_spec(), destination={"serviceResourceId": OPENAI.lower(), "subresourceTarget": "Account", "sparkEnabled": False,
                                        "sparkStatus": "Inactive"}), OWNED, 1, None),
    ("pe-spark-missing-means-false", pe_spec(),
     azure_rule(pe_spec(), destination={"serviceResourceId": OPENAI, "subresourceTarget": "account"}), OWNED, 1, None),
    ("pe-spark-flag-differs", pe_spec(sparkEnabled=True), azure_rule(pe_spec()), OWNED, 2, "Updated"),
    ("pe-subresource-differs", pe_spec(subresourceTarget="blob"), azure_rule(pe_spec()), OWNED, 2, "Updated"),
    ("port-order-and-spaces-ignored", tag_spec(portRanges="80,443"),
     azure_rule(tag_spec(portRanges="80,443"), destination={"serviceTag": "AzureOpenAI", "protocol": "TCP", "portRanges": "443, 80",
                                                            "action": "Allow"}), OWNED, 1, None),
    ("missing-action-means-allow", tag_spec(),
     azure_rule(tag_spec(), destination={"serviceTag": "AzureOpenAI", "protocol": "TCP", "portRanges": "443"}), OWNED, 1, None),
    ("server-filled-address-prefixes-ignored", tag_spec(),
     azure_rule(tag_spec(), destination={"serviceTag": "AzureOpenAI", "protocol": "TCP", "portRanges": "443", "action": "Allow",
                                         "addressPrefixes": ["192.168.0.0/16", "10.0.0.0/8"]}), OWNED, 1, None),
    ("server-filled-pe-fields-ignored", pe_spec(),
     azure_rule(pe_spec(), destination={"serviceResourceId": OPENAI, "subresourceTarget": "account", "sparkEnabled": False,
                                        "sparkStatus": "Active"}, fqdns=("oai.openai.azure.com",),
                parent_rule_names=("x",), status="Active"), OWNED, 1, None),
    ("port-ranges-differ", tag_spec(portRanges="8443"), azure_rule(tag_spec()), OWNED, 2, "Updated"),
    ("protocol-differs", tag_spec(protocol="UDP"), azure_rule(tag_spec()), OWNED, 2, "Updated"),
    ("type-changed-in-portal", spec(), azure_rule(spec(), type="ServiceTag", destination={"serviceTag": "x"}), OWNED, 1,
     "DriftCorrected"),
    ("spec-change-is-an-update", spec(fqdn="api.pinecone.io"), azure_rule(spec()), OWNED, 2, "Updated"),
    ("portal-change-is-drift", spec(), azure_rule(spec(), destination="evil.example.com"), OWNED, 1, "DriftCorrected"),
    ("removed-in-portal-is-restored", spec(), None, OWNED, 1, "DriftRestored"),
    ("adopt-differing-rule-updates-it", spec(adopt=True), azure_rule(spec(), destination="old.example.com"), NEW, 1, "Updated"),
    ("adopt-matching-rule-no-write", spec(adopt=True), azure_rule(spec()), NEW, 1, None),
]


@pytest.mark.parametrize("s, rule, previous, generation, expected", [c[1:] for c in WRITE_CASES], ids=[c[0] for c in WRITE_CASES])
def test_writes_only_when_azure_differs(s, rule, previous, generation, expected):
    plan = run(s, Observed(rule), previous, generation=generation)
    if expected is None:
        assert plan.actions == ()
        assert cond(plan, "Applied")["status"] == "True"
        assert plan.status["created"] is True
    else:
        (put,) = puts(plan)
        assert put.reason == expected
        assert put.name == "r1"
        assert put.properties == s.to_azure_properties()
        assert put.properties["category"] == "UserDefined"


def test_put_body_follows_the_arm_contract_for_each_type():
    absent = Observed(None)
    assert puts(run(spec(), absent))[0].properties == {"type": "FQDN", "category": "UserDefined", "destination": "api.openai.com"}
    assert puts(run(pe_spec(), absent))[0].properties["destination"] == {
        "serviceResourceId": OPENAI, "subresourceTarget": "account", "sparkEnabled": False}
    assert puts(run(tag_spec(), absent))[0].properties["destination"] == {
        "serviceTag": "AzureOpenAI", "protocol": "TCP", "portRanges": "443", "action": "Allow"}


# --- ownership: refusals never write ---------------------------------------------------------------------------------

REFUSAL_CASES = [
    ("required-rule-same-name", azure_rule(spec(), category="Required"), NEW, spec(), "SystemRuleConflict"),
    ("recommended-rule-same-name", azure_rule(spec(), category="Recommended"), OWNED, spec(), "SystemRuleConflict"),
    ("dependency-rule-even-with-adopt", azure_rule(spec(), category="Dependency"), NEW, spec(adopt=True), "SystemRuleConflict"),
    ("hand-made-user-rule", azure_rule(spec(), destination="other.example.com"), NEW, spec(), "RuleNotOwned"),
    ("hand-made-identical-user-rule", azure_rule(spec()), NEW, spec(), "RuleNotOwned"),
]


@pytest.mark.parametrize("rule, previous, s, reason", [c[1:] for c in REFUSAL_CASES], ids=[c[0] for c in REFUSAL_CASES])
def test_rules_not_ours_are_refused_and_say_why(rule, previous, s, reason):
    plan = run(s, Observed(rule), previous)
    assert plan.actions == ()
    applied = cond(plan, "Applied")
    assert (applied["status"], applied["reason"]) == ("False", reason)
    assert "r1" in applied["message"]
    assert ("spec.adopt" in applied["message"]) == (reason == "RuleNotOwned")
    assert cond(plan, "Ready")["reason"] == reason
    assert plan.retry is Retry.USER_FIXABLE
    assert [e.reason for e in plan.events] == [reason] and plan.events[0].type == "Warning"


def test_refusal_event_is_posted_once_not_on_every_retry():
    rule = azure_rule(spec(), category="Required")
    first = run(observed=Observed(rule))
    again = run(observed=Observed(rule), previous=Previous.from_status({"conditions": list(first.conditions)}))
    assert again.events == ()
    assert cond(again, "Applied")["reason"] == "SystemRuleConflict"


def test_refusal_keeps_ownership_record_of_a_rule_we_created():
    plan = run(observed=Observed(azure_rule(spec(), category="Required")), previous=OWNED)
    assert plan.status["created"] is True


def test_adoption_is_reported():
    plan = run(spec(adopt=True), Observed(azure_rule(spec())))
    assert [e.reason for e in plan.events] == ["Adopted"]
    assert plan.status["created"] is True


# --- waiting for the workspace ---------------------------------------------------------------------------------------

GATE_CASES = [
    ("missing", WorkspaceFacts(name="ws", found=False), "WorkspaceNotFound", "not found"),
    ("not-ready", WorkspaceFacts(name="ws", ready=False, ready_reason="WorkspaceNotFound", ready_message="ResourceNotFound: gone",
                                 coordinates=COORDS), "WorkspaceNotReady", "ResourceNotFound: gone"),
    ("deleting", replace(ready_ws(), deleting=True), "WorkspaceDeleting", "being deleted"),
]


@pytest.mark.parametrize("ws, reason, words", [c[1:] for c in GATE_CASES], ids=[c[0] for c in GATE_CASES])
def test_rule_waits_for_its_workspace_without_touching_azure(ws, reason, words):
    plan = run(ws=ws, observed=None)  # no Azure state needed: the handler does not read Azure while waiting
    assert plan.actions == ()
    assert plan.retry is Retry.DEPENDENCY
    ws_cond = cond(plan, "WorkspaceReady")
    assert (ws_cond["status"], ws_cond["reason"]) == ("False", reason)
    assert words in ws_cond["message"]
    ready = cond(plan, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", reason)
    assert cond(plan, "Applied")["status"] == "Unknown"  # waiting is not an error


def test_a_rule_waiting_for_a_workspace_on_its_way_says_the_same_at_each_of_its_steps():
    """The workspace's progress is not copied onto its rules: one write per waiting rule, not one per workspace step;
    a stuck workspace's reason is, as it says what to fix."""
    steps = [({}, True),  # no Ready condition yet
             ({"status": "Unknown", "reason": "Provisioning", "message": "managed network: provisioning"}, True),
             ({"status": "False", "reason": "Assigning", "message": "assigning 2 roles"}, True),
             ({"status": "True", "reason": "Ready", "message": ""}, False)]  # Ready, but for an older generation
    messages = set()
    for ready, current in steps:
        reason, message = p.workspace_stuck_on(ready, current)
        facts = WorkspaceFacts(name="ws", ready=False, ready_reason=reason, ready_message=message, coordinates=COORDS)
        messages.add(cond(run(ws=facts, observed=None), "Ready")["message"])
    assert len(messages) == 1, messages

    stuck = {"status": "False", "reason": "ProvisioningFailed", "message": "InternalError: try again"}
    assert p.workspace_stuck_on(stuck, True) == ("ProvisioningFailed", "InternalError: try again")


def test_ready_workspace_lets_the_rule_through():
    assert p.workspace_gate(ready_ws(), spec(), "r1", NEW) is None


def test_waiting_keeps_known_coordinates_for_deletion():
    plan = run(ws=WorkspaceFacts(name="ws", found=False), previous=OWNED)
    assert plan.status["azure"] == COORDS.to_status()
    assert plan.status["created"] is True


# --- status mirrors Azure ---------------------------------------------------------------------------------------------


def test_converged_status_mirrors_azure():
    plan = run(observed=Observed(azure_rule(spec(), status="Inactive")), previous=OWNED)
    assert plan.status == {
        "azureRuleName": "r1", "destination": "api.openai.com", "azure": COORDS.to_status(), "created": True,
        "ruleStatus": "Inactive", "category": "UserDefined", "errorInformation": None,
    }
    ready = cond(plan, "Ready")
    assert ready["status"] == "True" and "Inactive" in ready["message"]
    assert plan.retry is Retry.NONE


def test_failed_rule_is_applied_again_so_azure_retries():
    rule = azure_rule(spec(), status="Failed", error_information="FqdnNotResolvable: api.openai.invalid")
    (put,) = puts(run(observed=Observed(rule), previous=OWNED))
    assert put.reason == "Reapplied" and "FqdnNotResolvable: api.openai.invalid" in put.message
    assert put.event_type == "Warning"
    assert run(observed=Observed(rule), previous=OWNED, policy="skip").actions == ()
    assert run(observed=Observed(rule)).actions == ()  # somebody else's failed rule: refused, not rewritten


def test_failed_rule_right_after_our_write_shows_azure_error_verbatim():
    rule = azure_rule(spec(), status="Failed", error_information="FqdnNotResolvable: api.openai.invalid")
    plan = p.plan(spec=spec(), rule_name="r1", workspace=ready_ws(), observed=Observed(rule), previous=OWNED,
                  policy="manage", generation=1, reapply_failed=False)
    assert plan.actions == ()
    assert plan.status["errorInformation"] == "FqdnNotResolvable: api.openai.invalid"
    ready = cond(plan, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "RuleFailed")
    assert "FqdnNotResolvable: api.openai.invalid" in ready["message"]
    assert plan.retry is Retry.USER_FIXABLE


def test_provisioning_rule_is_rechecked_soon():
    plan = run(observed=Observed(azure_rule(spec(), status="Provisioning")), previous=OWNED)
    assert cond(plan, "Ready")["reason"] == "RuleProvisioning"
    assert plan.retry is Retry.AZURE_PROGRESS


def test_pe_destination_display():
    plan = run(pe_spec(), Observed(azure_rule(pe_spec()), connections=[]), OWNED)
    assert plan.status["destination"] == "oai/account"


# --- NoEffect warning -------------------------------------------------------------------------------------------------

NO_EFFECT_CASES = [
    ("fqdn-internet-outbound", spec(), "AllowInternetOutbound", True, "True", "AllowInternetOutbound"),
    ("tag-internet-outbound", tag_spec(), "AllowInternetOutbound", True, "True", "AllowInternetOutbound"),
    ("pe-internet-outbound", pe_spec(), "AllowInternetOutbound", True, "False", "Effective"),
    ("fqdn-approved-outbound", spec(), "AllowOnlyApprovedOutbound", True, "False", "Effective"),
    ("fqdn-disabled", spec(), "Disabled", True, "True", "NoManagedNetwork"),
    ("pe-bring-your-own-vnet", pe_spec(), None, False, "True", "NoManagedNetwork"),
]


@pytest.mark.parametrize("s, isolation, managed, status, reason", [c[1:] for c in NO_EFFECT_CASES], ids=[c[0] for c in NO_EFFECT_CASES])
def test_no_effect_is_a_warning_not_a_failure(s, isolation, managed, status, reason):
    ws = ready_ws(isolation, managed_network=managed)
    plan = run(s, Observed(azure_rule(s), connections=[]), OWNED, ws=ws)
    no_effect = cond(plan, "NoEffect")
    assert (no_effect["status"], no_effect["reason"]) == (status, reason)
    assert cond(plan, "Ready")["status"] == "True"
    assert ([e.type for e in plan.events] == ["Warning"]) == (status == "True")


def test_fqdn_rule_under_internet_outbound_is_still_applied():
    plan = run(spec(), Observed(None), ws=ready_ws("AllowInternetOutbound"))
    assert [a.reason for a in puts(plan)] == ["Created"]
    assert "AllowInternetOutbound" in cond(plan, "NoEffect")["message"]


def test_no_effect_event_only_on_transition():
    ws = ready_ws("AllowInternetOutbound")
    first = run(observed=Observed(azure_rule(spec())), previous=OWNED, ws=ws)
    again = run(observed=Observed(azure_rule(spec())), ws=ws,
                previous=replace(OWNED, reasons=Previous.from_status({"conditions": list(first.conditions)}).reasons))
    assert [e.reason for e in first.events] == ["NoEffect"] and again.events == ()


# --- reconcile-policy skip ----------------------------------------------------------------------------------------------


def test_skip_policy_reports_difference_and_writes_nothing():
    plan = run(observed=Observed(None), policy="skip")
    assert plan.actions == ()
    applied = cond(plan, "Applied")
    assert (applied["status"], applied["reason"]) == ("False", "ReconcileSkipped")
    assert "skip" in applied["message"]


def test_skip_policy_with_matching_rule_is_ready():
    plan = run(observed=Observed(azure_rule(spec())), previous=OWNED, policy="skip")
    assert plan.actions == () and cond(plan, "Ready")["status"] == "True"


# --- private endpoint connection on the target --------------------------------------------------------------------------


def managed_pe(rule: str = "r1", net: str = NETWORK_ID) -> str:
    """Shape documented in tests/sim/README.md: `<rule>_<first 8 hex of the network id>` in a Microsoft subscription."""
    return (f"/subscriptions/{MS_SUB}/resourceGroups/commonHoboRG7/providers/Microsoft.Network/privateEndpoints/"
            f"{rule}_{net.replace('-', '')[:8]}")


CONNECTION_CASES = [
    ("pending", "Pending", "False", "PrivateEndpointPending", Retry.CONNECTION),
    ("approved", "Approved", "True", "Ready", Retry.NONE),
    ("rejected", "Rejected", "False", "PrivateEndpointRejected", Retry.USER_FIXABLE),
    ("disconnected", "Disconnected", "False", "PrivateEndpointDisconnected", Retry.USER_FIXABLE),
]


@pytest.mark.parametrize("state, ready_status, reason, retry", [c[1:] for c in CONNECTION_CASES], ids=[c[0] for c in CONNECTION_CASES])
def test_pe_rule_shows_its_connection_state(state, ready_status, reason, retry):
    conns = [Conn("other", OPENAI, managed_pe("someone-else"), "Approved"), Conn("c-1", OPENAI, managed_pe(), state)]
    plan = run(pe_spec(), Observed(azure_rule(pe_spec()), connections=conns), OWNED, network_id=NETWORK_ID)
    assert plan.status["privateEndpointConnection"] == {
        "target": OPENAI, "name": "c-1", "state": state, "privateEndpointId": managed_pe()}
    ready = cond(plan, "Ready")
    assert (ready["status"], ready["reason"]) == (ready_status, reason)
    assert plan.retry is retry
    if state == "Pending":
        assert "c-1" in ready["message"] and "oai" in ready["message"] and "approve" in ready["message"]


def test_pe_rule_without_connection_yet_is_not_blocked():
    plan = run(pe_spec(), Observed(azure_rule(pe_spec(), status="Inactive"), connections=[]), OWNED)
    assert plan.status["privateEndpointConnection"] is None
    assert cond(plan, "Ready")["status"] == "True"


def test_unreadable_target_is_reported_but_rule_stays_applied():
    plan = run(pe_spec(), Observed(azure_rule(pe_spec()), connections_error="AuthorizationFailed: no read on oai"), OWNED)
    ready = cond(plan, "Ready")
    assert ready["status"] == "True" and "AuthorizationFailed: no read on oai" in ready["message"]
    assert plan.status["privateEndpointConnection"]["state"] is None


FIND_CASES = [
    ("by-rule-name", [Conn("a", OPENAI, managed_pe("r2")), Conn("b", OPENAI, managed_pe("r1"))], None, "b"),
    ("rule-name-case-insensitive", [Conn("b", OPENAI, managed_pe("R1"))], None, "b"),
    ("network-id-must-match-when-known", [Conn("a", OPENAI, managed_pe("r1", net="ffffffff-0000"))], NETWORK_ID, None),
    ("longer-rule-name-is-another-rule", [Conn("a", OPENAI, managed_pe("r10"))], NETWORK_ID, None),
    ("longer-rule-name-without-network-id", [Conn("a", OPENAI, managed_pe("r10"))], None, None),
    ("prefers-live-over-disconnected", [Conn("new", OPENAI, managed_pe(), "Pending"), Conn("old", OPENAI, managed_pe(), "Disconnected")],
     NETWORK_ID, "new"),
    ("foreign-endpoint-ignored", [Conn("x", OPENAI, f"/subscriptions/{SUB}/resourceGroups/n/providers/Microsoft.Network/privateEndpoints/mine")],
     None, None),
    ("no-endpoint-id", [Conn("x", OPENAI, None)], None, None),
]


@pytest.mark.parametrize("conns, network_id, expected", [c[1:] for c in FIND_CASES], ids=[c[0] for c in FIND_CASES])
def test_find_connection(conns, network_id, expected):
    found = p.find_connection(conns, "r1", network_id)
    assert (found.name if found else None) == expected


def test_rule_name_already_carrying_the_network_suffix_is_not_suffixed_twice():
    conn = Conn("s", OPENAI, managed_pe("r1"))  # endpoint name r1_0a1b2c3d
    assert p.find_connection([conn], "r1_0a1b2c3d", NETWORK_ID) is conn


# --- failures of a planned write -----------------------------------------------------------------------------------------

FAILURE_CASES = [
    ("conflict-is-a-wait", True, False, "Unknown", "WaitingForManagedNetwork", Retry.AZURE_PROGRESS),
    ("throttled-is-a-wait", False, True, "Unknown", "Throttled", Retry.AZURE_PROGRESS),
    ("user-fixable-is-an-error", False, False, "False", "AzureError", Retry.USER_FIXABLE),
]


@pytest.mark.parametrize("conflict, throttled, status, reason, retry", [c[1:] for c in FAILURE_CASES], ids=[c[0] for c in FAILURE_CASES])
def test_write_failure_report(conflict, throttled, status, reason, retry):
    written = run(observed=Observed(None))
    text = "AuthorizationFailed: The client 'x' does not have authorization"
    failed = p.plan_failure(written, text, conflict=conflict, throttled=throttled)
    applied = cond(failed, "Applied")
    assert (applied["status"], applied["reason"]) == (status, reason)
    assert text in applied["message"]
    assert cond(failed, "Ready")["status"] == status
    assert cond(failed, "WorkspaceReady")["status"] == "True"
    assert failed.retry is retry and failed.actions == ()


def test_azure_answering_a_different_rule_is_reported_not_rewritten_in_a_loop():
    after = run(observed=Observed(azure_rule(spec(), destination="normalised.example.com")), previous=OWNED, generation=2)
    assert after.actions  # still differs after our PUT
    report = p.plan_not_converged(after)
    assert report.actions == ()
    assert cond(report, "Applied")["reason"] == "NotConverged" and cond(report, "Ready")["status"] == "False"


def test_waiting_reasons_are_the_ones_plans_produce():
    waiting = [run(ws=WorkspaceFacts(name="ws", found=False)),
               run(observed=Observed(azure_rule(spec(), status="Provisioning")), previous=OWNED),
               run(pe_spec(), Observed(azure_rule(pe_spec()), connections=[Conn("c", OPENAI, managed_pe())]), OWNED),
               p.plan_failure(run(observed=Observed(None)), "Conflict: busy", conflict=True, throttled=False)]
    assert all(cond(w, "Ready")["reason"] in p.WAITING_REASONS for w in waiting)
    settled = [run(observed=Observed(azure_rule(spec(), category="Required"))),
               p.plan_failure(run(observed=Observed(None)), "AuthorizationFailed: no", conflict=False, throttled=False)]
    assert all(cond(s, "Ready")["reason"] not in p.WAITING_REASONS for s in settled)


# --- deletion -----------------------------------------------------------------------------------------------------------

DELETE_CASES = [
    ("owned-rule-is-deleted", OWNED, "manage", azure_rule(spec()), True),
    ("detach-on-delete-leaves-azure", OWNED, "detach-on-delete", azure_rule(spec()), False),
    ("skip-never-writes", OWNED, "skip", azure_rule(spec()), False),
    ("never-created-nothing-to-delete", NEW, "manage", azure_rule(spec()), False),
    ("already-gone", OWNED, "manage", None, False),
    ("system-rule-never-deleted", OWNED, "manage", azure_rule(spec(), category="Required"), False),
]


@pytest.mark.parametrize("previous, policy, rule, deletes", [c[1:] for c in DELETE_CASES], ids=[c[0] for c in DELETE_CASES])
def test_delete(previous, policy, rule, deletes):
    plan = p.plan_delete(rule_name="r1", previous=previous, policy=policy, observed_rule=rule)
    assert [type(a) for a in plan.actions] == ([DeleteRule] if deletes else [])


def test_previous_reads_status_written_by_an_earlier_plan():
    plan = run(observed=Observed(azure_rule(spec())), previous=OWNED)
    status = {**plan.status, "conditions": [{**c, "observedGeneration": 3} for c in plan.conditions]}
    prev = Previous.from_status(status)
    assert prev.created is True and prev.coordinates == COORDS and prev.applied_generation == 3
    assert Previous.from_status(None) == Previous()
