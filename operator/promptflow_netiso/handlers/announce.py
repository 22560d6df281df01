"""The Event that announces a recorded Azure write once it has landed ("Created", "Deleted", ...), posted exactly once
even across a kill -9.

kopf.event() queues an Event and posts it later, from another task: a process killed after the status patch that
clears the record, but before the queue reached that Event, loses it for good (the restarted operator finds no
record, so nothing to announce). Here the Event is posted, and confirmed, before the handler returns, so before kopf
writes the status that clears the record. Its name comes from the record (object uid, target, body hash, start time;
not the operation, which turns from PUT to POST when a rule goes in a batch): a process killed after the Event but
before the status patch settles the same record again and posts the same name, which the API server refuses as a
duplicate (409). One Event per landed write, whoever saw it land.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

from ..planning.intent import PendingWrite
from . import kube_client, kube_writes
from .common import post_event

log = logging.getLogger(__name__)

# The "From" column of `kubectl describe`, for these Events and kopf's own (startup.configure_kopf).
EVENT_SOURCE = "promptflow-netiso"
REPORTING_INSTANCE = os.environ.get("HOSTNAME", EVENT_SOURCE)[:128]  # the pod

_core: Any = None


def event_name(object_name: str, uid: str, write: PendingWrite, reason: str) -> str:
    """A DNS subdomain (an Event's name), the same in every process that settles this record."""
    key = "|".join((uid, write.target.lower(), write.body_hash, write.started_at, reason))
    return f"{object_name[:200]}.{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def event_body(body: Mapping, name: str, type_: str, reason: str, message: str, now: datetime.datetime) -> dict:
    meta = body.get("metadata") or {}
    stamp = now.isoformat()
    return {
        "metadata": {"name": name, "namespace": meta.get("namespace")},
        "involvedObject": {"apiVersion": body.get("apiVersion"), "kind": body.get("kind"), "name": meta.get("name"),
                           "namespace": meta.get("namespace"), "uid": meta.get("uid")},
        "type": type_, "reason": reason, "message": message[:1024], "action": reason,
        "source": {"component": EVENT_SOURCE}, "reportingComponent": EVENT_SOURCE,
        "reportingInstance": REPORTING_INSTANCE,
        "firstTimestamp": stamp, "lastTimestamp": stamp, "eventTime": stamp, "count": 1,
    }


async def _core_api() -> Any:
    global _core
    if _core is None:
        def build(api_client: Any) -> Any:
            from kubernetes import client  # imported on a thread: about 1 s of set-up on first use

            return client.CoreV1Api(api_client)

        _core = await asyncio.to_thread(build, await kube_client.api_client())
    return _core


def _create(api: Any, namespace: str, event: dict) -> None:
    """The created Event is not decoded (nothing reads it); its answer is read all the same, so that the connection
    goes back to the pool instead of a new TLS connection for every Event."""
    response = api.create_namespaced_event(namespace, event, _preload_content=False)
    try:
        response.read()
    finally:
        response.release_conn()


async def announce(body: Mapping, write: PendingWrite, type_: str, reason: str, message: str) -> None:
    """Post the Event of a landed write before its record is cleared. If the API server cannot take it now, kopf's
    queue gets it instead (best effort, as for every other Event)."""
    meta = body.get("metadata") or {}
    name = event_name(str(meta.get("name")), str(meta.get("uid")), write, reason)
    event = event_body(body, name, type_, reason, message, datetime.datetime.now(datetime.UTC))
    try:
        if kube_writes.available():
            await kube_writes.send("post", f"/api/v1/namespaces/{meta.get('namespace')}/events", event)
        else:
            await asyncio.to_thread(_create, await _core_api(), meta.get("namespace"), event)
    except Exception as e:  # noqa: BLE001 - an Event never fails a reconcile
        if getattr(e, "status", None) == 409:
            return  # posted by the process that saw the write land before a crash: once is enough
        log.warning("could not post the %s Event of %s/%s now (%s); queued instead", reason, meta.get("namespace"),
                    meta.get("name"), kube_writes.message_of(e)[:300])
        post_event(body, type_, reason, message)


async def announce_settled(body: Mapping, recorded: PendingWrite | None, events: Iterable[tuple[str, str]]) -> None:
    """The (reason, message) Events of a record settled after a restart; without a record, kopf's queue."""
    for reason, message in events:
        if recorded is not None:
            await announce(body, recorded, "Normal", reason, message)
        else:
            post_event(body, "Normal", reason, message)
