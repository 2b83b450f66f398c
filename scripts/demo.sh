#!/usr/bin/env bash
# demo.sh: keywarden's main job on a local chain. It starts a throwaway ClickHouse, builds the
# binaries, and runs cmd/demo, which starts a dev chain with its bundler and an embedded NATS
# server, runs the real indexer and enforcer binaries against them, plays a scenario in which
# keys breach policy, and prints what keywarden caught and did.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(mktemp -d /tmp/keywarden-demo.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas"
sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" deploy/demo/clickhouse.xml.tmpl > "$dir/clickhouse.xml"
/usr/sbin/clickhouse-server --config-file="$dir/clickhouse.xml" >"$dir/stdout.log" 2>&1 &
ch=$!
cleanup() { kill "$ch" 2>/dev/null || true; wait "$ch" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  clickhouse-client --port "$port" -q 'SELECT 1' >/dev/null 2>&1 && break
  kill -0 "$ch" 2>/dev/null || { echo "demo: clickhouse-server did not start:"; tail -20 "$dir/server.err.log" "$dir/stdout.log"; exit 1; }
  sleep 0.2
done
echo "demo: ClickHouse $(clickhouse-client --port "$port" -q 'SELECT version()') on 127.0.0.1:$port"

go build -o bin/ ./cmd/indexer ./cmd/enforcer ./cmd/demo
./bin/demo -clickhouse "127.0.0.1:$port" -bin bin -work "$dir" "$@"
