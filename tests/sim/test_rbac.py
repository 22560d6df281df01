"""ARM authorizes an RBAC-enforced principal (a namespace's own identity) by its role assignments, as Azure does."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity.aio import ClientSecretCredential

from .helpers import ML_API, ml_client, scopes
from .admin import unique_names

CONTRIBUTOR, READER = "b24988ac-6180-42a0-ab88-20f7382dd24c", "acdd72a7-3385-48ef-bd42-f606fba81ae7"


async def test_enforced_principal_reaches_only_what_its_roles_allow(azure_sim, sim_admin):
    sub, rg = unique_names("rbac")
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "ws-rbac")
    secret = "s~" + uuid.uuid4().hex
    app = await asyncio.to_thread(sim_admin.register_client, None, secret, None, None, True)
    credential = ClientSecretCredential(azure_sim.tenant_id, app["clientId"], secret, authority=azure_sim.url,
                                        disable_instance_discovery=True, connection_verify=azure_sim.ca_file)
    url = f"{azure_sim.url}{ws['id']}?api-version={ML_API}"
    async with credential, ml_client(azure_sim, credential) as client:
        from .arm_client import call

        with pytest.raises(HttpResponseError) as denied:
            await call(client, "GET", url)
        assert denied.value.status_code == 403 and denied.value.error.code == "AuthorizationFailed"
        assert (f"does not have authorization to perform action 'Microsoft.MachineLearningServices/workspaces/read' "
                f"over scope '{ws['id']}'") in denied.value.error.message

        await asyncio.to_thread(sim_admin.seed_role_assignment, f"/subscriptions/{sub}/resourceGroups/{rg}", READER,
                                app["objectId"])
        assert (await call(client, "GET", url))["name"] == "ws-rbac"
        with pytest.raises(HttpResponseError) as write:  # Reader reads, never writes
            await call(client, "PATCH", url, {"properties": {"managedNetwork": {"isolationMode": "AllowInternetOutbound"}}})
        assert write.value.status_code == 403

    log = [r for r in await asyncio.to_thread(sim_admin.requests) if sub in r["path"]]
    assert {r["principal"] for r in log} == {app["objectId"]}  # the log names the caller of every request
    assert [r["status"] for r in log] == [403, 200, 403]
