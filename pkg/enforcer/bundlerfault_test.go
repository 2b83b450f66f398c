package enforcer_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/rpcproxy"
	"github.com/keywarden/keywarden/pkg/actions"
	"github.com/keywarden/keywarden/pkg/enforcer"
	"github.com/keywarden/keywarden/pkg/events"
)

// behindProxy points the world's enforcer chain at the bundler through a fault-injecting proxy.
func (w *world) behindProxy() *rpcproxy.Proxy {
	w.t.Helper()
	p, err := rpcproxy.Start(w.ctx, rpcproxy.Options{Upstream: w.chain.BundlerURL})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { _ = p.Close() })
	_, client := w.dialClient(p.URL())
	w.achain.Clients = map[events.Address]*actions.Client{events.Address(w.chain.Addresses.SessionKeyPlugin): client}
	return p
}

var rejected = rpcproxy.RPCError{Code: -32500, Message: "AA21 didn't pay prefund"}

// Reliability case 16: a bundler that rejects, then recovers: the enforcer retries with
// backoff and the action lands once.
func TestBundlerRejectionIsRetried(t *testing.T) {
	w := newWorld(t, true)
	proxy := w.behindProxy()
	key := newAddr()
	st := w.last(w.apply(w.chain.AddKey(w.ctx, w.owner, w.account, key, [32]byte{}, allowAll)), key)
	proxy.FailMethod("eth_sendUserOperation", rejected)
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	go func() { // recover after two rejected submissions
		for ctx.Err() == nil && proxy.Count("eth_sendUserOperation") < 2 {
			time.Sleep(5 * time.Millisecond)
		}
		proxy.ClearMethod("eth_sendUserOperation")
	}()
	if err := w.enforcer(enforcer.ModeEnforce, nil, "a").HandleState(w.ctx, st); err != nil {
		t.Fatal(err)
	}
	r := w.audit.lastAction("no-allow-all")
	if r.Outcome != events.OutcomeIncluded || r.Attempt < 3 || w.isKey(key) {
		t.Fatalf("record %+v, key present %v", r, w.isKey(key))
	}
}

// A bundler that keeps rejecting: retried with backoff, then recorded as failed and alerted,
// never reported as done.
func TestBundlerThatKeepsRejectingFailsAndAlerts(t *testing.T) {
	w := newWorld(t, true)
	proxy := w.behindProxy()
	key := newAddr()
	st := w.last(w.apply(w.chain.AddKey(w.ctx, w.owner, w.account, key, [32]byte{}, allowAll)), key)
	proxy.FailMethod("eth_sendUserOperation", rejected)
	alerts := make(chan enforcer.Notification, 8)
	hook := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var n enforcer.Notification
		_ = json.NewDecoder(r.Body).Decode(&n)
		alerts <- n
	}))
	defer hook.Close()
	e, err := enforcer.New(enforcer.Options{Policies: w.policies, Chains: map[uint64]enforcer.Chain{w.achain.ID: w.achain},
		Audit: w.audit, Ledger: w.ledger, Locks: w.locks, Instance: "a", Attempts: 3, Backoff: 20 * time.Millisecond,
		Notifier: enforcer.NewWebhook(hook.URL, []byte("k"))})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.HandleState(w.ctx, st); err != nil {
		t.Fatal(err)
	}
	r := w.audit.lastAction("no-allow-all")
	if r.Outcome != events.OutcomeFailed || r.Attempt != 3 || !w.isKey(key) {
		t.Fatalf("record %+v, key present %v", r, w.isKey(key))
	}
	// Every on-chain action of the key (no-allow-all, native-cap, time-range-required) tried 3 times.
	var failed int64
	for _, p := range []string{"no-allow-all", "native-cap", "time-range-required"} {
		if r := w.audit.lastAction(p); r.Outcome == events.OutcomeFailed && r.Attempt == 3 {
			failed++
		}
	}
	if n := proxy.Count("eth_sendUserOperation"); failed != 3 || n != 3*failed {
		t.Fatalf("%d submissions for %d failed actions, want 3 each", n, failed)
	}
	for _, o := range w.audit.outcomes("no-allow-all") {
		if o == events.OutcomeIncluded || o == events.OutcomeSubmitted {
			t.Fatalf("a rejected action was reported as %s", o)
		}
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case n := <-alerts:
			if n.Kind == "action_failed" && n.Action != nil && n.Action.ActionID == r.ActionID {
				return
			}
		case <-deadline:
			t.Fatal("no action_failed alert")
		}
	}
}
