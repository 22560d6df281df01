"""The request log tests read to count calls: method, path, api-version, status, and what was injected."""

from __future__ import annotations

import itertools
import time
from collections import deque
from typing import Any

from aiohttp import web

# The request key a route sets to the rule names a batch POST carried.
LOGGED_RULES: web.RequestKey[list[str]] = web.RequestKey("sim.rules", list)


class RequestLog:
    def __init__(self, max_entries: int = 100_000):
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self._seq = itertools.count(1)

    def add(self, *, service: str, method: str, path: str, api_version: str | None, status: int, request_id: str,
            route: str | None = None, principal: str | None = None, fault: str | None = None,
            rules: list[str] | None = None) -> None:
        entry = {"seq": next(self._seq), "time": time.time(), "service": service, "method": method,
                 "path": path, "apiVersion": api_version, "status": status, "route": route,
                 "requestId": request_id, "principal": principal, "fault": fault}
        if rules is not None:  # a batch POST: the rule names its body carried (tests count writes per rule)
            entry["rules"] = rules
        self._entries.append(entry)

    def since(self, seq: int = 0, service: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self._entries if e["seq"] > seq and (service is None or e["service"] == service)]

    def last_seq(self) -> int:
        return self._entries[-1]["seq"] if self._entries else 0

    def clear(self) -> None:
        self._entries.clear()
