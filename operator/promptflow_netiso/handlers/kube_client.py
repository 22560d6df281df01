"""The process's one kubernetes-client ApiClient, for the few calls kopf does not make for us (status records written
ahead of kopf's patch, TokenRequest). Its calls are sync: callers run them with asyncio.to_thread."""

from __future__ import annotations

import asyncio
from typing import Any

_client: Any = None


def _load() -> Any:
    """A client of its own (in-cluster service account, else kubeconfig); global config stays untouched."""
    from kubernetes import client, config

    cfg = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=cfg)
    except config.ConfigException:
        config.load_kube_config(client_configuration=cfg)
    return client.ApiClient(cfg)


async def api_client() -> Any:
    global _client
    if _client is None:
        _client = await asyncio.to_thread(_load)  # reads files: never on the event loop
    return _client
