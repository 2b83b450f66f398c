package decoder

import (
	"testing"

	"github.com/ethereum/go-ethereum/core/types"
)

// benchLogs is the benchmark's set: every sample (all eight kinds, PermissionsUpdated with
// eight, six and zero updates, edge values), so one op decodes len(samples()) logs.
func benchLogs() []types.Log {
	var lgs []types.Log
	for _, s := range samples() {
		lgs = append(lgs, s.lg)
	}
	return lgs
}

// BenchmarkDecode: the decoder, from raw log to typed event with position.
func BenchmarkDecode(b *testing.B) {
	lgs := benchLogs()
	b.ReportAllocs()
	for b.Loop() {
		for _, lg := range lgs {
			if _, err := Decode(lg, meta); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(lgs)), "ns/log")
}

// BenchmarkABIDecode: go-ethereum's abi on the same logs (EventByID, UnpackIntoMap,
// ParseTopicsIntoMap, and each update by its method's inputs). It stops at generic maps and
// does not build the typed events, so it does less work than BenchmarkDecode.
func BenchmarkABIDecode(b *testing.B) {
	lgs := benchLogs()
	ref := newABIRef()
	b.ReportAllocs()
	for b.Loop() {
		for _, lg := range lgs {
			if _, _, _, err := ref.decodeMaps(lg); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(lgs)), "ns/log")
}
