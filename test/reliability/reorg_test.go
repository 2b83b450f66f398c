package reliability_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/rs/zerolog"

	"github.com/keywarden/keywarden/pkg/devchain"
	"github.com/keywarden/keywarden/pkg/events"
	"github.com/keywarden/keywarden/pkg/indexer"
	"github.com/keywarden/keywarden/pkg/ingest"
	"github.com/keywarden/keywarden/pkg/store"
)

// Case 5a: a one-block reorg that changes an event.
//
//	before:  … ─ N{install k1} ─ N+1a{SessionKeyAdded k2, PermissionsUpdated k2}
//	after:   … ─ N{install k1} ─ N+1b{SessionKeyAdded k3, PermissionsUpdated k3} ─ N+2b
//
// k2 is retracted (its state says so on the stream and in ClickHouse), k3 takes its place.
func TestReorgOneBlockChangesEvent(t *testing.T) {
	r := newRig(t, rigOptions{})
	k1, k2, k3 := newKey(), newKey(), newKey()
	acct := r.newAccount(k1)
	r.startIndexer(indexerOptions{})
	r.addKey(acct, k2, r.somePerms(7)...)
	r.waitSynced()

	_, err := r.chain.Reorg(r.ctx, devchain.ReorgOptions{Depth: 1, Fill: func(ctx context.Context, i int) error {
		if i != 0 {
			return nil
		}
		data, err := r.chain.AddSessionKeyCall(k3, devchain.Tag("k3"), r.somePerms(9))
		return r.send(ctx, acct, data, err)
	}})
	r.must(err, "reorg")
	r.verify()
	r.assertKeyStatus(acct, k2, store.StatusRetracted)
	r.assertKeyStatus(acct, k3, events.StatusActive)
}

// Case 5b: a reorg that removes events entirely; the key state rolls back.
//
//	before:  … ─ N{install k1} ─ N+1a{add k2} ─ N+2a{update k1} ─ N+3a{remove k1}
//	after:   … ─ N{install k1} ─ N+1b ─ N+2b ─ N+3b ─ N+4b            (no events)
//
// k1 is active again with its install-time permissions; k2 never existed.
func TestReorgRemovesEvents(t *testing.T) {
	r := newRig(t, rigOptions{})
	k1, k2 := newKey(), newKey()
	acct := r.newAccount(k1)
	r.startIndexer(indexerOptions{})
	r.waitSynced()
	r.addKey(acct, k2)
	r.update(acct, k1, events.SetAccessListType{Type: events.AccessAllowAll}, events.SetNativeTokenSpendLimit{Limit: events.MaxU256})
	r.removeKey(acct, k1)
	r.waitSynced()

	_, err := r.chain.Reorg(r.ctx, devchain.ReorgOptions{Depth: 3, Length: 4})
	r.must(err, "reorg")
	r.verify()
	r.assertKeyStatus(acct, k1, events.StatusActive)
	r.assertKeyStatus(acct, k2, store.StatusRetracted)
}

// Case 7: a reorg while the indexer is down, to the same height: only the hash tells.
//
//	indexed, then stopped:  … ─ N{install k1} ─ N+1a{add k2} ─ N+2a{rotate k1→k3}
//	at restart:             … ─ N{install k1} ─ N+1b{remove k1} ─ N+2b
func TestReorgWhileDownDetectedByHash(t *testing.T) {
	r := newRig(t, rigOptions{})
	k1, k2, k3 := newKey(), newKey(), newKey()
	acct := r.newAccount(k1)
	x := r.startIndexer(indexerOptions{})
	r.addKey(acct, k2)
	r.rotateKey(acct, k1, k3)
	r.waitSynced()
	before, _ := r.head()
	if err := x.stop(t); err != nil {
		t.Fatalf("indexer stopped with %v", err)
	}

	_, err := r.chain.Reorg(r.ctx, devchain.ReorgOptions{Depth: 2, Length: 2, Fill: func(ctx context.Context, i int) error {
		if i != 0 {
			return nil
		}
		data, err := r.chain.RemoveSessionKeyCall(k1, sentinelPredecessor())
		return r.send(ctx, acct, data, err)
	}})
	r.must(err, "reorg")
	if after, _ := r.head(); after != before {
		t.Fatalf("reorg moved the head from %d to %d: the case needs the same height", before, after)
	}
	r.startIndexer(indexerOptions{})
	r.verify()
	r.assertKeyStatus(acct, k1, events.StatusRemoved)
	r.assertKeyStatus(acct, k2, store.StatusRetracted)
	r.assertKeyStatus(acct, k3, store.StatusRetracted)
}

// Case 8a: three reorgs in quick succession, each replacing the previous branch's tip.
//
//	… ─ N ─ A1{add k2}
//	… ─ N ─ B1{add k3} ─ B2{update k1}
//	… ─ N ─ B1' ...    (each reorg replaces the newest blocks again, with other events)
func TestThreeReorgsInQuickSuccession(t *testing.T) {
	r := newRig(t, rigOptions{})
	k1 := newKey()
	acct := r.newAccount(k1)
	r.startIndexer(indexerOptions{})
	r.addKey(acct, newKey())
	r.waitSynced()
	for i := 0; i < 3; i++ {
		k := newKey()
		_, err := r.chain.Reorg(r.ctx, devchain.ReorgOptions{Depth: 1 + i%2, Fill: func(ctx context.Context, j int) error {
			switch j {
			case 0:
				data, err := r.chain.AddSessionKeyCall(k, devchain.Tag("quick"), r.somePerms(uint64(i)))
				return r.send(ctx, acct, data, err)
			case 1:
				data, err := r.chain.UpdatePermissionsCall(k1, []events.Update{events.UpdateTimeRange{ValidUntil: uint64(5_000_000_000 + i)}})
				return r.send(ctx, acct, data, err)
			}
			return nil
		}})
		r.must(err, "reorg")
	}
	r.verify()
}

// Case 8b: a reorg inside a range that is still being backfilled. The sink holds its first
// batch until the chain has reorganised under the ranges already fetched.
//
//	fetched:    … ─ M ─ … ─ H-3a ─ H-2a{add k2} ─ H-1a ─ Ha{update k1}
//	committed:  … ─ M ─ … ─ H-3a ─ H-2b{add k3} ─ H-1b ─ Hb ─ H+1b
func TestReorgDuringBackfill(t *testing.T) {
	r := newRig(t, rigOptions{})
	k1 := newKey()
	acct := r.newAccount(k1)
	for i := 0; i < 12; i++ {
		r.addKey(acct, newKey())
	}
	r.addKey(acct, newKey())
	r.update(acct, k1, events.SetGasSpendLimit{Limit: events.U256From64(1e16), RefreshInterval: 60})
	gate := make(chan struct{})
	var once sync.Once
	r.startIndexer(indexerOptions{wrap: func(s ingest.Sink) ingest.Sink {
		return sinkFunc{Sink: s, before: func() { <-gate }}
	}})
	k3 := newKey()
	_, err := r.chain.Reorg(r.ctx, devchain.ReorgOptions{Depth: 3, Fill: func(ctx context.Context, j int) error {
		if j != 0 {
			return nil
		}
		data, err := r.chain.AddSessionKeyCall(k3, devchain.Tag("k3"), nil)
		return r.send(ctx, acct, data, err)
	}})
	r.must(err, "reorg")
	once.Do(func() { close(gate) })
	r.verify()
	r.assertKeyStatus(acct, k3, events.StatusActive)
}

// sinkFunc runs before ahead of every Apply (to hold the source at a chosen moment).
type sinkFunc struct {
	ingest.Sink
	before func()
}

func (s sinkFunc) Apply(ctx context.Context, b ingest.Batch) error {
	s.before()
	return s.Sink.Apply(ctx, b)
}

func sentinelPredecessor() [32]byte {
	var p [32]byte
	p[31] = 1
	return p
}

var _ = common.Address{}

// Case 6: a reorg deeper than the window stops the chain: /healthz turns red with the reason,
// /readyz too, and nothing of the new branch is written over data it cannot reconcile.
//
//	window 4, confirmations 2
//	before:  … ─ N ─ N+1a{add k2} ─ … ─ N+8a         (indexed up to N+8a)
//	after:   … ─ N ─ N+1b ─ … ─ N+9b{remove k1}       (nothing kept is on the chain any more)
func TestReorgDeeperThanWindowTurnsHealthRed(t *testing.T) {
	r := newRig(t, rigOptions{})
	k1 := newKey()
	acct := r.newAccount(k1)
	r.addKey(acct, newKey())
	r.mineEmpty(7)
	cc := r.chainConfig()
	cc.ReorgWindow = 4
	app, err := indexer.Open(r.ctx, indexer.Config{Chains: []indexer.ChainConfig{cc},
		ClickHouse: indexer.ClickHouseConfig{Addrs: []string{r.ch.Addr}, Database: r.ch.Database, Username: r.ch.Username, Password: r.ch.Password},
		NATS:       indexer.NATSConfig{URL: r.nats.URL}, ShutdownTimeout: 5 * time.Second},
		indexer.AppOptions{Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)})
	r.must(err, "open app")
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = app.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; _ = app.Close(context.Background()) })
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)
	r.waitSynced()
	r.waitFor("ready", func() bool { return httpStatus(t, srv.URL+"/readyz") == 200 })
	before := r.checkpoint()

	_, err = r.chain.Reorg(r.ctx, devchain.ReorgOptions{Depth: 9, Fill: func(ctx context.Context, i int) error {
		if i != 0 {
			return nil
		}
		data, err := r.chain.RemoveSessionKeyCall(k1, sentinelPredecessor())
		return r.send(ctx, acct, data, err)
	}})
	r.must(err, "reorg")
	r.waitFor("healthz to turn red", func() bool { return httpStatus(t, srv.URL+"/healthz") == 503 })
	body := httpBody(t, srv.URL+"/healthz")
	if !strings.Contains(body, "reorg deeper than the window") {
		t.Errorf("healthz does not say why: %s", body)
	}
	if httpStatus(t, srv.URL+"/readyz") != 503 {
		t.Errorf("readyz still green with a stopped chain")
	}
	if after := r.checkpoint(); after != before {
		t.Errorf("checkpoint moved from %d to %d after an unreconcilable reorg", before.Number, after.Number)
	}
	if m := httpBody(t, srv.URL+"/metrics"); !strings.Contains(m, "keywarden_indexer_events_total") || !strings.Contains(m, "keywarden_ingest_head_block") {
		t.Errorf("metrics lack the indexer's series")
	}
}

func httpStatus(t *testing.T, url string) int {
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func httpBody(t *testing.T, url string) string {
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// Anyone can call the plugin directly and emit events naming itself as the account: such
// events are stored and published flagged unverified, and no verified key state comes of them.
// Keys installed with the plugin (SessionKeyAdded before PluginInstalled in one transaction)
// are verified.
func TestDirectPluginCallsStayUnverified(t *testing.T) {
	r := newRig(t, rigOptions{})
	acct := r.newAccount(newKey(), newKey())
	stranger := r.chain.Keys[2]
	plugin := r.chain.Addresses.SessionKeyPlugin
	data, err := r.chain.AddSessionKeyCall(newKey(), devchain.Tag("mine"), r.somePerms(3))
	r.must(err, "calldata")
	_, err = r.chain.Transact(r.ctx, devchain.TxRequest{From: stranger, To: &plugin, Data: data})
	r.must(err, "direct call to the plugin")
	r.startIndexer(indexerOptions{})
	r.addKey(acct, newKey())
	r.verify()
	for _, s := range r.readStream().states {
		if s.Account == events.AddressFrom(devchain.Address(stranger)) {
			t.Errorf("a key state of the stranger's own 'account' was published: %+v", s)
		}
	}
}
