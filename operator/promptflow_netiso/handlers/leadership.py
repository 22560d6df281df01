"""Leader election among replicas (kopf peering): make sure the peering object exists before kopf needs it.

With `--peering NAME` every replica writes its record (random priority, lifetime) into the peering object's status
and pauses (no handlers, no timers; indexes keep filling) while a live peer of higher priority exists. kopf only
patches that object, so it must exist: a manifest cannot create it in the same apply as its CRD (the kind is not
known yet), so each replica creates it at start-up (409 when a peer did first: fine). Cluster-wide operators use a
ClusterKopfPeering; namespaced ones a KopfPeering in each namespace they watch (globs: create those yourself).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from ..model.peering import PEERING_GROUP

log = logging.getLogger(__name__)

_scope: dict[str, Any] = {"clusterwide": False, "namespaces": ()}


def configure(clusterwide: bool, namespaces: tuple[str, ...] | list[str]) -> None:
    """Called by the CLI before kopf starts: where the peering objects live."""
    _scope.update(clusterwide=clusterwide, namespaces=tuple(namespaces))


def _create(name: str) -> None:
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    cfg = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=cfg)
    except config.ConfigException:
        config.load_kube_config(client_configuration=cfg)
    api = client.CustomObjectsApi(client.ApiClient(cfg))
    try:
        if _scope["clusterwide"]:
            api.create_cluster_custom_object(PEERING_GROUP, "v1", "clusterkopfpeerings", {
                "apiVersion": f"{PEERING_GROUP}/v1", "kind": "ClusterKopfPeering", "metadata": {"name": name}})
        for ns in _scope["namespaces"]:
            if any(ch in ns for ch in "*?[!"):
                continue
            try:
                api.create_namespaced_custom_object(PEERING_GROUP, "v1", ns, "kopfpeerings", {
                    "apiVersion": f"{PEERING_GROUP}/v1", "kind": "KopfPeering", "metadata": {"name": name}})
            except ApiException as e:
                if e.status != 409:
                    raise
    except ApiException as e:
        if e.status != 409:
            raise


@kopf.on.startup()
async def ensure_peering_object(settings: kopf.OperatorSettings, **_: Any) -> None:
    if settings.peering.standalone or not settings.peering.mandatory:
        return
    try:
        await asyncio.to_thread(_create, settings.peering.name)
    except Exception as e:  # kopf stays paused and says so; a person can create the object by hand
        log.warning("could not create the peering object %r: %s", settings.peering.name, e)
    log.info("leader election: peering %r, priority %s, lifetime %ss", settings.peering.name,
             settings.peering.priority, settings.peering.lifetime)
