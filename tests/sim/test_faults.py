"""Fault injection: what clients see, that the SDK's retry policy copes, and that a seed makes it repeatable."""

from __future__ import annotations

import asyncio

import pytest

from . import Simulator
from .admin import SimAdminError
from .arm_client import begin, call
from .helpers import ML_API, access_token, ml_client, raw_session


def _url(sim, ws_id: str, suffix: str = "") -> str:
    return f"{sim.url}{ws_id}{suffix}?api-version={ML_API}"


@pytest.fixture
def workspace(sim_admin, sim_names):
    sub, rg = sim_names
    return sim_admin.seed_workspace(sub, rg, "wsfaults", isolation_mode="AllowOnlyApprovedOutbound")


async def test_server_errors_are_retried_by_the_sdk(azure_sim, sim_admin, workspace):
    ws_id = workspace["id"]
    await asyncio.to_thread(sim_admin.faults, f"{ws_id}$", "500", count=1, method="GET")
    await asyncio.to_thread(sim_admin.faults, r"^ml\.rule\.put$", "503", count=1)
    async with ml_client(azure_sim) as client:
        body = await call(client, "GET", _url(azure_sim, ws_id))
        rule = await (await begin(client, "PUT", _url(azure_sim, ws_id, "/outboundRules/retry"),
                                  {"properties": {"type": "FQDN", "destination": "example.net"}})).result()
    assert body["name"] == "wsfaults" and rule["name"] == "retry"
    entries = await asyncio.to_thread(sim_admin.requests)
    log = [(r["method"], r["status"], r["fault"]) for r in entries
           if r["route"] in ("ml.workspace.get", "ml.rule.put") and r["path"].startswith(ws_id)]
    assert log[:2] == [("GET", 500, "500"), ("GET", 200, None)]
    assert [(m, s, f) for m, s, f in log if m == "PUT"] == [("PUT", 503, "503"), ("PUT", 202, None)]


async def test_dropped_connections_and_slow_answers(azure_sim, sim_admin, workspace):
    ws_id = workspace["id"]
    await asyncio.to_thread(sim_admin.faults, f"{ws_id}/outboundRules$", "drop", count=2)
    await asyncio.to_thread(sim_admin.faults, f"{ws_id}$", "slow", count=1, delay_s=0.5)
    async with ml_client(azure_sim) as client:
        rules = await call(client, "GET", _url(azure_sim, ws_id, "/outboundRules"))
        body = await call(client, "GET", _url(azure_sim, ws_id))
    assert rules["value"] and body["name"] == "wsfaults"
    log = await asyncio.to_thread(sim_admin.requests)
    dropped = [r for r in log if r["fault"] == "drop" and r["path"].startswith(ws_id)]
    assert len(dropped) == 2 and all(r["status"] == 0 for r in dropped)
    assert [r["status"] for r in log if r["fault"] == "slow" and r["path"] == ws_id] == [200]


async def test_stuck_operation_keeps_answering_202_until_released(azure_sim, sim_admin, workspace):
    ws_id = workspace["id"]
    await asyncio.to_thread(sim_admin.faults, r"^ml\.rule\.put$", "stuck-lro", count=1)
    async with ml_client(azure_sim) as client:
        poller = await begin(client, "PUT", _url(azure_sim, ws_id, "/outboundRules/stuck"),
                             {"properties": {"type": "FQDN", "destination": "stuck.example.com"}},
                             final_state_via="location")
        await asyncio.sleep(1.5)  # well past the normal operation duration
        assert not poller.done()
        running = await asyncio.to_thread(sim_admin.operations)
        assert len(running) >= 1
        assert (await asyncio.to_thread(sim_admin.workspace, ws_id))["busyOperation"] is not None
        assert await asyncio.to_thread(sim_admin.complete_operations) >= 1
        rule = await poller.result()
    assert rule["properties"]["status"] == "Inactive"  # network not provisioned: the rule waits for it


async def _statuses(seed: int, n: int = 24) -> list[int]:
    sim = Simulator(seed=seed)
    await sim.start()
    try:
        sub = "6d7b5c2a-1111-4222-8333-444455556666"
        await asyncio.to_thread(sim.admin.seed_resource_group, sub, "rg")
        await asyncio.to_thread(sim.admin.faults, "resourceGroups/rg$", "500", 0.5)
        url = f"{sim.url}/subscriptions/{sub}/resourceGroups/rg?api-version=2024-03-01"
        async with raw_session(sim) as session:
            token = await access_token(sim, session)
            out = []
            for _ in range(n):
                async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
                    out.append(resp.status)
            return out
    finally:
        await sim.stop()


async def test_same_seed_injects_the_same_faults():
    first, again, other = await _statuses(3), await _statuses(3), await _statuses(4)
    assert first == again
    assert set(first) == {200, 500}
    assert first != other


async def test_chaos_profile_does_not_stop_the_sdk():
    sim = Simulator(seed=42, throttle=None)
    await sim.start()
    try:
        sub = "8a9b0c1d-2222-4333-8444-555566667777"
        ws = await asyncio.to_thread(sim.admin.seed_workspace, sub, "rg", "wschaos", isolation_mode="AllowInternetOutbound")
        kinds = {f["kind"] for f in await asyncio.to_thread(sim.admin.chaos)}
        assert kinds == {"429", "500", "503", "slow", "drop", "stuck-lro"}
        async with ml_client(sim) as client:
            names = [(await call(client, "GET", _url(sim, ws["id"])))["name"] for _ in range(30)]
        assert names == ["wschaos"] * 30
        injected = {r["fault"] for r in await asyncio.to_thread(sim.admin.requests)} - {None}
        assert injected & {"429", "500", "503", "drop"}  # faults happened, and were absorbed
    finally:
        await sim.stop()


def test_bad_fault_rules_are_refused(sim_admin):
    with pytest.raises(SimAdminError, match="unknown fault kind"):
        sim_admin.faults(".*", "teapot")
    with pytest.raises(SimAdminError, match="rate"):
        sim_admin.faults(".*", "500", 1.5)
    assert not [f for f in sim_admin.list_faults() if f["kind"] == "teapot"]
