"""A change a person makes to a rule never waits behind that rule's queued drift check, and the check looks at the
rule as it is after its wait.

At 1,000 workspaces with a 60 s drift interval the drift checks queue for their share of the reconcile slots. A
drift check used to take the rule's lock first and queue for a slot with it held, so an edit of that rule waited
behind the whole drift queue (bench_scale: "no ARM request within 30 s of a patch"). And it used the copy of the rule
read before the queue: a write settled meanwhile was announced a second time. Now a drift check queues without the
lock, then reads the rule from the index.
"""

import asyncio
import types
from typing import Mapping

from promptflow_netiso.azure.limits import background
from promptflow_netiso.handlers import common, outbound_rule
from promptflow_netiso.handlers.object_state import STATES
from promptflow_netiso.model.grant import GrantSpec
from promptflow_netiso.planning.outbound_rule import Coordinates, Plan, WorkspaceFacts
from promptflow_netiso.settings import Settings

NS, SUB, RG = "team-a", "00000000-0000-0000-0000-000000000001", "rg"


def _ctx(uid: str, settings: Settings) -> types.SimpleNamespace:
    facts = WorkspaceFacts(name="ws", ready=True, coordinates=Coordinates(SUB, RG, "ws"))
    grant = GrantSpec.from_dict({"workspaces": [f"/subscriptions/{SUB}/resourceGroups/{RG}"]})
    return types.SimpleNamespace(
        uid=uid, name="r", namespace=NS, meta={"name": "r", "namespace": NS, "uid": uid, "generation": 1},
        status={}, spec_raw={"workspaceRef": {"name": "ws"}, "type": "FQDN", "fqdn": "api.example.com"},
        generation=1, settings=settings, grants={NS: [grant]}, workspaces={(NS, "ws"): [facts]}, holds_slot=False)


async def test_an_edit_runs_while_that_rules_drift_check_queues_and_the_check_reads_the_rule_after_its_wait(monkeypatch):
    settings = Settings(max_reconciles=2)  # drift checks: 1 slot
    monkeypatch.setattr(common, "_slots", {})
    reached_azure: list[str] = []
    checked: list[Mapping] = []

    async def run_azure(ctx, *_args):
        reached_azure.append("drift" if ctx.holds_slot else "change")
        return Plan()

    async def reconcile_snapshot(snapshot, kw, max_age, holds_slot=False):
        checked.append(snapshot)
        ctx = _ctx("rule-1", settings)
        ctx.holds_slot = holds_slot
        await outbound_rule._reconcile(ctx)

    monkeypatch.setattr(outbound_rule, "_run_azure", run_azure)
    monkeypatch.setattr(outbound_rule, "_reconcile_snapshot", reconcile_snapshot)
    monkeypatch.setattr(outbound_rule, "settings_from", lambda memo: settings)

    release_other = asyncio.Event()

    async def other_workspaces_drift() -> None:  # holds the one drift slot
        with background():
            async with common.reconcile_slot(settings):
                await release_other.wait()

    index = {(NS, "ws"): [_snapshot("old")]}
    other = asyncio.create_task(other_workspaces_drift())
    await asyncio.sleep(0)
    drift = asyncio.create_task(outbound_rule.check_rules(NS, "ws", index, {"memo": None}))
    await asyncio.sleep(0.05)
    assert not drift.done() and STATES.peek("rule-1") is None, "the drift check queues, holding no lock"

    await asyncio.wait_for(outbound_rule._reconcile(_ctx("rule-1", settings)), timeout=5)
    assert reached_azure == ["change"], "the edit reached Azure while the drift check still queued"
    index[(NS, "ws")] = [_snapshot("new")]  # the edit's outcome, as the watch brings it to the index

    release_other.set()
    await asyncio.wait_for(asyncio.gather(other, drift), timeout=5)
    assert reached_azure == ["change", "drift"]
    assert [c["status"]["seen"] for c in checked] == ["new"], "the drift check read the rule after its wait"
    assert STATES.peek("rule-1") is None


def _snapshot(seen: str) -> dict:
    return {"metadata": {"name": "r", "namespace": NS, "uid": "rule-1", "generation": 1},
            "spec": {"workspaceRef": {"name": "ws"}, "type": "FQDN", "fqdn": "api.example.com"},
            "status": {"seen": seen}}
