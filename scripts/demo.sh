#!/usr/bin/env bash
# make demo: what umbra can do today, on this one machine.
set -euo pipefail
BUILD=${1:-build}
echo "== umbrad --version"; "$BUILD/umbrad" --version
echo "== umbra --help"; "$BUILD/umbra" --help
echo "== umbra selftest"; "$BUILD/umbra" selftest
