"""A namespace's own Azure identity: Entra ID's client-assertion exchange of a Kubernetes ServiceAccount token.

The assertion comes from an async callable (the caller asks the Kubernetes TokenRequest API for a short-lived token
with audience api://AzureADTokenExchange); it is fetched only when Entra ID is asked for a new ARM token, so a
cached ARM token costs no Kubernetes call. No secret is stored anywhere. No Kubernetes imports here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from azure.core.credentials import AccessTokenInfo
from azure.identity.aio import ClientAssertionCredential


class ExchangedTokenCredential(ClientAssertionCredential):
    """azure-identity's async ClientAssertionCredential, whose assertion is awaited instead of read synchronously
    (its `func` would block the event loop if it had to call the API server)."""

    def __init__(self, tenant_id: str, client_id: str, assertion: Callable[[], Awaitable[str]], **kwargs: Any) -> None:
        self._assertion = assertion
        super().__init__(tenant_id, client_id, func=_unused, **kwargs)

    async def _request_token(self, *scopes: str, **kwargs: Any) -> AccessTokenInfo:
        assertion = await self._assertion()
        return await self._client.obtain_token_by_jwt_assertion(scopes, assertion, **kwargs)


def _unused() -> str:  # pragma: no cover - _request_token never calls it
    raise RuntimeError("the assertion is awaited in _request_token")
