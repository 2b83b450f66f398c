package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// benchTestChain is a 1000-block chain with a watched log in every other block.
func benchTestChain(b *testing.B) *testChain {
	c := newTestChain(b)
	for i := 0; i < 1000; i++ {
		if i%2 == 0 {
			c.emit(keyAdded(pluginV101, account1))
		} else {
			c.mine(1)
		}
	}
	return c
}

// nullSink takes everything at once.
type nullSink struct{ logs int }

func (s *nullSink) Apply(_ context.Context, b Batch) error { s.logs += len(b.Logs); return nil }
func (s *nullSink) Rollback(context.Context, uint64, BlockRef, []BlockRef) error {
	return nil
}

// BenchmarkBackfill is the source's backfill of the whole chain over HTTP into a sink that
// costs nothing: blocks/s and events/s of the ingest layer alone.
func BenchmarkBackfill(b *testing.B) {
	c := benchTestChain(b)
	head := c.head().Number.Uint64()
	cl := dial(b, c.url)
	b.ResetTimer()
	start := time.Now()
	events := 0
	for i := 0; i < b.N; i++ {
		sink := &nullSink{}
		src, err := New(Options{ChainID: simChainID, Client: cl, Sink: sink, Filter: testFilter(),
			Finality: Finality{Confirmations: 12}, Window: 64, RangeSize: 100, Concurrency: 4, Logger: zerolog.Nop()})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); src.Run(ctx) }()
		for st := src.Status(); !(st.HasIndexed && st.Indexed == head); st = src.Status() {
			time.Sleep(time.Millisecond)
		}
		cancel()
		<-done
		events += sink.logs
	}
	secs := time.Since(start).Seconds()
	b.ReportMetric(float64(head+1)*float64(b.N)/secs, "blocks/s")
	b.ReportMetric(float64(events)/secs, "events/s")
}

// BenchmarkBareGetLogs is the floor: the same filter's eth_getLogs over the same ranges, one
// after the other, with nothing else.
func BenchmarkBareGetLogs(b *testing.B) {
	c := benchTestChain(b)
	head := c.head().Number.Uint64()
	cl := dial(b, c.url)
	f := testFilter()
	b.ResetTimer()
	start := time.Now()
	events := 0
	for i := 0; i < b.N; i++ {
		for from := uint64(0); from <= head; from += 100 {
			for _, q := range f.Queries(from, min(from+99, head)) {
				logs, err := cl.FilterLogs(context.Background(), q)
				if err != nil {
					b.Fatal(err)
				}
				events += len(logs)
			}
		}
	}
	secs := time.Since(start).Seconds()
	b.ReportMetric(float64(head+1)*float64(b.N)/secs, "blocks/s")
	b.ReportMetric(float64(events)/secs, "events/s")
}
