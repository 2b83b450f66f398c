package store

import (
	"context"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/testenv"
	"github.com/keywarden/keywarden/pkg/events"
)

// While ClickHouse is down a write fails promptly with an error (no hang, no panic); once it is
// back the same store writes again, and replaying the failed batch leaves one row per event.
func TestWriteFailsWhileServerDownAndResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private server")
	}
	srv := testenv.NewClickHouseServer(t)
	ch := srv.Database(t)
	s := openOn(t, ch, func(o *Options) { o.DialTimeout = 2 * time.Second })
	ctx := context.Background()
	first := Batch{Events: []events.Event{added(1, 0, key1)}}
	if err := s.WriteBatch(ctx, first); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	second := Batch{Events: []events.Event{added(2, 0, key2)}}
	if err := s.WriteBatch(ctx, second); err == nil {
		t.Fatal("write succeeded while the server was down")
	}
	if err := s.SetCheckpoint(ctx, Checkpoint{ChainID: chain, Number: 2}); err == nil {
		t.Fatal("checkpoint succeeded while the server was down")
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // the retry, and a replay of it
		if err := s.WriteBatch(ctx, second); err != nil {
			t.Fatalf("write after restart: %v", err)
		}
	}
	n, err := s.CountEvents(ctx, EventFilter{ChainID: chain})
	if err != nil || n != 2 {
		t.Fatalf("CountEvents = %d, %v; want 2", n, err)
	}
}
