"""Bounded use of the Kubernetes API server: a capped connection pool for kopf, and quiet drift timers.

kopf's own session has no connection limit: 700 workspaces applied at once opened ~9,400 TLS connections (256 KiB of
buffers each) and the API server answered "context deadline exceeded". A login handler of our own gives kopf the
same credentials (via the kubernetes client, kopf's default) over a session whose requests other than watch streams
are capped at settings.kube_connections; requests beyond the cap wait for a free slot. Watch streams are not capped:
each holds its connection for minutes, one per watched kind and namespace, so a cap that counted them would starve
every other request once enough namespaces are watched (a namespace pattern watches each namespace separately).
See docs/scale.md.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from typing import Any

import aiohttp
import kopf

from ..settings import Settings

MIN_KUBE_CONNECTIONS = 10


def connection_limit(settings: Settings) -> int:
    """Most requests (other than watch streams) in flight at once; 0 = no cap."""
    return 0 if settings.kube_connections == 0 else max(settings.kube_connections, MIN_KUBE_CONNECTIONS)


def is_watch(url: Any) -> bool:
    return url.query.get("watch") in ("true", "1")


def request_cap(limit: int) -> aiohttp.TraceConfig:
    """Holds each request other than a watch stream until one of `limit` slots is free, from its start until its
    response headers arrive (its body, a few KiB of JSON, is read right after)."""
    slots = asyncio.Semaphore(limit)
    trace = aiohttp.TraceConfig()

    async def start(_session: Any, ctx: Any, params: Any) -> None:
        ctx.capped = not is_watch(params.url)
        if ctx.capped:
            await slots.acquire()

    async def end(_session: Any, ctx: Any, _params: Any) -> None:
        if getattr(ctx, "capped", False):
            ctx.capped = False
            slots.release()

    trace.on_request_start.append(start)
    trace.on_request_end.append(end)
    trace.on_request_exception.append(end)
    return trace


@kopf.on.login()
async def login(settings: kopf.OperatorSettings, logger: logging.Logger, **kwargs: Any) -> kopf.KubeContext | None:
    # kopf's default login, in a thread (it reads files); then our own session around its credentials.
    info = await asyncio.to_thread(kopf.login_via_client, settings=settings, logger=logger, **kwargs)
    if info is None:
        return None
    with warnings.catch_warnings():  # as kopf does: its own basic-auth helper warns, aiohttp's does not matter here
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="kopf")
        auth = info.as_aiohttp_basic_auth()
    limit = connection_limit(Settings.from_env())
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, ssl=info.as_ssl_context()),
        trace_configs=[request_cap(limit)] if limit else None,
        headers=info.as_http_headers(), auth=auth, proxy=info.proxy_url, trust_env=info.trust_env)
    return kopf.AiohttpSession(server=info.server, default_namespace=info.default_namespace, priority=info.priority,
                               expiration=info.expiration, aiohttp_session=session)


# Event handlers that run on every watch event of their kind (our own status patches included), and the resume
# handlers that run for every object at every start: their success is routine too.
QUIET_HANDLERS = ("workspace_rule_event", "resume_outbound_rule", "workspace_resume")


class RoutineSuccessAtDebug(logging.Filter):
    """kopf logs "Timer '...' succeeded." at INFO after every run: one line per object per drift interval (about
    1.3 GB a day at 11,000 objects), and "Handler '...' succeeded." after every run of an event handler. A converged
    check is no news, so these become DEBUG (shown with --verbose); what a check changes or fails on is still logged
    at INFO and above by the handlers and kopf."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and isinstance(record.msg, str) and routine(record.msg):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def routine(message: str) -> bool:
    if message.startswith("Resuming is processed: ") and message.endswith("; 0 failed."):
        return True  # one line per object at every start: 11,000 lines for nothing
    if not message.endswith(" succeeded."):
        return False
    return message.startswith("Timer ") or any(message == f"Handler '{h}' succeeded." for h in QUIET_HANDLERS)


def quiet_routine_success() -> None:
    target = logging.getLogger("kopf.objects")
    if not any(isinstance(f, RoutineSuccessAtDebug) for f in target.filters):
        target.addFilter(RoutineSuccessAtDebug())
