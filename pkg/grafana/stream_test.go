package grafana

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/keywarden/keywarden/internal/testenv"
	"github.com/keywarden/keywarden/pkg/bus"
	"github.com/keywarden/keywarden/pkg/events"
)

// packets collects what RunStream sends.
type packets struct {
	mu     sync.Mutex
	frames []*data.Frame
	got    chan struct{}
}

func (p *packets) Send(pkt *backend.StreamPacket) error {
	var f data.Frame
	if err := json.Unmarshal(pkt.Data, &f); err != nil {
		return err
	}
	p.mu.Lock()
	p.frames = append(p.frames, &f)
	p.mu.Unlock()
	p.got <- struct{}{}
	return nil
}

type streamRun struct {
	d      *Datasource
	pk     *packets
	cancel context.CancelFunc
	done   chan error
}

// startStream runs RunStream on path and returns once its subscriptions are live.
func startStream(t *testing.T, natsURL, path string) *streamRun {
	t.Helper()
	d := New(Settings{ClickHouse: ClickHouseSettings{Addrs: []string{"127.0.0.1:1"}}, NATS: NATSSettings{URL: natsURL}}, Options{})
	t.Cleanup(d.Dispose)
	ready := make(chan struct{})
	d.streamReady = func(string) { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := &streamRun{d: d, pk: &packets{got: make(chan struct{}, 64)}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		r.done <- d.RunStream(ctx, &backend.RunStreamRequest{PluginContext: pluginCtx(), Path: path}, backend.NewStreamSender(r.pk))
	}()
	select {
	case <-ready:
	case err := <-r.done:
		t.Fatalf("RunStream returned before it was ready: %v", err)
	}
	return r
}

func (r *streamRun) wait(t *testing.T, n int) []*data.Frame {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-r.pk.got:
		case err := <-r.done:
			t.Fatalf("RunStream returned early: %v", err)
		}
	}
	r.pk.mu.Lock()
	defer r.pk.mu.Unlock()
	return append([]*data.Frame(nil), r.pk.frames...)
}

func row(f *data.Frame) map[string]any {
	out := map[string]any{}
	for _, fld := range f.Fields {
		if fld.Len() == 1 {
			out[fld.Name] = fld.At(0)
		}
	}
	return out
}

// TestRunStreamForwardsOneChain publishes key states and audit records of two chains (and a
// malformed message) on embedded NATS and checks that a chain's stream forwards exactly its own,
// in order, as one-row frames of the fixed schema, and returns nil when its context ends.
func TestRunStreamForwardsOneChain(t *testing.T) {
	ns := testenv.NATS(t)
	r := startStream(t, ns.URL, "chain/31337")

	state := keyState(chainA, accountA, key1, events.StatusActive, t0, func(k *events.KeyState) {
		k.Permissions.AccessControlType = events.AccessAllowAll
	})
	msg, err := bus.StateMsg(state)
	if err != nil {
		t.Fatal(err)
	}
	verdict, _ := json.Marshal(events.Verdict{PolicyID: "no-allow-all", Severity: events.SeverityHigh, Action: events.ActionRemove,
		Reason: "allow-all access", ChainID: chainA, Plugin: plugin, Account: accountA, SessionKey: key1, Trigger: "e1",
		EvaluatedAt: at(t0 + 5)})
	action, _ := json.Marshal(events.ActionRecord{ActionID: "a1", PolicyID: "no-allow-all", Action: events.ActionRemove,
		Outcome: events.OutcomeIncluded, ChainID: chainA, Account: accountA, SessionKey: key1, At: at(t0 + 9)})
	otherChain, _ := bus.StateMsg(keyState(chainB, accountC, key5, events.StatusActive, t0, nil))

	pub := func(subject string, body []byte) {
		t.Helper()
		if err := ns.Conn.Publish(subject, body); err != nil {
			t.Fatal(err)
		}
	}
	pub(otherChain.Subject, otherChain.Data) // another chain: not forwarded
	pub(msg.Subject, msg.Data)
	pub(events.AuditSubject(chainA, "verdict"), verdict)
	pub(events.EventSubject(chainA, events.KindSessionKeyAdded), []byte(`{}`)) // events are not on this stream
	pub(events.AuditSubject(chainA, "action"), action)
	pub(events.StateSubject(chainA), []byte(`{"chain_id": "not a number"`))
	if err := ns.Conn.Flush(); err != nil {
		t.Fatal(err)
	}
	frames := r.wait(t, 4)

	want := []map[string]any{
		{"kind": "state", "chain_id": uint64(chainA), "account": accountA.Hex(), "session_key": key1.Hex(), "status": "active",
			"detail": "access allow_all, no expiry", "time": at(t0)},
		{"kind": "verdict", "status": "high", "detail": "no-allow-all: allow-all access -> remove", "time": at(t0 + 5)},
		{"kind": "action", "status": "included", "detail": "remove (no-allow-all)", "time": at(t0 + 9)},
		{"kind": "malformed", "chain_id": uint64(chainA)},
	}
	for i, w := range want {
		got := row(frames[i])
		if len(frames[i].Fields) != 8 {
			t.Errorf("frame %d: %d fields, want the 8 of the stream schema", i, len(frames[i].Fields))
		}
		for k, v := range w {
			if gv, ok := got[k]; !ok || !equalValue(gv, v) {
				t.Errorf("frame %d: %s = %v, want %v", i, k, got[k], v)
			}
		}
	}

	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatalf("RunStream after cancel: %v, want nil", err)
	}
	r.pk.mu.Lock()
	if n := len(r.pk.frames); n != 4 {
		t.Errorf("%d frames sent, want 4 (the other chain's and the event must not be forwarded)", n)
	}
	r.pk.mu.Unlock()
}

func equalValue(got, want any) bool {
	if gt, ok := got.(time.Time); ok {
		wt, ok := want.(time.Time)
		return ok && gt.Equal(wt)
	}
	return got == want
}

// TestRunStreamEndsWhenNATSCloses: a closed connection ends the stream with an error (Grafana
// then restarts it), even though its context is still live.
func TestRunStreamEndsWhenNATSCloses(t *testing.T) {
	ns := testenv.NATS(t)
	r := startStream(t, ns.URL, "all")
	r.d.Dispose()
	if err := <-r.done; err == nil {
		t.Fatal("RunStream returned nil after the connection closed, want an error")
	}
}

func TestStreamPathsAndPublish(t *testing.T) {
	d := New(Settings{ClickHouse: ClickHouseSettings{Addrs: []string{"127.0.0.1:1"}}, NATS: NATSSettings{URL: "nats://127.0.0.1:1"}}, Options{})
	for path, want := range map[string]backend.SubscribeStreamStatus{
		"all": backend.SubscribeStreamStatusOK, "chain/8453": backend.SubscribeStreamStatusOK,
		"chain/*": backend.SubscribeStreamStatusNotFound, "chain/>": backend.SubscribeStreamStatusNotFound,
		"chain/1.audit": backend.SubscribeStreamStatusNotFound, "keywarden.>": backend.SubscribeStreamStatusNotFound, "": backend.SubscribeStreamStatusNotFound,
	} {
		resp, err := d.SubscribeStream(context.Background(), &backend.SubscribeStreamRequest{Path: path})
		if err != nil || resp.Status != want {
			t.Errorf("SubscribeStream(%q) = %v, %v; want %v", path, resp.Status, err, want)
		}
	}
	if _, err := streamSubjects("chain/*"); !errors.Is(err, ErrUnknownStream) {
		t.Errorf("streamSubjects(chain/*) = %v, want ErrUnknownStream", err)
	}
	subs, _ := streamSubjects("chain/8453")
	if len(subs) != 2 || subs[0] != "keywarden.8453.state" || subs[1] != "keywarden.8453.audit.>" {
		t.Errorf("streamSubjects(chain/8453) = %v", subs)
	}
	pub, err := d.PublishStream(context.Background(), &backend.PublishStreamRequest{Path: "all", Data: []byte(`{}`)})
	if err != nil || pub.Status != backend.PublishStreamStatusPermissionDenied {
		t.Errorf("PublishStream = %v, %v; want permission denied", pub, err)
	}
	noNATS := New(Settings{ClickHouse: ClickHouseSettings{Addrs: []string{"127.0.0.1:1"}}}, Options{})
	if resp, _ := noNATS.SubscribeStream(context.Background(), &backend.SubscribeStreamRequest{Path: "all"}); resp.Status != backend.SubscribeStreamStatusNotFound {
		t.Errorf("SubscribeStream without NATS = %v, want not found", resp.Status)
	}
	if err := noNATS.RunStream(context.Background(), &backend.RunStreamRequest{Path: "all"}, backend.NewStreamSender(&packets{got: make(chan struct{}, 1)})); !errors.Is(err, ErrNATSNotConfigured) {
		t.Errorf("RunStream without NATS = %v, want ErrNATSNotConfigured", err)
	}
}
