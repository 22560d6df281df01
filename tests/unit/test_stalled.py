"""Stalled follows Ready (kstatus reads only Stalled=True as Failed): terminal and user-fixable reasons stall,
steps on the way and transient faults do not."""

from __future__ import annotations

import pytest

from promptflow_netiso import conditions
from promptflow_netiso.stalled import PROGRESSING_REASONS, stalled_from

NOW = "2026-01-01T00:00:00Z"


def ready(status: str, reason: str, message: str = "m") -> dict:
    return {"type": "Ready", "status": status, "reason": reason, "message": message}


@pytest.mark.parametrize("status,reason,stalled", [
    ("False", "AuthorizationFailed", True),
    ("False", "InvalidSpec", True),
    ("False", "RuleFailed", True),
    ("False", "ManualApprovalRequired", True),
    ("False", "PrivateEndpointPending", False),
    ("False", "Applying", False),
    ("False", "ReconcileSkipped", False),
    ("Unknown", "InternalServerError", False),
    ("True", "Ready", False),
])
def test_stalled_from_ready(status, reason, stalled):
    got = stalled_from(ready(status, reason, "why"))
    assert (got is not None) is stalled
    if stalled:
        assert got == {"type": "Stalled", "status": "True", "reason": reason, "message": "why"}


def test_merge_adds_then_removes_stalled_and_keeps_its_transition_time():
    out = conditions.merge([], [ready("False", "AuthorizationFailed")], 1, now=NOW)
    stalled = conditions.get(out, "Stalled")
    assert stalled["status"] == "True" and stalled["reason"] == "AuthorizationFailed" and stalled["observedGeneration"] == 1
    again = conditions.merge(out, [ready("False", "AuthorizationFailed")], 1, now="2026-01-02T00:00:00Z")
    assert again == out  # a steady state writes identical conditions
    healed = conditions.merge(again, [ready("True", "Ready", "")], 2, now="2026-01-03T00:00:00Z")
    assert conditions.get(healed, "Stalled") is None


def test_merge_without_ready_adds_nothing():
    assert [c["type"] for c in conditions.merge([], [{"type": "A", "status": "True", "reason": "R"}], 1)] == ["A"]


def test_progressing_reasons_are_pascal_case():
    assert all(r[0].isupper() and " " not in r for r in PROGRESSING_REASONS)
