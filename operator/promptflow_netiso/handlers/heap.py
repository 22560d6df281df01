"""Give freed heap memory back to the system, now and then.

glibc returns memory freed in the middle of its heap only on `malloc_trim`. The start-up listing parses every object
and frees most of it again, so without a trim that memory stays in the process's RSS for good: at 11,000 objects, one
trim after start gave back about 25 MB (docs/scale.md). CPython's own small-object arenas are not affected either way.
Elsewhere than glibc (musl) there is nothing to call and nothing is done.
"""

from __future__ import annotations

import asyncio
import ctypes
import itertools
import logging
from typing import Callable

log = logging.getLogger(__name__)

# Seconds after start: the start-up listing is over by the first; afterwards once every `interval`.
AFTER_START = (30.0, 90.0, 300.0)
M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h)
MMAP_THRESHOLD = 256 * 1024


def keep_big_buffers_apart() -> bool:
    """Allocations of 256 KiB and more (a listing page's bytes, its text) get pages of their own, unmapped when freed.
    glibc otherwise raises this threshold after the first such free, up to 32 MiB, and later pages land in its
    heap, where what is freed stays in the process (a start-up listing page is tens of MB of transient buffers)."""
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    except (OSError, AttributeError):
        return False


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


async def keep_trimmed(interval: float, trim: Callable[[int], int] | None = None) -> None:
    """Run until cancelled; each trim runs on a thread (it walks the heap: milliseconds, off the event loop)."""
    trim = trim or _malloc_trim()
    if trim is None:
        return
    for delay in itertools.chain(AFTER_START, itertools.repeat(max(interval, AFTER_START[-1]))):
        await asyncio.sleep(delay)
        await asyncio.to_thread(trim, 0)
        log.debug("heap trimmed")
