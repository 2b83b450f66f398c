#!/usr/bin/env bash
# Installs what keywarden's tests and demo need on a fresh Debian machine. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! [ -x /usr/sbin/clickhouse-server ] || ! command -v clickhouse-client >/dev/null; then
  echo "deps: installing Debian's clickhouse-server and clickhouse-client"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "deps: installing Debian's nodejs and npm"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nodejs npm >/dev/null
fi

for dir in contracts conformance; do
  if [ -f "$dir/package-lock.json" ]; then
    if ! [ -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
      echo "deps: npm ci in $dir"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
  fi
done

go mod download
