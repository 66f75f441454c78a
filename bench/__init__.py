"""Benchmarks (not tests): run each script directly, see README.md."""
