"""Per-subscription concurrency and per-workspace write serialization (counted, never timed)."""

from __future__ import annotations

import asyncio
import time

import pytest

from promptflow_netiso.azure.limits import Limits, subscription_of


async def _peak_concurrency(limits: Limits, subs: list[str]) -> dict[str, int]:
    running: dict[str, int] = {}
    peak: dict[str, int] = {}
    release = asyncio.Event()

    async def call(sub: str) -> None:
        async with limits.subscription(sub):
            running[sub.lower()] = running.get(sub.lower(), 0) + 1
            peak[sub.lower()] = max(peak.get(sub.lower(), 0), running[sub.lower()])
            await release.wait()
            running[sub.lower()] -= 1

    tasks = [asyncio.create_task(call(s)) for s in subs]
    for _ in range(5):
        await asyncio.sleep(0)  # let every task that can enter do so
    release.set()
    await asyncio.gather(*tasks)
    return peak


async def test_at_most_n_requests_per_subscription():
    peak = await _peak_concurrency(Limits(2), ["SUB-A"] * 5 + ["sub-a"] * 2 + ["sub-b"] * 3)
    assert peak == {"sub-a": 2, "sub-b": 2}


async def test_workspace_lock_is_shared_across_letter_case():
    limits = Limits()
    assert limits.workspace_lock("S", "RG", "WS") is limits.workspace_lock("s", "rg", "ws")
    assert limits.workspace_lock("s", "rg", "ws") is not limits.workspace_lock("s", "rg", "other")


async def test_writes_to_one_workspace_are_serialized():
    limits = Limits()
    order: list[str] = []
    first_inside = asyncio.Event()
    finish_first = asyncio.Event()

    async def first():
        async with limits.workspace_lock("s", "rg", "ws"):
            order.append("first-start")
            first_inside.set()
            await finish_first.wait()
            order.append("first-end")

    async def second():
        await first_inside.wait()
        async with limits.workspace_lock("S", "RG", "WS"):
            order.append("second")

    t1, t2 = asyncio.create_task(first()), asyncio.create_task(second())
    await first_inside.wait()
    await asyncio.sleep(0)
    finish_first.set()
    await asyncio.gather(t1, t2)
    assert order == ["first-start", "first-end", "second"]


@pytest.mark.parametrize(
    "url, sub",
    [
        ("https://management.azure.com/subscriptions/ABC/resourceGroups/rg?api-version=1", "abc"),
        ("/subscriptions/abc/providers/Microsoft.Authorization/roleAssignments/x", "abc"),
        ("https://management.azure.com/providers/Microsoft.Authorization/operations", ""),
    ],
)
def test_subscription_of(url, sub):
    assert subscription_of(url) == sub


def test_limit_must_be_positive():
    with pytest.raises(ValueError):
        Limits(0)


# --- pacing: token buckets inside ARM's, per subscription ------------------------------------------------------------


def test_a_bucket_hands_out_its_size_then_one_token_per_refill_interval():
    from promptflow_netiso.azure.limits import TokenBucket

    bucket = TokenBucket(3, 2.0, stamp=100.0)
    assert [bucket.wait_time(0.0, 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.wait_time(0.0, 100.0) == pytest.approx(0.5)  # one token every 1/2 s
    assert bucket.wait_time(0.0, 100.5) == 0.0


def test_background_work_leaves_the_reserve_to_changes_a_person_made():
    from promptflow_netiso.azure.limits import TokenBucket

    bucket = TokenBucket(4, 1.0, stamp=0.0)
    assert bucket.wait_time(1.0, 0.0) == 0.0 and bucket.wait_time(1.0, 0.0) == 0.0 and bucket.wait_time(1.0, 0.0) == 0.0
    assert bucket.wait_time(1.0, 0.0) > 0  # background: the last token is kept
    assert bucket.wait_time(0.0, 0.0) == 0.0  # foreground takes it


def test_what_arm_says_is_left_and_a_429_override_the_local_count():
    from promptflow_netiso.azure.limits import TokenBucket

    bucket = TokenBucket(200, 20.0, stamp=0.0)
    bucket.observe(remaining=2, retry_after=None, now=0.0)  # other clients spent the subscription's budget
    assert bucket.wait_time(0.0, 0.0) == 0.0 and bucket.wait_time(0.0, 0.0) == 0.0
    assert bucket.wait_time(0.0, 0.0) > 0
    bucket.observe(remaining=None, retry_after=7.0, now=1.0)
    assert bucket.wait_time(0.0, 1.0) == pytest.approx(7.0)  # nothing is sent before Retry-After has passed
    assert bucket.wait_time(0.0, 8.0) == 0.0


def test_buckets_are_per_subscription_and_kind_and_scaled_by_pacing():
    limits = Limits(pacing=0.5)
    reads = limits.bucket("SUB-A", "reads")
    assert reads is limits.bucket("sub-a", "reads")
    assert (reads.size, reads.refill_per_s) == (125.0, 12.5)
    assert limits.bucket("sub-a", "writes") is not reads and limits.bucket("sub-b", "reads") is not reads
    with pytest.raises(ValueError, match="pacing"):
        Limits(pacing=0)


async def test_pace_waits_for_a_token_and_background_waits_longer():
    from promptflow_netiso.azure.limits import background

    limits = Limits(pacing=1.0)
    bucket = limits.bucket("sub", "reads")
    bucket.tokens = 1.0
    await limits.pace("sub", "GET")  # foreground: the last token
    assert bucket.tokens < 1.0
    bucket.tokens = bucket.size * 0.25 + 0.5  # inside the reserve
    with background():
        waiter = asyncio.create_task(limits.pace("sub", "GET"))
        await asyncio.sleep(0.01)
        assert not waiter.done()
    waiter.cancel()
    await limits.pace("", "GET")  # tenant-level calls are not paced


async def test_a_change_is_not_held_back_by_a_budget_the_endpoint_never_showed_but_background_work_is():
    """An endpoint that sends no remaining count and no 429 (not ARM: a proxy, a test double) has shown no budget: a
    change a person made goes at once, though the local count is empty; it still spends that count, so the drift
    checks behind it wait for the refill."""
    from promptflow_netiso.azure.limits import background

    limits = Limits(pacing=0.01)  # a token every 4 s: no waiting within this test can be mistaken for going at once
    bucket = limits.bucket("sub", "reads")
    bucket.tokens = 0.0
    await asyncio.wait_for(asyncio.gather(*(limits.pace("sub", "GET") for _ in range(50))), 1.0)
    assert bucket.tokens < 1.0, "spent all the same"
    with background():
        drift = asyncio.create_task(limits.pace("sub", "GET"))
        await asyncio.sleep(0.05)
        assert not drift.done(), "background work waits on the bucket whatever the endpoint showed"
    drift.cancel()


async def test_once_arm_shows_its_count_a_change_waits_for_a_token():
    limits = Limits(pacing=0.01)  # a token every 10 s
    bucket = limits.bucket("sub", "writes")
    bucket.observe(remaining=0, retry_after=None, now=time.monotonic())  # ARM: nothing left
    change = asyncio.create_task(limits.pace("sub", "PUT"))
    await asyncio.sleep(0.05)
    assert not change.done(), "ARM said the budget is spent: the change waits for the refill"
    change.cancel()
