"""Long-running operations: 202 + Location (+ Azure-AsyncOperation) + Retry-After, then polls until done.

An operation's effect is applied when it completes (driven by the scheduler), so a client polling the
Location URL, or simply GETting the resource, sees the change at the same moment.
"""

from __future__ import annotations

import datetime as dt
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

from .armhttp import ArmError, Ctx, error_body, json_response
from .scheduler import Scheduler

Final = Callable[[], tuple[int, Any]]  # what the Location URL answers once the operation succeeded


def _iso(ts: float | None) -> str | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass
class Operation:
    id: str
    subscription: str
    namespace: str
    location: str
    api_version: str
    effect: Callable[[], None]
    final: Final
    on_end: Callable[[], None] | None = None  # always runs at the end (e.g. release the workspace lock)
    status: str = "InProgress"  # InProgress | Succeeded | Failed
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None
    error: ArmError | None = None

    def path(self, kind: str) -> str:
        return f"/subscriptions/{self.subscription}/providers/{self.namespace}/locations/{self.location}/{kind}/{self.id}"


class Operations:
    def __init__(self, scheduler: Scheduler, config):
        self._scheduler = scheduler
        self._config = config
        self._ops: dict[str, Operation] = {}

    def start(self, ctx: Ctx, *, subscription: str, namespace: str, location: str, effect: Callable[[], None],
              final: Final, on_end: Callable[[], None] | None = None, async_operation_header: bool = False,
              duration_s: float | None = None) -> tuple[Operation, dict[str, str]]:
        op = Operation(str(uuid.uuid4()), subscription, namespace, location, ctx.api_version, effect, final, on_end)
        self._ops[op.id] = op
        delay = self._config.lro_duration_s if duration_s is None else duration_s
        if ctx.stuck_lro is not None:
            delay = ctx.stuck_lro
        if math.isfinite(delay):
            self._scheduler.after(delay, lambda: self.complete(op))
        headers = {"Location": ctx.url(op.path("operationResults")),
                   "Retry-After": str(self._config.retry_after_s)}
        if async_operation_header:
            headers["Azure-AsyncOperation"] = ctx.url(op.path("operationStatuses"))
        return op, headers

    def complete(self, op: Operation) -> None:
        if op.status != "InProgress":
            return
        try:
            op.effect()
            op.status = "Succeeded"
        except ArmError as err:  # the operation failed: the poll answers with the error
            op.status, op.error = "Failed", err
        finally:
            op.ended_at = time.time()
            if op.on_end:
                op.on_end()

    def complete_all(self) -> int:
        running = [op for op in self._ops.values() if op.status == "InProgress"]
        for op in running:
            self.complete(op)
        return len(running)

    def in_progress(self) -> list[Operation]:
        return [op for op in self._ops.values() if op.status == "InProgress"]

    def clear(self) -> None:
        self._ops.clear()

    def _find(self, ctx: Ctx) -> Operation:
        op = self._ops.get(ctx.params["opid"])
        if op is None or op.subscription.lower() != ctx.params["sub"].lower():
            raise ArmError(404, "OperationNotFound", f"The operation '{ctx.params['opid']}' could not be found.")
        return op

    async def poll_result(self, ctx: Ctx) -> web.Response:
        """The Location URL: 202 while running, then the operation's final answer (or its error)."""
        op = self._find(ctx)
        if op.status == "InProgress":
            return json_response(202, None, {"Location": ctx.url(op.path("operationResults"), op.api_version),
                                             "Retry-After": str(self._config.retry_after_s)})
        if op.status == "Failed" and op.error is not None:
            return op.error.response()
        status, body = op.final()
        return json_response(status, body)

    async def poll_status(self, ctx: Ctx) -> web.Response:
        """The Azure-AsyncOperation URL: always 200 with {status, percentComplete, ...}."""
        op = self._find(ctx)
        body: dict[str, Any] = {"id": op.path("operationStatuses"), "name": op.id, "status": op.status,
                                "startTime": _iso(op.started_at)}
        if op.status == "InProgress":
            body["percentComplete"] = 0.0
            return json_response(200, body, {"Retry-After": str(self._config.retry_after_s)})
        body["endTime"] = _iso(op.ended_at)
        body["percentComplete"] = 100.0
        if op.error is not None:
            body["error"] = error_body(op.error.code, op.error.message)["error"]
        return json_response(200, body)
