"""When to look again, pure: one place that turns a planner's `Retry` answer into a delay (like controller-runtime's
`Result{RequeueAfter}` and ASO v2's requeue calculator). Every handler obeys it.

- Azure's `Retry-After` is a floor, always.
- Waiting on the same thing again backs off exponentially: `base * 2**attempt`, up to the kind's ceiling; a different
  answer starts over at attempt 0.

| Retry          | waits for                                   | base (setting)     | ceiling                  |
|----------------|---------------------------------------------|--------------------|--------------------------|
| NONE           | nothing: converged, the drift timer is enough | -                | -                        |
| DEPENDENCY     | another object (the workspace to be Ready)  | dependency_wait    | DEPENDENCY_CEILING 60 s  |
| AZURE_PROGRESS | Azure (rule Provisioning, network busy)     | dependency_wait    | AZURE_CEILING 300 s      |
| CONNECTION     | a person (approve a Pending connection)     | dependency_wait    | PERSON_CEILING 600 s     |
| USER_FIXABLE   | a fix (refusal, Failed rule, 4xx)           | slow_retry         | USER_FIXABLE_CEILING 3600 s |

A rule Azure reports `Failed` is written again only when its spec changes, or when its USER_FIXABLE back-off is due.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Retry(Enum):
    """How soon to look again (the planner's answer)."""

    NONE = "none"  # converged: the drift timer is enough
    DEPENDENCY = "dependency"  # waiting for another object, e.g. the workspace
    AZURE_PROGRESS = "azure-progress"  # Azure is Provisioning/Deleting, or the managed network is busy
    CONNECTION = "connection"  # PE connection Pending on the target: a person is expected to approve it
    USER_FIXABLE = "user-fixable"  # refused or failed: slow, a fix in Azure is picked up


DEPENDENCY_CEILING = 60.0
AZURE_CEILING = 300.0
PERSON_CEILING = 600.0
USER_FIXABLE_CEILING = 3600.0


@dataclass(frozen=True)
class Bases:
    """The settings the delays start from (settings.Settings has them all)."""

    dependency_wait: float
    slow_retry: float


def delay(retry: Retry, attempt: int, bases: Bases, retry_after: float | None = None) -> float | None:
    """Seconds until the next look; None: no early look (the drift timer)."""
    if retry is Retry.NONE:
        return None
    base, ceiling = {
        Retry.DEPENDENCY: (bases.dependency_wait, DEPENDENCY_CEILING),
        Retry.AZURE_PROGRESS: (bases.dependency_wait, AZURE_CEILING),
        Retry.CONNECTION: (bases.dependency_wait, PERSON_CEILING),
        Retry.USER_FIXABLE: (bases.slow_retry, USER_FIXABLE_CEILING),
    }[retry]
    backoff = min(base * (2 ** min(max(attempt, 0), 32)), max(ceiling, base))
    return max(backoff, retry_after or 0.0)


@dataclass(frozen=True)
class Schedule:
    """One object's requeue state: what it waits for, how many times in a row, and when it is due."""

    retry: Retry = Retry.NONE
    attempt: int = 0
    due_at: float | None = None  # monotonic seconds; None: not waiting

    def due(self, now: float) -> bool:
        return self.due_at is None or now >= self.due_at


def next_schedule(previous: Schedule | None, retry: Retry, now: float, bases: Bases,
                  retry_after: float | None = None) -> Schedule:
    """The schedule after a run that answered `retry`: the same answer again, once due, backs off one step further.
    Looks before it is due (a drift check of a Failed rule, a change event) leave the schedule as it is."""
    if previous is not None and previous.retry is retry and previous.due_at is not None and not previous.due(now):
        return previous
    attempt = previous.attempt + 1 if previous is not None and previous.retry is retry else 0
    wait = delay(retry, attempt, bases, retry_after)
    return Schedule(retry, attempt, None if wait is None else now + wait)
