"""Drift checks queue as keys, not as kopf handler calls: a workspace whose check is already waiting is not queued
twice, one being checked is not queued again, checks run in the order they came with at most `workers` at once, and
a check that asks to run again does so after its delay (its timer meanwhile adds nothing, as with kopf's timers)."""

import asyncio

from promptflow_netiso.handlers.drift_queue import DriftQueue


async def test_a_key_waits_once_and_runs_in_turn_with_at_most_the_workers_at_once():
    queue = DriftQueue()
    gate = asyncio.Event()
    ran: list[str] = []
    running = 0
    most = 0

    def check(name: str):
        async def run() -> None:
            nonlocal running, most
            running += 1
            most = max(most, running)
            ran.append(name)
            await gate.wait()
            running -= 1
        return run

    try:
        for name in ("a", "b", "c", "d"):
            queue.submit(name, check(name), workers=2)
        queue.submit("c", check("c-newer"), workers=2)  # waiting already: keeps its place, takes the newer check
        await asyncio.sleep(0.05)
        assert ran == ["a", "b"] and queue.waiting() == 2, "two workers: two checks at once, the rest wait"
        queue.submit("a", check("a-again"), workers=2)  # being checked: not queued again
        assert queue.waiting() == 2
        gate.set()
        await asyncio.sleep(0.05)
        assert ran == ["a", "b", "c-newer", "d"] and most == 2 and queue.waiting() == 0
    finally:
        queue.stop()


async def test_a_check_that_asks_to_run_again_runs_after_its_delay_and_a_failing_check_keeps_its_worker():
    queue = DriftQueue()
    runs: list[float] = []
    loop = asyncio.get_running_loop()

    async def retried() -> float | None:
        runs.append(loop.time())
        return 0.2 if len(runs) == 1 else None

    async def broken() -> None:
        raise RuntimeError("boom")

    try:
        queue.submit("broken", broken, workers=1)
        queue.submit("retried", retried, workers=1)
        await asyncio.sleep(0.05)
        queue.submit("retried", retried, workers=1)  # its timer again, before the retry: the retry comes first
        assert len(runs) == 1 and queue.waiting() == 0
        await asyncio.sleep(0.45)
        assert len(runs) == 2, "the one worker survived the failing check, and the retry ran once"
        assert runs[1] - runs[0] >= 0.19
    finally:
        queue.stop()


async def test_stop_ends_the_workers_and_forgets_what_waits():
    queue = DriftQueue()
    started = asyncio.Event()

    async def long() -> None:
        started.set()
        await asyncio.sleep(60)

    queue.submit("a", long, workers=1)
    queue.submit("b", long, workers=1)
    await started.wait()
    queue.stop()
    await asyncio.sleep(0)
    assert queue.waiting() == 0
