"""The identity the operator uses: workload identity when AKS injects it, otherwise DefaultAzureCredential."""

from __future__ import annotations

import pytest
from azure.identity.aio import DefaultAzureCredential, WorkloadIdentityCredential

from promptflow_netiso.azure import credentials
from promptflow_netiso.azure.clouds import AzureSettings

PUBLIC = AzureSettings().resolve_cloud()
WORKLOAD_ENV = {"AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token", "AZURE_CLIENT_ID": "c1", "AZURE_TENANT_ID": "t1"}


async def test_workload_identity_first_when_aks_injects_it():
    cred = credentials.build_credential(PUBLIC, WORKLOAD_ENV)
    try:
        assert isinstance(cred, WorkloadIdentityCredential)
    finally:
        await cred.close()


async def test_default_chain_otherwise():
    cred = credentials.build_credential(PUBLIC, {"AZURE_CLIENT_ID": "c1"})
    try:
        assert isinstance(cred, DefaultAzureCredential)
    finally:
        await cred.close()


def test_incomplete_workload_identity_names_what_is_missing():
    with pytest.raises(ValueError, match="AZURE_TENANT_ID"):
        credentials.build_credential(PUBLIC, {"AZURE_FEDERATED_TOKEN_FILE": "/t", "AZURE_CLIENT_ID": "c"})


async def test_custom_cloud_credentials_build():
    custom = AzureSettings(cloud="Custom", arm_endpoint="https://127.0.0.1:9", authority_host="https://127.0.0.1:9").resolve_cloud()
    for env in (WORKLOAD_ENV, {}):
        cred = credentials.build_credential(custom, env)
        await cred.close()


def test_description_names_ids_never_secrets():
    text = credentials.describe({"AZURE_CLIENT_ID": "c1", "AZURE_CLIENT_SECRET": "s3cr3t-value"})
    assert "c1" in text and "s3cr3t-value" not in text
    assert "WorkloadIdentityCredential" in credentials.describe(WORKLOAD_ENV)
