package testenv_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keywarden/keywarden/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Run(m) }

func TestClickHouseBatchRoundTrip(t *testing.T) {
	ch := testenv.ClickHouse(t)
	ctx := context.Background()
	if err := ch.Conn.Exec(ctx, `CREATE TABLE t (id UInt64, name String, tags Array(String))
		ENGINE = MergeTree ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	batch, err := ch.Conn.PrepareBatch(ctx, "INSERT INTO t (id, name, tags)")
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(0); i < 3; i++ {
		if err := batch.Append(i, "row", []string{"a", "b"}); err != nil {
			_ = batch.Abort()
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	rows, err := ch.Conn.Query(ctx, "SELECT id, name, tags FROM t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n uint64
	for rows.Next() {
		var (
			id   uint64
			name string
			tags []string
		)
		if err := rows.Scan(&id, &name, &tags); err != nil {
			t.Fatal(err)
		}
		if id != n || name != "row" || len(tags) != 2 || tags[1] != "b" {
			t.Fatalf("row %d = (%d, %q, %v)", n, id, name, tags)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("read %d rows, want 3", n)
	}
}

func TestClickHouseFreshDatabasePerTest(t *testing.T) {
	a, b := testenv.ClickHouse(t), testenv.ClickHouse(t)
	if a.Database == b.Database {
		t.Fatalf("two calls gave the same database %s", a.Database)
	}
	var n uint64
	if err := a.Conn.QueryRow(context.Background(),
		"SELECT count() FROM system.tables WHERE database = currentDatabase()").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("fresh database has %d tables", n)
	}
}

func TestClickHouseServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second server")
	}
	srv := testenv.NewClickHouseServer(t)
	ch := srv.Database(t)
	ctx := context.Background()
	if err := ch.Conn.Exec(ctx, "CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x"); err != nil {
		t.Fatal(err)
	}
	// Exec("INSERT ... VALUES") never returns on 18.16 with clickhouse-go v2: always use a batch.
	b, err := ch.Conn.PrepareBatch(ctx, "INSERT INTO t (x)")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append(uint8(7)); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if err := ch.Conn.Ping(ctx); err == nil {
		t.Fatal("ping succeeded while the server was stopped")
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	var x uint8
	if err := ch.Conn.QueryRow(ctx, "SELECT x FROM t").Scan(&x); err != nil {
		t.Fatal(err)
	}
	if x != 7 {
		t.Fatalf("x = %d after restart, want 7", x)
	}
}

func TestNATSDeduplicatesByMsgID(t *testing.T) {
	n := testenv.NATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := n.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"},
		Duplicates: time.Minute, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		ack, err := n.JS.Publish(ctx, "t.x", []byte("hello"), jetstream.WithMsgID("1:0xabc:7"))
		if err != nil {
			t.Fatal(err)
		}
		if ack.Duplicate != (i == 1) {
			t.Fatalf("publish %d: duplicate = %v", i, ack.Duplicate)
		}
	}
	c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.FetchNoWait(10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for m := range batch.Messages() {
		got = append(got, string(m.Data()))
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Error(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "hello" {
		t.Fatalf("read %q, want one message", got)
	}
}

func TestNATSRestartKeepsStream(t *testing.T) {
	n := testenv.NATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := n.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"},
		Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.JS.Publish(ctx, "t.x", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	var msg *jetstream.RawStreamMsg
	var err error
	for { // JetStream recovers its streams shortly after the listener is up
		var s jetstream.Stream
		if s, err = n.JS.Stream(ctx, "T"); err == nil {
			if msg, err = s.GetMsg(ctx, 1); err == nil {
				break
			}
		}
		if !errors.Is(err, jetstream.ErrJetStreamNotEnabled) && !errors.Is(err, nats.ErrNoResponders) &&
			!errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			t.Logf("waiting for stream: %v", err)
		}
		if ctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if string(msg.Data) != "kept" {
		t.Fatalf("message after restart = %q", msg.Data)
	}
}
