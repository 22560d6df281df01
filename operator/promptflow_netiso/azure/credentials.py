"""The operator's Azure identity (azure-identity's async classes only: nothing blocks the event loop).

1. Workload identity, what AKS injects into the pod: AZURE_FEDERATED_TOKEN_FILE + AZURE_CLIENT_ID + AZURE_TENANT_ID.
2. Otherwise DefaultAzureCredential's chain (environment service principal, managed identity, Azure CLI...);
   the async chain has no interactive credential, so nothing ever waits for a browser.

The authority comes from the cloud; a custom cloud (the simulator, Azure Stack) also turns off instance discovery,
which would otherwise ask login.microsoftonline.com about an authority it does not know.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from azure.identity.aio import DefaultAzureCredential, WorkloadIdentityCredential

from .clouds import Cloud

WORKLOAD_IDENTITY_VARS = ("AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_ID", "AZURE_TENANT_ID")


def uses_workload_identity(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return bool(env.get("AZURE_FEDERATED_TOKEN_FILE"))


def build_credential(cloud: Cloud, environ: Mapping[str, str] | None = None, **pipeline_kwargs: Any) -> AsyncTokenCredential:
    """`pipeline_kwargs` (e.g. `transport=`) go to the credential's own HTTP pipeline."""
    env = os.environ if environ is None else environ
    common: dict[str, Any] = {"authority": cloud.authority_host, **pipeline_kwargs}
    if cloud.is_custom:
        common["disable_instance_discovery"] = True
    if uses_workload_identity(env):
        missing = [v for v in WORKLOAD_IDENTITY_VARS if not env.get(v)]
        if missing:
            raise ValueError(f"workload identity needs {', '.join(missing)} (AZURE_FEDERATED_TOKEN_FILE is set)")
        return WorkloadIdentityCredential(
            tenant_id=env["AZURE_TENANT_ID"],
            client_id=env["AZURE_CLIENT_ID"],
            token_file_path=env["AZURE_FEDERATED_TOKEN_FILE"],
            **common,
        )
    return DefaultAzureCredential(**common)


def describe(environ: Mapping[str, str] | None = None) -> str:
    """For the start-up log line: which identity is used (IDs only, never secrets)."""
    env = os.environ if environ is None else environ
    if uses_workload_identity(env):
        return f"WorkloadIdentityCredential(client_id={env.get('AZURE_CLIENT_ID')}, tenant_id={env.get('AZURE_TENANT_ID')})"
    if env.get("AZURE_CLIENT_ID") and (env.get("AZURE_CLIENT_SECRET") or env.get("AZURE_CLIENT_CERTIFICATE_PATH")):
        return f"DefaultAzureCredential(environment service principal client_id={env.get('AZURE_CLIENT_ID')})"
    return "DefaultAzureCredential(managed identity / developer chain)"
