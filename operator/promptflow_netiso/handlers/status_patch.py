"""A status write ahead of kopf's end-of-handler patch, for facts that must be on record before an Azure call
returns or a process may die (an approval about to be sent, the poll URL of one that runs). Kubernetes only: over
kopf's session in a running operator (kube_writes.py), else the sync client in a worker thread."""

from __future__ import annotations

import asyncio
from typing import Any

from ..model import GROUP, VERSION
from . import kube_client, kube_writes


class StatusPatchError(Exception):
    pass


_custom_objects: Any = None


def _new_custom_objects(api_client: Any) -> Any:
    from kubernetes import client  # kubernetes 37 imports an API module on first use: about 1 s of pydantic setup

    return client.CustomObjectsApi(api_client)


async def custom_objects() -> Any:
    """The process's CustomObjectsApi (its calls are sync: run them with asyncio.to_thread). Made once, on a worker
    thread: made on the event loop, the first status record after a start stalled every object for about a second."""
    global _custom_objects
    if _custom_objects is None:
        _custom_objects = await asyncio.to_thread(_new_custom_objects, await kube_client.api_client())
    return _custom_objects


async def patch_status(plural: str, namespace: str, name: str, status: dict) -> None:
    """JSON merge patch of `status` (lists are replaced whole). Raises StatusPatchError on any failure."""
    try:
        if kube_writes.available():
            await kube_writes.send("patch", f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{plural}/{name}/status",
                                   {"status": status}, "application/merge-patch+json")
            return
        api = await custom_objects()
        await asyncio.to_thread(api.patch_namespaced_custom_object_status, GROUP, VERSION, namespace, plural, name,
                                {"status": status}, _content_type="application/merge-patch+json")
    except Exception as e:  # APIError, ApiException, connection, TLS, config: the caller decides
        raise StatusPatchError(f"{type(e).__name__}: {kube_writes.message_of(e)[:500]}") from e
