"""bench_restart borrows bench_scale's Run: every option Run reads must be in bench_restart's arguments too (a
bench_scale option added without it broke `make bench` once, with an AttributeError)."""

from __future__ import annotations

import inspect
import re

from tests.bench import bench_restart, bench_scale


def test_bench_restart_gives_bench_scales_run_every_option_it_reads():
    read = set(re.findall(r"self\.args\.(\w+)", inspect.getsource(bench_scale.Run)))
    assert read, "Run reads its options from self.args"
    for argv in ([], ["--full"]):
        given = vars(bench_restart.parse_args(argv))
        assert read <= set(given), f"missing in bench_restart {argv}: {sorted(read - set(given))}"


def test_bench_restart_keeps_its_own_defaults():
    args = bench_restart.parse_args([])
    assert (args.workspaces, args.rules, args.drift_interval) == (100, 10, 86400.0)
    assert bench_restart.parse_args(["--full"]).workspaces == 1000
