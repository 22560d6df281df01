"""Plain ARM calls over the process's pipeline: one request, follow a long-running operation, follow `nextLink`.

Every failure leaves this module as an `AzureError`. Used by ml.py, pec.py and network.py (AKS) for the
resource providers that no allowed SDK covers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlsplit

from azure.core.exceptions import AzureError as CoreAzureError
from azure.core.pipeline import PipelineResponse
from azure.core.polling import AsyncLROPoller
from azure.core.rest import HttpRequest
from azure.mgmt.core import AsyncARMPipelineClient
from azure.mgmt.core.polling.async_arm_polling import AsyncARMPolling

from . import errors
from .clouds import AzureSettings, Cloud
from .errors import AzureError, ErrorKind
from .pipeline import operation_option

# Statuses of an LRO whose poll URL we hold (Azure-AsyncOperation style bodies).
LRO_RUNNING = frozenset({"inprogress", "accepted", "running", "notstarted", "creating", "updating", "deleting", "provisioning"})
LRO_FAILED = frozenset({"failed", "canceled", "cancelled"})


def segment(value: str) -> str:
    """One URL path segment (names may contain '(' ')' '.' in resource groups)."""
    return quote(value, safe="")


def json_body(response: Any) -> dict:
    """The JSON object of a response, {} when empty or not an object."""
    try:
        text = response.text()
    except Exception:
        return {}
    if not text:
        return {}
    try:
        body = json.loads(text)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class _BoundedARMPolling(AsyncARMPolling):
    """Honours Retry-After between polls, but never waits longer than `max_delay` (a handler is waiting)."""

    def __init__(self, *, interval: float, max_delay: float, **kwargs: Any) -> None:
        super().__init__(timeout=interval, **kwargs)
        self._max_delay = max_delay

    def _extract_delay(self) -> float:
        return min(super()._extract_delay(), self._max_delay)

    async def _poll(self) -> None:
        # azure-core sends its first poll the instant the 202 arrives (no setting changes that): wait first, for
        # the initial response's Retry-After (else the polling interval), as ARM asks clients to.
        if not self.finished():
            await self._delay()
        await super()._poll()


class ArmClient:
    def __init__(self, client: AsyncARMPipelineClient, settings: AzureSettings, cloud: Cloud) -> None:
        self._client = client
        self._settings = settings
        self._cloud = cloud

    async def close(self) -> None:
        await self._client.close()

    def require_arm_origin(self, url: str) -> None:
        """Refuse absolute URLs outside the ARM endpoint: the pipeline attaches a bearer token to every request, and
        poll URLs come back from Kubernetes status, which is not a place to trust with our token."""
        ours, theirs = urlsplit(self._cloud.arm_endpoint), urlsplit(url)
        if (theirs.scheme.lower(), theirs.netloc.lower()) != (ours.scheme.lower(), ours.netloc.lower()):
            raise AzureError(
                status=0,
                code="UntrustedUrl",
                message=f"refusing to send an ARM token to {theirs.scheme}://{theirs.netloc}: not the configured ARM endpoint",
                kind=ErrorKind.USER_FIXABLE,
            )

    async def send(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        api_version: str | None = None,
        body: dict | None = None,
        accept: Iterable[int] = (),
    ) -> PipelineResponse:
        """One request. Raises AzureError for statuses >= 400 that are not in `accept` (e.g. 404 for deletes)."""
        if "://" in url:
            self.require_arm_origin(url)
        else:
            url = self._client.format_url(url)  # a path under the ARM endpoint
        params = {"api-version": api_version} if api_version else None
        request = HttpRequest(method, url, params=params, json=body)
        try:
            response = await self._client.send_request(request, _return_pipeline_response=True, **operation_option(operation))
        except CoreAzureError as exc:
            raise errors.from_exception(exc, operation) from exc
        http = response.http_response
        if http.status_code >= 400 and http.status_code not in set(accept):
            raise errors.from_response(http.status_code, dict(http.headers), _text(http), operation)
        return response

    async def get_json(self, url: str, *, operation: str, api_version: str | None = None) -> dict:
        return json_body((await self.send("GET", url, operation=operation, api_version=api_version)).http_response)

    async def list_all(self, url: str, *, operation: str, api_version: str) -> list[dict]:
        """Every item of a paged ARM list, following `nextLink` (which already carries its api-version)."""
        items: list[dict] = []
        page = await self.send("GET", url, operation=operation, api_version=api_version)
        seen: set[str] = set()
        while True:
            if page.http_response.status_code == 204:  # Key Vault answers 204 where others answer an empty list
                return items
            body = json_body(page.http_response)
            items.extend(v for v in body.get("value") or [] if isinstance(v, dict))
            next_link = body.get("nextLink")
            if not next_link or next_link in seen:  # a repeated link would loop forever
                return items
            seen.add(next_link)
            page = await self.send("GET", next_link, operation=operation)

    async def follow(self, initial: PipelineResponse, *, operation: str, final_state_via: str | None = None) -> PipelineResponse:
        """Follow a long-running operation to its end (bounded by `lro_timeout`) and return the final response.
        Responses without a poll URL (200, or 201/204 without headers) are already final."""
        if not needs_polling(initial):
            return initial
        for header in ("azure-asyncoperation", "location"):
            link = initial.http_response.headers.get(header)
            if link:
                self.require_arm_origin(link)
        polling = _BoundedARMPolling(
            interval=self._settings.lro_poll_interval,
            max_delay=self._settings.lro_poll_max,
            lro_options={"final-state-via": final_state_via} if final_state_via else None,
            **operation_option(operation + ".poll"),
        )
        poller = AsyncLROPoller(self._client, initial, lambda pipeline_response: pipeline_response, polling)
        try:
            async with asyncio.timeout(self._settings.lro_timeout):
                return await poller.result()
        except TimeoutError as exc:
            raise AzureError(
                status=0,
                code="OperationTimedOut",
                message=f"{operation} still running after {self._settings.lro_timeout:.0f}s; it is checked again on the next reconcile",
                kind=ErrorKind.TRANSIENT,
                operation=operation,
            ) from exc
        except CoreAzureError as exc:
            raise errors.from_exception(exc, operation) from exc


def poll_url(response: PipelineResponse) -> str | None:
    """The URL to follow a long-running operation with (Azure-AsyncOperation first, as azure-core does), or None
    when the response is already final."""
    if not needs_polling(response):
        return None
    headers = response.http_response.headers
    return headers.get("azure-asyncoperation") or headers.get("location")


def needs_polling(response: PipelineResponse) -> bool:
    http = response.http_response
    if http.status_code == 202:
        return True
    has_link = "azure-asyncoperation" in http.headers or "location" in http.headers
    return http.status_code in (201, 204) and has_link


def _text(http: Any) -> str | None:
    try:
        return http.text()
    except Exception:
        return None
