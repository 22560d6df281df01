"""One Azure read shared by the callers that accept its age; a value nobody took for `keep` seconds is let go."""

import asyncio

from promptflow_netiso.handlers.outbound_rule import SharedReads


class Clock:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.now = loop.time()
        loop.time = lambda: self.now  # type: ignore[method-assign]


async def test_callers_share_one_read_and_a_value_nobody_takes_is_dropped():
    clock = Clock(asyncio.get_running_loop())
    reads = SharedReads(keep=30.0)
    sent = []

    async def fetch(key):
        sent.append(key)
        await asyncio.sleep(0)
        return f"{key}-{len(sent)}"

    first = await asyncio.gather(*(reads.get("ws-a", lambda: fetch("ws-a"), max_age=60) for _ in range(5)))
    assert first == ["ws-a-1"] * 5 and sent == ["ws-a"], "five callers, one read"
    await reads.get("ws-b", lambda: fetch("ws-b"), max_age=60)

    clock.now += 20
    assert await reads.get("ws-a", lambda: fetch("ws-a"), max_age=60) == "ws-a-1", "taken again within keep"
    clock.now += 20  # ws-a was taken 20 s ago, ws-b 40 s ago
    assert await reads.get("ws-a", lambda: fetch("ws-a"), max_age=60) == "ws-a-1"
    assert len(reads) == 1, "ws-b, untaken for longer than keep, is gone"
    assert await reads.get("ws-b", lambda: fetch("ws-b"), max_age=60) == "ws-b-3", "read again when asked for"


async def test_without_keep_values_stay_for_callers_that_accept_their_age():
    clock = Clock(asyncio.get_running_loop())
    reads = SharedReads()

    async def fetch():
        return object()

    value = await reads.get("target", fetch, max_age=300)
    clock.now += 200
    assert await reads.get("target", fetch, max_age=300) is value
    assert await reads.get("target", fetch, max_age=100) is not value, "too old for this caller: read again"
