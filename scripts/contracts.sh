#!/usr/bin/env bash
# Rebuilds the Solidity stand-ins (contracts/src) into contracts/build/*.json with the solc pinned in
# contracts/package.json, and copies the EntryPoint v0.6.0 artifact from @account-abstraction/contracts into
# contracts/build/entrypoint/ (git-ignored). Installs the pinned npm packages first when needed.
#   scripts/contracts.sh           rebuild
#   scripts/contracts.sh --check   fail if a committed artifact differs from a fresh build (still refreshes
#                                  build/entrypoint/)
set -euo pipefail
cd "$(dirname "$0")/../contracts"

if ! [ -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "contracts: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

node compile.js "$@"
