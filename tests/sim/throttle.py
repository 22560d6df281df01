"""ARM's token-bucket throttling, per subscription and caller, separately for reads, writes and deletes.

Defaults follow Azure Resource Manager's documented buckets (reads 250 +25/s; writes and deletes 200 +10/s).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Bucket:
    size: float
    refill_per_s: float


@dataclass(frozen=True)
class ThrottleLimits:
    reads: Bucket
    writes: Bucket
    deletes: Bucket

    @classmethod
    def arm(cls) -> "ThrottleLimits":
        return cls(Bucket(250, 25), Bucket(200, 10), Bucket(200, 10))

    @classmethod
    def from_dict(cls, data: dict) -> "ThrottleLimits":
        return cls(*(Bucket(float(data[k]["size"]), float(data[k]["refillPerS"])) for k in ("reads", "writes", "deletes")))

    def to_dict(self) -> dict:
        return {k: {"size": b.size, "refillPerS": b.refill_per_s}
                for k, b in (("reads", self.reads), ("writes", self.writes), ("deletes", self.deletes))}


def kind_of(method: str) -> str:
    return {"GET": "reads", "HEAD": "reads", "DELETE": "deletes"}.get(method, "writes")


class Throttle:
    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._state: dict[tuple[str, str, str], tuple[float, float]] = {}  # key -> (tokens, last refill time)

    def take(self, limits: ThrottleLimits, subscription: str, principal: str, kind: str) -> tuple[int, float | None]:
        """Spend one token. Returns (remaining, None) or (0, seconds until a token is back) when throttled."""
        bucket: Bucket = getattr(limits, kind)
        key = (subscription.lower(), principal, kind)
        now = self._clock()
        tokens, last = self._state.get(key, (bucket.size, now))
        tokens = min(bucket.size, tokens + (now - last) * bucket.refill_per_s)
        if tokens < 1.0:
            self._state[key] = (tokens, now)
            wait = (1.0 - tokens) / bucket.refill_per_s if bucket.refill_per_s > 0 else 3600.0
            return 0, wait
        tokens -= 1.0
        self._state[key] = (tokens, now)
        return int(tokens), None

    def reset(self) -> None:
        self._state.clear()


def retry_after_header(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))
