"""Benchmarks of mms-pulumi: run `python -m benchmarks.run` from the repository root."""
