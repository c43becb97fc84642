#!/bin/bash
# Development: seed once (SEED=1), reset before each test run.
set -e
FIXTURE="${FIXTURE:-/fixtures/seed-data.heliodump}"
if [ "${SEED:-0}" = 1 ]; then
  mkdir -p "$(dirname "$FIXTURE")"
  heliosdb-lite dump --output "$FIXTURE" --compress zstd
fi
heliosdb-lite restore --input "$FIXTURE" --mode clean
