package reliability_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/keywarden/keywarden/internal/testenv"
	"github.com/keywarden/keywarden/pkg/actions"
	"github.com/keywarden/keywarden/pkg/bus"
	"github.com/keywarden/keywarden/pkg/decoder"
	"github.com/keywarden/keywarden/pkg/devchain"
	"github.com/keywarden/keywarden/pkg/events"
	"github.com/keywarden/keywarden/pkg/indexer"
	"github.com/keywarden/keywarden/pkg/ingest"
	"github.com/keywarden/keywarden/pkg/store"
)

func TestMain(m *testing.M) { testenv.Run(m) }

// rig is one reliability case: a dev chain, a ClickHouse database, an embedded NATS server,
// and the indexer between them (in process, or as a subprocess for the kill cases).
type rig struct {
	t     *testing.T
	ctx   context.Context
	chain *devchain.Chain
	eth   *ethclient.Client
	ch    *testenv.CH
	nats  *testenv.NATSServer
	store indexer.Store
	st    *store.Store
	owner *ecdsa.PrivateKey
	// rpcURL is what the indexer talks to (the chain, or a fault proxy in front of it).
	rpcURL string
	reader *actions.Reader
	// targets and tokens named in permission updates, for ReadPermissions queries.
	mu      sync.Mutex
	targets map[common.Address]bool
	tokens  map[common.Address]bool
	// installed are the accounts that installed the plugin (their plugin events are verified).
	installed map[common.Address]bool
}

type rigOptions struct {
	// chServer, when set, hosts the database (for outage cases).
	chServer *testenv.CHServer
}

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	chain, err := devchain.Start(ctx, devchain.Options{NoBundler: true})
	if err != nil {
		t.Fatalf("start dev chain: %v", err)
	}
	t.Cleanup(func() { _ = chain.Close() })
	eth, err := ethclient.DialContext(ctx, chain.HTTPURL)
	if err != nil {
		t.Fatalf("dial chain: %v", err)
	}
	t.Cleanup(eth.Close)
	var ch *testenv.CH
	if o.chServer != nil {
		ch = o.chServer.Database(t)
	} else {
		ch = testenv.ClickHouse(t)
	}
	r := &rig{t: t, ctx: ctx, chain: chain, eth: eth, ch: ch, nats: testenv.NATS(t), owner: chain.Keys[1], rpcURL: chain.HTTPURL,
		targets: map[common.Address]bool{}, tokens: map[common.Address]bool{}, installed: map[common.Address]bool{}}
	r.st = openStore(t, ctx, ch)
	r.store = indexer.NewStoreAdapter(r.st)
	r.reader = actions.NewReader(eth, actions.Addresses{SessionKeyPlugin: chain.Addresses.SessionKeyPlugin,
		MultiOwner: chain.Addresses.MultiOwnerPlugin, EntryPoint: chain.Addresses.EntryPoint})
	js, err := jetstream.New(r.nats.Conn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.EnsureStream(ctx, js, bus.StreamOptions{}); err != nil {
		t.Fatalf("ensure stream: %v", err)
	}
	return r
}

func (r *rig) filter() ingest.Filter {
	return ingest.Filter{Plugins: []common.Address{r.chain.Addresses.SessionKeyPlugin}, MultiOwner: r.chain.Addresses.MultiOwnerPlugin,
		EntryPoint: r.chain.Addresses.EntryPoint}
}

// chainConfig is the indexer's view of the dev chain: short intervals and a small window.
func (r *rig) chainConfig() indexer.ChainConfig {
	return indexer.ChainConfig{
		ID: r.chain.ChainID.Uint64(), RPCURLs: []string{r.rpcURL},
		SessionKeyPlugins: []string{r.chain.Addresses.SessionKeyPlugin.Hex()},
		MultiOwnerPlugin:  r.chain.Addresses.MultiOwnerPlugin.Hex(), EntryPoint: r.chain.Addresses.EntryPoint.Hex(),
		Finality: indexer.FinalityConfig{Confirmations: 2}, ReorgWindow: 16, PollInterval: 20 * time.Millisecond,
		RangeSize: 50, Concurrency: 2, RequestTimeout: 2 * time.Second,
	}
}

// running is an in-process indexer of the rig's chain.
type running struct {
	src    *ingest.Source
	sink   *indexer.Sink
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

type indexerOptions struct {
	chain         *indexer.ChainConfig
	metrics       indexer.Metrics
	ingestMetrics ingest.Metrics
	// wrap, when set, wraps the sink (to hold or fail it at chosen moments).
	wrap func(ingest.Sink) ingest.Sink
}

func (r *rig) startIndexer(o indexerOptions) *running {
	r.t.Helper()
	cc := r.chainConfig()
	if o.chain != nil {
		cc = *o.chain
	}
	log := zerolog.New(zerolog.NewTestWriter(r.t)).Level(zerolog.WarnLevel)
	js, err := jetstream.New(r.nats.Conn)
	if err != nil {
		r.t.Fatal(err)
	}
	sink, err := indexer.NewSink(indexer.Options{ChainID: cc.ID, Plugins: cc.Plugins(), Store: r.store,
		Bus: bus.NewPublisher(js, bus.PublisherOptions{AckTimeout: 5 * time.Second}), Metrics: o.metrics, Logger: log})
	if err != nil {
		r.t.Fatal(err)
	}
	pool, err := ingest.DialPool(r.ctx, cc.RPCURLs, ingest.PoolOptions{ChainID: cc.ID, Timeout: cc.RequestTimeout,
		BackoffBase: 20 * time.Millisecond, BackoffMax: 500 * time.Millisecond, Logger: log})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(pool.Close)
	so := cc.SourceOptions()
	so.Client, so.Sink, so.Checkpoints, so.Logger, so.Metrics = pool, sink, r.store, log, o.ingestMetrics
	if o.wrap != nil {
		so.Sink = o.wrap(sink)
	}
	so.RetryBase, so.RetryMax = 20*time.Millisecond, 500*time.Millisecond
	src, err := ingest.New(so)
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(r.ctx)
	run := &running{src: src, sink: sink, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(run.done); run.err = src.Run(ctx) }()
	r.t.Cleanup(func() { run.stop(r.t) })
	return run
}

func (x *running) stop(t *testing.T) error {
	x.cancel()
	select {
	case <-x.done:
	case <-time.After(30 * time.Second):
		t.Errorf("indexer did not stop")
	}
	return x.err
}

// waitFor polls cond; the limit only keeps a broken test from hanging (no timed assertion).
func (r *rig) waitFor(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *rig) head() (uint64, common.Hash) {
	r.t.Helper()
	h, err := r.eth.HeaderByNumber(r.ctx, nil)
	if err != nil {
		r.t.Fatalf("head: %v", err)
	}
	return h.Number.Uint64(), h.Hash()
}

// waitSynced waits until the indexer's checkpoint is the chain's head, by hash.
func (r *rig) waitSynced() {
	r.t.Helper()
	r.waitFor("checkpoint at the chain head", func() bool {
		cp, err := r.store.Checkpoint(r.ctx, r.chain.ChainID.Uint64())
		if err != nil {
			return false
		}
		_, h := r.head()
		return cp.Hash == h
	})
}

// ─── Scenario steps (owner transactions on the dev chain) ───────────────────────────────────

func newKey() common.Address {
	k, _ := crypto.GenerateKey()
	return crypto.PubkeyToAddress(k.PublicKey)
}

func (r *rig) note(us []events.Update) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range us {
		switch u := u.(type) {
		case events.UpdateAccessListAddressEntry:
			r.targets[u.Target.Common()] = true
		case events.UpdateAccessListFunctionEntry:
			r.targets[u.Target.Common()] = true
		case events.SetERC20SpendLimit:
			r.tokens[u.Token.Common()] = true
		}
	}
}

func (r *rig) must(err error, what string) {
	r.t.Helper()
	if err != nil {
		r.t.Fatalf("%s: %v", what, err)
	}
}

// newAccount creates an account owned by the rig's owner and installs the plugin with keys.
func (r *rig) newAccount(keys ...common.Address) common.Address {
	r.t.Helper()
	acct, err := r.chain.CreateAccount(r.ctx, []common.Address{devchain.Address(r.owner)})
	r.must(err, "create account")
	tags := make([][32]byte, len(keys))
	perms := make([][]events.Update, len(keys))
	for i := range keys {
		tags[i] = devchain.Tag(fmt.Sprintf("key-%d", i))
		perms[i] = r.somePerms(uint64(i))
	}
	_, err = r.chain.InstallSessionKeyPlugin(r.ctx, r.owner, acct, keys, tags, perms)
	r.must(err, "install plugin")
	r.mu.Lock()
	r.installed[acct] = true
	r.mu.Unlock()
	return acct
}

func (r *rig) somePerms(i uint64) []events.Update {
	us := []events.Update{
		events.UpdateAccessListAddressEntry{Target: events.AddressFrom(r.chain.Addresses.TestTarget), IsOnList: true, CheckSelectors: i%2 == 0},
		events.UpdateTimeRange{ValidAfter: 0, ValidUntil: 4_000_000_000 + i},
		events.SetNativeTokenSpendLimit{Limit: events.U256From64(1e15 + i), RefreshInterval: 3600},
		events.SetERC20SpendLimit{Token: events.AddressFrom(r.chain.Addresses.TestERC20), Limit: events.U256From64(5e18), RefreshInterval: 0},
	}
	r.note(us)
	return us
}

func (r *rig) addKey(acct, key common.Address, us ...events.Update) {
	r.t.Helper()
	r.note(us)
	_, err := r.chain.AddKey(r.ctx, r.owner, acct, key, devchain.Tag("added"), us)
	r.must(err, "add key")
}

func (r *rig) removeKey(acct, key common.Address) {
	r.t.Helper()
	_, err := r.chain.RemoveKey(r.ctx, r.owner, acct, key)
	r.must(err, "remove key")
}

func (r *rig) rotateKey(acct, oldKey, newKey common.Address) {
	r.t.Helper()
	_, err := r.chain.RotateKey(r.ctx, r.owner, acct, oldKey, newKey)
	r.must(err, "rotate key")
}

func (r *rig) update(acct, key common.Address, us ...events.Update) {
	r.t.Helper()
	r.note(us)
	_, err := r.chain.UpdatePermissions(r.ctx, r.owner, acct, key, us)
	r.must(err, "update permissions")
}

// send submits an owner transaction without waiting (for reorg Fill functions).
func (r *rig) send(ctx context.Context, acct common.Address, data []byte, err error) error {
	if err != nil {
		return err
	}
	_, err = r.chain.Send(ctx, devchain.TxRequest{From: r.owner, To: &acct, Data: data, Gas: 3_000_000})
	return err
}

// ─── The final comparison with the chain as it stands ────────────────────────────────────────

// truth decodes every watched log of the canonical chain.
func (r *rig) truth() (map[string]events.Event, map[string]events.DecodeFailure) {
	r.t.Helper()
	head, _ := r.head()
	evs := map[string]events.Event{}
	fails := map[string]events.DecodeFailure{}
	for _, q := range r.filter().Queries(0, head) {
		logs, err := r.eth.FilterLogs(r.ctx, q)
		r.must(err, "truth: get logs")
		for _, lg := range logs {
			if !r.filter().Match(&lg) {
				continue
			}
			h, err := r.eth.HeaderByHash(r.ctx, lg.BlockHash)
			r.must(err, "truth: header")
			meta := decoder.Meta{ChainID: r.chain.ChainID.Uint64(), BlockTime: h.Time, ParentHash: h.ParentHash}
			e, err := decoder.Decode(lg, meta)
			switch {
			case err == nil:
				evs[e.ID()] = e
			case errors.Is(err, decoder.ErrNotOurs):
			default:
				f := decoder.Failure(lg, meta, err)
				fails[f.ID()] = f
			}
		}
	}
	return evs, fails
}

// streamCounts reads the whole stream: per event id, how many event and retraction messages.
type streamCounts struct {
	events, retractions map[string]int
	states              []events.KeyState
	failures            map[string]int
	unverifiedStates    int
}

func (r *rig) readStream() streamCounts {
	r.t.Helper()
	js, err := jetstream.New(r.nats.Conn)
	r.must(err, "jetstream")
	st, err := js.Stream(r.ctx, events.StreamName)
	r.must(err, "stream")
	info, err := st.Info(r.ctx)
	r.must(err, "stream info")
	out := streamCounts{events: map[string]int{}, retractions: map[string]int{}, failures: map[string]int{}}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(r.ctx, seq)
		if err != nil {
			r.t.Logf("stream message %d: %v", seq, err)
			continue
		}
		parts := strings.Split(m.Subject, ".")
		if len(parts) < 3 {
			continue
		}
		var derr error
		switch parts[2] {
		case "event", "retract":
			var e events.Event
			if derr = json.Unmarshal(m.Data, &e); derr == nil {
				if parts[2] == "event" {
					out.events[e.ID()]++
				} else {
					out.retractions[e.ID()]++
				}
			}
		case "state":
			var k events.KeyState
			if derr = json.Unmarshal(m.Data, &k); derr == nil {
				out.states = append(out.states, k)
				if !k.Verified && k.Status == events.StatusActive {
					out.unverifiedStates++
				}
			}
		case "failure":
			var f events.DecodeFailure
			if derr = json.Unmarshal(m.Data, &f); derr == nil {
				out.failures[f.ID()]++
			}
		}
		if derr != nil {
			r.t.Errorf("stream message %d (%s) does not decode: %v", seq, m.Subject, derr)
		}
	}
	return out
}

// verify compares ClickHouse and the stream with the chain as it finally stands, and the
// folded key state with the plugin's view functions.
func (r *rig) verify() {
	r.t.Helper()
	r.waitSynced()
	chainID := r.chain.ChainID.Uint64()
	want, wantFails := r.truth()
	skEvents := 0
	for _, e := range want {
		if e.Payload.Kind().IsPluginEvent() {
			skEvents++
		}
	}
	if skEvents == 0 {
		r.t.Errorf("the chain holds no session-key event: the case proves nothing")
	}

	// ClickHouse: every event of the chain present once, none other surviving.
	stored, err := r.store.EventsFrom(r.ctx, chainID, 0)
	r.must(err, "read stored events")
	got := map[string]events.Event{}
	for _, e := range stored {
		if e.Removed {
			continue
		}
		if _, dup := got[e.ID()]; dup {
			r.t.Errorf("clickhouse: event %s stored twice", e.ID())
		}
		got[e.ID()] = e
	}
	for id, e := range want {
		g, ok := got[id]
		if !ok {
			r.t.Errorf("clickhouse: missing %s %s", e.Payload.Kind(), id)
			continue
		}
		r.mu.Lock()
		wantVerified := !e.Payload.Kind().IsPluginEvent() || r.installed[e.Account().Common()]
		r.mu.Unlock()
		if g.Verified != wantVerified {
			r.t.Errorf("clickhouse: %s %s verified=%v, want %v", e.Payload.Kind(), id, g.Verified, wantVerified)
		}
		g.Verified, g.Removed = e.Verified, e.Removed
		if !reflect.DeepEqual(jsonOf(g), jsonOf(e)) {
			r.t.Errorf("clickhouse: event %s differs\n got %s\nwant %s", id, jsonOf(g), jsonOf(e))
		}
	}
	for id, e := range got {
		if _, ok := want[id]; !ok {
			r.t.Errorf("clickhouse: %s %s (block %d) is not on the chain but not retracted", e.Payload.Kind(), id, e.BlockNumber)
		}
	}
	if dups := countDuplicateRows(r); dups != "" {
		r.t.Errorf("clickhouse: duplicate rows: %s", dups)
	}

	// The stream: each event once; what the chain no longer holds is retracted.
	sc := r.readStream()
	for id := range want {
		if n := sc.events[id]; n != 1 {
			r.t.Errorf("stream: event %s published %d times, want once", id, n)
		}
		if n := sc.retractions[id]; n != 0 {
			r.t.Errorf("stream: event %s on the chain was retracted %d times", id, n)
		}
	}
	for id, n := range sc.events {
		if _, ok := want[id]; !ok && sc.retractions[id] < 1 {
			r.t.Errorf("stream: event %s (%d messages) is not on the chain and was never retracted", id, n)
		}
	}
	for id := range wantFails {
		if sc.failures[id] != 1 {
			r.t.Errorf("stream: decode failure %s published %d times", id, sc.failures[id])
		}
	}
	if sc.unverifiedStates > 0 {
		r.t.Errorf("stream: %d active key states published unverified", sc.unverifiedStates)
	}

	// Key state: refold what ClickHouse holds, and compare with the plugin's views.
	r.verifyKeys(got)
}

func (r *rig) verifyKeys(stored map[string]events.Event) {
	r.t.Helper()
	chainID := r.chain.ChainID.Uint64()
	plugin := events.AddressFrom(r.chain.Addresses.SessionKeyPlugin)
	var evs []events.Event
	accounts := map[events.Address]bool{}
	for _, e := range stored {
		evs = append(evs, e)
		if e.Payload.Kind().IsPluginEvent() {
			accounts[e.Account()] = true
		}
	}
	sort.Slice(evs, func(i, j int) bool { return evs[i].Position.Before(evs[j].Position) })
	q := r.query()
	lastStates := r.lastPublishedStates()
	for acct := range accounts {
		fold := events.NewAccountKeys(chainID, plugin, acct)
		for _, e := range evs {
			if _, err := fold.Apply(e); err != nil {
				r.t.Errorf("refold %s: %v", acct, err)
			}
		}
		onChain, err := r.reader.SessionKeys(r.ctx, acct.Common())
		r.must(err, "sessionKeysOf")
		var active []common.Address
		for _, k := range fold.Active() {
			active = append(active, k.SessionKey.Common())
		}
		if !reflect.DeepEqual(active, onChain) && !(len(active) == 0 && len(onChain) == 0) {
			r.t.Errorf("account %s: folded keys %v, sessionKeysOf %v", acct, active, onChain)
		}
		for _, k := range fold.Active() {
			viewed, err := r.reader.ReadPermissions(r.ctx, acct.Common(), k.SessionKey.Common(), q)
			r.must(err, "read permissions")
			if folded := actions.ViewOf(k.Permissions, q); !reflect.DeepEqual(jsonOf(folded), jsonOf(viewed)) {
				r.t.Errorf("account %s key %s: folded %s\nviews %s", acct, k.SessionKey, jsonOf(folded), jsonOf(viewed))
			}
		}
		// The last state message of every key agrees with the fold.
		for _, k := range fold.All() {
			last, ok := lastStates[[2]events.Address{acct, k.SessionKey}]
			if !ok {
				if k.Verified {
					r.t.Errorf("account %s key %s: no state message", acct, k.SessionKey)
				}
				continue
			}
			if last.Status != k.Status || !reflect.DeepEqual(jsonOf(last.Permissions), jsonOf(k.Permissions)) {
				r.t.Errorf("account %s key %s: last state message %s/%s, fold %s/%s", acct, k.SessionKey, last.Status, jsonOf(last.Permissions), k.Status, jsonOf(k.Permissions))
			}
		}
		for key, last := range lastStates {
			if key[0] != acct {
				continue
			}
			if _, ok := fold.Key(key[1]); !ok && last.Status == events.StatusActive {
				r.t.Errorf("account %s key %s: last state message says active, the chain never had it", acct, key[1])
			}
		}
	}
}

func (r *rig) lastPublishedStates() map[[2]events.Address]events.KeyState {
	out := map[[2]events.Address]events.KeyState{}
	for _, s := range r.readStream().states {
		out[[2]events.Address{s.Account, s.SessionKey}] = s
	}
	return out
}

func (r *rig) query() actions.PermissionsQuery {
	r.mu.Lock()
	defer r.mu.Unlock()
	var q actions.PermissionsQuery
	for t := range r.targets {
		q.Targets = append(q.Targets, t)
	}
	for t := range r.tokens {
		q.Tokens = append(q.Tokens, t)
	}
	sort.Slice(q.Targets, func(i, j int) bool { return q.Targets[i].Cmp(q.Targets[j]) < 0 })
	sort.Slice(q.Tokens, func(i, j int) bool { return q.Tokens[i].Cmp(q.Tokens[j]) < 0 })
	return q
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "!" + err.Error()
	}
	return string(b)
}

// openStore opens the test's database and runs the migrations.
func openStore(t *testing.T, ctx context.Context, ch *testenv.CH) *store.Store {
	t.Helper()
	st, err := store.Open(ctx, store.Options{Addrs: []string{ch.Addr}, Database: ch.Database, Username: ch.Username, Password: ch.Password})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return st
}

// assertKeyStatus checks the key's row in ClickHouse.
func (r *rig) assertKeyStatus(acct, key common.Address, want events.KeyStatus) {
	r.t.Helper()
	ks, err := r.st.KeyStates(r.ctx, store.KeyFilter{ChainID: r.chain.ChainID.Uint64(), Accounts: []events.Address{events.AddressFrom(acct)},
		SessionKeys: []events.Address{events.AddressFrom(key)}, IncludeRetracted: true})
	r.must(err, "read key states")
	if len(ks) != 1 {
		r.t.Errorf("key %s of %s: %d rows, want 1", key, acct, len(ks))
		return
	}
	if ks[0].Status != want {
		r.t.Errorf("key %s of %s: status %s, want %s", key, acct, ks[0].Status, want)
	}
}

// countDuplicateRows lists event identities with more than one row at the latest version.
func countDuplicateRows(r *rig) string {
	rows, err := r.st.Conn().Query(r.ctx, "SELECT block_hash, log_index, count() AS n FROM events FINAL GROUP BY block_hash, log_index HAVING n > 1")
	if err != nil {
		return "query: " + err.Error()
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		var i, n uint64
		if err := rows.Scan(&h, &i, &n); err != nil {
			return "scan: " + err.Error()
		}
		out = append(out, fmt.Sprintf("%s:%d x%d", h, i, n))
	}
	return strings.Join(out, ", ")
}

func mustJS(t *testing.T, r *rig) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(r.nats.Conn)
	if err != nil {
		t.Fatal(err)
	}
	return js
}
