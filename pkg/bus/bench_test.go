package bus

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keywarden/keywarden/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
)

func benchSetup(b *testing.B) jetstream.JetStream {
	b.Helper()
	ctx := context.Background()
	srv, err := Embedded(ctx, EmbeddedOptions{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	nc, err := Connect(ctx, Options{URL: srv.ClientURL()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := EnsureStream(ctx, js, StreamOptions{}); err != nil {
		b.Fatal(err)
	}
	return js
}

func benchMsgs(b *testing.B, n int, offset uint64) []Msg {
	msgs := make([]Msg, n)
	for i := range msgs {
		m, err := EventMsg(testEvent(1, offset+uint64(i), uint64(i), false))
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = m
	}
	return msgs
}

// BenchmarkPublishBatch reports stored messages per second for batches of 1000 events.
func BenchmarkPublishBatch(b *testing.B) {
	js := benchSetup(b)
	p := NewPublisher(js, PublisherOptions{})
	ctx := context.Background()
	const size = 1000
	batches := make([][]Msg, b.N)
	for i := range batches {
		batches[i] = benchMsgs(b, size, uint64(i)*size)
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := p.PublishBatch(ctx, batches[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*size)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkConsume reports handled (and acknowledged) messages per second.
func BenchmarkConsume(b *testing.B) {
	js := benchSetup(b)
	ctx := context.Background()
	p := NewPublisher(js, PublisherOptions{})
	for off := 0; off < b.N; off += 1000 {
		n := min(1000, b.N-off)
		if err := p.PublishBatch(ctx, benchMsgs(b, n, uint64(off))); err != nil {
			b.Fatal(err)
		}
	}
	c, err := NewConsumer(ctx, js, ConsumerOptions{Durable: fmt.Sprintf("bench-%d", b.N), FetchBatch: 256})
	if err != nil {
		b.Fatal(err)
	}
	var handled atomic.Int64
	done := make(chan struct{})
	b.ResetTimer()
	start := time.Now()
	h, err := c.Consume(ctx, func(_ context.Context, d Delivery) error {
		if d.Class != ClassEvent || d.Event.Kind != events.KindSessionKeyAdded {
			return ErrPermanent
		}
		if handled.Add(1) == int64(b.N) {
			close(done)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	<-done
	elapsed := time.Since(start)
	b.StopTimer()
	h.Stop()
	<-h.Closed()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}
