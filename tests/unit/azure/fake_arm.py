"""An in-memory ARM for unit tests of the pipeline wiring: scripted responses per (method, path), every request
recorded, and sleeps recorded instead of slept (so no test depends on time)."""

from __future__ import annotations

import json
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import AsyncHttpTransport
from azure.core.rest._http_response_impl_async import AsyncHttpResponseImpl
from azure.core.utils import case_insensitive_dict

from promptflow_netiso.azure import Azure
from promptflow_netiso.azure.clouds import AzureSettings

ARM = "https://arm.test"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.secret-token-value"


@dataclass
class Reply:
    status: int
    body: object = None
    headers: dict = field(default_factory=dict)


def arm_error(status: int, code: str, message: str, **headers) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}}, headers)


class _Response(AsyncHttpResponseImpl):
    def __init__(self, request, reply: Reply):
        content = b"" if reply.body is None else json.dumps(reply.body).encode()
        headers = case_insensitive_dict({"Content-Type": "application/json", **reply.headers})
        super().__init__(
            request=request, internal_response=None, status_code=reply.status, reason="", content_type="application/json",
            headers=headers, stream_download_generator=None,
        )
        self._content = content
        self._is_stream_consumed = True
        self._is_closed = True

    async def read(self) -> bytes:
        return self._content

    async def close(self) -> None:
        pass


class FakeArm(AsyncHttpTransport):
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], deque[Reply | Callable]] = defaultdict(deque)
        self.requests: list = []
        self.sleeps: list[float] = []

    def on(self, method: str, path: str, *replies: Reply | Callable) -> "FakeArm":
        """Queue replies for a path (without query); the last one repeats."""
        self.routes[(method.upper(), path.lower())].extend(replies)
        return self

    def calls(self, method: str | None = None, path: str | None = None) -> list:
        return [
            r for r in self.requests
            if (method is None or r.method == method) and (path is None or urlsplit(r.url).path.lower() == path.lower())
        ]

    async def send(self, request, **kwargs):
        self.requests.append(request)
        key = (request.method.upper(), urlsplit(request.url).path.lower())
        queue = self.routes.get(key)
        if not queue:
            reply = arm_error(404, "NoRouteInFake", f"{key[0]} {key[1]}")
        else:
            reply = queue[0] if len(queue) == 1 else queue.popleft()
            if callable(reply):
                reply = reply(request)
        return _Response(request, reply)

    async def sleep(self, duration: float) -> None:
        self.sleeps.append(duration)

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def __aenter__(self):
        return self

    async def __aexit__(self, *args) -> None:
        pass


class FakeCredential:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.scopes: list[tuple[str, ...]] = []

    async def get_token(self, *scopes, **kwargs) -> AccessToken:
        self.scopes.append(scopes)
        if self.error:
            raise self.error
        return AccessToken(TOKEN, int(time.time()) + 3600)

    async def close(self) -> None:
        pass


def settings(**overrides) -> AzureSettings:
    values = dict(cloud="Custom", arm_endpoint=ARM, authority_host="https://login.test", retry_total=3, max_inline_retry_after=10, lro_poll_max=15)
    values.update(overrides)
    return AzureSettings(**values)


def fake_azure(arm: FakeArm, credential: FakeCredential | None = None, **overrides) -> Azure:
    return Azure(settings(**overrides), credential or FakeCredential(), transport=arm)
