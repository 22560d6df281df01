"""Long-lived copies of decoded JSON that share their strings.

Each watch event and each ARM answer is decoded on its own, so every object kept from one has its own copy of every
key ("observedGeneration", "lastTransitionTime", ...) and of every repeated value ("True", "Active", a namespace, a
workspace name). A start-up listing decodes 200 objects at once and shares keys among them; a cold converge keeps
what the last watch event of each object said, and did not: at 11,000 objects that was about 40 more small strings
per object (docs/scale.md). Interned strings are freed with their last reference, so interning costs a slot in the
interpreter's table while the string lives, and nothing after.
"""

from __future__ import annotations

import sys
from typing import Any

# Longer strings (messages, long ARM IDs) rarely repeat between objects: copying them into the table buys nothing.
SHARED_UP_TO = 64
_intern = sys.intern


def shared(value: Any) -> Any:
    """The string itself if it is short enough to be worth sharing (the one copy in the interpreter's table)."""
    if type(value) is str and len(value) <= SHARED_UP_TO:
        return _intern(value)
    return value


def compact(value: Any) -> Any:
    """A deep copy of decoded JSON (dicts, lists, scalars) whose keys and short strings are shared. Run for every
    listed OutboundRule at start, before the index gate opens: one pass, no helper calls."""
    kind = type(value)
    if kind is str:
        return _intern(value) if len(value) <= SHARED_UP_TO else value
    if kind is dict:
        return {(_intern(k) if type(k) is str else k): compact(v) for k, v in value.items()}
    if kind is list:
        return [compact(v) for v in value]
    return value
