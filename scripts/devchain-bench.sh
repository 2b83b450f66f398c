#!/usr/bin/env bash
# Measures how fast the dev chain produces session-key events: runs cmd/devchain with a scenario and prints
# its throughput line. Usage: scripts/devchain-bench.sh [scenario]   (owned by the devchain helper)
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIO="${1:-accounts=100,keys=10,mix=add:5,update:3,rotate:1,remove:1,events=100000,rate=0}"
go build -o bin/devchain ./cmd/devchain
/usr/bin/time -f 'devchain-bench: %e s wall, %U s user, %S s sys, %M KiB max RSS' \
  bin/devchain -scenario "$SCENARIO" -exit-after-scenario -log-level warn | grep '^scenario:'
