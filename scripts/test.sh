#!/usr/bin/env bash
# Runs every test: prepares the machine (Docker engine, runner images, Chromium, PostgreSQL), then the whole CI solution.
# Extra arguments go to dotnet test, e.g.:  bash scripts/test.sh --filter-trait "Category=EndToEnd"
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prepare.sh
export RUNNERFLEET_TEST_POSTGRES="${RUNNERFLEET_TEST_POSTGRES:-Host=127.0.0.1;Port=5432;Username=runnerfleet;Password=runnerfleet;Database=runnerfleet_test}"
dotnet test --solution RunnerFleet.Ci.slnf "$@"
