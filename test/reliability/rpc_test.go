package reliability_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/rpcproxy"
	"github.com/keywarden/keywarden/pkg/events"
	"github.com/keywarden/keywarden/pkg/ingest"
)

// withProxy puts the fault-injecting proxy between the indexer and the chain.
func (r *rig) withProxy() *rpcproxy.Proxy {
	r.t.Helper()
	p, err := rpcproxy.Start(r.ctx, rpcproxy.Options{Upstream: r.chain.HTTPURL})
	r.must(err, "start proxy")
	r.t.Cleanup(func() { _ = p.Close() })
	r.rpcURL = p.URL()
	return p
}

// rate counts the proxy's requests over d.
func rate(p *rpcproxy.Proxy, d time.Duration) float64 {
	p.ResetCounts()
	time.Sleep(d)
	return float64(p.Total()) / d.Seconds()
}

// Case 10: JSON-RPC errors, HTTP 429, HTTP 502 and requests that never get an answer. The
// indexer survives each, resumes after it, loses nothing, and backs off: requests during a
// fault stay under 20 times the healthy rate. Each fault is held 30 s, as the reliability doc
// says, and the indexer must have caught up within seconds of the fault's end.
func TestRPCFaults(t *testing.T) {
	r := newRig(t, rigOptions{})
	p := r.withProxy()
	k1 := newKey()
	acct := r.newAccount(k1)
	r.startIndexer(indexerOptions{})
	r.waitSynced()
	healthy := rate(p, time.Second)
	faults := []struct {
		name string
		set  func()
	}{
		{"json-rpc errors", func() {
			for _, m := range []string{"eth_getLogs", "eth_getBlockByNumber", "eth_getBlockByHash", "eth_blockNumber"} {
				p.FailMethod(m, rpcproxy.RPCError{Code: -32000, Message: "internal error: upstream unavailable"})
			}
		}},
		{"http 429", func() { p.TooManyRequests(time.Second) }},
		{"http 502", p.BadGateway},
		{"no answer", func() { p.HangRequests() }},
	}
	for _, f := range faults {
		f.set()
		r.addKey(acct, newKey()) // activity the indexer must not lose
		during := rate(p, 30*time.Second)
		p.Clear()
		cleared := time.Now()
		r.waitSynced()
		resumed := time.Since(cleared)
		t.Logf("%s: %.0f requests/s during the fault, %.0f healthy; caught up %s after it ended", f.name, during, healthy,
			resumed.Round(time.Millisecond))
		if resumed > 10*time.Second {
			t.Errorf("%s: caught up %s after the fault ended, want within seconds", f.name, resumed)
		}
		if during > 20*healthy+20 {
			t.Errorf("%s: %.0f requests/s during the fault, more than 20 × the healthy %.0f", f.name, during, healthy)
		}
	}
	r.update(acct, k1, events.SetRequiredPaymaster{Paymaster: events.AddressFrom(acct)})
	r.verify()
}

// recordingMetrics keeps the range sizes the source used.
type recordingMetrics struct {
	ingest.NopMetrics
	mu     sync.Mutex
	ranges []uint64
}

func (m *recordingMetrics) RangeSize(_, blocks uint64) {
	m.mu.Lock()
	m.ranges = append(m.ranges, blocks)
	m.mu.Unlock()
}

func (m *recordingMetrics) snapshot() []uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]uint64(nil), m.ranges...)
}

// Case 11: a provider's block-range cap and result-count cap, with the providers' own error
// texts and nothing in the configuration hinting at them: the indexer narrows, finishes, and
// widens again once the cap is gone.
func TestProviderCaps(t *testing.T) {
	// A result cap must stay above the logs of one block (no range can satisfy it otherwise,
	// on a real provider either): the install block holds 5, each addKey block 2.
	for _, c := range []struct {
		name     string
		set      func(*rpcproxy.Proxy)
		narrowTo uint64
	}{
		{"alchemy range cap", func(p *rpcproxy.Proxy) { p.CapRange(rpcproxy.Alchemy, 8) }, 8},
		{"infura result cap", func(p *rpcproxy.Proxy) { p.CapResults(rpcproxy.Infura, 6) }, 39},
		{"quicknode range cap", func(p *rpcproxy.Proxy) { p.CapRange(rpcproxy.QuickNode, 8) }, 8},
		{"geth limit exceeded", func(p *rpcproxy.Proxy) { p.CapResults(rpcproxy.LimitExceeded, 6) }, 39},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, rigOptions{})
			p := r.withProxy()
			acct := r.newAccount(newKey(), newKey())
			for i := 0; i < 6; i++ {
				r.addKey(acct, newKey())
				r.mineEmpty(10)
			}
			c.set(p)
			m := &recordingMetrics{}
			cc := r.chainConfig()
			cc.RangeSize, cc.MaxBlockRange = 40, 80
			r.startIndexer(indexerOptions{chain: &cc, ingestMetrics: m})
			r.waitSynced()
			narrowed := m.snapshot()
			p.Clear()
			if min := minOf(narrowed); min > c.narrowTo {
				t.Errorf("range sizes under the cap %v: never narrowed to %d or less", narrowed, c.narrowTo)
			}
			// The span doubles after 8 full-size answers: give it backfills until it has.
			widened := false
			for i := 0; i < 8 && !widened; i++ {
				r.mineEmpty(100)
				r.addKey(acct, newKey())
				r.waitSynced()
				widened = maxOf(m.snapshot()[len(narrowed):]) > minOf(narrowed)
			}
			if !widened {
				t.Errorf("range sizes after the cap %v: never widened again", m.snapshot()[len(narrowed):])
			}
			r.verify()
		})
	}
}

func minOf(xs []uint64) uint64 {
	m := ^uint64(0)
	for _, x := range xs {
		m = min(m, x)
	}
	return m
}

func maxOf(xs []uint64) uint64 {
	var m uint64
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func (r *rig) mineEmpty(n int) {
	for i := 0; i < n; i++ {
		r.chain.Commit()
	}
}

// countingSink counts rollbacks.
type countingSink struct {
	ingest.Sink
	rollbacks *atomic.Int64
}

func (s countingSink) Rollback(ctx context.Context, chainID uint64, a ingest.BlockRef, rs []ingest.BlockRef) error {
	s.rollbacks.Add(1)
	return s.Sink.Rollback(ctx, chainID, a, rs)
}

// Case 12: a head that goes backwards (a lagging replica) is no rollback and no crash; the
// same range served twice stores nothing twice; a block hash that vanishes mid-request is a
// reorg signal, not a retry loop.
func TestLaggingDuplicateVanishing(t *testing.T) {
	r := newRig(t, rigOptions{})
	p := r.withProxy()
	k1 := newKey()
	acct := r.newAccount(k1)
	var rollbacks atomic.Int64
	var gate sync.Mutex
	r.startIndexer(indexerOptions{wrap: func(s ingest.Sink) ingest.Sink {
		return sinkFunc{Sink: countingSink{Sink: s, rollbacks: &rollbacks}, before: func() {
			gate.Lock()
			//lint:ignore SA2001 the mutex is a gate: a batch waits here while the test holds it
			gate.Unlock()
		}}
	}})
	r.waitSynced()
	healthy := rate(p, time.Second)

	// A lagging replica: the head goes 4 blocks back, then catches up.
	r.mineEmpty(6)
	r.waitSynced()
	p.LagHead(4)
	time.Sleep(300 * time.Millisecond)
	r.addKey(acct, newKey())
	time.Sleep(300 * time.Millisecond)
	p.LagHead(0)
	r.waitSynced()
	if n := rollbacks.Load(); n != 0 {
		t.Errorf("a lagging head caused %d rollbacks", n)
	}

	// The same range served twice.
	p.DuplicateLogs(true)
	r.addKey(acct, newKey())
	r.update(acct, k1, events.SetAccessListType{Type: events.AccessDenylist})
	r.waitSynced()
	p.DuplicateLogs(false)

	// A block whose hash stops existing while the indexer reads it.
	gate.Lock()
	r.addKey(acct, newKey())
	_, h := r.head()
	p.VanishBlock(h)
	gate.Unlock()
	during := rate(p, time.Second)
	p.RestoreBlock(h)
	r.waitSynced()
	t.Logf("vanished block: %.0f requests/s, healthy %.0f", during, healthy)
	if during > 20*healthy+20 {
		t.Errorf("a vanished block made %.0f requests/s, more than 20 × the healthy %.0f: a retry loop", during, healthy)
	}
	r.verify()
	_ = http.StatusOK
}
