"""Records what the Azure layer reports to metrics.py (the contract functions, nothing else)."""

from __future__ import annotations

import pytest

from promptflow_netiso.azure import pipeline


class MetricCalls:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.throttled: list[tuple[str, float]] = []
        self.auth_failures: list[str] = []


@pytest.fixture
def metric_calls(monkeypatch) -> MetricCalls:
    calls = MetricCalls()
    monkeypatch.setattr(pipeline.metrics, "observe_azure_request", lambda op, code, seconds: calls.requests.append((op, code)))
    monkeypatch.setattr(pipeline.metrics, "observe_azure_throttled", lambda op, ra: calls.throttled.append((op, ra)))
    monkeypatch.setattr(pipeline.metrics, "observe_azure_auth_failure", lambda code: calls.auth_failures.append(code))
    return calls
