"""A change a person makes to a rule never waits behind that rule's queued drift check.

At 1,000 workspaces with a 60 s drift interval the drift checks queue for their share of the reconcile slots. A
drift check used to take the rule's lock first and queue for a slot with it held, so an edit of that rule waited
behind the whole drift queue (bench_scale: "no ARM request within 30 s of a patch"). Now a drift check queues
without the lock; the change runs at once.
"""

import asyncio
import types

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


async def test_an_edit_runs_while_that_rules_drift_check_queues_for_a_slot(monkeypatch):
    settings = Settings(max_reconciles=2)  # drift checks: 1 slot
    monkeypatch.setattr(common, "_slots", {})
    reached_azure: list[str] = []

    async def run_azure(ctx, *_args):
        reached_azure.append("drift" if ctx.holds_slot else "change")
        return Plan()

    monkeypatch.setattr(outbound_rule, "_run_azure", run_azure)

    release_other = asyncio.Event()

    async def other_workspaces_drift() -> None:  # holds the one drift slot
        with background():
            async with common.reconcile_slot(settings):
                await release_other.wait()

    async def drift_of_this_rule() -> None:
        with background():
            await outbound_rule._reconcile(_ctx("rule-1", settings))

    other = asyncio.create_task(other_workspaces_drift())
    await asyncio.sleep(0)
    drift = asyncio.create_task(drift_of_this_rule())
    await asyncio.sleep(0.05)
    assert not drift.done(), "the drift check queues for a slot"

    await asyncio.wait_for(outbound_rule._reconcile(_ctx("rule-1", settings)), timeout=5)
    assert reached_azure == ["change"], "the edit reached Azure while the drift check still queued"

    release_other.set()
    await asyncio.wait_for(asyncio.gather(other, drift), timeout=5)
    assert reached_azure == ["change", "drift"]
    assert STATES.peek("rule-1") is None
