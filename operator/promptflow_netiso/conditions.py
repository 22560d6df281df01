"""Kubernetes-style status conditions, pure functions.

Convention: type, status ("True"/"False"/"Unknown"), reason (PascalCase), message, observedGeneration,
lastTransitionTime (changes only when status flips, so a steady state writes identical conditions).
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable

TRUE, FALSE, UNKNOWN = "True", "False", "Unknown"


def now_rfc3339() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def condition(type_: str, status: str | bool, reason: str, message: str = "") -> dict:
    if isinstance(status, bool):
        status = TRUE if status else FALSE
    return {"type": type_, "status": status, "reason": reason, "message": message}


def merge(existing: Iterable[dict] | None, updates: Iterable[dict], generation: int | None, now: str | None = None) -> list[dict]:
    """Return existing conditions with `updates` applied; order of types is stable (first seen first)."""
    now = now or now_rfc3339()
    result = [dict(c) for c in (existing or [])]
    by_type = {c.get("type"): c for c in result}
    for upd in updates:
        old = by_type.get(upd["type"])
        new = {
            "type": upd["type"],
            "status": upd["status"],
            "reason": upd["reason"],
            "message": upd.get("message", ""),
            "observedGeneration": generation,
            "lastTransitionTime": now,
        }
        if old is not None and old.get("status") == new["status"]:
            new["lastTransitionTime"] = old.get("lastTransitionTime", now)
        if old is None:
            result.append(new)
        else:
            result[result.index(old)] = new
        by_type[new["type"]] = new
    return _with_stalled(result, generation, now)


def _with_stalled(result: list[dict], generation: int | None, now: str) -> list[dict]:
    """Keep `Stalled` in step with `Ready` (see stalled.py), so every kind is kstatus-compliant."""
    from .stalled import STALLED, stalled_from

    old = next((c for c in result if c.get("type") == STALLED), None)
    want = stalled_from(next((c for c in result if c.get("type") == "Ready"), None))
    if want is None:
        return [c for c in result if c is not old]
    want = {**want, "observedGeneration": generation,
            "lastTransitionTime": old.get("lastTransitionTime", now) if old and old.get("status") == "True" else now}
    if old is None:
        return [*result, want]
    return [want if c is old else c for c in result]


def ready_summary(conditions: Iterable[dict], steps: Iterable[str]) -> dict:
    """Ready is True when every step condition is True; otherwise it carries the first failing step's reason."""
    by_type = {c["type"]: c for c in conditions}
    for step in steps:
        c = by_type.get(step)
        if c is None:
            return condition("Ready", UNKNOWN, "Reconciling", f"{step} not evaluated yet")
        if c["status"] != TRUE:
            return condition("Ready", FALSE if c["status"] == FALSE else UNKNOWN, c["reason"], c.get("message", ""))
    return condition("Ready", TRUE, "Ready", "")


def get(conditions: Iterable[dict] | None, type_: str) -> dict | None:
    for c in conditions or []:
        if c.get("type") == type_:
            return c
    return None


def is_true(conditions: Iterable[dict] | None, type_: str = "Ready") -> bool:
    c = get(conditions, type_)
    return bool(c and c.get("status") == TRUE)


def replaced(conditions: Iterable[dict], new: dict) -> list[dict]:
    """The list with the condition of `new`'s type replaced by `new` (order kept; nothing added)."""
    return [new if c["type"] == new["type"] else c for c in conditions]


def reason_from_code(code: str | None) -> str:
    """A condition reason from an ARM error code: Kubernetes wants CamelCase letters and digits; ARM codes mostly
    are already ("AzureError" when there is none)."""
    cleaned = "".join(ch for ch in (code or "") if ch.isalnum())
    return (cleaned[0].upper() + cleaned[1:]) if cleaned else "AzureError"
