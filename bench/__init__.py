"""Benchmarks: speed and memory targets, measured (see docs/benchmarks.md)."""
