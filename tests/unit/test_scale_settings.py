"""The scale knobs: API server connection and worker caps, quiet routine logs, proxy look-ups only with a proxy."""

import asyncio
import logging

import aiohttp
import kopf
import pytest

from promptflow_netiso.azure.transport import proxy_configured
from promptflow_netiso.handlers import kube_session, outbound_rule
from promptflow_netiso.handlers.startup import configure_kopf
from promptflow_netiso.settings import Settings


def test_the_connection_cap_has_a_bounded_default_and_zero_means_no_cap(monkeypatch):
    monkeypatch.delenv("PROMPTFLOW_NETISO_KUBE_CONNECTIONS", raising=False)
    assert kube_session.connection_limit(Settings.from_env()) == 20
    monkeypatch.setenv("PROMPTFLOW_NETISO_KUBE_CONNECTIONS", "0")
    assert kube_session.connection_limit(Settings.from_env()) == 0  # aiohttp: no limit


def test_a_tiny_connection_cap_is_raised():
    assert kube_session.connection_limit(Settings(kube_connections=3)) == kube_session.MIN_KUBE_CONNECTIONS


def test_no_kopf_worker_limit_that_would_deadlock_the_start_behind_the_indexes():
    settings = kopf.OperatorSettings()
    configure_kopf(settings)
    assert settings.queueing.worker_limit is None


@pytest.mark.parametrize("raw", ["many", "-2", "1.5"])
def test_bad_caps_name_the_variable(monkeypatch, raw):
    monkeypatch.setenv("PROMPTFLOW_NETISO_KUBE_CONNECTIONS", raw)
    with pytest.raises(ValueError, match="PROMPTFLOW_NETISO_KUBE_CONNECTIONS"):
        Settings.from_env()


@pytest.mark.parametrize("message, routine", [
    ("Timer 'check_outbound_rules_drift' succeeded.", True),
    ("Handler 'workspace_rule_event' succeeded.", True),
    ("Handler 'workspace_reconcile' succeeded.", False),  # a change was handled: news
    ("Handler 'resume_outbound_rule' succeeded.", True),  # every object at every start
    ("Resuming is processed: 1 succeeded; 0 failed.", True),
    ("Resuming is processed: 0 succeeded; 1 failed.", False),
    ("Timer 'workspace_drift' failed temporarily: 403 AuthorizationFailed", False),
])
def test_routine_success_is_debug_and_the_rest_stays(message, routine):
    assert kube_session.routine(message) is routine


def test_the_filter_drops_routine_success_at_info_and_keeps_it_at_debug():
    f = kube_session.RoutineSuccessAtDebug()
    logger = logging.getLogger("kopf.objects")
    old = logger.level
    try:
        logger.setLevel(logging.INFO)
        record = logger.makeRecord("kopf.objects", logging.INFO, __file__, 1, "Timer 'x' succeeded.", (), None)
        assert f.filter(record) is False and record.levelno == logging.DEBUG
        logger.setLevel(logging.DEBUG)
        record = logger.makeRecord("kopf.objects", logging.INFO, __file__, 1, "Timer 'x' succeeded.", (), None)
        assert f.filter(record) is True
        warning = logger.makeRecord("kopf.objects", logging.WARNING, __file__, 1, "Timer 'x' succeeded.", (), None)
        assert f.filter(warning) is True and warning.levelno == logging.WARNING
    finally:
        logger.setLevel(old)


@pytest.mark.parametrize("env, expected", [
    ({}, False),
    ({"NO_PROXY": "*"}, False),
    ({"HTTPS_PROXY": "http://proxy:3128"}, True),
    ({"https_proxy": "http://proxy:3128"}, True),
    ({"HTTPS_PROXY": ""}, False),
])
def test_proxy_lookups_only_when_a_proxy_is_configured(env, expected):
    assert proxy_configured(env) is expected


def test_the_workspace_check_feeds_the_rules_network_id_so_rules_do_not_read_the_workspace_again():
    async def scenario():
        calls = []

        class Ml:
            async def get_workspace(self, *coords):
                calls.append(coords)
                raise AssertionError("no GET expected")

        class Azure:
            ml = Ml()

        outbound_rule.note_workspace("Sub", "RG", "WS", "net-1")
        coords = outbound_rule.Coordinates("sub", "rg", "ws")
        return await outbound_rule._network_id(Azure(), coords, max_age=60), calls

    assert asyncio.run(scenario()) == ("net-1", [])


def test_the_cap_holds_requests_but_never_counts_watch_streams():
    """Watch streams hold their connection for minutes (one per kind and namespace): if they counted, enough watched
    namespaces would leave no slot for any PATCH. Requests beyond the cap wait; watches never do."""
    from aiohttp import web

    async def scenario() -> tuple[int, int]:
        in_flight = peak = 0
        release_watches = asyncio.Event()

        async def watch(request: web.Request) -> web.StreamResponse:
            resp = web.StreamResponse()
            await resp.prepare(request)
            await resp.write(b'{"type": "BOOKMARK"}\n')
            await release_watches.wait()
            return resp

        async def get(request: web.Request) -> web.Response:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.05)
            in_flight -= 1
            return web.json_response({})

        app = web.Application()
        app.router.add_get("/watch", watch)
        app.router.add_get("/get", get)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                         trace_configs=[kube_session.request_cap(2)]) as session:
            watches = [await session.get(f"{base}/watch", params={"watch": "true"}) for _ in range(5)]
            for w in watches:
                await w.content.readline()  # five streams open, more than the cap
            bodies = await asyncio.wait_for(asyncio.gather(*(session.get(f"{base}/get") for _ in range(8))), 10)
            done = sum(1 for r in bodies if r.status == 200)
            release_watches.set()
            for w in watches:
                w.release()
        await runner.cleanup()
        return done, peak

    done, peak = asyncio.run(scenario())
    assert done == 8  # not starved by the five open watch streams
    assert peak <= 2  # never more than the cap in flight


def test_reconciles_are_capped_and_drift_checks_leave_half_of_the_slots_to_changes(monkeypatch):
    from promptflow_netiso.azure.limits import background
    from promptflow_netiso.handlers import common

    monkeypatch.setattr(common, "_slots", {})
    settings = Settings(max_reconciles=4)
    running = {"all": 0, "peak": 0, "background": 0, "background_peak": 0}
    release = asyncio.Event()

    async def reconcile(is_background: bool) -> None:
        async def body() -> None:
            async with common.reconcile_slot(settings):
                running["all"] += 1
                running["peak"] = max(running["peak"], running["all"])
                if is_background:
                    running["background"] += 1
                    running["background_peak"] = max(running["background_peak"], running["background"])
                await release.wait()
                running["all"] -= 1
                running["background"] -= is_background
        if is_background:
            with background():
                await body()
        else:
            await body()

    async def scenario() -> None:
        drift = [asyncio.create_task(reconcile(True)) for _ in range(10)]
        for _ in range(5):
            await asyncio.sleep(0)
        assert running["all"] == 2  # a drift sweep takes half of the slots
        change = asyncio.create_task(reconcile(False))
        for _ in range(5):
            await asyncio.sleep(0)
        assert running["all"] == 3  # ... so a person's change runs at once
        release.set()
        await asyncio.gather(change, *drift)

    asyncio.run(scenario())
    assert running["peak"] <= 4 and running["background_peak"] == 2


def test_a_task_started_inside_a_reconcile_cannot_give_its_parents_slot_away(monkeypatch):
    from promptflow_netiso.handlers import common

    monkeypatch.setattr(common, "_slots", {})
    settings = Settings(max_reconciles=1)

    async def scenario() -> tuple[bool, bool]:
        async with common.reconcile_slot(settings):
            async def child() -> None:  # inherits the reconcile's context, as a batch's drain task does
                async with common.slot_released():
                    pass
            await asyncio.create_task(child())
            still_held = common._slots["all"].locked()
            async with common.slot_released():  # the reconcile itself may give it back
                given_back = not common._slots["all"].locked()
        return still_held, given_back

    still_held, given_back = asyncio.run(scenario())
    assert still_held and given_back
    assert not common._slots["all"].locked()  # released once, not twice: the cap is intact
    assert common._slots["all"]._value == 1


def test_the_reconcile_cap_is_a_documented_setting(monkeypatch):
    monkeypatch.setenv("PROMPTFLOW_NETISO_MAX_RECONCILES", "0")
    assert Settings.from_env().max_reconciles == 0  # no cap
    monkeypatch.delenv("PROMPTFLOW_NETISO_MAX_RECONCILES")
    assert Settings.from_env().max_reconciles == 64


def test_the_start_up_listing_is_read_in_chunks():
    settings = kopf.OperatorSettings()
    configure_kopf(settings)
    assert settings.watching.chunk_size == 200  # not one answer holding every object at once
