package ingest

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/prometheus/client_golang/prometheus"
)

// subscribed tells when the source's new-heads subscription is up.
type subscribed struct {
	HeadSubscriber
	up chan struct{}
}

func (s *subscribed) SubscribeNewHead(ctx context.Context, ch chan<- *types.Header) (ethereum.Subscription, error) {
	sub, err := s.HeadSubscriber.SubscribeNewHead(ctx, ch)
	if err == nil {
		select {
		case s.up <- struct{}{}:
		default:
		}
	}
	return sub, err
}

// With a WS endpoint, a new head wakes the source at once: here polling alone would wait an hour.
func TestNewHeadsWakeTheSource(t *testing.T) {
	c := newTestChain(t)
	c.emit(keyAdded(pluginV101, account1))
	ws, err := ethclient.Dial(c.wsURL)
	if err != nil {
		t.Fatalf("dial ws: %v", err)
	}
	defer ws.Close()
	heads := &subscribed{HeadSubscriber: ws, up: make(chan struct{}, 1)}
	m := newMemSink()
	startSource(t, Options{Sink: m, Client: dial(t, c.url), Checkpoints: m, Heads: heads, PollInterval: time.Hour,
		Finality: Finality{Confirmations: 1}, Window: 8})
	waitSynced(t, c, m)
	<-heads.up
	for i := 0; i < 3; i++ {
		c.emit(keyRemoved(pluginV101, account1))
		waitSynced(t, c, m)
	}
	assertMatchesChain(t, c, m, testFilter())
}

// A sink that fails (ClickHouse or NATS away) gets the same batch again until it takes it;
// the source neither skips it nor moves on.
func TestSinkFailuresAreRetried(t *testing.T) {
	c := newTestChain(t)
	for i := 0; i < 30; i++ {
		c.emit(keyAdded(pluginV101, account1))
	}
	m := newMemSink()
	var fails atomic.Int64
	m.beforeApply = func(b Batch) error {
		if fails.Add(1) <= 5 {
			return errors.New("clickhouse: connection refused")
		}
		return nil
	}
	startSource(t, Options{Sink: m, Client: dial(t, c.url), Checkpoints: m, Finality: Finality{Confirmations: 3}, Window: 8, RangeSize: 10})
	waitSynced(t, c, m)
	assertMatchesChain(t, c, m, testFilter())
}

// Stopped in the middle of a backfill and restarted: it resumes right after the sink's
// checkpoint (the sink checks From == checkpoint+1), with no gap and nothing applied twice.
func TestRestartResumesFromCheckpoint(t *testing.T) {
	c := newTestChain(t)
	for i := 0; i < 120; i++ {
		c.emit(keyAdded(pluginV101, account1))
	}
	m := newMemSink()
	stopAt := make(chan struct{})
	var applied atomic.Int64
	m.beforeApply = func(b Batch) error {
		if applied.Add(1) == 5 {
			close(stopAt)
		}
		return nil
	}
	opts := Options{Sink: m, Client: dial(t, c.url), Checkpoints: m, StartBlock: 1, Finality: Finality{Confirmations: 4}, Window: 16, RangeSize: 10}
	r := startSource(t, opts)
	<-stopAt
	if err := r.Stop(t); err != nil {
		t.Fatalf("stop: %v", err)
	}
	cp, _ := m.checkpoint()
	if cp.Number >= 116 {
		t.Fatalf("test setup: already at %d", cp.Number)
	}
	m.mu.Lock()
	m.beforeApply = nil
	m.mu.Unlock()
	startSource(t, opts)
	waitSynced(t, c, m)
	assertMatchesChain(t, c, m, testFilter())
}

// Finality from the node's "safe" and "finalized" tags instead of a depth.
func TestFinalityTags(t *testing.T) {
	c := newTestChain(t)
	for i := 0; i < 70; i++ {
		c.emit(keyAdded(pluginV101, account1))
	}
	for _, tag := range []string{"safe", "finalized"} {
		t.Run(tag, func(t *testing.T) {
			m := newMemSink()
			r := startSource(t, Options{Sink: m, Client: dial(t, c.url), Checkpoints: m, Finality: Finality{Tag: tag}, Window: 128, RangeSize: 16})
			waitSynced(t, c, m)
			assertMatchesChain(t, c, m, testFilter())
			if st := r.src.Status(); !st.CaughtUp || st.Indexed != c.head().Number.Uint64() || st.Safe > st.Head {
				t.Errorf("status %+v", st)
			}
		})
	}
}

func TestOptionsValidation(t *testing.T) {
	_, err := New(Options{Finality: Finality{Confirmations: 10}, Window: 5, MaxRangeSize: 3, RangeSize: 4})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"no client", "no sink", "window 5 must exceed confirmations 10", "max range size 3 below range size 4"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not report %q", err, want)
		}
	}
	if _, err := New(Options{Finality: Finality{Tag: "latest"}}); err == nil || !strings.Contains(err.Error(), `finality tag "latest"`) {
		t.Errorf("bad tag: %v", err)
	}
}

func TestSizerNarrowsAndWidens(t *testing.T) {
	var reported []uint64
	z := newSizer(100, 400, func(n uint64) { reported = append(reported, n) })
	if got := z.capped(100, RangeHint{From: 5, To: 34}); got != 30 {
		t.Errorf("hinted range: span %d, want 30", got)
	}
	if got := z.capped(30, RangeHint{Max: 10}); got != 10 {
		t.Errorf("max hint: span %d, want 10", got)
	}
	if got := z.capped(10, RangeHint{}); got != 5 {
		t.Errorf("no hint: span %d, want 5 (half)", got)
	}
	if got := z.capped(100, RangeHint{}); got != 5 {
		t.Errorf("a late cap of a wider request must not widen: span %d", got)
	}
	if got := z.capped(1, RangeHint{}); got != 1 {
		t.Errorf("never under 1: %d", got)
	}
	for i := 0; i < 8; i++ {
		z.success(1)
	}
	if z.get() != 2 {
		t.Errorf("after 8 successes: %d, want 2", z.get())
	}
	for i := 0; i < 100; i++ {
		z.success(z.get())
	}
	if z.get() != 400 {
		t.Errorf("widening stops at max: %d", z.get())
	}
	if reported[0] != 100 || reported[len(reported)-1] != 400 {
		t.Errorf("reported %v", reported)
	}
}

func TestBackoffIsCappedWithJitter(t *testing.T) {
	for n := 0; n < 40; n++ {
		d := backoff(100*time.Millisecond, 2*time.Second, n)
		want := min(100*time.Millisecond<<min(n, 20), 2*time.Second)
		if d < want/2 || d > want {
			t.Errorf("backoff(%d) = %v, want in [%v, %v]", n, d, want/2, want)
		}
	}
}

// The pool gives up after MaxAttempts when set, asks every endpoint before it calls a block
// missing, and names endpoints without their credentials.
func TestPoolAttemptsNotFoundAndFailover(t *testing.T) {
	url := cannedRPC(t, 502, "bad gateway", 0)
	p := testPool(t, nil, url)
	p.opts.MaxAttempts = 3
	_, err := p.HeaderByNumber(context.Background(), nil)
	var re *RPCError
	if !errors.As(err, &re) || re.Class != ClassServer || re.Code != 502 {
		t.Fatalf("err %v", err)
	}
	null := testPool(t, nil, cannedRPC(t, 200, `{"jsonrpc":"2.0","id":1,"result":null}`, 0))
	if _, err := null.HeaderByNumber(context.Background(), big.NewInt(7)); !errors.As(err, &re) || re.Class != ClassNotFound {
		t.Fatalf("null header: %v", err)
	}
	// One endpoint lags (answers null), the other has the block: the pool asks it.
	c := newTestChain(t)
	c.mine(3)
	mixed := testPool(t, nil, cannedRPC(t, 200, `{"jsonrpc":"2.0","id":1,"result":null}`, 0), c.url)
	if h, err := mixed.HeaderByNumber(context.Background(), big.NewInt(3)); err != nil || h.Hash() != c.hashAt(3) {
		t.Errorf("lagging first endpoint: %v", err)
	}
	// A slow node (250ms) under a 100ms timeout: the timeout doubles until the call succeeds.
	slow := testPool(t, nil, cannedRPC(t, 200, `{"jsonrpc":"2.0","id":1,"result":[]}`, 250*time.Millisecond))
	slow.opts.Timeout, slow.opts.MaxTimeout = 100*time.Millisecond, time.Second
	if _, err := slow.FilterLogs(context.Background(), ethereum.FilterQuery{}); err != nil {
		t.Errorf("slow node: %v", err)
	}
	if got := EndpointName("https://user:secret@eth-mainnet.g.alchemy.com/v2/KEY?x=1"); got != "https://eth-mainnet.g.alchemy.com" {
		t.Errorf("endpoint name %q leaks credentials", got)
	}
}

func TestPromMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewPromMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	c := newTestChain(t)
	for i := 0; i < 10; i++ {
		c.emit(keyAdded(pluginV101, account1))
	}
	sink := newMemSink()
	startSource(t, Options{Sink: sink, Client: testPool(t, m, c.url), Checkpoints: sink, Metrics: m, Finality: Finality{Confirmations: 2}, Window: 8})
	waitSynced(t, c, sink)
	head := float64(c.head().Number.Uint64())
	waitFor(t, "indexed gauge at head", func() bool {
		return gathered(t, reg, "keywarden_ingest_indexed_block", "") == head
	})
	if got := gathered(t, reg, "keywarden_ingest_rpc_requests_total", "ok/eth_getLogs"); got == 0 {
		t.Errorf("no eth_getLogs counted")
	}
	if got := gathered(t, reg, "keywarden_ingest_delivered_logs_total", ""); got != 10 {
		t.Errorf("delivered logs %v, want 10", got)
	}
	if _, err := NewPromMetrics(reg); err == nil {
		t.Errorf("registering twice must fail")
	}
}

func TestFilterBloom(t *testing.T) {
	f := testFilter()
	mk := func(s logSpec) types.Bloom {
		return types.CreateBloom(&types.Receipt{Logs: []*types.Log{{Address: s.emitter, Topics: []common.Hash{s.topic0, s.topic1}}}})
	}
	for _, s := range []logSpec{keyAdded(pluginV100, account1), installed(account2, pluginV101), ownerUpdated(account1), userOp(account1)} {
		if !f.MayMatch(mk(s)) {
			t.Errorf("bloom of %+v does not match", s)
		}
	}
	if f.MayMatch(mk(keyAdded(stranger, account1))) || f.MayMatch(types.Bloom{}) {
		t.Errorf("bloom matches a stranger's log or an empty block")
	}
}

// gathered is the value of the series of name whose labels other than chain_id (values joined
// by "/") are want.
func gathered(t *testing.T, reg *prometheus.Registry, name, want string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var vals []string
			for _, l := range m.GetLabel() {
				if l.GetName() != "chain_id" {
					vals = append(vals, l.GetValue())
				}
			}
			if strings.Join(vals, "/") != want {
				continue
			}
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
