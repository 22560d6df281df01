"""One aiohttp session for every Azure call of the process (ARM pipeline, SDK clients, token requests).

Why not azure-core's default: each client would open its own session and connection pool, and aiohttp's default TLS
context is built when aiohttp is imported, so a CA bundle named later (SSL_CERT_FILE / REQUESTS_CA_BUNDLE, which is
how the simulator's CA is trusted) would be ignored. Here the TLS context is built when the session is first used,
and the session is closed once, by `Azure.close()`, never by one of the clients sharing it.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping

import aiohttp
from azure.core.pipeline.transport import AioHttpTransport


def tls_context(environ: Mapping[str, str] | None = None) -> ssl.SSLContext:
    env = os.environ if environ is None else environ
    ctx = ssl.create_default_context()  # honours SSL_CERT_FILE / SSL_CERT_DIR through OpenSSL's default paths
    for var in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        path = env.get(var)
        if path:
            ctx.load_verify_locations(cafile=path)
    return ctx


PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def proxy_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Whether to let aiohttp honour HTTPS_PROXY / NO_PROXY (and ~/.netrc), like azure-core's own transport.

    Only when a proxy is set: with trust_env on, aiohttp looks the proxy up and reads ~/.netrc on a thread for every
    request, 10-16% of the operator's CPU at steady state for nothing when there is no proxy (docs/scale.md)."""
    env = os.environ if environ is None else environ
    return any(env.get(var) for var in PROXY_VARIABLES)


class SharedSession:
    """Creates the aiohttp session lazily: it must be created inside the running event loop."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=tls_context(), limit=100),
                trust_env=proxy_configured(),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,  # azure-core decodes bodies itself
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


class SharedSessionTransport(AioHttpTransport):
    """An azure-core transport over the shared session; closing a client that uses it leaves the session open."""

    def __init__(self, shared: SharedSession, **kwargs) -> None:
        super().__init__(session_owner=True, **kwargs)  # session_owner=False would demand a session right now
        self._shared = shared

    async def open(self) -> None:
        self.session = self._shared.get()
        self._has_been_opened = True

    async def close(self) -> None:
        self.session = None  # the shared session outlives every client; SharedSession.close() ends it
