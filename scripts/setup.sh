#!/usr/bin/env bash
# Installs what ocr-tune needs on Debian 12+ or Ubuntu 24.04+: Tesseract with English
# from the distribution, and a virtual environment (.venv) with the project in it.
#   scripts/setup.sh          what running the search needs
#   scripts/setup.sh --test   plus what the tests need (fonts, chromium, test libraries)
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

packages=(tesseract-ocr tesseract-ocr-eng)
if [ "$with_tests" = 1 ]; then
  # Fonts for the sample-data generator's test; chromium for the report's screenshot test.
  packages+=(fonts-dejavu-core fonts-liberation2 fonts-freefont-ttf chromium)
fi
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  packages+=(python3-venv python3-pip)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "Installing from apt: ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
extra=""
[ "$with_tests" = 1 ] && extra="[test]"
.venv/bin/python -m pip install --quiet --upgrade pip
# requirements.lock pins the versions the Docker image uses; the same pins here.
# setuptools warns on every editable install that folders named like a package shadow it;
# here they are the package, so the warning (a UserWarning) is left out.
PYTHONWARNINGS="ignore::UserWarning" .venv/bin/python -m pip install --quiet \
  --constraint requirements.lock --editable ".${extra}"
