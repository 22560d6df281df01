"""Coalescing rule writes of one workspace into batchOutboundRules POSTs: the pure decisions (no I/O, no clock).

Azure runs one operation at a time on a workspace's managed network, and each takes minutes, so 50 rules written one
PUT at a time take 50 operations. `POST .../managedNetworks/default/batchOutboundRules` (OutboundRules_Post) creates
or updates several rules in one operation. The evidence (docs/design/batch-outbound-rules.md) reads it as an upsert
of the listed rules: rules not listed stay, and nothing can be deleted through it. So only creates and updates are
batched; deletes stay one DELETE each.

- `take()`: the next batch of a workspace's queue: oldest first, at most `max_rules`, one write per rule name (a
  second write of a name waits for the next batch, so a batch never carries two bodies for one rule); a delete goes
  alone, in its turn.
- `match()`: which rule of the batch's answer belongs to which queued write (names are case-insensitive).
- `after_failure()`: what a failed batch means for its writes: the API is not offered (fall back to one PUT per rule
  from now on), one bad rule among several (send them one PUT each, so only the bad one fails), or a failure every
  write of the batch shares (a conflict, throttling, an outage).
- `batch_record()`: a rule's intent record once its batch was accepted: operation POST, the rule's own target and
  hash (that is what recognises the rule after a crash), and the batch's operation URL.
- `may_still_run()`: after a crash, whether a recorded write whose rule Azure does not show (as recorded) yet may
  still be running, so its operation URL is asked before anything is written again.
"""

from __future__ import annotations

from dataclasses import replace
from enum import Enum
from typing import Any, Iterable, Protocol, Sequence, TypeVar

from .intent import PendingWrite


class _Named(Protocol):
    name: str


Q = TypeVar("Q", bound=_Named)


def take(queue: Sequence[Q], max_rules: int) -> tuple[list[Q], list[Q]]:
    """(batch, rest): the oldest writes, at most `max_rules` (at least 1), one per rule name, order kept. A delete
    (an item whose `delete` is true) is never batched: when it is the oldest it goes alone; otherwise the batch
    skips it and every later write of the same name (they must not overtake it)."""
    limit = max(1, max_rules)
    if queue and getattr(queue[0], "delete", False):
        return [queue[0]], list(queue[1:])
    batch: list[Q] = []
    rest: list[Q] = []
    names: set[str] = set()
    blocked: set[str] = set()  # names with an earlier write left in the queue: later ones wait behind it
    for item in queue:
        key = item.name.lower()
        if len(batch) < limit and key not in names and key not in blocked and not getattr(item, "delete", False):
            batch.append(item)
            names.add(key)
        else:
            rest.append(item)
            blocked.add(key)
    return batch, rest


def body_rules(batch: Iterable[Any]) -> dict[str, dict]:
    """The `outboundRules` map of the POST: each write's rule properties, as its PUT would send them."""
    return {item.name: dict(item.properties) for item in batch}


R = TypeVar("R", bound=_Named)


def match(names: Iterable[str], answered: Iterable[R]) -> dict[str, R | None]:
    """Each written name (lower-cased) -> the rule the batch's answer lists for it, or None when it lists none."""
    by_name = {r.name.lower(): r for r in answered if getattr(r, "name", None)}
    return {n.lower(): by_name.get(n.lower()) for n in names}


class Fallback(Enum):
    UNSUPPORTED = "unsupported"  # the API version / provider does not offer the batch: one PUT per rule from now on
    SPLIT = "split"  # Azure refused the body (one rule may be bad): send these writes one PUT each this time
    FAIL = "fail"  # the same for every write of the batch: each reports it (a conflict is a wait)


# Answers that mean "this operation does not exist here" (not: "this body is wrong").
UNSUPPORTED_CODES = frozenset({"noregisteredproviderfound", "invalidresourcetype", "invalidapiversionparameter",
                               "unsupportedapiversion", "apiversionnotsupported", "operationnotsupported",
                               "notsupported", "methodnotallowed", "endpointnotfound", "resourcenotfound",
                               "notfound", "pathnotfound"})


def after_failure(status: int, code: str, user_fixable: bool, size: int) -> Fallback:
    """What a failed batch POST means (status and code as Azure answered; `user_fixable`: a 4xx about the request)."""
    if status in (404, 405, 501) or (status == 400 and code.lower() in UNSUPPORTED_CODES):
        return Fallback.UNSUPPORTED
    if user_fixable and status in (400, 422) and size > 1:
        return Fallback.SPLIT
    return Fallback.FAIL


def batch_record(write: PendingWrite, poll_url: str | None) -> PendingWrite:
    """The rule's intent record once its batch was accepted: the request actually sent was a POST; the target and
    hash stay the rule's (that is what a restarted operator compares with what Azure shows)."""
    return replace(write, operation="POST", poll_url=poll_url or write.poll_url)


def may_still_run(pending: PendingWrite | None, target: str, observed_hash: str | None) -> bool:
    """A recorded PUT/POST of this rule (`target`) that Azure does not show as recorded, with an operation URL to ask:
    it may still be running (Azure may show a batch's rules only when it ends), so ask before writing again."""
    if pending is None or not pending.poll_url or pending.operation.upper() not in ("PUT", "POST"):
        return False
    if not pending.is_for(pending.operation, target):
        return False
    return observed_hash is None or observed_hash != pending.body_hash


def batch_sizes(total: int, max_rules: int) -> list[int]:
    """How `total` writes queued at once split into batches (for docs and the benchmark's expectation)."""
    limit = max(1, max_rules)
    return [min(limit, total - i) for i in range(0, total, limit)]

