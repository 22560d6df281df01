"""Operator start-up and shutdown: kopf persistence, the Azure facade, the metrics server and the heap trim, created once."""

from __future__ import annotations

import asyncio
import logging

import kopf

from .. import metrics
from ..azure import Azure
from ..azure.clouds import AzureSettings
from ..settings import Settings
from . import drift_queue, heap, kube_session, kube_writes, rule_waiting
from .announce import EVENT_SOURCE, REPORTING_INSTANCE

log = logging.getLogger(__name__)

# Our own finalizer name, so `kubectl get -o yaml` tells a person which operator holds the object.
FINALIZER = "netiso.promptflow.dev/finalizer"


def configure_kopf(settings: kopf.OperatorSettings) -> None:
    # kopf's own state lives in status.kopf, not in annotations: status writes never bump metadata.generation and
    # GitOps tools ignore status, so Argo CD / Flux see no perpetual diff (see docs/gitops.md).
    settings.persistence.progress_storage = kopf.StatusProgressStorage(field="status.kopf.progress")
    settings.persistence.diffbase_storage = kopf.StatusDiffBaseStorage(field="status.kopf.last-handled-configuration")
    settings.persistence.finalizer = FINALIZER
    # Only kopf's warnings become Events; our own Events go through kopf.event(), which ignores this level.
    # At INFO every "Timer ... succeeded" would be an Event: one per drift check per object.
    settings.posting.enabled = True
    settings.posting.level = logging.WARNING
    settings.posting.reporting_component = EVENT_SOURCE  # the same "From" as the Events of landed writes
    settings.posting.reporting_instance = REPORTING_INSTANCE
    # Reconnect watches regularly so a silent network drop cannot stall the operator.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    # List objects in chunks at start: one 50 MB answer for 11,000 objects (or pages of 10 MB), parsed at once, would
    # set the process's peak memory (and, fragmented, its RSS for good) higher than everything it keeps afterwards.
    settings.watching.chunk_size = 200
    settings.networking.request_timeout = 60
    # An object's kopf worker keeps its last event (the whole body) until it has been idle this long. kopf's 5 s kept
    # thousands of bodies alive at once after a start; a new worker for the next event costs a task.
    settings.queueing.idle_timeout = 1.0
    # No kopf worker_limit: below the number of objects of one kind it deadlocks the start (each worker waits for
    # every index to be complete while holding its slot; the objects still queued never get one). What is bounded
    # instead: API server connections (kube_session.py) and Azure requests per subscription. docs/scale.md.
    kube_session.quiet_routine_success()
    kube_writes.use(settings)  # our own status records and Events go over kopf's session, with its timeouts
    # A timer stopped while it runs (its object is being deleted) gets up to this long to end by itself, instead of
    # kopf's few zero-time cycles followed by its "touch" status patch 60 s later: a Kubernetes write for nothing.
    settings.background.instant_exit_timeout = 5.0
    # Leader election (--peering): a replica's record expires this long after its last renewal (renewed every
    # lifetime - 5..10 s), so a killed leader is replaced within about this time; a stopped one at once.
    settings.peering.lifetime = max(int(Settings.from_env().peering_lifetime), 11)


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_) -> None:
    memo.settings = Settings.from_env()
    configure_kopf(settings)
    memo.azure = Azure.from_settings(AzureSettings.from_env())
    metrics.start_server(memo.settings.metrics_port, memo.settings.metrics_addr)
    heap.keep_big_buffers_apart()
    memo.heap_trim = asyncio.create_task(heap.keep_trimmed(memo.settings.drift_interval), name="heap-trim")
    log.info("promptflow-netiso started: metrics on :%s, drift interval %ss", memo.settings.metrics_port, memo.settings.drift_interval)


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_) -> None:
    from . import tenancy  # the namespaces' own identities share the operator's HTTP session: close them first

    rule_waiting.stop()
    drift_queue.DRIFT.stop()
    trim = getattr(memo, "heap_trim", None)
    if trim is not None:
        trim.cancel()
    await tenancy.close_all()
    azure = getattr(memo, "azure", None)
    if azure is not None:
        await azure.close()
