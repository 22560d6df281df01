"""Intent before action (planning/intent.py), the I/O half: write `status.pendingWrite` and wait for the API server to
confirm it BEFORE an Azure write is sent; add the poll URL as soon as Azure answers 202.

kopf writes status once, at the end of a handler; a record that must exist before the Azure request cannot wait
for that, so it is a merge patch of its own on the status subresource (status_patch.py, shared with approvals).
If the record cannot be written, the Azure write is not sent (`IntentNotRecorded`, a kopf retry): never a write that a crash could make us forget. The end-of-reconcile patch clears the record.
"""

from __future__ import annotations

import logging

import kopf

from .. import conditions
from ..planning.intent import STATUS_KEY, PendingWrite
from .status_patch import patch_status as _patch_status

log = logging.getLogger(__name__)

# A retry soon: the API server was unreachable for a moment (or the object is being replaced).
RECORD_RETRY = 2.0


def pending(operation: str, target: str, body_hash: str = "", event_reason: str = "",
            event_message: str = "") -> PendingWrite:
    return PendingWrite(operation=operation, target=target, body_hash=body_hash, started_at=conditions.now_rfc3339(),
                        event_reason=event_reason, event_message=event_message)


async def record(plural: str, namespace: str, name: str, write: PendingWrite, extra: dict | None = None) -> dict:
    """Persist the intent (plus `extra` status fields that must land with it); raise a kopf retry when the API
    server does not confirm it. Returns the status fields written."""
    return await record_fields(plural, namespace, name, {STATUS_KEY: write.to_status(), **(extra or {})})


async def record_fields(plural: str, namespace: str, name: str, fields: dict) -> dict:
    """`record()` for a record kept elsewhere in status (e.g. status.deploymentTarget.pendingWrite)."""
    try:
        await _patch_status(plural, namespace, name, fields)
    except Exception as e:  # ApiException, connection refused, TLS: the write is not sent
        raise kopf.TemporaryError(f"could not record the intended Azure write in status, so it was not sent: {e}",
                                  delay=RECORD_RETRY) from e
    return fields


async def record_poll_url(plural: str, namespace: str, name: str, write: PendingWrite, poll_url: str | None) -> dict:
    """Add Azure's operation URL to the record. Best effort: without it a restarted operator still recognises the
    write by its target and hash."""
    if not poll_url:
        return {}
    fields = {STATUS_KEY: {**write.to_status(), "pollUrl": poll_url}}
    try:
        await _patch_status(plural, namespace, name, fields)
    except Exception as e:
        log.warning("could not add the poll URL to %s/%s status: %s", namespace, name, e)
        return {}
    return fields
