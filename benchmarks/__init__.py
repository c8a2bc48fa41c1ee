"""Benchmark scripts (run directly: `.venv/bin/python benchmarks/<name>.py`); see README."""
