"""The ARM pipeline's behaviour against an in-memory ARM: retries, throttling, LRO, paging, tokens, metrics."""

from __future__ import annotations

import pytest

from promptflow_netiso.azure.errors import AzureError, ErrorKind
from promptflow_netiso.azure.ml import workspace_path

from .fake_arm import ARM, TOKEN, FakeArm, FakeCredential, Reply, arm_error, fake_azure

WS = workspace_path("sub-1", "rg", "ws")
WORKSPACE = {"id": WS, "name": "ws", "properties": {"managedNetwork": {"isolationMode": "AllowInternetOutbound"}}}


async def test_get_sends_bearer_token_for_the_cloud_scope_and_api_version(metric_calls):
    arm = FakeArm().on("GET", WS, Reply(200, WORKSPACE))
    cred = FakeCredential()
    async with fake_azure(arm, cred) as azure:
        ws = await azure.ml.get_workspace("sub-1", "rg", "ws")
    assert ws.managed_network.isolation_mode == "AllowInternetOutbound"
    request = arm.calls("GET", WS)[0]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "api-version=2025-12-01" in request.url and request.url.startswith(ARM + "/subscriptions/")
    assert cred.scopes[0] == (ARM + "/.default",)
    assert metric_calls.requests == [("workspace.get", "200")]


async def test_short_retry_after_is_waited_inline_and_counted(metric_calls):
    arm = FakeArm().on("GET", WS, arm_error(429, "TooManyRequests", "slow down", **{"Retry-After": "3"}), Reply(200, WORKSPACE))
    async with fake_azure(arm) as azure:
        await azure.ml.get_workspace("sub-1", "rg", "ws")
    assert arm.sleeps == [3.0]
    assert metric_calls.requests == [("workspace.get", "429"), ("workspace.get", "200")]
    assert metric_calls.throttled == [("workspace.get", 3.0)]


async def test_long_retry_after_is_not_slept_in_a_handler(metric_calls):
    arm = FakeArm().on("GET", WS, arm_error(429, "TooManyRequests", "Number of read requests exceeded the limit.", **{"Retry-After": "120"}))
    async with fake_azure(arm) as azure:
        with pytest.raises(AzureError) as info:
            await azure.ml.get_workspace("sub-1", "rg", "ws")
    err = info.value
    assert (err.kind, err.retry_after, str(err)) == (ErrorKind.THROTTLED, 120.0, "TooManyRequests: Number of read requests exceeded the limit.")
    assert len(arm.calls()) == 1 and arm.sleeps == []
    assert metric_calls.throttled == [("workspace.get", 120.0)]


async def test_server_errors_retry_then_surface_as_transient():
    arm = FakeArm().on("GET", WS, arm_error(503, "ServiceUnavailable", "try later"))
    async with fake_azure(arm, retry_total=2) as azure:
        with pytest.raises(AzureError) as info:
            await azure.ml.get_workspace("sub-1", "rg", "ws")
    assert info.value.kind is ErrorKind.TRANSIENT and len(arm.calls()) == 3


async def test_403_is_not_retried_and_counted_as_auth_failure(metric_calls):
    message = "The client 'op' does not have authorization to perform action 'Microsoft.MachineLearningServices/workspaces/read'."
    arm = FakeArm().on("GET", WS, arm_error(403, "AuthorizationFailed", message))
    async with fake_azure(arm) as azure:
        with pytest.raises(AzureError) as info:
            await azure.ml.get_workspace("sub-1", "rg", "ws")
    assert str(info.value) == f"AuthorizationFailed: {message}" and info.value.kind is ErrorKind.USER_FIXABLE
    assert len(arm.calls()) == 1 and metric_calls.auth_failures == ["AuthorizationFailed"]
    assert TOKEN not in repr(info.value) + str(info.value)


async def test_credential_failure_is_user_fixable_and_counted(metric_calls):
    from azure.core.exceptions import ClientAuthenticationError

    arm = FakeArm()
    cred = FakeCredential(ClientAuthenticationError("ClientSecretCredential.get_token failed: AADSTS7000215: Invalid client secret provided."))
    async with fake_azure(arm, cred) as azure:
        with pytest.raises(AzureError) as info:
            await azure.ml.get_workspace("sub-1", "rg", "ws")
    assert info.value.kind is ErrorKind.USER_FIXABLE and "AADSTS7000215" in str(info.value)
    assert arm.calls() == [] and metric_calls.auth_failures == ["AuthenticationFailed"]


async def test_lro_follows_location_with_capped_retry_after(metric_calls):
    rule_path = WS + "/outboundRules/r1"
    location = f"{ARM}/subscriptions/sub-1/providers/Microsoft.MachineLearningServices/locations/x/operationResults/op1"
    rule = {"name": "r1", "properties": {"type": "FQDN", "destination": "a.example.com", "category": "UserDefined", "status": "Active"}}
    arm = (
        FakeArm()
        .on("PUT", rule_path, Reply(202, None, {"Location": location, "Retry-After": "3"}))
        .on("GET", "/subscriptions/sub-1/providers/Microsoft.MachineLearningServices/locations/x/operationResults/op1",
            Reply(202, None, {"Location": location, "Retry-After": "100"}),
            Reply(202, None, {"Location": location, "Retry-After": "1"}),
            Reply(200, rule))
    )
    async with fake_azure(arm) as azure:
        result = await azure.ml.put_outbound_rule("sub-1", "rg", "ws", "r1", rule["properties"])
    assert (result.name, result.status, result.destination) == ("r1", "Active", "a.example.com")
    # Retry-After honoured, the initial 202's too (azure-core alone polls at once), never more than lro_poll_max
    assert arm.sleeps == [3.0, 15.0, 1.0]
    assert [op for op, _ in metric_calls.requests] == ["outboundRule.put"] + ["outboundRule.put.poll"] * 3


async def test_lro_poll_urls_outside_arm_are_refused():
    arm = FakeArm().on("PATCH", WS, Reply(202, None, {"Location": "https://evil.example/steal"}))
    async with fake_azure(arm) as azure:
        with pytest.raises(AzureError) as info:
            await azure.ml.set_isolation_mode("sub-1", "rg", "ws", "AllowOnlyApprovedOutbound")
    assert info.value.code == "UntrustedUrl"
    assert all(r.url.startswith(ARM) for r in arm.requests)


async def test_lro_failure_reports_the_operation_error():
    op = "/subscriptions/sub-1/providers/Microsoft.MachineLearningServices/locations/x/workspaceOperationsStatus/1"
    arm = (
        FakeArm()
        .on("PATCH", WS, Reply(202, None, {"Azure-AsyncOperation": ARM + op}))
        .on("GET", op, Reply(200, {"status": "Failed", "error": {"code": "ManagedNetworkUpdateFailed", "message": "cannot downgrade"}}))
    )
    async with fake_azure(arm) as azure:
        with pytest.raises(AzureError) as info:
            await azure.ml.set_isolation_mode("sub-1", "rg", "ws", "AllowInternetOutbound")
    assert str(info.value) == "ManagedNetworkUpdateFailed: cannot downgrade" and info.value.kind is ErrorKind.USER_FIXABLE


async def test_lro_that_never_ends_gives_up_after_lro_timeout():
    op = "/subscriptions/sub-1/operationResults/forever"
    arm = FakeArm().on("PATCH", WS, Reply(202, None, {"Location": ARM + op})).on("GET", op, Reply(202, None, {"Location": ARM + op}))

    async def never_ending_sleep(duration):  # each poll "waits" on the real loop so asyncio.timeout can fire
        arm.sleeps.append(duration)
        import asyncio

        await asyncio.sleep(0.01)

    arm.sleep = never_ending_sleep
    async with fake_azure(arm, lro_timeout=0.05) as azure:
        with pytest.raises(AzureError) as info:
            await azure.ml.set_isolation_mode("sub-1", "rg", "ws", "AllowOnlyApprovedOutbound")
    assert info.value.code == "OperationTimedOut" and info.value.kind is ErrorKind.TRANSIENT


async def test_list_follows_next_link():
    rules = WS + "/outboundRules"
    page2 = f"{ARM}/subscriptions/sub-1/page2?api-version=2025-12-01&$skipToken=abc"

    def rule(name):
        return {"name": name, "properties": {"type": "FQDN", "category": "UserDefined", "destination": f"{name}.example.com"}}

    arm = (
        FakeArm()
        .on("GET", rules, Reply(200, {"value": [rule("a"), rule("b")], "nextLink": page2}))
        .on("GET", "/subscriptions/sub-1/page2", Reply(200, {"value": [rule("c")]}))
    )
    async with fake_azure(arm) as azure:
        listed = await azure.ml.list_outbound_rules("sub-1", "rg", "ws")
    assert [r.name for r in listed] == ["a", "b", "c"]
    assert arm.calls("GET", "/subscriptions/sub-1/page2")[0].url == page2  # nextLink used as given


async def test_requests_per_subscription_share_one_semaphore():
    arm = FakeArm().on("GET", WS, Reply(200, WORKSPACE))
    async with fake_azure(arm, max_concurrency_per_subscription=1) as azure:
        sem = azure.limits.subscription("SUB-1")
        await sem.acquire()  # hold the only slot: the call must wait for it
        import asyncio

        call = asyncio.create_task(azure.ml.get_workspace("sub-1", "rg", "ws"))
        for _ in range(20):
            await asyncio.sleep(0)
        assert arm.calls() == []
        sem.release()
        await call
    assert len(arm.calls()) == 1
