"""The admin API as tests and the demo use it: request log, per-caller denials, reset, input validation."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity.aio import ClientSecretCredential

from . import Simulator
from .admin import SimAdminError
from .arm_client import call
from .helpers import ML_API, ml_client


async def test_request_log_counts_writes_since_a_point(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "wslog")
    mark = await asyncio.to_thread(sim_admin.last_request_seq)
    async with ml_client(azure_sim) as client:
        await call(client, "GET", f"{azure_sim.url}{ws['id']}?api-version={ML_API}")
        await call(client, "PATCH", f"{azure_sim.url}{ws['id']}?api-version={ML_API}", {"tags": {"team": "ml"}})
    entries = await asyncio.to_thread(sim_admin.requests, mark)
    assert [(e["method"], e["status"], e["route"]) for e in entries] == [
        ("GET", 200, "ml.workspace.get"), ("PATCH", 200, "ml.workspace.patch")]  # no network change: not long-running
    assert all(e["seq"] > mark and e["apiVersion"] == ML_API for e in entries)
    tokens = await asyncio.to_thread(sim_admin.requests, mark, "entra")
    assert all(e["path"].endswith("/oauth2/v2.0/token") for e in tokens)


async def test_denial_can_target_one_caller(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "wsdeny")
    secret = "other-" + uuid.uuid4().hex
    other = await asyncio.to_thread(sim_admin.register_client, None, secret)
    await asyncio.to_thread(sim_admin.deny, f"/subscriptions/{sub}", ["Microsoft.MachineLearningServices/*"],
                            other["objectId"])
    url = f"{azure_sim.url}{ws['id']}?api-version={ML_API}"
    credential = ClientSecretCredential(azure_sim.tenant_id, other["clientId"], secret, authority=azure_sim.url,
                                        disable_instance_discovery=True, connection_verify=azure_sim.ca_file)
    async with credential, ml_client(azure_sim, credential) as client:
        with pytest.raises(HttpResponseError) as err:
            await call(client, "GET", url)
    async with ml_client(azure_sim) as client:
        assert (await call(client, "GET", url))["name"] == "wsdeny"  # the operator's own identity is unaffected
    assert err.value.status_code == 403 and other["objectId"] in err.value.error.message


async def test_reset_forgets_the_estate_but_keeps_identities():
    sim = Simulator(seed=9)
    await sim.start()
    try:
        sub = "1a2b3c4d-0000-4000-8000-00000000aaaa"
        ws = await asyncio.to_thread(sim.admin.seed_workspace, sub, "rg", "wsreset")
        async with ml_client(sim) as client:
            await call(client, "GET", f"{sim.url}{ws['id']}?api-version={ML_API}")
            await asyncio.to_thread(sim.admin.reset)
            with pytest.raises(HttpResponseError) as err:
                await call(client, "GET", f"{sim.url}{ws['id']}?api-version={ML_API}")
        assert err.value.error.code == "SubscriptionNotFound"
        assert [e["status"] for e in await asyncio.to_thread(sim.admin.requests)] == [404]
    finally:
        await sim.stop()


def test_bad_admin_input_is_refused_with_the_reason(sim_admin, sim_names):
    sub, rg = sim_names
    with pytest.raises(SimAdminError, match="unknown target"):
        sim_admin.seed_connection(f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Search/searchServices/x",
                                  "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/privateEndpoints/z")
    with pytest.raises(SimAdminError, match="peBehaviour"):
        sim_admin.seed_target(f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Search/searchServices/x",
                              "maybe")
    with pytest.raises(SimAdminError, match="hubId"):
        sim_admin.seed_workspace(sub, rg, "orphan", kind="Project")
