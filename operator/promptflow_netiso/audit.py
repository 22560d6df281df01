"""The audit trail of Azure writes that grant access (private endpoint approvals): one JSON line per approval on the
`promptflow_netiso.audit` logger.

That logger has its own handler and level and does not propagate, so no verbosity setting (`--quiet`, the chart's
`operator.verbosity: quiet`, kopf's own configuration of the root logger) can silence it. Every record is also an
Event on the object and an entry of its bounded `status.audit`.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, Mapping

LOGGER_NAME = "promptflow_netiso.audit"
_log = logging.getLogger(LOGGER_NAME)


def configure(stream: Any = None) -> logging.Logger:
    """Idempotent: give the audit logger its own stderr handler at INFO, detached from the root logger."""
    if not any(getattr(h, "_promptflow_netiso_audit", False) for h in _log.handlers):
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s AUDIT %(name)s %(message)s"))
        handler.setLevel(logging.INFO)
        handler._promptflow_netiso_audit = True  # type: ignore[attr-defined]
        _log.addHandler(handler)
    _log.setLevel(logging.INFO)
    _log.propagate = False
    _log.disabled = False
    return _log


def record(event: str, fields: Mapping[str, Any]) -> None:
    """One audit line: `{"audit": event, ...fields}` as JSON (keys sorted, so lines are easy to grep and diff)."""
    configure()
    _log.info("%s", json.dumps({"audit": event, **fields}, sort_keys=True))
