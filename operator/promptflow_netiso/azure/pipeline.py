"""The ARM HTTP pipeline every Azure call goes through (ours and the azure-mgmt-* SDK clients').

Order of policies (outermost first):
  request id, headers, user agent, proxy, content decode
  OperationPolicy            bounded operation name into the context; counts credential failures
  BoundedRetryPolicy         429/5xx/connection retries; honours Retry-After but never sleeps longer than
                             `max_inline_retry_after` inside a handler (the 429 then reaches the caller as THROTTLED)
  AsyncARMChallengeAuthenticationPolicy   bearer token for the cloud's ARM scope (+ CAE challenges)
  SubscriptionLimitPolicy    per subscription: paced by token buckets inside ARM's (azure/limits.py), at most N
                             requests in flight (per attempt, not during retry sleeps)
  RequestMetricsPolicy       one observation per attempt: operation, status code, duration, throttling

Callers name the operation with `**operation_option("workspace.get")` on any request or SDK call: a bounded
label, never a URL.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.transport import AsyncHttpTransport
from azure.core.pipeline.policies import (
    AsyncHTTPPolicy,
    AsyncRetryPolicy,
    ContentDecodePolicy,
    HeadersPolicy,
    ProxyPolicy,
    RequestIdPolicy,
    UserAgentPolicy,
)
from azure.mgmt.core import AsyncARMPipelineClient
from azure.mgmt.core.policies import AsyncARMChallengeAuthenticationPolicy

from .. import __version__, metrics
from . import errors
from .clouds import AzureSettings, Cloud
from .limits import Limits, bucket_of, subscription_of
from .transport import SharedSession, SharedSessionTransport

log = logging.getLogger(__name__)

OPERATION_OPTION = "promptflow_netiso_operation"
_CONTEXT_KEY = "promptflow_netiso.operation"
UNNAMED_OPERATION = "unnamed"


def operation_option(name: str) -> dict[str, str]:
    """Keyword argument naming the operation of one request / SDK call / LRO poll (for metrics and logs)."""
    return {OPERATION_OPTION: name}


def operation_of(request: PipelineRequest) -> str:
    return request.context.get(_CONTEXT_KEY, UNNAMED_OPERATION)


class OperationPolicy(AsyncHTTPPolicy):
    """Moves the operation name from the call's options into the pipeline context (unknown options would reach
    aiohttp), and turns credential failures, which happen before any request is sent, into AzureError."""

    async def send(self, request: PipelineRequest) -> PipelineResponse:
        name = request.context.options.pop(OPERATION_OPTION, None)
        if name or _CONTEXT_KEY not in request.context:
            request.context[_CONTEXT_KEY] = name or UNNAMED_OPERATION
        try:
            return await self.next.send(request)
        except ClientAuthenticationError as exc:
            # Raised inside the pipeline only by the credential (an ARM 401 is a response here, not an exception):
            # translate it now, while it is still known to come from Entra ID and not from ARM.
            err = errors.credential_error(exc, request.context[_CONTEXT_KEY])
            metrics.observe_azure_auth_failure(err.code)
            raise err from exc


class BoundedRetryPolicy(AsyncRetryPolicy):
    """azure-core's retry, except that a Retry-After longer than `max_inline_retry_after` is not slept here:
    the response goes back to the caller, which raises THROTTLED with `retry_after` so the handler requeues."""

    def __init__(self, *, max_inline_retry_after: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_inline_retry_after = max_inline_retry_after

    def is_retry(self, settings: dict[str, Any], response: PipelineResponse) -> bool:
        retry_after = errors.parse_retry_after(response.http_response.headers)
        if retry_after is not None and retry_after > self.max_inline_retry_after and response.http_response.status_code >= 400:
            return False
        return super().is_retry(settings, response)


class SubscriptionLimitPolicy(AsyncHTTPPolicy):
    def __init__(self, limits: Limits) -> None:
        super().__init__()
        self._limits = limits

    async def send(self, request: PipelineRequest) -> PipelineResponse:
        http = request.http_request
        subscription = subscription_of(http.url)
        await self._limits.pace(subscription, http.method)
        async with self._limits.subscription(subscription):
            response = await self.next.send(request)
        if subscription:
            headers = response.http_response.headers
            kind = bucket_of(http.method)
            self._limits.bucket(subscription, kind).observe(
                remaining=_float(headers.get(f"x-ms-ratelimit-remaining-subscription-{kind}")),
                retry_after=errors.parse_retry_after(headers) if response.http_response.status_code == 429 else None,
                now=time.monotonic())
        return response


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class RequestMetricsPolicy(AsyncHTTPPolicy):
    async def send(self, request: PipelineRequest) -> PipelineResponse:
        operation = operation_of(request)
        started = time.monotonic()
        try:
            response = await self.next.send(request)
        except Exception:
            metrics.observe_azure_request(operation, "error", time.monotonic() - started)
            raise
        elapsed = time.monotonic() - started
        http = response.http_response
        status = http.status_code
        metrics.observe_azure_request(operation, str(status), elapsed)
        log.debug("azure %s %s -> %s in %.3fs", operation, request.http_request.method, status, elapsed)
        if status == 429:
            metrics.observe_azure_throttled(operation, errors.parse_retry_after(http.headers) or 0.0)
        elif status in (401, 403):
            code, _ = errors.parse_error_body(_body_text(http))
            metrics.observe_azure_auth_failure(code or str(status))
        return response


def _body_text(http_response: Any) -> str | None:
    try:
        return http_response.text()
    except Exception:  # streamed or not yet read: the status code is enough
        return None


def build_policies(credential: AsyncTokenCredential, cloud: Cloud, settings: AzureSettings, limits: Limits) -> list:
    """A fresh policy list: azure-core chains policy instances, so every client needs its own."""
    return [
        RequestIdPolicy(),
        HeadersPolicy(),
        UserAgentPolicy(sdk_moniker=f"promptflow-netiso/{__version__}"),
        ProxyPolicy(),
        ContentDecodePolicy(),
        OperationPolicy(),
        BoundedRetryPolicy(
            retry_total=settings.retry_total,
            retry_backoff_factor=0.8,
            retry_backoff_max=settings.retry_backoff_max,
            max_inline_retry_after=settings.max_inline_retry_after,
        ),
        AsyncARMChallengeAuthenticationPolicy(credential, cloud.arm_scope),
        SubscriptionLimitPolicy(limits),
        RequestMetricsPolicy(),
    ]


def transport_for(session: SharedSession, settings: AzureSettings) -> SharedSessionTransport:
    return SharedSessionTransport(
        session,
        connection_timeout=min(10.0, settings.request_timeout),
        read_timeout=settings.request_timeout,
    )


def client_kwargs(
    credential: AsyncTokenCredential, cloud: Cloud, settings: AzureSettings, limits: Limits, transport: AsyncHttpTransport
) -> dict:
    """Keyword arguments that give an azure-mgmt-* SDK client exactly our pipeline, endpoint and transport."""
    return {
        "base_url": cloud.arm_endpoint,
        "credential_scopes": [cloud.arm_scope],
        "policies": build_policies(credential, cloud, settings, limits),
        "transport": transport,
    }


def build_arm_client(
    credential: AsyncTokenCredential, cloud: Cloud, settings: AzureSettings, limits: Limits, transport: AsyncHttpTransport
) -> AsyncARMPipelineClient:
    """The process's ARM pipeline client for the calls no allowed SDK covers (Machine Learning, PE connections, AKS)."""
    return AsyncARMPipelineClient(
        base_url=cloud.arm_endpoint,
        policies=build_policies(credential, cloud, settings, limits),
        transport=transport,
    )
