"""Intent before action: a write recorded in status before it is sent is settled after a crash from what Azure shows,
never replayed blind and never mistaken for somebody else's. Pure, no I/O."""

from __future__ import annotations

from dataclasses import replace

import pytest

from promptflow_netiso.azure.ml import OutboundRule
from promptflow_netiso.model.outbound_rule import OutboundRuleSpec
from promptflow_netiso.planning import intent
from promptflow_netiso.planning import outbound_rule as p
from promptflow_netiso.planning.intent import Outcome, PendingWrite
from promptflow_netiso.planning.outbound_rule import Coordinates, Observed, Previous, WorkspaceFacts

COORDS = Coordinates("11111111-2222-3333-4444-555555555555", "rg", "ws1")
TARGET = p.rule_target(COORDS, "r1")


def spec(**kw) -> OutboundRuleSpec:
    return OutboundRuleSpec.from_dict({"workspaceRef": {"name": "ws"}, "type": "FQDN", "fqdn": "api.openai.com", **kw})


def rule(s: OutboundRuleSpec, **changes) -> OutboundRule:
    props = s.to_azure_properties()
    return replace(OutboundRule(name="r1", type=props["type"], category="UserDefined", status="Active",
                                destination=props["destination"], error_information=None), **changes)


def put_intent(s: OutboundRuleSpec, target: str = TARGET) -> PendingWrite:
    return PendingWrite("PUT", target, p.spec_hash(s), "2026-11-30T12:00:00Z", event_reason="Created",
                        event_message="created rule 'r1' (api.openai.com)")


def test_status_round_trip_keeps_every_field():
    w = replace(put_intent(spec()), poll_url="https://arm/op/1")
    assert PendingWrite.from_status({"pendingWrite": w.to_status()}) == w
    assert PendingWrite.from_status({}) is None and PendingWrite.from_status({"pendingWrite": None}) is None


def test_hash_ignores_key_order_and_azure_normalisation():
    assert intent.body_hash({"a": 1, "b": [1, 2]}) == intent.body_hash({"b": [1, 2], "a": 1})
    s = spec()
    assert p.rule_hash(rule(s, destination="API.OpenAI.com", status="Provisioning")) == p.spec_hash(s)
    assert p.rule_hash(rule(s, destination="other.example.com")) != p.spec_hash(s)
    assert p.rule_hash(None) is None


RESOLVE_CASES = [
    # id, operation, observed hash, done, age, orphan wait, outcome
    ("put-landed", "PUT", "h", False, None, 0, Outcome.LANDED),
    ("put-absent", "PUT", None, False, None, 0, Outcome.NOT_LANDED),
    ("put-other-body", "PUT", "x", False, None, 0, Outcome.NOT_LANDED),
    ("post-may-still-run", "POST", None, False, 10.0, 600, Outcome.RUNNING),
    ("post-orphan-wait-over", "POST", None, False, 700.0, 600, Outcome.NOT_LANDED),
    ("post-ended-without-result", "POST", None, True, 10.0, 600, Outcome.NOT_LANDED),
    ("delete-gone", "DELETE", None, False, None, 0, Outcome.LANDED),
    ("delete-still-there", "DELETE", "h", False, None, 0, Outcome.NOT_LANDED),
]


@pytest.mark.parametrize("op, observed, done, age, wait, expected", [c[1:] for c in RESOLVE_CASES],
                         ids=[c[0] for c in RESOLVE_CASES])
def test_resolve(op, observed, done, age, wait, expected):
    w = PendingWrite(op, TARGET, "h" if op != "DELETE" else "", "t")
    assert intent.resolve(w, observed_hash=observed, done=done, age_s=age, orphan_wait_s=wait) is expected


def test_crash_after_an_accepted_put_the_rule_is_ours_and_its_event_is_posted_once():
    s = spec()
    previous, events = p.recover(Previous(coordinates=COORDS, pending=put_intent(s)), rule(s), TARGET)
    assert previous.created and previous.pending is None
    assert [(e.reason, e.message) for e in events] == [("Created", "created rule 'r1' (api.openai.com)")]
    plan = p.plan(spec=s, rule_name="r1", workspace=WorkspaceFacts(name="ws", ready=True, coordinates=COORDS,
                                                                   isolation_mode="AllowOnlyApprovedOutbound"),
                  observed=Observed(rule(s)), previous=previous, policy="manage", generation=1)
    assert plan.actions == () and plan.status["created"] is True
    assert next(c for c in plan.conditions if c["type"] == "Applied")["reason"] == "Applied"


def test_crash_before_the_put_reached_azure_plans_a_normal_create():
    previous, events = p.recover(Previous(coordinates=COORDS, pending=put_intent(spec())), None, TARGET)
    assert not previous.created and previous.pending is None and events == ()


def test_a_recorded_put_owns_a_rule_that_azure_holds_with_another_body():
    """The planner had decided the rule was absent or ours before recording the PUT: whatever Azure holds under that
    name now is ours to correct, never RuleNotOwned; no Event (the write did not land as recorded)."""
    previous, events = p.recover(Previous(coordinates=COORDS, pending=put_intent(spec())),
                                 rule(spec(), destination="changed.example.com"), TARGET)
    assert previous.created and events == ()


def test_a_system_rule_is_never_owned_by_recovery():
    previous, _ = p.recover(Previous(coordinates=COORDS, pending=put_intent(spec())),
                            rule(spec(), category="Required"), TARGET)
    assert not previous.created


def test_a_record_for_another_rule_name_is_dropped_without_effect():
    previous, events = p.recover(Previous(coordinates=COORDS, pending=put_intent(spec(), p.rule_target(COORDS, "old"))),
                                 rule(spec()), TARGET)
    assert not previous.created and previous.pending is None and events == ()


def test_a_recorded_delete_that_landed_announces_it_once():
    w = PendingWrite("DELETE", TARGET, "", "t", event_reason="Deleted", event_message="deleted rule 'r1' from Azure")
    previous, events = p.recover(Previous(created=True, coordinates=COORDS, pending=w), None, TARGET)
    assert [e.reason for e in events] == ["Deleted"] and previous.pending is None
