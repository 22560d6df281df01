"""The audit logger: one JSON line per approval, whatever verbosity the operator runs with."""

from __future__ import annotations

import io
import json
import logging

import kopf

from promptflow_netiso import audit


def test_quiet_verbosity_does_not_silence_the_audit_line(monkeypatch):
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    stream = io.StringIO()
    log = logging.getLogger(audit.LOGGER_NAME)
    monkeypatch.setattr(log, "handlers", [])
    try:
        kopf.configure(quiet=True)  # what `promptflow-netiso run --quiet` (the chart's verbosity: quiet) does
        audit.configure(stream)
        audit.record("privateEndpointConnectionApproved", {"action": "approve", "connection": "c1"})
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
    [line] = stream.getvalue().splitlines()
    assert "AUDIT promptflow_netiso.audit" in line
    assert json.loads(line.split(" promptflow_netiso.audit ", 1)[1]) == {
        "audit": "privateEndpointConnectionApproved", "action": "approve", "connection": "c1"}
