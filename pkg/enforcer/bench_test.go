package enforcer_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden/pkg/enforcer"
)

// timedChain notes when each user operation is handed to the bundler.
type timedChain struct {
	enforcer.Chain
	mu        sync.Mutex
	submitted []time.Time
}

func (c *timedChain) Submit(ctx context.Context, p *enforcer.Prepared) error {
	err := c.Chain.Submit(ctx, p)
	c.mu.Lock()
	c.submitted = append(c.submitted, time.Now())
	c.mu.Unlock()
	return err
}

// BenchmarkEventToSubmit measures the time from a breaching key state reaching the enforcer to
// its removal being accepted by the bundler, on the dev chain (chain reads, policy evaluation,
// ledger and lock in JetStream, user operation build, signature and submission). It reports
// p50 and p99 over b.N keys.
func BenchmarkEventToSubmit(b *testing.B) {
	w := newWorld(b, true)
	tc := &timedChain{Chain: w.achain}
	e, err := enforcer.New(enforcer.Options{Policies: w.policies, Chains: map[uint64]enforcer.Chain{w.achain.ID: tc},
		Audit: w.audit, Ledger: w.ledger, Locks: w.locks, Instance: "bench", ReceiptTimeout: 20 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		key := newAddr()
		st := w.last(w.apply(w.chain.AddKey(w.ctx, w.owner, w.account, key, [32]byte{}, allowAll)), key)
		b.StartTimer()
		start := time.Now()
		if err := e.HandleState(w.ctx, st); err != nil {
			b.Fatal(err)
		}
		tc.mu.Lock()
		if n := len(tc.submitted); n > 0 {
			lat = append(lat, tc.submitted[n-1].Sub(start))
		}
		tc.mu.Unlock()
		if w.isKey(key) {
			b.Fatal("key not removed")
		}
	}
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	b.ReportMetric(float64(q(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(q(0.99).Microseconds())/1000, "p99-ms")
}
