"""The heap trim: after start, then once per interval, each on a thread; nothing where there is no malloc_trim."""

import asyncio
import threading

from promptflow_netiso.handlers import heap


async def test_trims_after_start_then_every_interval_off_the_event_loop(monkeypatch):
    monkeypatch.setattr(heap, "AFTER_START", (0.01, 0.01))
    calls: list[tuple[int, bool]] = []
    loop_thread = threading.get_ident()

    def trim(pad: int) -> int:
        calls.append((pad, threading.get_ident() != loop_thread))
        return 1

    task = asyncio.create_task(heap.keep_trimmed(0.01, trim))
    while len(calls) < 4:
        await asyncio.sleep(0.01)
    task.cancel()
    assert calls[:4] == [(0, True)] * 4


async def test_without_malloc_trim_nothing_runs(monkeypatch):
    monkeypatch.setattr(heap, "_malloc_trim", lambda: None)
    await asyncio.wait_for(heap.keep_trimmed(0.01), 1)  # returns at once


def test_glibc_trim_is_found_here():
    assert heap._malloc_trim() is not None, "this machine (glibc) has malloc_trim: the operator image is Debian-based"


def test_big_buffers_get_pages_of_their_own_here():
    assert heap.keep_big_buffers_apart(), "glibc accepts the mmap threshold"
