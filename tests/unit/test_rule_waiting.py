"""Waiting rules: one sleeper per workspace runs them when woken or due, never polls, and stands still while a peer
leads (handlers/rule_waiting.py)."""

from __future__ import annotations

import asyncio
import time

import pytest
from kopf._cogs.aiokits import aiotoggles

from promptflow_netiso.handlers import kopf_patches, rule_waiting

INTERVAL = 30.0  # no back-off: looked at again only this long after the last run (far beyond these tests)


@pytest.fixture
def runs():
    """Every run as (uid, snapshot); back-offs by uid (monotonic due time) as the planner would set them."""
    seen: list[tuple[str, dict]] = []
    due: dict[str, float] = {}
    hold = asyncio.Event()
    hold.set()

    async def run(snapshot):
        seen.append((snapshot["metadata"]["uid"], snapshot))
        await hold.wait()

    rule_waiting.serve(run, due.get, INTERVAL)
    yield seen, due, hold
    rule_waiting.stop()


def _rule(uid: str, generation: int = 1) -> dict:
    return {"metadata": {"uid": uid, "generation": generation}}


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_waiting_rule_runs_when_its_workspace_is_woken_and_not_before(runs):
    seen, _, _ = runs
    rule_waiting.note(("ns", "ws"), "a", _rule("a"))
    rule_waiting.note(("ns", "ws"), "b", _rule("b"))
    rule_waiting.note(("ns", "other"), "c", _rule("c"))
    await asyncio.sleep(0.05)
    assert seen == [], "nothing is due and nothing woke them: no polling"

    rule_waiting.wake(("ns", "ws"))
    await _settle()
    assert sorted(uid for uid, _ in seen) == ["a", "b"], "both rules of the woken workspace, not the other's"


async def test_a_rule_runs_once_its_back_off_is_due_with_its_latest_snapshot(runs):
    seen, due, _ = runs
    due["a"] = time.monotonic() + 0.6
    rule_waiting.note(("ns", "ws"), "a", _rule("a"))
    rule_waiting.note(("ns", "ws"), "a", _rule("a", generation=2))  # a later event of the rule
    await asyncio.sleep(0.3)
    assert seen == []
    await asyncio.sleep(0.6)
    assert [(uid, s["metadata"]["generation"]) for uid, s in seen] == [("a", 2)]


async def test_a_wake_during_a_run_runs_the_rule_once_more_after_it(runs):
    seen, _, hold = runs
    rule_waiting.note(("ns", "ws"), "a", _rule("a"))
    hold.clear()
    rule_waiting.wake(("ns", "ws"))
    await _settle()
    assert len(seen) == 1, "one run at a time per rule"
    rule_waiting.wake(("ns", "ws"))  # the workspace changed again while the rule ran
    await _settle()
    assert len(seen) == 1
    hold.set()
    await _settle()
    assert len(seen) == 2, "the run that started before the change did not see it: one more"


async def test_a_dropped_rule_never_runs_and_its_workspace_sleeper_ends(runs):
    seen, _, _ = runs
    rule_waiting.note(("ns", "ws"), "a", _rule("a"))
    assert rule_waiting.waiting() == 1
    rule_waiting.drop("a")
    rule_waiting.wake(("ns", "ws"))
    await _settle()
    assert seen == [] and rule_waiting.waiting() == 0
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("rules-waiting:")], "no task left behind"


async def test_a_rule_that_moves_to_another_workspace_waits_on_that_one(runs):
    seen, _, _ = runs
    rule_waiting.note(("ns", "old"), "a", _rule("a"))
    rule_waiting.note(("ns", "new"), "a", _rule("a"))
    rule_waiting.wake(("ns", "old"))
    await _settle()
    assert seen == []
    rule_waiting.wake(("ns", "new"))
    await _settle()
    assert [uid for uid, _ in seen] == ["a"]


async def test_a_past_due_back_off_that_a_run_left_alone_does_not_spin(runs):
    seen, due, _ = runs
    due["a"] = time.monotonic() - 10  # the run stands aside (a change handler has the rule): the back-off stays
    rule_waiting.note(("ns", "ws"), "a", _rule("a"))
    await asyncio.sleep(rule_waiting.MIN_GAP_S * 2.5)
    assert 1 <= len(seen) <= 3, f"{len(seen)} runs in {rule_waiting.MIN_GAP_S * 2.5} s"


async def test_no_run_starts_while_a_peer_leads(runs, monkeypatch):
    seen, _, _ = runs
    paused = aiotoggles.ToggleSet(any)
    peer_leads = await paused.make_toggle(True)
    monkeypatch.setattr(kopf_patches, "_paused", [paused])
    rule_waiting.note(("ns", "ws"), "a", _rule("a"))
    rule_waiting.wake(("ns", "ws"))
    await asyncio.sleep(0.05)
    assert seen == [], "paused: kopf's own daemons and timers are stopped, and so are ours"
    await peer_leads.turn_to(False)
    await _settle()
    assert [uid for uid, _ in seen] == ["a"]
