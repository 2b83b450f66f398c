package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/keywarden/keywarden/pkg/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// waitFor polls cond until it holds; it fails the test after a generous bound (a hang guard,
// not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type testServer struct {
	dir  string
	port int
	srv  *EmbeddedServer
}

func startServer(t *testing.T, dir string, port int) *testServer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := Embedded(ctx, EmbeddedOptions{DataDir: dir, Port: port})
	if err != nil {
		t.Fatalf("start embedded server: %v", err)
	}
	ts := &testServer{dir: dir, port: srv.Port(), srv: srv}
	t.Cleanup(func() { _ = ts.stop() })
	return ts
}

func (ts *testServer) stop() error {
	if ts.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := ts.srv.Shutdown(ctx)
	ts.srv = nil
	return err
}

func connectJS(t *testing.T, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := Connect(ctx, Options{URL: url, Name: t.Name(), ReconnectWait: 20 * time.Millisecond, MaxReconnectWait: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

func setup(t *testing.T) (*testServer, jetstream.JetStream) {
	t.Helper()
	ts := startServer(t, t.TempDir(), 0)
	_, js := connectJS(t, ts.srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := EnsureStream(ctx, js, StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	return ts, js
}

func testEvent(chain, block uint64, logIndex uint64, removed bool) events.Event {
	acct := events.Address(common.HexToAddress(fmt.Sprintf("0x%040x", 0xacc0+block)))
	key := events.Address(common.HexToAddress(fmt.Sprintf("0x%040x", 0xbee0+logIndex)))
	return events.Event{
		Position: events.Position{ChainID: chain, BlockNumber: block, BlockHash: common.HexToHash(fmt.Sprintf("0x%x", block)),
			LogIndex: logIndex, Removed: removed, BlockTime: 1700000000 + block},
		Emitter: key, Verified: true,
		Payload: events.SessionKeyAdded{Account: acct, SessionKey: key, Tag: common.Hash{1}},
	}
}

func mustEventMsg(t *testing.T, e events.Event) Msg {
	t.Helper()
	m, err := EventMsg(e)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func streamMsgs(t *testing.T, js jetstream.JetStream, name string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestPublishBatchStoresEachMessageOnce(t *testing.T) {
	_, js := setup(t)
	ctx := context.Background()
	p := NewPublisher(js, PublisherOptions{Window: 7})

	var batch []Msg
	for i := uint64(0); i < 20; i++ {
		batch = append(batch, mustEventMsg(t, testEvent(1, 10+i, i, false)))
	}
	batch = append(batch, mustEventMsg(t, testEvent(1, 10, 0, true))) // a retraction: its own id
	batch = append(batch, batch[3], batch[4])                         // duplicates in the batch
	st, err := StateMsg(events.KeyState{ChainID: 1, Status: events.StatusActive, LastEventID: "1:0x01:0", Permissions: events.DefaultPermissions()})
	if err != nil {
		t.Fatal(err)
	}
	fm, err := FailureMsg(events.DecodeFailure{Position: events.Position{ChainID: 1, BlockNumber: 5}, Reason: "truncated", Data: []byte{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	batch = append(batch, st, fm)

	res, err := p.Publish(ctx, batch)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if res.Stored != 23 || res.Duplicates != 2 {
		t.Fatalf("first batch: stored %d duplicates %d, want 23 and 2", res.Stored, res.Duplicates)
	}
	// The whole batch again (a retry after a crash before the checkpoint moved).
	res, err = p.Publish(ctx, batch)
	if err != nil {
		t.Fatalf("republish: %v", err)
	}
	if res.Stored != 0 || res.Duplicates != len(batch) {
		t.Fatalf("second batch: stored %d duplicates %d, want 0 and %d", res.Stored, res.Duplicates, len(batch))
	}
	if n := streamMsgs(t, js, events.StreamName); n != 23 {
		t.Fatalf("stream holds %d messages, want 23", n)
	}
	if err := p.PublishBatch(ctx, nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
}

func TestPublishBatchFailsWhenAMessageIsNotStored(t *testing.T) {
	_, js := setup(t)
	p := NewPublisher(js, PublisherOptions{})
	good := mustEventMsg(t, testEvent(1, 1, 0, false))
	stray := Msg{Subject: "elsewhere.subject", MsgID: "x", Data: []byte("{}")} // no stream captures it
	noID := Msg{Subject: events.StateSubject(1), Data: []byte("{}")}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := p.PublishBatch(ctx, []Msg{good, stray, noID})
	var perr *PublishError
	if !errors.As(err, &perr) {
		t.Fatalf("want *PublishError, got %v", err)
	}
	if len(perr.Failed) != 2 || perr.Total != 3 {
		t.Fatalf("failed %d of %d, want 2 of 3: %v", len(perr.Failed), perr.Total, err)
	}
	if !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("want ErrInvalidMessage among the causes: %v", err)
	}
}

func TestPublishBatchFailsWhenServerIsDown(t *testing.T) {
	ts, js := setup(t)
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	p := NewPublisher(js, PublisherOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := p.PublishBatch(ctx, []Msg{mustEventMsg(t, testEvent(1, 1, 0, false))}); err == nil {
		t.Fatal("publish with the server down returned nil")
	}
}

type recorder struct {
	mu   sync.Mutex
	seen map[string]int
	all  []Delivery
}

func newRecorder() *recorder { return &recorder{seen: map[string]int{}} }

func (r *recorder) add(d Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen[d.MsgID]++
	r.all = append(r.all, d)
}

func (r *recorder) unique() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.seen) }

func stopHandle(t *testing.T, h ConsumeHandle) {
	t.Helper()
	h.Stop()
	select {
	case <-h.Closed():
	case <-time.After(30 * time.Second):
		t.Fatal("consume handle did not close")
	}
}

func TestConsumerRedeliversAfterNak(t *testing.T) {
	_, js := setup(t)
	ctx := context.Background()
	p := NewPublisher(js, PublisherOptions{})
	e := testEvent(7, 3, 2, false)
	if err := p.PublishBatch(ctx, []Msg{mustEventMsg(t, e)}); err != nil {
		t.Fatal(err)
	}
	c, err := NewConsumer(ctx, js, ConsumerOptions{Durable: "redeliver", NakDelays: []time.Duration{20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	done := make(chan struct{})
	var once sync.Once
	h, err := c.Consume(ctx, func(_ context.Context, d Delivery) error {
		rec.add(d)
		if d.Meta.NumDelivered == 1 {
			return errors.New("policy store unavailable")
		}
		once.Do(func() { close(done) })
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second): // a hang guard
		t.Fatal("no successful redelivery")
	}
	stopHandle(t, h)
	if len(rec.all) != 2 {
		t.Fatalf("%d deliveries, want 2", len(rec.all))
	}
	d := rec.all[1]
	if d.Class != ClassEvent || d.Event == nil || d.Event.ID() != e.ID() || d.ChainID != 7 || d.MsgID != events.MsgID(e) {
		t.Fatalf("delivery = %+v", d)
	}
	if d.Meta.NumDelivered != 2 || d.Meta.StreamSeq != 1 {
		t.Fatalf("metadata = %+v", d.Meta)
	}
	if got, ok := d.Event.Payload.(events.SessionKeyAdded); !ok || got.SessionKey != e.Payload.(events.SessionKeyAdded).SessionKey {
		t.Fatalf("payload = %#v", d.Event.Payload)
	}
	info, err := c.c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 || info.NumPending != 0 {
		t.Fatalf("consumer still has ack pending %d, pending %d", info.NumAckPending, info.NumPending)
	}
}

func TestConsumersShareDurableWithoutDoubleDelivery(t *testing.T) {
	ts, js := setup(t)
	ctx := context.Background()
	const n = 60
	var batch []Msg
	for i := uint64(0); i < n; i++ {
		batch = append(batch, mustEventMsg(t, testEvent(1, 100+i, i, false)))
	}
	if err := NewPublisher(js, PublisherOptions{}).PublishBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	perWorker := make([]int, 2)
	var mu sync.Mutex
	var handles []ConsumeHandle
	for w := 0; w < 2; w++ {
		_, wjs := connectJS(t, ts.srv.ClientURL()) // one connection per "process"
		c, err := NewConsumer(ctx, wjs, ConsumerOptions{Durable: "shared", FetchBatch: 1})
		if err != nil {
			t.Fatal(err)
		}
		h, err := c.Consume(ctx, func(_ context.Context, d Delivery) error {
			rec.add(d)
			mu.Lock()
			perWorker[w]++
			mu.Unlock()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		handles = append(handles, h)
	}
	waitFor(t, "all messages", func() bool { return rec.unique() == n })
	for _, h := range handles {
		stopHandle(t, h)
	}
	for id, k := range rec.seen {
		if k != 1 {
			t.Errorf("message %s delivered %d times", id, k)
		}
	}
	t.Logf("deliveries per worker: %v", perWorker)
}

func TestConsumerDeadLettersAfterMaxDeliverAndPoison(t *testing.T) {
	_, js := setup(t)
	ctx := context.Background()
	p := NewPublisher(js, PublisherOptions{})
	bad := mustEventMsg(t, testEvent(5, 1, 0, false))
	if err := p.PublishBatch(ctx, []Msg{bad}); err != nil {
		t.Fatal(err)
	}
	// A message that does not decode: dead-lettered at once, the handler never sees it.
	poison := &nats.Msg{Subject: events.EventSubject(5, events.KindSessionKeyAdded), Data: []byte(`{"schema":1,"kind":"nope"}`), Header: nats.Header{}}
	poison.Header.Set(jetstream.MsgIDHeader, "poison")
	if _, err := js.PublishMsg(ctx, poison); err != nil {
		t.Fatal(err)
	}
	c, err := NewConsumer(ctx, js, ConsumerOptions{Durable: "dead", MaxDeliver: 3, NakDelays: []time.Duration{10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	h, err := c.Consume(ctx, func(_ context.Context, d Delivery) error {
		rec.add(d)
		return errors.New("bundler down")
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two dead letters", func() bool { return streamMsgs(t, js, DeadLetterStreamName) == 2 })
	stopHandle(t, h)
	if got := rec.seen[bad.MsgID]; got != 3 {
		t.Fatalf("handler saw the failing message %d times, want 3", got)
	}
	if _, ok := rec.seen["poison"]; ok {
		t.Fatal("handler saw the poison message")
	}
	s, err := js.Stream(ctx, DeadLetterStreamName)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != DeadLetterSubject("5") || m.Header.Get(HeaderDeadSubject) == "" || m.Header.Get(HeaderDeadReason) == "" {
		t.Fatalf("dead letter = %s %v", m.Subject, m.Header)
	}
	info, err := c.c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 || info.NumPending != 0 {
		t.Fatalf("consumer still has ack pending %d, pending %d", info.NumAckPending, info.NumPending)
	}
}

func TestPermanentErrorDeadLettersAtOnce(t *testing.T) {
	_, js := setup(t)
	ctx := context.Background()
	m := mustEventMsg(t, testEvent(5, 1, 0, false))
	if err := NewPublisher(js, PublisherOptions{}).PublishBatch(ctx, []Msg{m}); err != nil {
		t.Fatal(err)
	}
	c, err := NewConsumer(ctx, js, ConsumerOptions{Durable: "perm"})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	h, err := c.Consume(ctx, func(_ context.Context, d Delivery) error {
		rec.add(d)
		return fmt.Errorf("compile policy: %w", ErrPermanent)
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "dead letter", func() bool { return streamMsgs(t, js, DeadLetterStreamName) == 1 })
	stopHandle(t, h)
	if rec.seen[m.MsgID] != 1 {
		t.Fatalf("delivered %d times, want 1", rec.seen[m.MsgID])
	}
}

// Reliability case 4: NATS restarts; nothing in the stream is lost and the durable consumer
// resumes (the running Consume keeps going across the restart).
func TestServerRestartKeepsStreamAndConsumer(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir, 0)
	port := ts.port
	nc, js := connectJS(t, ts.srv.ClientURL())
	ctx := context.Background()
	if _, err := EnsureStream(ctx, js, StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	p := NewPublisher(js, PublisherOptions{})
	var first, second []Msg
	for i := uint64(0); i < 10; i++ {
		first = append(first, mustEventMsg(t, testEvent(1, i, 0, false)))
		second = append(second, mustEventMsg(t, testEvent(1, 1000+i, 0, false)))
	}
	if err := p.PublishBatch(ctx, first); err != nil {
		t.Fatal(err)
	}
	c, err := NewConsumer(ctx, js, ConsumerOptions{Durable: "restart", AckWait: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	h, err := c.Consume(ctx, func(_ context.Context, d Delivery) error { rec.add(d); return nil })
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first batch", func() bool { return rec.unique() == 10 })

	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "disconnect", func() bool { return !nc.IsConnected() })
	ts2 := startServer(t, dir, port)
	if ts2.port != port {
		t.Fatalf("restarted on port %d, want %d", ts2.port, port)
	}
	waitFor(t, "reconnect", nc.IsConnected)
	if n := streamMsgs(t, js, events.StreamName); n != 10 {
		t.Fatalf("after restart the stream holds %d messages, want 10", n)
	}
	// Publishing resumes; a retried first batch stays deduplicated across the restart.
	if err := p.PublishBatch(ctx, append(append([]Msg{}, first...), second...)); err != nil {
		t.Fatal(err)
	}
	if n := streamMsgs(t, js, events.StreamName); n != 20 {
		t.Fatalf("stream holds %d messages, want 20", n)
	}
	waitFor(t, "second batch through the same consume handle", func() bool { return rec.unique() == 20 })
	stopHandle(t, h)
	for id, k := range rec.seen {
		if k != 1 {
			t.Errorf("message %s delivered %d times", id, k)
		}
	}
}

func TestLockExclusiveUnderConcurrency(t *testing.T) {
	ts, js := setup(t)
	ctx := context.Background()
	_, js2 := connectJS(t, ts.srv.ClientURL())
	l1, err := NewLocker(ctx, js, KVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l2, err := NewLocker(ctx, js2, KVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 20; round++ {
		key := fmt.Sprintf("1:0xAccount:0xKey%d", round)
		var wg sync.WaitGroup
		locks := make([]*Lock, 2)
		errs := make([]error, 2)
		for i, l := range []*Locker{l1, l2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				locks[i], errs[i] = l.Acquire(ctx, key, fmt.Sprintf("enforcer-%d", i), time.Minute)
			}()
		}
		wg.Wait()
		won := 0
		for i := range locks {
			if errs[i] == nil {
				won++
			} else if !errors.Is(errs[i], ErrLockHeld) {
				t.Fatalf("round %d: unexpected error %v", round, errs[i])
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d winners, want exactly 1 (%v)", round, won, errs)
		}
	}
}

func TestLockLifecycle(t *testing.T) {
	_, js := setup(t)
	ctx := context.Background()
	l, err := NewLocker(ctx, js, KVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	l.now = func() time.Time { return now }
	const key = "1:0xabc:0xdef"

	a, err := l.Acquire(ctx, key, "a", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if a.Key() != key || a.Owner() != "a" {
		t.Fatalf("lock = %s by %s", a.Key(), a.Owner())
	}
	if _, err := l.Acquire(ctx, key, "a", time.Second); !errors.Is(err, ErrLockHeld) {
		t.Fatalf("re-acquire by the same owner: %v, want ErrLockHeld (not reentrant)", err)
	}
	var held *HeldError
	if _, err := l.Acquire(ctx, key, "b", time.Second); !errors.As(err, &held) || held.Owner != "a" {
		t.Fatalf("acquire by b: %v", err)
	}
	if err := a.Refresh(ctx, 10*time.Second); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	now = now.Add(11 * time.Second) // a's lock expires
	b, err := l.Acquire(ctx, key, "b", 10*time.Second)
	if err != nil {
		t.Fatalf("take over an expired lock: %v", err)
	}
	if err := a.Refresh(ctx, time.Second); !errors.Is(err, ErrLockLost) {
		t.Fatalf("refresh of a lost lock: %v, want ErrLockLost", err)
	}
	if err := a.Release(ctx); !errors.Is(err, ErrLockLost) {
		t.Fatalf("release of a lost lock: %v, want ErrLockLost", err)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatalf("release: %v", err)
	}
	c, err := l.Acquire(ctx, key, "c", time.Second)
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	if err := b.Release(ctx); !errors.Is(err, ErrLockLost) {
		t.Fatalf("second release: %v, want ErrLockLost", err)
	}
	if err := c.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestActionStorePutIfAbsent(t *testing.T) {
	_, js := setup(t)
	ctx := context.Background()
	s, err := NewActionStore(ctx, js, KVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const id = "policy-1:1:0xAcc:0xKey:1:0xblock:3"
	var wg sync.WaitGroup
	created := make([]bool, 8)
	for i := range created {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.PutIfAbsent(ctx, id, []byte(fmt.Sprintf(`{"by":%d}`, i)))
			if err != nil {
				t.Error(err)
			}
			created[i] = ok
		}()
	}
	wg.Wait()
	n := 0
	for _, c := range created {
		if c {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d callers created the record, want 1", n)
	}
	v, rev, err := s.Get(ctx, id)
	if err != nil || !json.Valid(v) {
		t.Fatalf("get: %s %v", v, err)
	}
	if _, err := s.Update(ctx, id, []byte(`{"outcome":"submitted"}`), rev); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, id, []byte(`{"outcome":"stale"}`), rev); !errors.Is(err, ErrRevisionMismatch) {
		t.Fatalf("stale update: %v, want ErrRevisionMismatch", err)
	}
	if _, _, err := s.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get missing: %v, want ErrNotFound", err)
	}
}

func TestKVKeyIsValidAndInjective(t *testing.T) {
	cases := map[string]string{}
	for _, parts := range [][]string{{"1:0xAb:3"}, {"1", "0xAb", "3"}, {"1.0xAb.3"}, {"a=3A"}, {"a:"}, {""}, {"", ""}} {
		k := KVKey(parts...)
		for _, c := range k {
			if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-=.", c) {
				t.Fatalf("key %q has %q", k, c)
			}
		}
		if prev, dup := cases[k]; dup {
			t.Fatalf("%v and %s map to the same key %q", parts, prev, k)
		}
		cases[k] = fmt.Sprint(parts)
	}
}

func TestOptionsNeverPrintSecrets(t *testing.T) {
	o := Options{URL: "nats://alice:s3cr3t-pw@10.0.0.1:4222,tls://tok3n-secret@h:4443", User: "alice",
		Password: "hunter2-password", Token: "tok-very-secret", CredsFile: "/etc/k.creds"}
	for _, s := range []string{fmt.Sprintf("%v", o), fmt.Sprintf("%+v", o), fmt.Sprintf("%#v", o), fmt.Sprintf("%s", o),
		fmt.Sprintf("%q", o), fmt.Sprint(&o), o.String(), mustJSON(t, o), mustJSON(t, &o)} {
		for _, secret := range []string{"s3cr3t-pw", "tok3n-secret", "hunter2-password", "tok-very-secret"} {
			if strings.Contains(s, secret) {
				t.Fatalf("%q leaks %q", s, secret)
			}
		}
		if !strings.Contains(s, "alice") {
			t.Fatalf("%q lost the user name", s)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConnectGivesUpWithContextWithoutLeakingSecrets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := Connect(ctx, Options{URL: "nats://bob:pw-secret-1@127.0.0.1:1", Password: "other-secret", ReconnectWait: 10 * time.Millisecond})
	if err == nil {
		t.Fatal("connected to nothing")
	}
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "pw-secret-1") || strings.Contains(err.Error(), "other-secret") {
		t.Fatalf("error = %v", err)
	}
}

func TestEmbeddedNeedsDataDir(t *testing.T) {
	if _, err := Embedded(context.Background(), EmbeddedOptions{}); err == nil {
		t.Fatal("started without a data dir")
	}
}

func TestDeliveryDecodesEveryClass(t *testing.T) {
	_, js := setup(t)
	ctx := context.Background()
	ev := testEvent(3, 9, 1, false)
	rt := testEvent(3, 9, 1, true)
	ks := events.KeyState{ChainID: 3, Status: events.StatusRemoved, LastEventID: ev.ID(), Permissions: events.DefaultPermissions()}
	df := events.DecodeFailure{Position: events.Position{ChainID: 3, BlockNumber: 9}, Reason: "short_data", Data: []byte{0xde, 0xad}}
	msgs := []Msg{mustEventMsg(t, ev), mustEventMsg(t, rt)}
	for _, build := range []func() (Msg, error){func() (Msg, error) { return StateMsg(ks) }, func() (Msg, error) { return FailureMsg(df) }} {
		m, err := build()
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	msgs = append(msgs, Msg{Subject: events.AuditSubject(3, "verdict"), MsgID: "audit-1", Data: []byte(`{"policy":"p"}`)})
	if err := NewPublisher(js, PublisherOptions{}).PublishBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	c, err := NewConsumer(ctx, js, ConsumerOptions{Durable: "classes", FilterSubjects: []string{"keywarden.>"}})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	h, err := c.Consume(ctx, func(_ context.Context, d Delivery) error { rec.add(d); return nil })
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "five deliveries", func() bool { return rec.unique() == 5 })
	stopHandle(t, h)
	byClass := map[Class]Delivery{}
	for _, d := range rec.all {
		byClass[d.Class] = d
	}
	if d := byClass[ClassEvent]; d.Event == nil || d.Event.Removed || d.MsgID != ev.ID() {
		t.Fatalf("event delivery %+v", d)
	}
	if d := byClass[ClassRetraction]; d.Event == nil || !d.Event.Removed || d.MsgID != events.MsgID(rt) {
		t.Fatalf("retraction delivery %+v", d)
	}
	if d := byClass[ClassState]; d.State == nil || d.State.Status != events.StatusRemoved || d.MsgID != events.StateMsgID(ks) {
		t.Fatalf("state delivery %+v", d)
	}
	if d := byClass[ClassFailure]; d.Failure == nil || d.Failure.Reason != "short_data" || string(d.Failure.Data) != "\xde\xad" {
		t.Fatalf("failure delivery %+v", d)
	}
	if d := byClass[ClassAudit]; d.ChainID != 3 || string(d.Data) != `{"policy":"p"}` {
		t.Fatalf("audit delivery %+v", d)
	}
}

// A process that stops and starts again (new connection, same durable name) resumes after the
// last acknowledged message.
func TestDurableResumesAfterProcessRestart(t *testing.T) {
	ts, js := setup(t)
	ctx := context.Background()
	var batch []Msg
	for i := uint64(0); i < 10; i++ {
		batch = append(batch, mustEventMsg(t, testEvent(1, i, 0, false)))
	}
	if err := NewPublisher(js, PublisherOptions{}).PublishBatch(ctx, batch[:5]); err != nil {
		t.Fatal(err)
	}
	run := func() *recorder {
		nc, pjs := connectJS(t, ts.srv.ClientURL())
		defer nc.Close()
		c, err := NewConsumer(ctx, pjs, ConsumerOptions{Durable: "proc"})
		if err != nil {
			t.Fatal(err)
		}
		rec := newRecorder()
		h, err := c.Consume(ctx, func(_ context.Context, d Delivery) error { rec.add(d); return nil })
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "five deliveries", func() bool { return rec.unique() == 5 })
		h.Drain()
		select {
		case <-h.Closed():
		case <-time.After(60 * time.Second): // a hang guard
			t.Fatal("drain did not finish")
		}
		return rec
	}
	first := run()
	if err := NewPublisher(js, PublisherOptions{}).PublishBatch(ctx, batch[5:]); err != nil {
		t.Fatal(err)
	}
	second := run()
	for id := range second.seen {
		if first.seen[id] > 0 {
			t.Fatalf("message %s delivered to both runs", id)
		}
	}
}

func TestConnectWaitsForALateServer(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	connected := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		nc, err := Connect(ctx, Options{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), ReconnectWait: 10 * time.Millisecond, MaxReconnectWait: 50 * time.Millisecond})
		if err == nil {
			nc.Close()
		}
		connected <- err
	}()
	ts := startServer(t, dir, port)
	if err := <-connected; err != nil {
		t.Fatalf("connect to a server that came up late: %v", err)
	}
	_ = ts
}

func TestOptionsRedactedInsideOtherStructs(t *testing.T) {
	type config struct {
		NATS Options
		Name string
	}
	c := config{NATS: Options{URL: "nats://u:pw-in-url-9@h:4222", Password: "pw-field-9"}, Name: "x"}
	for _, s := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%+v", &c), mustJSON(t, c)} {
		if strings.Contains(s, "pw-in-url-9") || strings.Contains(s, "pw-field-9") {
			t.Fatalf("%s leaks a secret", s)
		}
	}
}
