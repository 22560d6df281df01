"""A real azure-mgmt-core pipeline for the Machine Learning calls in tests (there is no current ML SDK).

Built exactly as generated management SDKs build theirs: bearer challenge authentication, ARM retry policy,
and AsyncARMPolling for long-running operations. Nothing here knows it talks to a simulator.
"""

from __future__ import annotations

from typing import Any

from azure.core.configuration import Configuration
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline import policies
from azure.core.polling import AsyncLROPoller
from azure.core.rest import HttpRequest
from azure.mgmt.core import AsyncARMPipelineClient
from azure.mgmt.core.exceptions import ARMErrorFormat
from azure.mgmt.core.policies import ARMHttpLoggingPolicy, AsyncARMChallengeAuthenticationPolicy
from azure.mgmt.core.polling.async_arm_polling import AsyncARMPolling


def arm_pipeline_client(base_url: str, credential, scopes: list[str], **kwargs: Any) -> AsyncARMPipelineClient:
    config: Configuration = Configuration(**kwargs)
    config.headers_policy = policies.HeadersPolicy(**kwargs)
    config.user_agent_policy = policies.UserAgentPolicy("promptflow-netiso-sim-tests", **kwargs)
    config.proxy_policy = policies.ProxyPolicy(**kwargs)
    config.logging_policy = policies.NetworkTraceLoggingPolicy(**kwargs)
    config.http_logging_policy = ARMHttpLoggingPolicy(**kwargs)
    config.retry_policy = policies.AsyncRetryPolicy(**kwargs)
    config.custom_hook_policy = policies.CustomHookPolicy(**kwargs)
    config.redirect_policy = policies.AsyncRedirectPolicy(**kwargs)
    config.authentication_policy = AsyncARMChallengeAuthenticationPolicy(credential, *scopes, **kwargs)
    return AsyncARMPipelineClient(base_url=base_url, config=config, **kwargs)


def _deserialize(pipeline_response) -> Any:
    response = pipeline_response.http_response
    return response.json() if response.content else None


async def call(client: AsyncARMPipelineClient, method: str, url: str, body: Any = None) -> Any:
    """One request through the pipeline; raises HttpResponseError (ARM error format) on 4xx/5xx."""
    request = HttpRequest(method, url, json=body) if body is not None else HttpRequest(method, url)
    response = await client.send_request(request)
    if response.status_code >= 400:
        raise HttpResponseError(response=response, error_format=ARMErrorFormat)
    return response.json() if response.content else None


async def begin(client: AsyncARMPipelineClient, method: str, url: str, body: Any = None,
                final_state_via: str | None = None, polling_interval_s: float = 1.0) -> AsyncLROPoller:
    """Start a long-running operation and return the SDK's poller (honours Retry-After, Location, Azure-AsyncOperation)."""
    request = HttpRequest(method, url, json=body) if body is not None else HttpRequest(method, url)
    pipeline_response = await client.send_request(request, _return_pipeline_response=True)
    response = pipeline_response.http_response
    if response.status_code not in (200, 201, 202, 204):
        raise HttpResponseError(response=response, error_format=ARMErrorFormat)
    options = {"final-state-via": final_state_via} if final_state_via else None
    polling = AsyncARMPolling(polling_interval_s, lro_options=options)
    return AsyncLROPoller(client, pipeline_response, _deserialize, polling)
