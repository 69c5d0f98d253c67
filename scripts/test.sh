#!/usr/bin/env bash
# Runs every test: prepares the machine (Docker engine, runner image), then the whole CI solution.
# Extra arguments go to dotnet test, e.g.:  bash scripts/test.sh --filter-trait "Category=EndToEnd"
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prepare.sh
dotnet test --solution RunnerFleet.Ci.slnf "$@"
