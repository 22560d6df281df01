"""A status write ahead of kopf's end-of-handler patch, for facts that must be on record before an Azure call
returns or a process may die (an approval about to be sent, the poll URL of one that runs). Kubernetes only; the
sync client runs in a worker thread so the event loop never blocks."""

from __future__ import annotations

import asyncio
from typing import Any

from ..model import GROUP, VERSION

_api: Any = None


class StatusPatchError(Exception):
    pass


def _load_api() -> Any:
    """A client of its own (in-cluster service account, else kubeconfig); global config stays untouched."""
    from kubernetes import client, config

    cfg = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=cfg)
    except config.ConfigException:
        config.load_kube_config(client_configuration=cfg)
    return client.CustomObjectsApi(client.ApiClient(cfg))


async def custom_objects() -> Any:
    """The process's one CustomObjectsApi (its calls are sync: run them with asyncio.to_thread)."""
    global _api
    if _api is None:
        _api = await asyncio.to_thread(_load_api)  # reads files: never on the event loop
    return _api


async def patch_status(plural: str, namespace: str, name: str, status: dict) -> None:
    """JSON merge patch of `status` (lists are replaced whole). Raises StatusPatchError on any failure."""
    try:
        api = await custom_objects()
        await asyncio.to_thread(api.patch_namespaced_custom_object_status, GROUP, VERSION, namespace, plural, name,
                                {"status": status}, _content_type="application/merge-patch+json")
    except Exception as e:  # ApiException, connection, TLS, config: the caller decides
        raise StatusPatchError(f"{type(e).__name__}: {str(e)[:500]}") from e
