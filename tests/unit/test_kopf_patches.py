"""kopf's start-up gate (every object waits until all indexes are populated) wakes waiters only when it opens."""

import asyncio

from kopf._cogs.aiokits import aiotoggles

from promptflow_netiso.handlers import kopf_patches  # installs the patches

N = 1000


async def _gate_with_waiters(count: int):
    gate = aiotoggles.ToggleSet(all)
    blocker = await gate.make_toggle(name="listing")
    toggles = [await gate.make_toggle(name=str(i)) for i in range(count)]
    checks = 0
    real_is_on = gate.is_on

    def counting_is_on() -> bool:
        nonlocal checks
        checks += 1
        return real_is_on()

    gate.is_on = counting_is_on  # type: ignore[method-assign]
    released: list[int] = []

    async def worker(i: int) -> None:
        await gate.drop_toggle(toggles[i])  # as kopf's worker does once its object is indexed
        await gate.wait_for(True)
        released.append(i)

    tasks = []
    for i in range(count):  # objects arrive one by one, as a listing's pages and watch events deliver them
        tasks.append(asyncio.create_task(worker(i)))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    return gate, blocker, tasks, released, lambda: checks


def test_objects_indexed_one_by_one_do_not_wake_every_waiting_object():
    async def scenario():
        gate, blocker, tasks, released, checks = await _gate_with_waiters(N)
        for _ in range(10):
            await asyncio.sleep(0)
        assert released == []  # the listing is not over: nobody runs handlers yet
        # Unpatched kopf re-checks the predicate in every waiter on every drop: about N^2 / 2 = 2,000,000 checks.
        assert checks() < 10 * N
        await gate.drop_toggle(blocker)  # the listing ends: the gate opens once, for everyone
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        assert sorted(released) == list(range(N))
        assert checks() < 20 * N

    asyncio.run(scenario())


def test_a_new_closed_toggle_closes_an_open_gate_and_dropping_it_reopens_it():
    async def scenario():
        gate = aiotoggles.ToggleSet(all)
        assert gate.is_on()
        toggle = await gate.make_toggle(name="late kind")
        assert gate.is_off()
        waiter = asyncio.create_task(gate.wait_for(True))
        await asyncio.sleep(0)
        assert not waiter.done()
        await gate.drop_toggles([toggle])
        await asyncio.wait_for(waiter, timeout=5)

    asyncio.run(scenario())


def test_kopf_keeps_no_managed_fields_and_no_last_applied_copy_of_an_object():
    from kopf._core.reactor import processing

    assert getattr(processing.process_resource_event, "trims_bodies", False)  # what kopf.run() will call
    seen = []

    async def process(*, raw_event, **_):
        seen.append(raw_event["object"])

    event = {"type": "MODIFIED", "object": {
        "metadata": {"name": "r", "managedFields": [{"manager": "kubectl"}],
                     "annotations": {kopf_patches.LAST_APPLIED: "{...}", "keep": "me"}},
        "spec": {"type": "FQDN"}}}
    asyncio.run(kopf_patches._trimming(process)(raw_event=event, stream_pressure=None))
    assert seen == [{"metadata": {"name": "r", "annotations": {"keep": "me"}}, "spec": {"type": "FQDN"}}]
    kopf_patches.trim({"metadata": None})  # odd bodies pass through untouched
    kopf_patches.trim("not a body")
