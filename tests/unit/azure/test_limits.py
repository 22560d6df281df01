"""Per-subscription concurrency and per-workspace write serialization (counted, never timed)."""

from __future__ import annotations

import asyncio

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
