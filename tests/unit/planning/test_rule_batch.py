"""Coalescing rule writes into batchOutboundRules operations: which writes go into a batch, its body, what a failed
batch means, and how a rule written by a batch is recognised after a crash. Pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from promptflow_netiso.azure.ml import OutboundRule
from promptflow_netiso.model.outbound_rule import OutboundRuleSpec
from promptflow_netiso.planning import outbound_rule as p
from promptflow_netiso.planning import rule_batch as b
from promptflow_netiso.planning.intent import PendingWrite
from promptflow_netiso.planning.outbound_rule import Coordinates, Previous

COORDS = Coordinates("11111111-2222-3333-4444-555555555555", "rg", "ws1")


@dataclass
class W:
    name: str
    properties: dict | None = None
    delete: bool = False


def names(items) -> list[str]:
    return [(("-" if i.delete else "") + i.name) for i in items]


@pytest.mark.parametrize("queue, size, batch, rest", [
    ([], 50, [], []),
    ([W("a"), W("b"), W("c")], 50, ["a", "b", "c"], []),
    ([W("a"), W("b"), W("c")], 2, ["a", "b"], ["c"]),
    ([W("a"), W("b")], 0, ["a"], ["b"]),  # at least one
    ([W("a"), W("A"), W("b")], 50, ["a", "b"], ["A"]),  # one write per rule name (names are case-insensitive)
    ([W("a", delete=True), W("b"), W("c")], 50, ["-a"], ["b", "c"]),  # a delete goes alone, in its turn
    ([W("a"), W("x", delete=True), W("b"), W("x")], 50, ["a", "b"], ["-x", "x"]),  # never overtakes the delete
])
def test_take_builds_the_next_batch(queue, size, batch, rest):
    got, left = b.take(queue, size)
    assert (names(got), names(left)) == (batch, rest)


def test_body_carries_only_the_rules_as_their_put_would():
    s = OutboundRuleSpec.from_dict({"workspaceRef": {"name": "ws"}, "type": "FQDN", "fqdn": "api.openai.com"})
    body = b.body_rules([W("r1", s.to_azure_properties()), W("r2", {"type": "FQDN", "destination": "x.example.com",
                                                                    "category": "UserDefined"})])
    assert body == {"r1": s.to_azure_properties(),
                    "r2": {"type": "FQDN", "destination": "x.example.com", "category": "UserDefined"}}
    assert body["r1"]["category"] == "UserDefined"


def test_match_maps_the_answer_back_case_insensitively():
    answered = [OutboundRule(name="R1", type="FQDN", category="UserDefined", status="Active", destination="a",
                             error_information=None)]
    found = b.match(["r1", "r2"], answered)
    assert found["r1"].name == "R1" and found["r2"] is None


@pytest.mark.parametrize("status, code, user_fixable, size, expected", [
    (404, "NoRegisteredProviderFound", True, 5, b.Fallback.UNSUPPORTED),
    (400, "InvalidApiVersionParameter", True, 5, b.Fallback.UNSUPPORTED),
    (405, "MethodNotAllowed", True, 5, b.Fallback.UNSUPPORTED),
    (400, "BadRequest", True, 5, b.Fallback.SPLIT),  # one bad rule must not fail the others
    (400, "BadRequest", True, 1, b.Fallback.FAIL),  # alone: its own error
    (409, "Conflict", False, 5, b.Fallback.FAIL),  # the network is busy: a wait for every write
    (429, "TooManyRequests", False, 5, b.Fallback.FAIL),
    (503, "ServiceUnavailable", False, 5, b.Fallback.FAIL),
    (403, "AuthorizationFailed", True, 5, b.Fallback.FAIL),  # the same for each rule: no point splitting
])
def test_after_failure(status, code, user_fixable, size, expected):
    assert b.after_failure(status, code, user_fixable, size) is expected


def test_batch_sizes():
    assert b.batch_sizes(50, 20) == [20, 20, 10] and b.batch_sizes(0, 5) == [] and b.batch_sizes(3, 0) == [1, 1, 1]


# --- recognition after a crash ------------------------------------------------------------------------------------------

def spec() -> OutboundRuleSpec:
    return OutboundRuleSpec.from_dict({"workspaceRef": {"name": "ws"}, "type": "FQDN", "fqdn": "api.openai.com"})


def recorded(op: str = "PUT", poll: str | None = None) -> PendingWrite:
    return PendingWrite(op, p.rule_target(COORDS, "r1"), p.spec_hash(spec()), "2026-11-30T12:00:00Z", poll,
                        "Created", "created rule 'r1'")


def as_azure(category: str = "UserDefined", host: str = "api.openai.com", status: str = "Provisioning") -> OutboundRule:
    return OutboundRule(name="r1", type="FQDN", category=category, status=status, destination=host,
                        error_information=None)


def test_the_record_of_an_accepted_batch_names_the_rule_not_the_batch():
    after = b.batch_record(recorded(), "https://management.azure.com/op/1")
    assert (after.operation, after.poll_url) == ("POST", "https://management.azure.com/op/1")
    assert after.target == recorded().target and after.body_hash == recorded().body_hash
    assert after.event_reason == "Created"
    assert b.batch_record(recorded(poll="u0"), None).poll_url == "u0"


@pytest.mark.parametrize("azure_rule, expect_created, expect_events", [
    (as_azure(), True, ["Created"]),  # landed exactly as recorded: ours, Event once
    (as_azure(host="other.example.com"), True, []),  # a UserDefined rule by that name after our batch: still ours
    (None, False, []),  # did not land: planned again as usual (not replayed blind)
    (as_azure(category="Required"), False, []),  # never adopt a system rule
])
def test_a_rule_written_by_a_batch_is_recognised_after_a_restart(azure_rule, expect_created, expect_events):
    prev = Previous(pending=b.batch_record(recorded(), "https://management.azure.com/op/1"))
    settled, events = p.recover(prev, azure_rule, p.rule_target(COORDS, "r1"))
    assert settled.pending is None and settled.created is expect_created
    assert [e.reason for e in events] == expect_events


@pytest.mark.parametrize("pending, observed, expected", [
    (None, None, False),
    (recorded("POST", "u"), None, True),  # Azure shows nothing yet: ask the operation URL first
    (recorded("PUT", "u"), None, True),
    (recorded("POST", None), None, False),  # nothing to ask: settled from what Azure shows
    (recorded("DELETE", "u"), None, False),
    (recorded("POST", "u"), "recorded", False),  # shows what we sent: it landed
    (recorded("POST", "u"), "different", True),
])
def test_may_still_run(pending, observed, expected):
    observed_hash = {None: None, "recorded": p.spec_hash(spec()), "different": "0" * 16}[observed]
    assert b.may_still_run(pending, p.rule_target(COORDS, "r1"), observed_hash) is expected


def test_may_still_run_only_for_this_rule():
    other = replace(recorded("POST", "u"), target=p.rule_target(COORDS, "r2"))
    assert b.may_still_run(other, p.rule_target(COORDS, "r1"), None) is False
