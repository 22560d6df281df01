"""Our own Kubernetes writes (status records ahead of kopf's patch, the Events of landed writes) over kopf's session.

They were kubernetes-client calls on worker threads, and the default executor has min(32, cores + 4) threads: 6 on
two cores. With 3,300 objects converging, about 260 records and Events queued for one of those threads at any time,
and they set the pace of the whole converge (docs/scale.md). On kopf's session they are async, use kopf's
credentials (and their refresh) and its capped connections (kube_session.py). Outside a running operator (a test
calling a handler directly) there are no kopf credentials in the context: callers use the kubernetes client on a
thread, as before.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from kopf._cogs.clients import api, auth

log = logging.getLogger(__name__)

_settings: Any = None  # kopf's OperatorSettings of the running operator: its request timeout


def use(settings: Any) -> None:
    global _settings
    _settings = settings


def available() -> bool:
    """Whether kopf's credentials are in this task's context (they are in every task of a running operator)."""
    if _settings is None:
        return False
    try:
        auth.vault_var.get()
    except LookupError:
        return False
    return True


async def send(method: str, url: str, payload: Any, content_type: str = "application/json") -> None:
    """One attempt; the answer is read (so the connection goes back to the pool) and not decoded. Raises kopf's
    APIError (with `.status`) or a connection error: the callers decide what a failure means."""
    response = await api.request(method, url, settings=_settings, payload=payload, backoffs=(),
                                 headers={"Content-Type": content_type}, logger=log)
    async with response:
        await response.read()


def message_of(e: Exception) -> str:
    """The API server's own message (kopf's APIError has it; the kubernetes client's ApiException has the Status in
    its body), else the exception's text."""
    message = getattr(e, "message", None)
    if not message and isinstance(getattr(e, "body", None), (str, bytes)):
        try:
            message = json.loads(e.body).get("message")  # type: ignore[attr-defined]
        except (ValueError, AttributeError):
            message = None
    return message if isinstance(message, str) and message else str(e)
