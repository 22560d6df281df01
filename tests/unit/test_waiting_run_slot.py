"""A waiting rule woken by its workspace turning Ready queues for its reconcile slot holding nothing (no lock, no
reconcile built), then runs on the rule as the index has it after the wait; a rule that still only waits runs
without a slot; and a rule whose lock a change handler has is left to that handler.

With ARM's throttling about 2,000 woken rules of an 11,000-object converge queue for slots at once (bench_scale),
each of which used to wait with its lock taken and its whole reconcile built."""

import asyncio
from typing import Mapping

import pytest

from promptflow_netiso.handlers import common, outbound_rule
from promptflow_netiso.handlers.object_state import STATES
from promptflow_netiso.planning.outbound_rule import Coordinates, WorkspaceFacts
from promptflow_netiso.settings import Settings

NS, UID = "team-a", "rule-1"
WAITING = {"conditions": [{"type": "Ready", "status": "False", "reason": "WorkspaceNotReady"}]}


def _snapshot(seen: str) -> dict:
    return {"metadata": {"name": "r", "namespace": NS, "uid": UID, "generation": 1},
            "spec": {"workspaceRef": {"name": "ws"}, "type": "FQDN", "fqdn": "api.example.com"},
            "status": {**WAITING, "seen": seen}}


@pytest.fixture
def world(monkeypatch):
    settings = Settings(max_reconciles=1)
    monkeypatch.setattr(common, "_slots", {})
    monkeypatch.setattr(outbound_rule, "settings_from", lambda memo: settings)
    index = {(NS, "ws"): [_snapshot("old")]}
    ready = WorkspaceFacts(name="ws", ready=True, coordinates=Coordinates("sub", "rg", "ws"))
    workspaces = {(NS, "ws"): [ready]}
    monkeypatch.setattr(outbound_rule, "_waiting_kw",
                        {"memo": None, "outbound_rule_workspaces": workspaces, "rules_by_workspace": index})
    runs: list[tuple[str, bool]] = []

    async def reconcile_snapshot(snapshot: Mapping, kw, max_age, holds_slot=False):
        runs.append((snapshot["status"]["seen"], holds_slot))

    monkeypatch.setattr(outbound_rule, "_reconcile_snapshot", reconcile_snapshot)
    return settings, index, workspaces, runs


async def _holding_the_slot(settings: Settings, release: asyncio.Event) -> None:
    async with common.reconcile_slot(settings):
        await release.wait()


async def _woken_while_the_slot_is_taken(settings: Settings, index: dict) -> tuple[asyncio.Event, asyncio.Task, asyncio.Task]:
    """Another reconcile holds the only slot; the rule's run starts (and queues). Returns (release, other, run)."""
    release = asyncio.Event()
    other = asyncio.create_task(_holding_the_slot(settings, release))
    await asyncio.sleep(0)
    run = asyncio.create_task(outbound_rule._run_waiting(index[(NS, "ws")][0]))
    await asyncio.sleep(0.05)
    return release, other, run


async def test_a_woken_rule_queues_for_its_slot_holding_nothing_and_runs_on_the_rule_as_it_is_after(world):
    settings, index, _, runs = world
    release, other, run = await _woken_while_the_slot_is_taken(settings, index)
    assert not run.done() and runs == [] and STATES.peek(UID) is None, "queued for the slot, no lock, nothing built"
    index[(NS, "ws")] = [_snapshot("new")]
    release.set()
    await asyncio.wait_for(asyncio.gather(other, run), timeout=5)
    assert runs == [("new", True)]


async def test_a_rule_that_still_only_waits_runs_without_a_slot(world):
    settings, index, workspaces, runs = world
    workspaces[(NS, "ws")] = [WorkspaceFacts(name="ws", ready=False)]
    release = asyncio.Event()
    other = asyncio.create_task(_holding_the_slot(settings, release))
    await asyncio.sleep(0)
    await asyncio.wait_for(outbound_rule._run_waiting(index[(NS, "ws")][0]), timeout=5)
    assert runs == [("old", False)]
    release.set()
    await other


async def test_a_rule_whose_lock_a_change_handler_has_is_left_to_it(world):
    settings, index, _, runs = world
    release, other, run = await _woken_while_the_slot_is_taken(settings, index)
    change_done = asyncio.Event()

    async def change_handler() -> None:  # takes the lock, then waits for a slot (as _reconcile does)
        async with STATES.locked(UID):
            async with common.reconcile_slot(settings):
                change_done.set()

    change = asyncio.create_task(change_handler())
    await asyncio.sleep(0.01)
    release.set()
    await asyncio.wait_for(asyncio.gather(other, run, change), timeout=5)
    assert runs == [] and change_done.is_set(), "the change handler ran; the woken run stood aside, nobody stuck"
    assert STATES.peek(UID) is None
