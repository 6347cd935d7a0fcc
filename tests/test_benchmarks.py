"""The benchmark runs on its own: it imports nothing from the tests, and its plugin driver
speaks to the real plugin (a tiny preview, no timing asserted)."""

from __future__ import annotations

import ast
from pathlib import Path

from benchmarks.run import preview_cost

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_benchmarks_import_nothing_from_the_tests() -> None:
    for source in BENCHMARKS.glob("*.py"):
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
