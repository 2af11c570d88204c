"""Benchmarks against raw Celery on the same broker (not timed tests; see bench/run.sh)."""
