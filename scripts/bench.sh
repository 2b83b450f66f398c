#!/usr/bin/env bash
# bench.sh: keywarden's benchmarks, with the machine named. Figures are ratios or carry the
# machine; none is asserted anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores"
echo
echo "== decoder vs go-ethereum abi (pkg/decoder)"
bash scripts/bench-decoder.sh 3
echo
echo "== policy evaluations per second (pkg/policy, the default policy file)"
go test ./pkg/policy -run '^$' -bench '^BenchmarkEvaluateDefault$' -benchtime 2s | grep -E '^Benchmark'
echo
echo "== breaching key state -> user operation accepted by the bundler (pkg/enforcer, dev chain)"
go test ./pkg/enforcer -run '^$' -bench '^BenchmarkEventToSubmit$' -benchtime 50x | grep -E '^Benchmark'
echo
echo "== user operations (pkg/actions: hash, guarded signature, one removal end to end)"
go test ./pkg/actions -run '^$' -bench . -benchtime 20x | grep -E '^Benchmark'
echo
echo "== ClickHouse batch writes (pkg/store)"
go test ./pkg/store -run '^$' -bench WriteBatch -benchtime 20x | grep -E '^Benchmark'
echo
echo "== dev chain scenario throughput (cmd/devchain, 100,000 session-key events)"
bash scripts/devchain-bench.sh
for extra in scripts/bench-*.sh; do
  case "$extra" in scripts/bench-decoder.sh) continue ;; esac
  echo
  echo "== $extra"
  bash "$extra"
done
