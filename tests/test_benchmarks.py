"""The benchmark runs on its own: it imports nothing from the tests, and its plugin driver
speaks to the real plugin (a tiny preview, no timing asserted)."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

from benchmarks.engine_client import decode_records, encode_records
from benchmarks.peers import (
    ORACLE,
    STRATEGIES,
    ExponentialSchedule,
    FixedSchedule,
    RetryAfterSchedule,
    run_side_by_side,
    schedule_looks,
)
from benchmarks.run import overhead, preview_cost

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_benchmarks_import_nothing_from_the_tests() -> None:
    for source in BENCHMARKS.rglob("*.py"):
        tree = ast.parse(source.read_text(), str(source))
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not [n for n in names if n == "tests" or n.startswith("tests.")], source


def test_the_benchmark_drives_the_real_plugin() -> None:
    assert preview_cost(resources=2) > 0


def test_the_go_clients_records_round_trip_and_refuse_truncation() -> None:
    messages = [b"", b"check", bytes(range(256)) * 300]
    encoded = encode_records(messages)
    assert decode_records(encoded) == messages
    with pytest.raises(ValueError, match="truncated record"):
        decode_records(encoded[:-1])
    with pytest.raises(ValueError, match="truncated length"):
        decode_records(encoded + b"\x01")


def test_peer_schedules_look_when_their_sources_say() -> None:
    # The 2017 CLI: at once, then every 5 s.
    assert schedule_looks(FixedSchedule(interval=5.0), 12) == [0.0, 5.0, 10.0, 15.0]
    # azure-core: 30 s before every look (no Retry-After), or what Retry-After says.
    core = RetryAfterSchedule()
    assert schedule_looks(core, 40) == [30.0, 60.0]
    assert core.next_delay(30.0, retry_after=2.0) == 2.0
    # Terraform: at once, then 0.2, 0.4, 0.8 ... capped at 10 s.
    looks = schedule_looks(ExponentialSchedule(), 40)
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(looks)]
    assert gaps[:6] == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4]
    assert set(gaps[6:]) == {10.0}
    # Every schedule stops at the deadline.
    for schedule in (*STRATEGIES.values(), ORACLE):
        assert schedule.next_delay(1.0, remaining=0.01) <= 0.01


def test_side_by_side_drives_the_same_client_and_counts_looks() -> None:
    results = run_side_by_side(0.2, {"fixed 0.1 s": FixedSchedule(interval=0.1)})
    assert set(results) == {"fixed 0.1 s", "oracle"}
    # Two operations (build, deployment), each looked at at least once.
    assert all(result.looks >= 2 and result.wall > 0 for result in results.values())


def test_the_chain_figures_read_the_emulator_counters() -> None:
    figures = overhead(0.2)
    assert figures["polls_per_operation"] >= 1 and figures["requests_per_resource"] > 0


def test_the_engine_benchmark_programs_are_python() -> None:
    """The projects ``benchmarks.engine`` writes must at least parse (they run only there)."""
    from benchmarks import engine

    for program in (
        engine.OURS,
        engine.NOOP,
        engine.NOOP_PROVIDER,
        engine.CHAINS.format(quickstart=engine.QUICKSTART),
    ):
        ast.parse(program)


def test_preview_cost_per_resource_is_the_slope_between_two_sizes() -> None:
    from benchmarks.engine import PreviewFloor

    figures = PreviewFloor(small=50, resources=200, ours=(2.0, 5.3), floor=(1.5, 4.5))
    assert round(figures.ours_ms, 6) == 22.0  # 3.3 s more for 150 more resources
    assert round(figures.floor_ms, 6) == 20.0  # the fixed 0.5 s more of ours drops out
    assert round(figures.ratio, 6) == 1.1


def test_the_figures_page_names_its_commit_and_command() -> None:
    import datetime

    from benchmarks.report import figures_page

    page = figures_page(
        [("chain, 1 s operations", "2.5 s / 2 s"), ("  polls per operation", "10 | 12")],
        command=".venv/bin/python -m benchmarks.run --quick",
        commit="abc1234+",
        when=datetime.date(2026, 12, 3),
    )
    assert "commit `abc1234+` on 2026-12-03" in page
    assert "`.venv/bin/python -m benchmarks.run --quick`" in page
    assert "| chain, 1 s operations | 2.5 s / 2 s |" in page
    assert "| ↳ polls per operation | 10 / 12 |" in page
