"""ARM manners on every route: error envelope, request IDs, 404 flavours, api-version checks, throttling."""

from __future__ import annotations

import asyncio

from . import Simulator
from .helpers import ML_API, access_token, raw_session
from .throttle import Bucket, ThrottleLimits


async def _get(session, url, token, method="GET", **kwargs):
    async with session.request(method, url, headers={"Authorization": f"Bearer {token}"}, **kwargs) as resp:
        body = await resp.json() if resp.content_type == "application/json" else None
        return resp.status, body, resp.headers


async def test_not_found_flavours_use_the_arm_error_envelope(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "wsmanners")
    ws_base = f"/providers/Microsoft.MachineLearningServices/workspaces/wsmanners?api-version={ML_API}"
    async with raw_session(azure_sim) as session:
        token = await access_token(azure_sim, session)
        cases = {
            "SubscriptionNotFound": f"/subscriptions/9d1bd7b4-32e0-4c6c-bf6b-2c4b5a1f0000/resourceGroups/{rg}{ws_base}",
            "ResourceGroupNotFound": f"/subscriptions/{sub}/resourceGroups/nope{ws_base}",
            "ResourceNotFound": ws["id"].replace("/wsmanners", "/other") + f"?api-version={ML_API}",
        }
        results = {code: await _get(session, azure_sim.url + path, token) for code, path in cases.items()}
        exact = await _get(session, f"{azure_sim.url}{ws['id'].upper()}?api-version={ML_API}", token)
    for code, (status, body, headers) in results.items():
        assert status == 404
        assert set(body) == {"error"} and body["error"]["code"] == code
        assert isinstance(body["error"]["message"], str) and body["error"]["details"] == []
        assert headers["x-ms-request-id"]
    assert exact[0] == 200 and exact[1]["name"] == "wsmanners"  # ARM paths are case-insensitive


async def test_api_version_is_required_and_must_be_known(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "wsversions")
    async with raw_session(azure_sim) as session:
        token = await access_token(azure_sim, session)
        missing = await _get(session, f"{azure_sim.url}{ws['id']}", token)
        unknown = await _get(session, f"{azure_sim.url}{ws['id']}?api-version=2018-01-01", token)
        newer = await _get(session, f"{azure_sim.url}{ws['id']}?api-version=2026-07-01", token)
        wrong_method = await _get(session, f"{azure_sim.url}{ws['id']}?api-version={ML_API}", token, method="DELETE")
    assert (missing[0], missing[1]["error"]["code"]) == (400, "MissingApiVersionParameter")
    assert (unknown[0], unknown[1]["error"]["code"]) == (400, "NoRegisteredProviderFound")
    assert "2025-12-01" in unknown[1]["error"]["message"]
    assert newer[0] == 200
    assert wrong_method[0] == 405 and wrong_method[2]["x-ms-request-id"]


async def test_token_bucket_throttles_per_subscription_with_retry_after():
    limits = ThrottleLimits(reads=Bucket(3, 0.5), writes=Bucket(200, 10), deletes=Bucket(200, 10))
    sim = Simulator(seed=5, throttle=limits)
    await sim.start()
    try:
        busy, calm = "3f1c3a7e-0000-4000-8000-000000000001", "3f1c3a7e-0000-4000-8000-000000000002"
        for sub in (busy, calm):
            await asyncio.to_thread(sim.admin.seed_resource_group, sub, "rg")
        async with raw_session(sim) as session:
            token = await access_token(sim, session)
            url = f"{sim.url}/subscriptions/{busy}/resourceGroups/rg?api-version=2024-03-01"
            answers = [await _get(session, url, token) for _ in range(4)]
            other = await _get(session, f"{sim.url}/subscriptions/{calm}/resourceGroups/rg?api-version=2024-03-01", token)
        remaining = [a[2].get("x-ms-ratelimit-remaining-subscription-reads") for a in answers]
        assert [a[0] for a in answers] == [200, 200, 200, 429]
        assert remaining == ["2", "1", "0", "0"]
        assert answers[3][1]["error"]["code"] == "SubscriptionRequestsThrottled"
        assert int(answers[3][2]["Retry-After"]) >= 1
        assert other[0] == 200  # buckets are per subscription
    finally:
        await sim.stop()


async def test_every_response_carries_a_request_id_and_is_logged(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "wsids")
    before = await asyncio.to_thread(sim_admin.last_request_seq)
    async with raw_session(azure_sim) as session:
        token = await access_token(azure_sim, session)
        ok = await _get(session, f"{azure_sim.url}{ws['id']}?api-version={ML_API}", token)
        bad = await _get(session, f"{azure_sim.url}{ws['id']}/outboundRules/x?api-version={ML_API}", token,
                         method="PUT", data=b"{not json")
    log = await asyncio.to_thread(sim_admin.requests, before)
    assert ok[2]["x-ms-request-id"] != bad[2]["x-ms-request-id"]
    assert [(r["method"], r["status"], r["apiVersion"]) for r in log] == [("GET", 200, ML_API), ("PUT", 400, ML_API)]
    assert [r["requestId"] for r in log] == [ok[2]["x-ms-request-id"], bad[2]["x-ms-request-id"]]
