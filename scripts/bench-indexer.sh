#!/usr/bin/env bash
# bench-indexer.sh: the indexer end to end on the dev chain (bench/indexer): backfill
# events/s and blocks/s into ClickHouse + NATS versus a bare eth_getLogs loop on the same node
# (ratio = bare time / indexer time, so 1.0 means the indexer keeps up with the node), and the
# head latency block -> row and block -> message at 1 s blocks (p50/p99).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores"
go test ./bench/indexer -run '^$' -bench '^BenchmarkBackfill$' -benchtime "${BACKFILL_RUNS:-3}x" -v 2>&1 | grep -E '^Benchmark|bench_test.go'
go test ./bench/indexer -run '^$' -bench '^BenchmarkHeadLatency$' -benchtime "${HEAD_BLOCKS:-30}x" -v 2>&1 | grep -E '^Benchmark|bench_test.go'
