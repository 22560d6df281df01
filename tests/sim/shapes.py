"""Compare a response body with an official example by shape: same keys, same value types, literal values ignored.

Rules (documented in README.md "Conformance"):
- null on either side matches any type (examples and services disagree on which optional values are null);
- maps keyed by names (outboundRules, userAssignedIdentities, tags) compare values, not keys;
- polymorphic items (outbound rules: discriminator `type`) compare only with example items of the same type, and
  at least one item must be comparable;
- keys the simulator adds beyond the example are differences unless listed in `allowed_extra` (JSON paths).
"""

from __future__ import annotations

from typing import Any

MAP_KEYS = frozenset({"outboundRules", "userAssignedIdentities", "tags"})


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def _discriminator(item: Any) -> Any:
    if not isinstance(item, dict):
        return None
    props = item.get("properties")
    if isinstance(props, dict) and isinstance(props.get("type"), str):
        return props["type"]
    return item.get("type") if isinstance(item.get("type"), str) else None


def _compare_items(expected: list[Any], actual: list[Any], path: str, allowed: frozenset[str]) -> list[str]:
    if not expected:
        return []
    if not actual:
        return [f"{path}: example has items, response has none"]
    by_type: dict[Any, Any] = {}
    for item in expected:
        by_type.setdefault(_discriminator(item), item)
    diffs, compared = [], 0
    for i, item in enumerate(actual):
        disc = _discriminator(item)
        template = by_type.get(disc, by_type.get(None) if disc is None else None)
        if template is None:
            continue  # a subtype the example does not show
        compared += 1
        diffs += shape_diff(template, item, f"{path}[{i}]", allowed)
    if not compared:
        diffs.append(f"{path}: no item of a type the example shows ({sorted(map(str, by_type))})")
    return diffs


def shape_diff(expected: Any, actual: Any, path: str = "$", allowed_extra: frozenset[str] = frozenset()) -> list[str]:
    if expected is None or actual is None:
        return []
    if _kind(expected) != _kind(actual):
        return [f"{path}: example has {_kind(expected)}, response has {_kind(actual)}"]
    if isinstance(expected, list):
        return _compare_items(expected, actual, f"{path}", allowed_extra)
    if not isinstance(expected, dict):
        return []
    if path.rsplit(".", 1)[-1] in MAP_KEYS:
        return _compare_items(list(expected.values()), list(actual.values()), path, allowed_extra)
    diffs = [f"{path}.{k}: missing" for k in expected if k not in actual]
    diffs += [f"{path}.{k}: not in the example" for k in actual if k not in expected and f"{path}.{k}" not in allowed_extra]
    for key in [k for k in expected if k in actual]:
        diffs += shape_diff(expected[key], actual[key], f"{path}.{key}", allowed_extra)
    return diffs
