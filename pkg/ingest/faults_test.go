package ingest

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/keywarden/keywarden/internal/rpcproxy"
	"github.com/rs/zerolog"
)

func startProxy(t *testing.T, upstream string) *rpcproxy.Proxy {
	t.Helper()
	p, err := rpcproxy.Start(context.Background(), rpcproxy.Options{Upstream: upstream, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatalf("start proxy: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// testPool is a Pool with short timeouts and backoffs over the given URLs.
func testPool(t *testing.T, m Metrics, urls ...string) *Pool {
	t.Helper()
	p, err := DialPool(context.Background(), urls, PoolOptions{ChainID: simChainID, Timeout: 300 * time.Millisecond, MaxTimeout: 5 * time.Second,
		BackoffBase: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond, Metrics: m,
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatalf("dial pool: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// recMetrics records what the source reports.
type recMetrics struct {
	NopMetrics
	mu     sync.Mutex
	sizes  []uint64
	codes  map[string]int
	reorgs int
}

func newRecMetrics() *recMetrics { return &recMetrics{codes: map[string]int{}} }

func (r *recMetrics) RangeSize(_, n uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sizes = append(r.sizes, n)
}

func (r *recMetrics) RPCRequest(_ uint64, method, code string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.codes[method+" "+code]++
}

func (r *recMetrics) Reorg(_, _ uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reorgs++
}

func (r *recMetrics) snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.codes))
	for k, v := range r.codes {
		out[k] = v
	}
	return out
}

func (r *recMetrics) code(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.codes[key]
}

// narrowedThenWidened reports whether the span went to at most max and later grew again.
func (r *recMetrics) narrowedThenWidened(max uint64) (narrowed, widened bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, s := range r.sizes {
		if s <= max {
			narrowed = true
			for _, later := range r.sizes[i+1:] {
				if later > s {
					return true, true
				}
			}
		}
	}
	return narrowed, false
}

// A provider's range cap or result cap, in each provider's own words and with no
// configuration hinting at it: the source narrows (to the hint when there is one), finishes,
// and widens again after successes.
func TestProviderCapsNarrowAndWiden(t *testing.T) {
	c := newTestChain(t)
	for i := 0; i < 400; i++ {
		if i%2 == 0 {
			c.emit(keyAdded(pluginV101, account1))
		} else {
			c.mine(1)
		}
	}
	cases := []struct {
		name     string
		set      func(p *rpcproxy.Proxy)
		narrowTo uint64
		bare     bool // a bare ethclient instead of a Pool
	}{
		{"alchemy range", func(p *rpcproxy.Proxy) { p.CapRange(rpcproxy.Alchemy, 16) }, 16, false},
		{"infura range", func(p *rpcproxy.Proxy) { p.CapRange(rpcproxy.Infura, 16) }, 16, false},
		{"quicknode range", func(p *rpcproxy.Proxy) { p.CapRange(rpcproxy.QuickNode, 16) }, 16, false},
		{"frontier range", func(p *rpcproxy.Proxy) { p.CapRange(rpcproxy.Frontier, 16) }, 16, false},
		{"bsc range", func(p *rpcproxy.Proxy) { p.CapRange(rpcproxy.BSC, 16) }, 16, false},
		{"limit exceeded range", func(p *rpcproxy.Proxy) { p.CapRange(rpcproxy.LimitExceeded, 16) }, 16, false},
		{"alchemy results", func(p *rpcproxy.Proxy) { p.CapResults(rpcproxy.Alchemy, 8) }, 16, false},
		{"infura results", func(p *rpcproxy.Proxy) { p.CapResults(rpcproxy.Infura, 8) }, 16, false},
		{"limit exceeded results", func(p *rpcproxy.Proxy) { p.CapResults(rpcproxy.LimitExceeded, 8) }, 16, false},
		{"bsc range, bare client", func(p *rpcproxy.Proxy) { p.CapRange(rpcproxy.BSC, 16) }, 16, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, c.url)
			tc.set(p)
			rec := newRecMetrics()
			m := newMemSink()
			var cl Client = testPool(t, rec, p.URL())
			if tc.bare {
				cl = dial(t, p.URL())
			}
			startSource(t, Options{Sink: m, Client: cl, Checkpoints: m, Metrics: rec,
				Finality: Finality{Confirmations: 8}, Window: 16, RangeSize: 64, MaxRangeSize: 128})
			waitSynced(t, c, m)
			assertMatchesChain(t, c, m, testFilter())
			narrowed, widened := rec.narrowedThenWidened(tc.narrowTo)
			if !narrowed || !widened {
				t.Errorf("span sizes %v: narrowed to <= %d %v, widened again %v", rec.sizes, tc.narrowTo, narrowed, widened)
			}
			if rec.code("eth_getLogs ok") == 0 && !tc.bare {
				t.Errorf("no successful eth_getLogs")
			}
		})
	}
}

// A head that goes backwards (a lagging replica) is not a reorg: no rollback, no crash; the
// source waits and carries on when the node catches up.
//
//	node:      … ─ 20 ─ 21 ─ 22 ─ 23
//	replica:   … ─ 18                 (head 5 behind: lower than the indexed block 20)
func TestHeadGoingBackwardsIsNotAReorg(t *testing.T) {
	c := newTestChain(t)
	for i := 0; i < 20; i++ {
		c.emit(keyAdded(pluginV101, account1))
	}
	p := startProxy(t, c.url)
	m := newMemSink()
	startSource(t, Options{Sink: m, Client: testPool(t, nil, p.URL()), Checkpoints: m, Finality: Finality{Confirmations: 2}, Window: 16})
	waitSynced(t, c, m)

	c.emit(keyRemoved(pluginV101, account1))
	p.LagHead(5)
	before := p.Count("eth_getBlockByNumber")
	c.emit(ownerUpdated(account1))
	c.mine(1)
	waitFor(t, "polls of the lagging head", func() bool { return p.Count("eth_getBlockByNumber") >= before+10 })
	p.LagHead(0)
	waitSynced(t, c, m)
	assertMatchesChain(t, c, m, testFilter())
	if n := len(m.rollbackCalls()); n != 0 {
		t.Errorf("%d rollbacks for a lagging head", n)
	}
}

// The same logs served twice (a load balancer merging two replicas) are delivered once.
func TestSameRangeServedTwice(t *testing.T) {
	c := newTestChain(t)
	for i := 0; i < 30; i++ {
		c.emit(keyAdded(pluginV101, account1), installed(account1, pluginV101))
	}
	p := startProxy(t, c.url)
	p.DuplicateLogs(true)
	m := newMemSink()
	startSource(t, Options{Sink: m, Client: testPool(t, nil, p.URL()), Checkpoints: m, Finality: Finality{Confirmations: 4}, Window: 16, RangeSize: 8})
	waitSynced(t, c, m)
	c.emit(keyRemoved(pluginV101, account1))
	waitSynced(t, c, m)
	assertMatchesChain(t, c, m, testFilter())
}

// A block hash that stops existing while it is read is a reorg signal: the source re-reads
// the chain from its checkpoint (a head read before every new try) instead of retrying the
// same request in a loop, and delivers the block once it is back.
//
//	indexed:  … ─ 10
//	node:     … ─ 10 ─ 11{Added}   with 11's hash answering "unknown block"
func TestVanishingHashIsAReorgSignal(t *testing.T) {
	c := newTestChain(t)
	for i := 0; i < 10; i++ {
		c.emit(ownerUpdated(account1))
	}
	p := startProxy(t, c.url)
	m := newMemSink()
	startSource(t, Options{Sink: m, Client: testPool(t, nil, p.URL()), Checkpoints: m, Finality: Finality{Confirmations: 2}, Window: 16, NoBloom: true})
	waitSynced(t, c, m)

	p.LagHead(1) // keep block 11 out of sight until its hash has vanished
	h11 := c.emit(keyAdded(pluginV101, account1))
	p.VanishBlock(h11)
	logs0, heads0 := p.Count("eth_getLogs"), p.Count("eth_getBlockByNumber")
	p.LagHead(0)
	waitFor(t, "tries on the vanished block", func() bool { return p.Count("eth_getLogs") >= logs0+5 })
	logs, heads := p.Count("eth_getLogs")-logs0, p.Count("eth_getBlockByNumber")-heads0
	if heads < logs-1 {
		t.Errorf("%d eth_getLogs and only %d block reads: retried the vanished hash without re-verifying", logs, heads)
	}
	if cp, _ := m.checkpoint(); cp.Number != 10 {
		t.Errorf("checkpoint moved to %d past a block it could not read", cp.Number)
	}
	p.RestoreBlock(h11)
	waitSynced(t, c, m)
	assertMatchesChain(t, c, m, testFilter())
}

// JSON-RPC errors, HTTP 429, HTTP 502 and requests that never get an answer: the source
// survives each, backs off, and finishes with nothing lost once the fault clears.
func TestRPCFaultsAreRetried(t *testing.T) {
	c := newTestChain(t)
	for i := 0; i < 60; i++ {
		c.emit(keyAdded(pluginV101, account1))
	}
	faults := []struct {
		name  string
		set   func(p *rpcproxy.Proxy)
		count string // the metrics key that shows the fault was met
	}{
		{"json-rpc error", func(p *rpcproxy.Proxy) {
			p.FailMethod("eth_getLogs", rpcproxy.RPCError{Code: -32000, Message: "internal error"})
		}, "eth_getLogs rpc_-32000"},
		{"http 429", func(p *rpcproxy.Proxy) { p.TooManyRequests(time.Second) }, "eth_getBlockByNumber rate_limit_429"},
		{"http 502", func(p *rpcproxy.Proxy) { p.BadGateway() }, "eth_getBlockByNumber http_5xx_502"},
		{"no answer", func(p *rpcproxy.Proxy) { p.HangRequests() }, "eth_getBlockByNumber timeout"},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			p := startProxy(t, c.url)
			f.set(p)
			rec := newRecMetrics()
			m := newMemSink()
			pool := testPool(t, rec, p.URL())
			startSource(t, Options{Sink: m, Client: pool, Checkpoints: m, Metrics: rec,
				Finality: Finality{Confirmations: 4}, Window: 16, RangeSize: 8})
			waitFor(t, "the fault to be met", func() bool { return rec.code(f.count) >= 3 })
			if st := pool.Status(); st.LastErr == nil && f.name != "json-rpc error" { // other methods still succeed there
				t.Errorf("pool status shows no error during the fault: %+v", st)
			}
			if _, ok := m.checkpoint(); ok && f.name != "json-rpc error" {
				t.Errorf("checkpoint set while every request failed")
			}
			p.Clear()
			waitSynced(t, c, m)
			assertMatchesChain(t, c, m, testFilter())
			if st := pool.Status(); st.LastErr != nil {
				t.Errorf("pool status still shows an error after recovery: %+v", st)
			}
			t.Logf("requests by code: %v", rec.snapshot())
		})
	}
}

// Several endpoints: one answers 502 or never answers, the pool fails over to the other.
func TestPoolFailsOver(t *testing.T) {
	c := newTestChain(t)
	for i := 0; i < 20; i++ {
		c.emit(keyAdded(pluginV101, account1))
	}
	for _, mode := range []string{"502", "hang"} {
		t.Run(mode, func(t *testing.T) {
			bad, good := startProxy(t, c.url), startProxy(t, c.url)
			if mode == "502" {
				bad.BadGateway()
			} else {
				bad.HangRequests()
			}
			m := newMemSink()
			startSource(t, Options{Sink: m, Client: testPool(t, nil, bad.URL(), good.URL()), Checkpoints: m,
				Finality: Finality{Confirmations: 2}, Window: 16})
			waitSynced(t, c, m)
			assertMatchesChain(t, c, m, testFilter())
			if bad.Count("eth_getBlockByNumber") == 0 {
				t.Errorf("the bad endpoint was never tried")
			}
		})
	}
}

// slowClient delays range eth_getLogs by a random amount so ranges complete out of order,
// and tracks how many are in flight at once.
type slowClient struct {
	Client
	inFlight, maxInFlight atomic.Int64
}

func (s *slowClient) FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error) {
	if q.BlockHash == nil {
		n := s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		for {
			m := s.maxInFlight.Load()
			if n <= m || s.maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(time.Duration(rand.IntN(15)) * time.Millisecond)
	}
	return s.Client.FilterLogs(ctx, q)
}

// Ranges are fetched concurrently (and finish in any order) but committed strictly in order.
func TestConcurrentRangesCommittedInOrder(t *testing.T) {
	c := newTestChain(t)
	for i := 0; i < 200; i++ {
		c.emit(keyAdded(pluginV101, account1))
	}
	sc := &slowClient{Client: dial(t, c.url)}
	m := newMemSink()
	startSource(t, Options{Sink: m, Client: sc, Checkpoints: m, StartBlock: 1,
		Finality: Finality{Confirmations: 4}, Window: 16, RangeSize: 5, MaxRangeSize: 5, Concurrency: 4})
	waitSynced(t, c, m)
	assertMatchesChain(t, c, m, testFilter()) // includes the memSink's order checks
	if sc.maxInFlight.Load() < 2 {
		t.Errorf("at most %d ranges in flight: no concurrency", sc.maxInFlight.Load())
	}
	m.mu.Lock()
	applies := m.applies
	m.mu.Unlock()
	if applies < 200/5 {
		t.Errorf("%d batches, want at least 40 ranges of 5", applies)
	}
}

// 500 blocks without a single event: progress moves through them.
func TestFiveHundredEmptyBlocks(t *testing.T) {
	c := newTestChain(t)
	c.emit(keyAdded(pluginV101, account1))
	c.mine(500)
	c.emit(keyRemoved(pluginV101, account1))
	m := newMemSink()
	startSource(t, Options{Sink: m, Client: dial(t, c.url), Checkpoints: m, Finality: Finality{Confirmations: 4}, Window: 16, RangeSize: 100})
	waitSynced(t, c, m)
	assertMatchesChain(t, c, m, testFilter())
	c.mine(500) // and through the tail too
	c.emit(ownerUpdated(account1))
	waitSynced(t, c, m)
	assertMatchesChain(t, c, m, testFilter())
}

// During a fault the source backs off: over equal windows it sends no more than 20 times the
// requests it sends while healthy (reliability case 10), with the default backoff.
func TestFaultRequestRateStaysBounded(t *testing.T) {
	c := newTestChain(t)
	c.emit(keyAdded(pluginV101, account1))
	p := startProxy(t, c.url)
	pool, err := DialPool(context.Background(), []string{p.URL()}, PoolOptions{ChainID: simChainID, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	m := newMemSink()
	startSource(t, Options{Sink: m, Client: pool, Checkpoints: m, PollInterval: 200 * time.Millisecond,
		RetryBase: 200 * time.Millisecond, RetryMax: 5 * time.Second, Finality: Finality{Confirmations: 1}, Window: 8})
	waitSynced(t, c, m)

	const window = 2 * time.Second
	before := p.Counts()
	time.Sleep(window)
	healthy := p.CountsSince(before)
	p.BadGateway()
	before = p.Counts()
	time.Sleep(window)
	faulty := p.CountsSince(before)
	p.Clear()
	sum := func(m map[string]int64) (n int64) {
		for _, v := range m {
			n += v
		}
		return n
	}
	t.Logf("requests per %v: healthy %v, during 502 %v", window, healthy, faulty)
	if sum(faulty) > 20*max(sum(healthy), 1) {
		t.Errorf("%d requests during the fault against %d healthy", sum(faulty), sum(healthy))
	}
	c.emit(keyRemoved(pluginV101, account1))
	waitSynced(t, c, m)
	assertMatchesChain(t, c, m, testFilter())
}
