#!/usr/bin/env bash
# bench-decoder.sh: benchmark pkg/decoder against go-ethereum's accounts/abi on the same logs
# and print the ratio. Usage: scripts/bench-decoder.sh [count] (default 5 runs of each; the
# medians are compared, so a noisy neighbour on a shared machine skews the result less).
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-5}"
out=$(go test ./pkg/decoder -run '^$' -bench '^(BenchmarkDecode|BenchmarkABIDecode)$' -benchmem -count "$count")
echo "$out" | grep -E '^(cpu|Benchmark)'
echo "$out" | awk '
	function median(a, n,   i, j, t) {
		for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j+1] = a[j]; a[j+1] = t }
		return (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
	}
	$1 ~ /^BenchmarkDecode(-[0-9]+)?$/    { d[++nd] = $3 }
	$1 ~ /^BenchmarkABIDecode(-[0-9]+)?$/ { g[++ng] = $3 }
	END {
		if (nd == 0 || ng == 0) { print "bench-decoder: benchmark output missing" > "/dev/stderr"; exit 1 }
		md = median(d, nd); mg = median(g, ng)
		printf "decoder: %.0f ns/op, go-ethereum abi: %.0f ns/op (median of %d)\n", md, mg, nd
		printf "decoder vs go-ethereum abi: %.1fx faster\n", mg / md
	}'
