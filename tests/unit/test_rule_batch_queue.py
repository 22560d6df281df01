"""The per-workspace rule queue (handlers/rule_batch.py) against a fake Azure: writes queued together become one
batch POST, one operation at a time; a refused body falls back to one PUT per rule so only the bad rule fails; a
workspace without the batch endpoint is written one PUT per rule; deletes go alone, in their turn."""

from __future__ import annotations

import asyncio
import types

import pytest

from promptflow_netiso.azure.errors import AzureError, ErrorKind
from promptflow_netiso.azure.ml import OutboundRule
from promptflow_netiso.handlers import rule_batch
from promptflow_netiso.planning.outbound_rule import Coordinates

COORDS = Coordinates("sub-1", "rg", "ws")


def rule(name: str, props: dict) -> OutboundRule:
    return OutboundRule(name=name, type=props.get("type", "FQDN"), category="UserDefined", status="Active",
                        destination=props.get("destination"), error_information=None)


class FakeML:
    def __init__(self, batch_error: AzureError | None = None, bad: str | None = None):
        self.calls: list[tuple] = []
        self.running = 0
        self.max_running = 0
        self.batch_error, self.bad = batch_error, bad

    async def _op(self):
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        await asyncio.sleep(0.05)
        self.running -= 1

    async def post_outbound_rules(self, sub, rg, ws, rules, on_accepted=None):
        self.calls.append(("POST", sorted(rules)))
        if self.batch_error is not None:
            raise self.batch_error
        if on_accepted:
            await on_accepted("https://arm/op/batch")
        await self._op()
        return [rule(n, p) for n, p in rules.items()]

    async def put_outbound_rule(self, sub, rg, ws, name, props, on_accepted=None):
        self.calls.append(("PUT", name))
        if name == self.bad:
            raise AzureError(status=400, code="BadRequest", message=f"bad {name}", kind=ErrorKind.USER_FIXABLE)
        if on_accepted:
            await on_accepted("https://arm/op/put")
        await self._op()
        return rule(name, props)

    async def delete_outbound_rule(self, sub, rg, ws, name):
        self.calls.append(("DELETE", name))
        await self._op()

    async def list_outbound_rules(self, sub, rg, ws):
        return []


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    rule_batch._single.clear()
    yield
    rule_batch._single.clear()


def props(name: str) -> dict:
    return {"type": "FQDN", "category": "UserDefined", "destination": f"{name}.example.com"}


async def test_writes_queued_together_become_one_post_and_each_gets_its_rule():
    ml = FakeML()
    azure = types.SimpleNamespace(ml=ml)
    accepted: list[tuple] = []

    def recorder(name):
        async def on_accepted(url, operation):
            accepted.append((name, operation, url))
        return on_accepted

    names = [f"r{i}" for i in range(5)]
    got = await asyncio.gather(*[rule_batch.write(azure, COORDS, n, props(n), batch_size=50, on_accepted=recorder(n))
                                 for n in names])
    assert [r.name for r in got] == names
    assert ml.calls == [("POST", names)]
    assert sorted(accepted) == [(n, "POST", "https://arm/op/batch") for n in names]
    assert rule_batch._queues == {}, "nothing left behind once drained"


async def test_batches_respect_the_size_and_run_one_at_a_time():
    ml = FakeML()
    azure = types.SimpleNamespace(ml=ml)
    await asyncio.gather(*[rule_batch.write(azure, COORDS, f"r{i}", props(f"r{i}"), batch_size=2) for i in range(5)])
    assert [c[0] for c in ml.calls] == ["POST", "POST", "PUT"] and ml.max_running == 1


async def test_a_refused_batch_is_sent_one_put_each_so_only_the_bad_rule_fails():
    ml = FakeML(batch_error=AzureError(status=400, code="BadRequest", message="rule r1 is invalid",
                                       kind=ErrorKind.USER_FIXABLE), bad="r1")
    azure = types.SimpleNamespace(ml=ml)
    results = await asyncio.gather(*[rule_batch.write(azure, COORDS, n, props(n), batch_size=50) for n in ("r0", "r1", "r2")],
                                   return_exceptions=True)
    assert isinstance(results[1], AzureError) and results[1].code == "BadRequest"
    assert [r.name for r in (results[0], results[2])] == ["r0", "r2"]
    assert ml.calls == [("POST", ["r0", "r1", "r2"]), ("PUT", "r0"), ("PUT", "r1"), ("PUT", "r2")]


async def test_a_conflict_is_every_writes_answer():
    ml = FakeML(batch_error=AzureError(status=409, code="Conflict", message="busy", kind=ErrorKind.CONFLICT))
    azure = types.SimpleNamespace(ml=ml)
    results = await asyncio.gather(*[rule_batch.write(azure, COORDS, n, props(n), batch_size=50) for n in ("a", "b")],
                                   return_exceptions=True)
    assert all(isinstance(r, AzureError) and r.kind is ErrorKind.CONFLICT for r in results)
    assert ml.calls == [("POST", ["a", "b"])], "not retried blind"


async def test_without_the_batch_endpoint_the_workspace_is_written_one_put_per_rule_from_then_on():
    ml = FakeML(batch_error=AzureError(status=404, code="NoRegisteredProviderFound", message="no such API",
                                       kind=ErrorKind.NOT_FOUND))
    azure = types.SimpleNamespace(ml=ml)
    await asyncio.gather(*[rule_batch.write(azure, COORDS, n, props(n), batch_size=50) for n in ("a", "b")])
    await asyncio.gather(*[rule_batch.write(azure, COORDS, n, props(n), batch_size=50) for n in ("c", "d")])
    assert ml.calls == [("POST", ["a", "b"]), ("PUT", "a"), ("PUT", "b"), ("PUT", "c"), ("PUT", "d")]


async def test_a_delete_goes_alone_in_its_turn():
    ml = FakeML()
    azure = types.SimpleNamespace(ml=ml)
    await asyncio.gather(rule_batch.write(azure, COORDS, "a", props("a"), batch_size=50),
                         rule_batch.delete(azure, COORDS, "x"),
                         rule_batch.write(azure, COORDS, "b", props("b"), batch_size=50))
    assert ml.calls == [("POST", ["a", "b"]), ("DELETE", "x")] and ml.max_running == 1


def test_a_rule_waiting_for_its_batch_gives_its_reconcile_slot_back_and_finishes_without_queueing_again(monkeypatch):
    """Rules waiting for a shared batch operation (minutes in Azure) hold no reconcile slot: with 2 slots, 6 rules
    all join at most two batches. Once its batch ended a rule finishes without queueing for a slot again, even while
    others hold every slot (with ARM's throttling, queueing again kept finished rules waiting behind rules that had not
    started), and every slot is given back exactly once."""
    from promptflow_netiso.handlers import common
    from promptflow_netiso.settings import Settings

    monkeypatch.setattr(common, "_slots", {})
    settings = Settings(max_reconciles=2)
    ml = FakeML()
    azure = types.SimpleNamespace(ml=ml)
    finished: list[str] = []
    release = asyncio.Event()

    async def reconcile(name: str) -> None:
        async with common.reconcile_slot(settings):
            async with common.slot_released():
                await rule_batch.write(azure, COORDS, name, props(name), batch_size=50)
            finished.append(name)

    async def hold_a_slot() -> None:
        async with common.reconcile_slot(settings):
            await release.wait()

    async def scenario() -> None:
        rules = [asyncio.ensure_future(reconcile(f"r{i}")) for i in range(6)]
        await asyncio.sleep(0.01)  # every rule has taken a slot in turn and given it back: all wait for Azure
        holders = [asyncio.ensure_future(hold_a_slot()) for _ in range(2)]
        await asyncio.wait_for(asyncio.gather(*rules), timeout=5)
        assert len(finished) == 6, "finished while other reconciles held every slot"
        release.set()
        await asyncio.gather(*holders)
        assert common._slots["all"]._value == 2, "every slot given back exactly once"

    asyncio.run(scenario())
    written = [n for c in ml.calls for n in (c[1] if c[0] == "POST" else [c[1]])]
    assert sorted(written) == [f"r{i}" for i in range(6)] and len(ml.calls) <= 2, \
        "each rule written once, the late ones together while the first ran"


async def test_a_write_to_an_idle_workspace_is_sent_at_once_and_later_ones_join_the_next_batch():
    """No gathering delay: the first write reaches Azure right away (event -> first ARM request in milliseconds);
    writes that arrive while it runs go out together after it."""
    ml = FakeML()
    azure = types.SimpleNamespace(ml=ml)
    first = asyncio.ensure_future(rule_batch.write(azure, COORDS, "a", props("a"), batch_size=50))
    await asyncio.sleep(0.01)
    assert ml.calls == [("PUT", "a")], "sent without waiting for company"
    later = [rule_batch.write(azure, COORDS, n, props(n), batch_size=50) for n in ("b", "c", "d")]
    await asyncio.gather(first, *later)
    assert ml.calls == [("PUT", "a"), ("POST", ["b", "c", "d"])] and ml.max_running == 1


async def test_the_first_write_waits_only_for_the_companions_it_announced():
    """Rules applied together: the first knows how many others of its workspace are on their way and waits (at most
    GATHER_S) for them, so they share one operation; a lone change announces none and goes at once."""
    ml = FakeML()
    azure = types.SimpleNamespace(ml=ml)
    first = asyncio.ensure_future(rule_batch.write(azure, COORDS, "a", props("a"), batch_size=50, companions=2))
    await asyncio.sleep(0.01)
    assert ml.calls == [], "waiting for the two it announced"
    others = [rule_batch.write(azure, COORDS, n, props(n), batch_size=50) for n in ("b", "c")]
    await asyncio.gather(first, *others)
    assert ml.calls == [("POST", ["a", "b", "c"])]


async def test_companions_that_never_come_delay_the_first_write_by_gather_s_at_most(monkeypatch):
    monkeypatch.setattr(rule_batch, "GATHER_S", 0.05)
    ml = FakeML()
    azure = types.SimpleNamespace(ml=ml)
    await rule_batch.write(azure, COORDS, "a", props("a"), batch_size=50, companions=3)
    assert ml.calls == [("PUT", "a")]
