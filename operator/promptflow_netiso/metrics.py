"""Every Prometheus metric of the operator, defined here and only here (docs/design/contracts.md §5).

Other modules call the functions below; none touches prometheus_client directly. Metrics live in the
default registry so the process and platform collectors are exposed beside them, and every metric is
created once, at import.

Labels are bounded by construction: object identity (kind, namespace, name), a target's resource
*name* (never its ARM ID), ARM operation names chosen in code, HTTP status codes, and PascalCase
reasons/codes that are sanitised and truncated. No URLs, request IDs or free text.

Readiness is split in two series so an alert's `for` timer survives a change of reason:
`promptflow_netiso_object_ready{kind,namespace,name}` (0/1) and
`promptflow_netiso_object_ready_reason_info{kind,namespace,name,reason}` (always 1, one per object).
"""

from __future__ import annotations

import platform
import re
import threading
import time
from collections.abc import Iterable

import prometheus_client
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

from promptflow_netiso import __version__

# `_created` series double the series count and no alert or dashboard reads them.
prometheus_client.disable_created_metrics()

PREFIX = "promptflow_netiso_"

KINDS = ("PromptFlowWorkspace", "OutboundRule", "PrivateEndpointApproval")
MANAGED_NETWORK_STATUSES = ("Active", "Inactive", "Unknown")
OUTBOUND_RULE_STATUSES = ("Inactive", "Provisioning", "Active", "Failed", "Deleting", "Unknown")
CONNECTION_STATES = ("Pending", "Approved", "Rejected", "Disconnected")

_REQUEST_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_RECONCILE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]")
_MAX_LABEL = 64


def _bounded(value: object, default: str = "Unknown") -> str:
    """A short identifier-like label value: strips anything that could smuggle free text in."""
    text = _UNSAFE.sub("", str(value if value is not None else ""))[:_MAX_LABEL]
    return text or default


def _target_name(target: str) -> str:
    """The resource name of a private-link target; a full ARM ID is cut down to its last segment."""
    return _bounded(str(target).rstrip("/").rsplit("/", 1)[-1])


# --- build ------------------------------------------------------------------------------------------
BUILD_INFO = Gauge(PREFIX + "build_info", "Operator build; always 1.", ["version", "python_version"])
BUILD_INFO.labels(__version__, platform.python_version()).set(1)

# --- objects ----------------------------------------------------------------------------------------
# Per-object series (readiness, its reason, the last drift check, the Azure status): see _ObjectSeries below.
RECONCILE_DURATION = Histogram(
    PREFIX + "reconcile_duration_seconds", "Time spent in one reconciliation, errors included.", ["kind"],
    buckets=_RECONCILE_BUCKETS,
)
RECONCILE_ERRORS = Counter(
    PREFIX + "reconcile_errors_total", "Reconciliations that ended in an error, by reason.", ["kind", "reason"]
)

# --- Azure ------------------------------------------------------------------------------------------
AZURE_REQUESTS = Counter(
    PREFIX + "azure_requests_total", "Requests sent to Azure Resource Manager, by HTTP status code.", ["operation", "code"]
)
AZURE_REQUEST_DURATION = Histogram(
    PREFIX + "azure_request_duration_seconds", "Latency of one Azure Resource Manager request.", ["operation"],
    buckets=_REQUEST_BUCKETS,
)
AZURE_THROTTLED = Counter(
    PREFIX + "azure_throttled_requests_total", "Requests Azure answered with 429 Too Many Requests.", ["operation"]
)
AZURE_RETRY_AFTER = Counter(
    PREFIX + "azure_retry_after_wait_seconds_total", "Seconds waited because Azure asked so in Retry-After.", ["operation"]
)
AZURE_AUTH_FAILURES = Counter(
    PREFIX + "azure_auth_failures_total",
    "Authentication (401) or authorization (403) failures, by Azure error code.",
    ["code"],
)

# --- managed network and outbound rules -------------------------------------------------------------
FAILED_RULE_REAPPLIES = Counter(
    PREFIX + "outbound_rule_failed_reapplies_total",
    "PUTs of an unchanged OutboundRule that Azure reports Failed, sent after its back-off (planning/requeue.py).",
    ["namespace"],
)
# --- private endpoint connections -------------------------------------------------------------------
PE_CONNECTIONS = Gauge(
    PREFIX + "private_endpoint_connections",
    "Private endpoint connections on a target, by connection state.",
    ["namespace", "name", "target", "state"],
)
PE_APPROVALS = Counter(
    PREFIX + "private_endpoint_approvals_total", "Private endpoint connections the operator approved.",
    ["namespace", "name", "target"],
)


class _Record:
    __slots__ = ("ready", "reason", "drift", "state")

    def __init__(self) -> None:
        self.ready: int | None = None
        self.reason: str | None = None
        self.drift: float | None = None
        self.state: str | None = None  # managed network status (workspace) or rule status (OutboundRule)


class _ObjectSeries:
    """The series that name one object, built at scrape time from one small record per object.

    A prometheus_client child costs about 600 bytes (a wrapper, a value, a lock) and an object has up to four
    series: at 11,000 objects that was about 25 MB. A record costs about 100 bytes (docs/scale.md).

    - `object_ready{kind,namespace,name}` (0/1) and `object_ready_reason_info{...,reason}` (always 1): split so an
      alert's `for` timer survives a change of reason;
    - `last_drift_check_timestamp_seconds{kind,namespace,name}`;
    - `managed_network_status` / `outbound_rule_status{namespace,name,status}`: one series for the current status,
      value 1 (`{status="Failed"} == 1` selects the failed ones).
    """

    READY = PREFIX + "object_ready"
    REASON = PREFIX + "object_ready_reason_info"
    DRIFT = PREFIX + "last_drift_check_timestamp_seconds"
    STATE = {"PromptFlowWorkspace": (PREFIX + "managed_network_status", "status",
                                     "Managed virtual network status of a workspace: 1 for the current status."),
             "OutboundRule": (PREFIX + "outbound_rule_status", "status",
                              "Azure status of an outbound rule: 1 for the current status.")}

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the HTTP server thread collects while the event loop writes
        self._records: dict[tuple[str, str, str], _Record] = {}

    def update(self, key: tuple[str, str, str], **fields: object) -> None:
        with self._lock:
            record = self._records.get(key)
            if record is None:
                record = self._records[key] = _Record()
            for field, value in fields.items():
                setattr(record, field, value)

    def forget(self, key: tuple[str, str, str]) -> None:
        with self._lock:
            self._records.pop(key, None)

    def families(self) -> tuple[GaugeMetricFamily, ...]:
        ready = GaugeMetricFamily(self.READY, "Whether the object's Ready condition is True (1) or not (0).",
                                  labels=["kind", "namespace", "name"])
        reason = GaugeMetricFamily(self.REASON, "The reason of the object's Ready condition; always 1, one series "
                                   "per object.", labels=["kind", "namespace", "name", "reason"])
        drift = GaugeMetricFamily(self.DRIFT, "Unix time of the last successful comparison of the object with Azure.",
                                  labels=["kind", "namespace", "name"])
        states = {kind: GaugeMetricFamily(name, text, labels=["namespace", "name", label])
                  for kind, (name, label, text) in self.STATE.items()}
        return ready, reason, drift, states  # type: ignore[return-value]

    def describe(self):
        ready, reason, drift, states = self.families()
        return [ready, reason, drift, *states.values()]

    def collect(self):
        ready, reason, drift, states = self.families()
        with self._lock:
            records = [(key, r.ready, r.reason, r.drift, r.state) for key, r in self._records.items()]
        for key, r_ready, r_reason, r_drift, r_state in records:
            labels = list(key)
            if r_ready is not None:
                ready.add_metric(labels, r_ready)
            if r_reason is not None:
                reason.add_metric([*labels, r_reason], 1)
            if r_drift is not None:
                drift.add_metric(labels, r_drift)
            if r_state is not None and key[0] in states:
                states[key[0]].add_metric([key[1], key[2], r_state], 1)
        yield ready
        yield reason
        yield drift
        yield from states.values()


OBJECTS = _ObjectSeries()
REGISTRY.register(OBJECTS)


class _OldestPendingAge:
    """Age of the oldest Pending connection per target, computed at scrape time.

    The operator reports an age when it looks; storing the moment instead keeps the exposed age
    growing between reconciliations, so an alert on it never sees a stale, frozen value.
    """

    NAME = PREFIX + "private_endpoint_oldest_pending_seconds"
    LABELS = ["namespace", "name", "target"]

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the HTTP server thread collects while the event loop writes
        self._pending_since: dict[tuple[str, str, str], float | None] = {}

    def set(self, key: tuple[str, str, str], age_seconds: float | None) -> None:
        with self._lock:
            self._pending_since[key] = None if age_seconds is None else time.time() - max(0.0, age_seconds)

    def forget(self, namespace: str, name: str, keep_targets: set[str] | None = None) -> None:
        with self._lock:
            for key in [k for k in self._pending_since if k[:2] == (namespace, name)]:
                if keep_targets is None or key[2] not in keep_targets:
                    del self._pending_since[key]

    def describe(self):
        return [GaugeMetricFamily(self.NAME, self._help(), labels=self.LABELS)]

    def collect(self):
        family = GaugeMetricFamily(self.NAME, self._help(), labels=self.LABELS)
        now = time.time()
        with self._lock:
            for key, since in self._pending_since.items():
                family.add_metric(list(key), 0.0 if since is None else max(0.0, now - since))
        yield family

    @staticmethod
    def _help() -> str:
        return "Age of the oldest Pending private endpoint connection on a target; 0 when none is Pending."


PE_OLDEST_PENDING = _OldestPendingAge()
REGISTRY.register(PE_OLDEST_PENDING)

_lock = threading.Lock()
_pe_states: dict[tuple[str, str, str], set[str]] = {}
_approved_targets: set[tuple[str, str, str]] = set()


# --- the functions other modules call ---------------------------------------------------------------
def start_server(port: int, addr: str = "0.0.0.0") -> None:
    """Serve /metrics on a port of its own, from a daemon thread (never blocks the event loop)."""
    prometheus_client.start_http_server(port, addr=addr)


def observe_azure_request(operation: str, code: str, seconds: float) -> None:
    """One ARM request: `code` is the HTTP status, or "error" when no response came back."""
    op = _bounded(operation)
    AZURE_REQUESTS.labels(op, _bounded(code, "error")).inc()
    AZURE_REQUEST_DURATION.labels(op).observe(max(0.0, seconds))


def observe_azure_throttled(operation: str, retry_after_seconds: float) -> None:
    op = _bounded(operation)
    AZURE_THROTTLED.labels(op).inc()
    AZURE_RETRY_AFTER.labels(op).inc(max(0.0, retry_after_seconds or 0.0))


def observe_azure_auth_failure(code: str) -> None:
    AZURE_AUTH_FAILURES.labels(_bounded(code)).inc()


def observe_reconcile(kind: str, seconds: float, error_reason: str | None = None) -> None:
    RECONCILE_DURATION.labels(kind).observe(max(0.0, seconds))
    if error_reason is not None:
        RECONCILE_ERRORS.labels(kind, _bounded(error_reason)).inc()


def set_object_ready(kind: str, namespace: str, name: str, ready: bool, reason: str) -> None:
    """Readiness of one object: one readiness series and one reason series (the previous reason's is gone)."""
    OBJECTS.update((kind, namespace, name), ready=1 if ready else 0, reason=_bounded(reason))


def forget_object(kind: str, namespace: str, name: str) -> None:
    """The object is gone: drop every series that names it."""
    OBJECTS.forget((kind, namespace, name))
    if kind == "PrivateEndpointApproval":
        with _lock:
            _forget_targets(namespace, name, keep=set())


def set_managed_network_status(namespace: str, name: str, status: str | None) -> None:
    """None (no managed network reported yet) and unexpected values read as Unknown."""
    _set_state("PromptFlowWorkspace", namespace, name, status, MANAGED_NETWORK_STATUSES)


def set_last_drift_check(kind: str, namespace: str, name: str, timestamp: float) -> None:
    OBJECTS.update((kind, namespace, name), drift=float(timestamp))


def set_outbound_rule_status(namespace: str, name: str, status: str | None) -> None:
    _set_state("OutboundRule", namespace, name, status, OUTBOUND_RULE_STATUSES)


def set_private_endpoint_connections(
    namespace: str, name: str, target: str, counts: dict[str, int], oldest_pending_seconds: float
) -> None:
    """Connections of one target seen by a PrivateEndpointApproval (`name`), by state.

    The four known states are always exposed (0 when absent) so queries need no `or vector(0)`.
    """
    target = _target_name(target)
    key = (namespace, name, target)
    states = {_bounded(state): int(n) for state, n in counts.items()}
    with _lock:
        for stale in _pe_states.get(key, set()) - set(CONNECTION_STATES) - set(states):
            _remove(PE_CONNECTIONS, *key, stale)
        _pe_states[key] = set(CONNECTION_STATES) | set(states)
        for state in CONNECTION_STATES:
            PE_CONNECTIONS.labels(*key, state).set(states.get(state, 0))
        for state, n in states.items():
            PE_CONNECTIONS.labels(*key, state).set(n)
        PE_OLDEST_PENDING.set(key, oldest_pending_seconds if states.get("Pending", 0) > 0 else None)


def retain_private_endpoint_targets(namespace: str, name: str, targets: Iterable[str]) -> None:
    """Drop the series of targets a PrivateEndpointApproval no longer lists (its spec changed).

    Without it a removed target's last Pending count would stay exposed and keep an alert firing.
    """
    with _lock:
        _forget_targets(namespace, name, keep={_target_name(t) for t in targets})


def inc_failed_rule_reapplies(namespace: str) -> None:
    FAILED_RULE_REAPPLIES.labels(_bounded(namespace)).inc()


def inc_private_endpoint_approvals(namespace: str, name: str, target: str) -> None:
    key = (namespace, name, _target_name(target))
    with _lock:
        _approved_targets.add(key)
        PE_APPROVALS.labels(*key).inc()


# --- helpers ----------------------------------------------------------------------------------------
def _set_state(kind: str, namespace: str, name: str, status: str | None, states: tuple[str, ...]) -> None:
    """One series per object, for its current state (value 1), not one per possible state (docs/scale.md)."""
    OBJECTS.update((kind, namespace, name), state=status if status in states else "Unknown")


def _forget_targets(namespace: str, name: str, keep: set[str]) -> None:
    """Caller holds _lock."""
    def dropped(key: tuple[str, str, str]) -> bool:
        return key[:2] == (namespace, name) and key[2] not in keep

    for key in [k for k in _pe_states if dropped(k)]:
        for state in _pe_states.pop(key):
            _remove(PE_CONNECTIONS, *key, state)
    for key in [k for k in _approved_targets if dropped(k)]:
        _approved_targets.discard(key)
        _remove(PE_APPROVALS, *key)
    PE_OLDEST_PENDING.forget(namespace, name, keep_targets=keep)


def _remove(metric, *labelvalues: str) -> None:
    try:
        metric.remove(*labelvalues)
    except KeyError:
        pass
