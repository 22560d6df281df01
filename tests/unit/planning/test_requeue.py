"""When to look again: one calculator, exponential back-off to documented ceilings, Retry-After as a floor."""

from __future__ import annotations

import pytest

from promptflow_netiso.planning import requeue
from promptflow_netiso.planning.requeue import Bases, Retry, Schedule, delay, next_schedule

BASES = Bases(dependency_wait=5.0, slow_retry=120.0)


@pytest.mark.parametrize("retry, attempt, retry_after, expected", [
    (Retry.NONE, 3, None, None),
    (Retry.DEPENDENCY, 0, None, 5.0),
    (Retry.DEPENDENCY, 10, None, requeue.DEPENDENCY_CEILING),
    (Retry.AZURE_PROGRESS, 2, None, 20.0),
    (Retry.AZURE_PROGRESS, 0, 30.0, 30.0),  # Retry-After is a floor
    (Retry.AZURE_PROGRESS, 20, None, requeue.AZURE_CEILING),
    (Retry.CONNECTION, 0, None, 5.0),
    (Retry.CONNECTION, 50, None, requeue.PERSON_CEILING),
    (Retry.USER_FIXABLE, 0, None, 120.0),
    (Retry.USER_FIXABLE, 1, None, 240.0),
    (Retry.USER_FIXABLE, 99, None, requeue.USER_FIXABLE_CEILING),
])
def test_delay(retry, attempt, retry_after, expected):
    assert delay(retry, attempt, BASES, retry_after) == expected


def test_a_rule_waiting_for_a_person_backs_off_instead_of_polling_every_few_seconds():
    s, now, looks = None, 0.0, 0
    while now < 3600:
        s = next_schedule(s, Retry.CONNECTION, now, BASES)
        now = s.due_at
        looks += 1
    assert looks < 15  # 5 s, 10 s, ... then every 10 min: not 720 looks (3 ARM reads each) in an hour


def test_another_answer_starts_over_and_converged_is_never_due_early():
    waiting = next_schedule(next_schedule(None, Retry.CONNECTION, 0.0, BASES), Retry.CONNECTION, 5.0, BASES)
    assert waiting.attempt == 1 and waiting.due_at == 15.0
    failed = next_schedule(waiting, Retry.USER_FIXABLE, 15.0, BASES)
    assert failed.attempt == 0 and failed.due_at == 135.0 and not failed.due(100.0) and failed.due(135.0)
    done = next_schedule(failed, Retry.NONE, 200.0, BASES)
    assert done.due_at is None and done.due(200.0) and Schedule().due(0.0)


def test_looks_before_the_schedule_is_due_do_not_push_it_further():
    first = next_schedule(None, Retry.USER_FIXABLE, 0.0, BASES)
    assert next_schedule(first, Retry.USER_FIXABLE, 60.0, BASES) == first  # a drift check at 60 s: still due at 120 s
    second = next_schedule(first, Retry.USER_FIXABLE, 120.0, BASES)
    assert (second.attempt, second.due_at) == (1, 360.0)
