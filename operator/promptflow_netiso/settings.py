"""Operator-wide settings, read once from the environment (PROMPTFLOW_NETISO_*). See docs/configuration.md."""

from __future__ import annotations

import os
from dataclasses import dataclass


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as e:
        raise ValueError(f"{name}={raw!r} is not a number of seconds") from e
    if value < 0:
        raise ValueError(f"{name}={raw!r} must not be negative")
    return value


def _count(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as e:
        raise ValueError(f"{name}={raw!r} is not a whole number") from e
    if value < 0:
        raise ValueError(f"{name}={raw!r} must not be negative")
    return value


@dataclass(frozen=True)
class Settings:
    drift_interval: float = 300.0  # seconds between drift checks of a converged object (jittered)
    slow_retry: float = 120.0  # retry delay after a user-fixable Azure error (403, 404, bad config)
    transient_retry: float = 10.0  # retry delay after a transient Azure error (5xx, connection)
    dependency_wait: float = 5.0  # re-check delay while an object waits for another (e.g. its workspace)
    approval_pending_interval: float = 10.0  # approval check interval while a connection is Pending
    approval_settled_interval: float = 300.0  # approval check interval when nothing is Pending
    kube_connections: int = 20  # most API server requests in flight at once, watch streams not counted; 0 = no cap
    max_reconciles: int = 64  # most reconciles running at once (drift checks: half of them); 0 = no cap
    peering_lifetime: float = 20.0  # seconds a replica's peering record lives without renewal: the failover bound
    metrics_port: int = 8080
    metrics_addr: str = "0.0.0.0"
    rule_batch_size: int = 50  # most rule writes of one workspace in one batchOutboundRules POST; 1 = one PUT per rule

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            drift_interval=_float("PROMPTFLOW_NETISO_DRIFT_INTERVAL", cls.drift_interval),
            slow_retry=_float("PROMPTFLOW_NETISO_SLOW_RETRY", cls.slow_retry),
            transient_retry=_float("PROMPTFLOW_NETISO_TRANSIENT_RETRY", cls.transient_retry),
            dependency_wait=_float("PROMPTFLOW_NETISO_DEPENDENCY_WAIT", cls.dependency_wait),
            approval_pending_interval=_float("PROMPTFLOW_NETISO_APPROVAL_PENDING_INTERVAL", cls.approval_pending_interval),
            approval_settled_interval=_float("PROMPTFLOW_NETISO_APPROVAL_SETTLED_INTERVAL", cls.approval_settled_interval),
            kube_connections=_count("PROMPTFLOW_NETISO_KUBE_CONNECTIONS", cls.kube_connections),
            max_reconciles=_count("PROMPTFLOW_NETISO_MAX_RECONCILES", cls.max_reconciles),
            peering_lifetime=_float("PROMPTFLOW_NETISO_PEERING_LIFETIME", cls.peering_lifetime),
            metrics_port=int(_float("PROMPTFLOW_NETISO_METRICS_PORT", cls.metrics_port)),
            metrics_addr=os.environ.get("PROMPTFLOW_NETISO_METRICS_ADDR", cls.metrics_addr),
            rule_batch_size=max(1, _count("PROMPTFLOW_NETISO_RULE_BATCH_SIZE", cls.rule_batch_size)),
        )
