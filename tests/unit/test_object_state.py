"""The one per-object store: an entry only while something about the object is in flight."""

import asyncio

from promptflow_netiso.handlers.object_state import ObjectStates
from promptflow_netiso.planning.requeue import Retry, Schedule


def test_a_converged_object_leaves_no_entry_behind():
    async def scenario():
        states = ObjectStates()
        async with states.locked("u1"):
            assert len(states) == 1
        assert len(states) == 0

        async with states.locked("u2") as state:
            state.schedule = Schedule(Retry.DEPENDENCY, 0, 10.0)  # waiting: remembered
        assert states.peek("u2").schedule.retry is Retry.DEPENDENCY
        states.of("u2").schedule = None
        states.release("u2")
        assert states.peek("u2") is None

    asyncio.run(scenario())


def test_status_written_ahead_of_the_body_is_kept_until_the_body_shows_it():
    states = ObjectStates()
    states.remember("u", {"pendingWrite": {"operation": "PUT"}, "created": True})
    assert states.status_now("u", {"created": False, "ruleStatus": "Active"}) == {
        "pendingWrite": {"operation": "PUT"}, "created": True, "ruleStatus": "Active"}
    states.prune("u", {"created": True})  # the watch event brought half of it
    assert states.peek("u").written == {"pendingWrite": {"operation": "PUT"}}
    states.prune("u", {"created": True, "pendingWrite": {"operation": "PUT"}})
    assert states.peek("u") is None  # nothing ahead of the body any more: no entry
    states.remember("u", {})
    assert states.peek("u") is None


def test_one_reconcile_at_a_time_per_object_and_the_entry_survives_while_one_waits():
    async def scenario():
        states = ObjectStates()
        order = []
        gate = asyncio.Event()

        async def run(name):
            async with states.locked("u"):
                order.append(f"{name} in")
                await gate.wait()
                order.append(f"{name} out")

        first = asyncio.create_task(run("a"))
        await asyncio.sleep(0)
        second = asyncio.create_task(run("b"))
        await asyncio.sleep(0)
        assert order == ["a in"] and states.peek("u").users == 2
        gate.set()
        await asyncio.gather(first, second)
        assert order == ["a in", "a out", "b in", "b out"]
        assert states.peek("u") is None

    asyncio.run(scenario())
