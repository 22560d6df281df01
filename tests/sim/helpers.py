"""Test helpers: real azure-identity credentials and ARM clients pointed at a simulator."""

from __future__ import annotations

import ssl
from contextlib import asynccontextmanager
from typing import AsyncIterator

import aiohttp
from azure.identity.aio import ClientSecretCredential, WorkloadIdentityCredential

from .arm_client import arm_pipeline_client
from .server import Simulator

ML_API = "2025-12-01"


def workspace_id(sub: str, rg: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{name}"


def scopes(sim: Simulator) -> list[str]:
    return [sim.url + "/.default"]


def secret_credential(sim: Simulator) -> ClientSecretCredential:
    # The custom cloud exactly as the operator configures it: authority host = the simulator, no instance discovery.
    return ClientSecretCredential(sim.tenant_id, sim.client_id, sim.client_secret, authority=sim.url,
                                  disable_instance_discovery=True, connection_verify=sim.ca_file)


def workload_credential(sim: Simulator, token_file: str | None = None) -> WorkloadIdentityCredential:
    return WorkloadIdentityCredential(tenant_id=sim.tenant_id, client_id=sim.client_id,
                                      token_file_path=token_file or sim.federated_token_file, authority=sim.url,
                                      disable_instance_discovery=True, connection_verify=sim.ca_file)


@asynccontextmanager
async def ml_client(sim: Simulator, credential=None, **kwargs) -> AsyncIterator:
    cred = credential or workload_credential(sim)
    client = arm_pipeline_client(sim.url, cred, scopes(sim), connection_verify=sim.ca_file, **kwargs)
    try:
        yield client
    finally:
        await client.close()
        if credential is None:
            await cred.close()


@asynccontextmanager
async def raw_session(sim: Simulator) -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session trusting the simulator: for checks below the SDK (headers, exact status codes)."""
    connector = aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=sim.ca_file))
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


async def access_token(sim: Simulator, session: aiohttp.ClientSession) -> str:
    async with session.post(f"{sim.url}/{sim.tenant_id}/oauth2/v2.0/token",
                            data={"grant_type": "client_credentials", "client_id": sim.client_id,
                                  "client_secret": sim.client_secret, "scope": sim.url + "/.default"}) as resp:
        assert resp.status == 200, await resp.text()
        return (await resp.json())["access_token"]
