"""Benchmarks for streamproc (`make bench`): not part of the test suite; figures, not pass/fail."""
