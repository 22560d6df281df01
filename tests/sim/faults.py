"""Fault injection per route: 429, 500, 503, slow responses, dropped connections, stuck long-running operations.

Each rule rolls its own seeded dice, so a given seed and request sequence injects the same faults every run, and
adding a rule does not shift the faults of the others.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from typing import Any

KINDS = ("429", "500", "503", "slow", "drop", "stuck-lro")


@dataclass
class FaultRule:
    route: str  # regex searched in the route name (e.g. ml.rule.put) and in the request path
    kind: str
    rate: float = 1.0
    method: str | None = None
    count: int | None = None  # inject at most this many times
    delay_s: float = 2.0  # slow: added latency
    retry_after_s: int = 1  # 429/503: Retry-After
    stuck_s: float = math.inf  # stuck-lro: how long the operation stays running
    injected: int = 0
    _pattern: re.Pattern[str] = field(init=False, repr=False)
    _rng: random.Random = field(init=False, repr=False)

    def arm(self, seed: int, index: int) -> "FaultRule":
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {KINDS}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be within 0..1")
        self._pattern = re.compile(self.route, re.IGNORECASE)
        self._rng = random.Random(f"{seed}:{index}:{self.route}:{self.kind}")
        return self

    def applies(self, route_name: str, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        if self.count is not None and self.injected >= self.count:
            return False
        if not (self._pattern.search(route_name) or self._pattern.search(path)):
            return False
        if self._rng.random() >= self.rate:
            return False
        self.injected += 1
        return True

    def to_dict(self) -> dict[str, Any]:
        return {"route": self.route, "kind": self.kind, "rate": self.rate, "method": self.method, "count": self.count,
                "delayS": self.delay_s, "retryAfterS": self.retry_after_s,
                "stuckS": None if math.isinf(self.stuck_s) else self.stuck_s, "injected": self.injected}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FaultRule":
        stuck = data.get("stuckS")
        return cls(route=data.get("route", ".*"), kind=str(data["kind"]), rate=float(data.get("rate", 1.0)),
                   method=data.get("method"), count=data.get("count"), delay_s=float(data.get("delayS", 2.0)),
                   retry_after_s=int(data.get("retryAfterS", 1)), stuck_s=math.inf if stuck is None else float(stuck))


@dataclass
class Decision:
    delay_s: float = 0.0
    terminal: FaultRule | None = None  # 429 / 500 / 503 / drop
    stuck_s: float | None = None


# A reliability-test mix: mostly-working ARM with every failure mode present at a low rate.
CHAOS_PROFILE = (
    {"route": ".", "kind": "429", "rate": 0.05, "retryAfterS": 1},
    {"route": ".", "kind": "500", "rate": 0.02},
    {"route": ".", "kind": "503", "rate": 0.02, "retryAfterS": 1},
    {"route": ".", "kind": "slow", "rate": 0.05, "delayS": 1.5},
    {"route": ".", "kind": "drop", "rate": 0.01},
    {"route": r"^ml\.(rule\.put|provision|workspace\.patch)$", "kind": "stuck-lro", "rate": 0.05, "stuckS": 20},
)


class Faults:
    def __init__(self, seed: int):
        self.seed = seed
        self.rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> FaultRule:
        self.rules.append(rule.arm(self.seed, len(self.rules)))
        return rule

    def profile(self, name: str) -> list[FaultRule]:
        if name != "chaos":
            raise ValueError(f"unknown fault profile {name!r}; known: chaos")
        return [self.add(FaultRule.from_dict(d)) for d in CHAOS_PROFILE]

    def clear(self) -> None:
        self.rules.clear()

    def decide(self, route_name: str, method: str, path: str) -> Decision | None:
        if not self.rules:
            return None
        decision = Decision()
        hit = False
        for rule in self.rules:
            if rule.kind in ("429", "500", "503", "drop") and decision.terminal is not None:
                continue
            if not rule.applies(route_name, method, path):
                continue
            hit = True
            if rule.kind == "slow":
                decision.delay_s += rule.delay_s
            elif rule.kind == "stuck-lro":
                decision.stuck_s = rule.stuck_s
            else:
                decision.terminal = rule
        return decision if hit else None
