#!/usr/bin/env bash
# Installs what the search needs (scripts/setup.sh), then runs the main job on the sample
# data in data/: 50 TPE trials, resumable, printing the best parameters and a per-image
# table of the similarity before and after. Extra arguments go to `coordinator run`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m coordinator run --data data --max-evals 50 "$@"
