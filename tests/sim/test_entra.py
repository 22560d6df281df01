"""Entra ID as azure-identity sees it, and ARM's bearer-token checks."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential as SyncClientSecretCredential
from azure.identity.aio import ClientSecretCredential

from . import Simulator
from .arm_client import call
from .helpers import ML_API, access_token, ml_client, raw_session, scopes, workload_credential

REPO = Path(__file__).resolve().parents[2]


async def test_workload_identity_exchanges_the_federated_token(azure_sim):
    credential = workload_credential(azure_sim)
    async with credential:
        token = await credential.get_token(*scopes(azure_sim))
    assert token.token.count(".") == 2
    assert token.expires_on > time.time() + 3000  # default lifetime 3600 s


async def test_wrong_client_secret_is_refused(azure_sim):
    credential = ClientSecretCredential(azure_sim.tenant_id, azure_sim.client_id, "not-the-secret", authority=azure_sim.url,
                                        disable_instance_discovery=True, connection_verify=azure_sim.ca_file)
    async with credential:
        with pytest.raises(ClientAuthenticationError) as err:
            await credential.get_token(*scopes(azure_sim))
    assert "AADSTS7000215" in str(err.value)


async def test_federated_token_must_match_a_federated_credential(azure_sim, sim_admin, tmp_path):
    foreign = tmp_path / "foreign-token"
    foreign.write_text(await asyncio.to_thread(sim_admin.federated_token, "system:serviceaccount:other:intruder"))
    expired = tmp_path / "expired-token"
    expired.write_text(await asyncio.to_thread(sim_admin.federated_token, None, -10))
    for path, code in ((foreign, "AADSTS70021"), (expired, "AADSTS700024")):
        credential = workload_credential(azure_sim, str(path))
        async with credential:
            with pytest.raises(ClientAuthenticationError) as err:
                await credential.get_token(*scopes(azure_sim))
        assert code in str(err.value)


async def test_tokens_only_for_the_arm_resource_and_the_right_tenant(azure_sim):
    async with raw_session(azure_sim) as session:
        form = {"grant_type": "client_credentials", "client_id": azure_sim.client_id,
                "client_secret": azure_sim.client_secret, "scope": "https://vault.azure.net/.default"}
        async with session.post(f"{azure_sim.url}/{azure_sim.tenant_id}/oauth2/v2.0/token", data=form) as resp:
            wrong_resource = (resp.status, await resp.json())
        form["scope"] = azure_sim.url + "/.default"
        async with session.post(f"{azure_sim.url}/other-tenant/oauth2/v2.0/token", data=form) as resp:
            wrong_tenant = (resp.status, await resp.json())
    assert wrong_resource[0] == 400 and wrong_resource[1]["error"] == "invalid_resource"
    assert wrong_tenant[0] == 400 and wrong_tenant[1]["error_codes"] == [90002]


async def test_arm_requires_a_valid_bearer_token(azure_sim, sim_admin, sim_names):
    sub, rg = sim_names
    ws = await asyncio.to_thread(sim_admin.seed_workspace, sub, rg, "wsauth")
    url = f"{azure_sim.url}{ws['id']}?api-version={ML_API}"
    async with raw_session(azure_sim) as session:
        async with session.get(url) as resp:
            missing = (resp.status, (await resp.json())["error"]["code"], resp.headers.get("WWW-Authenticate", ""))
        async with session.get(url, headers={"Authorization": "Bearer not.a.token"}) as resp:
            garbage = (resp.status, (await resp.json())["error"]["code"])
        token = await access_token(azure_sim, session)
        tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        async with session.get(url, headers={"Authorization": f"Bearer {tampered}"}) as resp:
            forged = (resp.status, (await resp.json())["error"]["code"])
        async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
            ok = resp.status
    assert missing[:2] == (401, "AuthenticationFailed")
    assert missing[2].startswith("Bearer authorization_uri=") and azure_sim.tenant_id in missing[2]
    assert garbage == (401, "InvalidAuthenticationToken")
    assert forged == (401, "InvalidAuthenticationToken")
    assert ok == 200


async def test_expired_tokens_are_rejected_and_the_sdk_refreshes():
    sim = Simulator(seed=11, token_lifetime_s=2)
    await sim.start()
    try:
        sub, rg = "5b0f4f52-8d8e-4d8e-9a57-0f1d7bfa0a11", "rg-refresh"
        ws = await asyncio.to_thread(sim.admin.seed_workspace, sub, rg, "wsrefresh")
        url = f"{sim.url}{ws['id']}?api-version={ML_API}"
        async with raw_session(sim) as session:
            stale = await access_token(sim, session)
            async with ml_client(sim) as client:
                first = await call(client, "GET", url)
                await asyncio.sleep(2.5)  # let every token issued so far expire
                second = await call(client, "GET", url)
            async with session.get(url, headers={"Authorization": f"Bearer {stale}"}) as resp:
                expired = (resp.status, (await resp.json())["error"]["code"])
        assert first["name"] == second["name"] == "wsrefresh"
        assert sim.entra.tokens_issued == 3  # the raw token, then the SDK's first and its refreshed one
        assert expired == (401, "ExpiredAuthenticationToken")
        assert [r["status"] for r in await asyncio.to_thread(sim.admin.requests)] == [200, 200, 401]
    finally:
        await sim.stop()


def test_sync_msal_credential_uses_discovery_and_requests_ca_bundle(azure_sim, sim_admin, monkeypatch):
    # The sync credential goes through MSAL (OpenID discovery) and `requests`, which trusts REQUESTS_CA_BUNDLE.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", azure_sim.ca_bundle_file)
    before = sim_admin.last_request_seq()
    credential = SyncClientSecretCredential(azure_sim.tenant_id, azure_sim.client_id, azure_sim.client_secret,
                                            authority=azure_sim.url, disable_instance_discovery=True)
    token = credential.get_token(*scopes(azure_sim))
    entra = [r["path"] for r in sim_admin.requests(before, service="entra")]
    assert any(p.endswith("/v2.0/.well-known/openid-configuration") for p in entra)
    assert any(p.endswith("/oauth2/v2.0/token") for p in entra)
    sub = "0c7f3e3a-53a3-4ad8-8c2e-7d5c1b3f9e21"
    sim_admin.seed_resource_group(sub, "rg-sync")
    resp = requests.get(f"{azure_sim.url}/subscriptions/{sub}/resourceGroups/rg-sync?api-version=2024-03-01",
                        headers={"Authorization": f"Bearer {token.token}"}, timeout=30)
    assert resp.status_code == 200 and resp.json()["name"] == "rg-sync"


def test_a_process_configured_only_by_env_reaches_arm(azure_sim, sim_admin, sim_names):
    """What the operator gets: env vars only (custom cloud, workload identity, SSL_CERT_FILE), no code changes."""
    sub, rg = sim_names
    ws = sim_admin.seed_workspace(sub, rg, "wsenv")
    script = textwrap.dedent(f"""
        import asyncio, json, os
        from azure.identity.aio import WorkloadIdentityCredential
        from tests.sim.arm_client import arm_pipeline_client, call

        async def main():
            endpoint = os.environ["PROMPTFLOW_NETISO_ARM_ENDPOINT"]
            async with WorkloadIdentityCredential(disable_instance_discovery=True) as credential:
                client = arm_pipeline_client(endpoint, credential, [endpoint + "/.default"])
                async with client:
                    body = await call(client, "GET", endpoint + "{ws['id']}?api-version={ML_API}")
            print(json.dumps(body["properties"]["managedNetwork"]["isolationMode"]))

        asyncio.run(main())
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "SSL_CERT", "REQUESTS_CA"))}
    env.update(azure_sim.env())
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == "Disabled"
