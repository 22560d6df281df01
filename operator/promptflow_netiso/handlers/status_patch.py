"""A status write ahead of kopf's end-of-handler patch, for facts that must be on record before an Azure call
returns or a process may die (an approval about to be sent, the poll URL of one that runs). Kubernetes only; the
sync client runs in a worker thread so the event loop never blocks."""

from __future__ import annotations

import asyncio
from typing import Any

from ..model import GROUP, VERSION
from . import kube_client


class StatusPatchError(Exception):
    pass


async def custom_objects() -> Any:
    """A CustomObjectsApi over the process's one client (its calls are sync: run them with asyncio.to_thread)."""
    from kubernetes import client

    return client.CustomObjectsApi(await kube_client.api_client())


async def patch_status(plural: str, namespace: str, name: str, status: dict) -> None:
    """JSON merge patch of `status` (lists are replaced whole). Raises StatusPatchError on any failure."""
    try:
        api = await custom_objects()
        await asyncio.to_thread(api.patch_namespaced_custom_object_status, GROUP, VERSION, namespace, plural, name,
                                {"status": status}, _content_type="application/merge-patch+json")
    except Exception as e:  # ApiException, connection, TLS, config: the caller decides
        raise StatusPatchError(f"{type(e).__name__}: {str(e)[:500]}") from e
