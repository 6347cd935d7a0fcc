"""The project's own tools; `pulumi_cli` is importable by the tests and benchmarks."""
