#!/usr/bin/env bash
# Installs everything the tests need (scripts/setup.sh --test), then runs the checks:
# ruff, mypy (strict) and pytest. Extra arguments go to pytest.
#
# MongoDB: with OCRTUNE_TEST_MONGO_URI set, the MongoDB tests use that real server;
# otherwise they use a wire-protocol stand-in (tests/standin) started on 127.0.0.1.
# Real photos: with OCRTUNE_PHOTOS pointing at a folder of images/ and texts/, the tests
# that need them run; otherwise they are skipped, each saying so.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
