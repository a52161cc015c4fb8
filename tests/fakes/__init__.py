"""Objectives for tests: instant, deterministic, and able to hang or fail on request."""
