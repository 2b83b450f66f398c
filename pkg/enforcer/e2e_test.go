package enforcer_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/keywarden/keywarden/pkg/actions"
	"github.com/keywarden/keywarden/pkg/bus"
	"github.com/keywarden/keywarden/pkg/decoder"
	"github.com/keywarden/keywarden/pkg/devchain"
	"github.com/keywarden/keywarden/pkg/enforcer"
	"github.com/keywarden/keywarden/pkg/events"
	"github.com/keywarden/keywarden/pkg/policy"
)

// world is one dev chain with its bundler, an embedded NATS, and an account owned by a person
// and by the enforcer's signer.
type world struct {
	t        testing.TB
	ctx      context.Context
	chain    *devchain.Chain
	js       jetstream.JetStream
	nc       *nats.Conn
	owner    *ecdsa.PrivateKey // the account's human owner
	enfKey   *ecdsa.PrivateKey // the enforcer's signer
	account  common.Address
	folds    map[common.Address]*events.AccountKeys
	audit    *streamAudit
	achain   *enforcer.ActionsChain
	ledger   *bus.ActionStore
	locks    *bus.Locker
	policies *policy.Set
}

func newWorld(t testing.TB, coOwned bool) *world {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	ch, err := devchain.Start(ctx, devchain.Options{FundedKeys: 5})
	if err != nil {
		t.Fatalf("start dev chain: %v", err)
	}
	t.Cleanup(func() { _ = ch.Close() })
	w := &world{t: t, ctx: ctx, chain: ch, owner: ch.Keys[1], enfKey: ch.Keys[2], folds: map[common.Address]*events.AccountKeys{}}

	srv, err := bus.Embedded(ctx, bus.EmbeddedOptions{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	w.nc, err = nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.nc.Close)
	w.js, err = jetstream.New(w.nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.EnsureStream(ctx, w.js, bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	w.ledger, err = bus.NewActionStore(ctx, w.js, bus.KVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.locks, err = bus.NewLocker(ctx, w.js, bus.KVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.audit = &streamAudit{NATSAudit: enforcer.NATSAudit{JS: w.js}}

	owners := []common.Address{devchain.Address(w.owner)}
	if coOwned {
		owners = append(owners, devchain.Address(w.enfKey))
	}
	sort.Slice(owners, func(i, j int) bool { return owners[i].Cmp(owners[j]) < 0 })
	w.account, err = ch.CreateAccount(ctx, owners)
	if err != nil {
		t.Fatalf("create account: %v", err)
	}
	w.apply(ch.InstallSessionKeyPlugin(ctx, w.owner, w.account, nil, nil, nil))

	node, client := w.dialClient(ch.BundlerURL)
	guard, err := actions.NewGuard(actions.NewKeySigner(w.enfKey), actions.GuardOptions{EntryPoint: ch.Addresses.EntryPoint,
		ChainID: ch.ChainID, Routes: client.Reader})
	if err != nil {
		t.Fatal(err)
	}
	w.achain = &enforcer.ActionsChain{ID: ch.ChainID.Uint64(), Owner: guard, Node: node,
		Clients: map[events.Address]*actions.Client{events.Address(ch.Addresses.SessionKeyPlugin): client}}
	w.policies, err = policy.LoadFile("../../policies/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// dialClient is an actions client of the dev chain that submits through bundlerURL.
func (w *world) dialClient(bundlerURL string) (*ethclient.Client, *actions.Client) {
	w.t.Helper()
	ch := w.chain
	node, err := ethclient.DialContext(w.ctx, ch.HTTPURL)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(node.Close)
	bundler, err := actions.DialBundler(w.ctx, bundlerURL, ch.Addresses.EntryPoint, ch.ChainID)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(bundler.Close)
	client, err := actions.NewClient(actions.Options{Node: node, Submitter: bundler, ChainID: ch.ChainID,
		Addresses: actions.Addresses{SessionKeyPlugin: ch.Addresses.SessionKeyPlugin, MultiOwner: ch.Addresses.MultiOwnerPlugin,
			EntryPoint: ch.Addresses.EntryPoint}, PollInterval: 20 * time.Millisecond})
	if err != nil {
		w.t.Fatal(err)
	}
	return node, client
}

func (w *world) enforcer(mode enforcer.Mode, agent enforcer.KeyAgent, instance string) *enforcer.Enforcer {
	w.t.Helper()
	e, err := enforcer.New(enforcer.Options{Policies: w.policies, Mode: mode, Chains: map[uint64]enforcer.Chain{w.achain.ID: w.achain},
		Audit: w.audit, Ledger: w.ledger, Locks: w.locks, Agent: agent, Instance: instance, AgentTimeout: 2 * time.Second,
		Backoff: 50 * time.Millisecond, ReceiptTimeout: 20 * time.Second, Logger: zerolog.New(zerolog.NewTestWriter(w.t))})
	if err != nil {
		w.t.Fatal(err)
	}
	return e
}

// apply decodes a receipt's logs with the real decoder and folds them, as the indexer does.
func (w *world) apply(rcpt *types.Receipt, err error) []events.KeyState {
	w.t.Helper()
	if err != nil {
		w.t.Fatalf("transaction: %v", err)
	}
	hdr, err := w.chain.Client().HeaderByHash(w.ctx, rcpt.BlockHash)
	if err != nil {
		w.t.Fatal(err)
	}
	var changed []events.KeyState
	for _, lg := range rcpt.Logs {
		ev, err := decoder.Decode(*lg, decoder.Meta{ChainID: w.chain.ChainID.Uint64(), BlockTime: hdr.Time, ParentHash: hdr.ParentHash})
		if errors.Is(err, decoder.ErrNotOurs) {
			continue
		}
		if err != nil {
			w.t.Fatalf("decode: %v", err)
		}
		acct := ev.Account().Common()
		f := w.folds[acct]
		if f == nil {
			f = events.NewAccountKeys(ev.ChainID, events.Address(w.chain.Addresses.SessionKeyPlugin), ev.Account())
			w.folds[acct] = f
		}
		ks, err := f.Apply(ev)
		if err != nil {
			w.t.Fatalf("fold: %v", err)
		}
		changed = append(changed, ks...)
	}
	return changed
}

func (w *world) last(states []events.KeyState, key common.Address) events.KeyState {
	w.t.Helper()
	for i := len(states) - 1; i >= 0; i-- {
		if states[i].SessionKey.Common() == key {
			return states[i]
		}
	}
	w.t.Fatalf("no state for %s", key)
	return events.KeyState{}
}

func (w *world) isKey(key common.Address) bool {
	w.t.Helper()
	ok, err := w.achain.IsSessionKey(w.ctx, events.Address(w.chain.Addresses.SessionKeyPlugin), events.Address(w.account), events.Address(key))
	if err != nil {
		w.t.Fatal(err)
	}
	return ok
}

func newAddr() common.Address {
	k, _ := crypto.GenerateKey()
	return crypto.PubkeyToAddress(k.PublicKey)
}

// streamAudit publishes on NATS (the real sink) and keeps what it published, to assert on.
type streamAudit struct {
	enforcer.NATSAudit
	mu       sync.Mutex
	verdicts []events.Verdict
	actions  []events.ActionRecord
}

func (a *streamAudit) Verdict(ctx context.Context, v events.Verdict) error {
	if err := a.NATSAudit.Verdict(ctx, v); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.verdicts = append(a.verdicts, v)
	return nil
}

func (a *streamAudit) Action(ctx context.Context, r events.ActionRecord) error {
	if err := a.NATSAudit.Action(ctx, r); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.actions = append(a.actions, r)
	return nil
}

// outcomes lists the recorded outcomes of policy's actions, in order.
func (a *streamAudit) outcomes(policyID string) []events.Outcome {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []events.Outcome
	for _, r := range a.actions {
		if r.PolicyID == policyID {
			out = append(out, r.Outcome)
		}
	}
	return out
}

func (a *streamAudit) lastAction(policyID string) events.ActionRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := len(a.actions) - 1; i >= 0; i-- {
		if a.actions[i].PolicyID == policyID {
			return a.actions[i]
		}
	}
	return events.ActionRecord{}
}

var allowAll = []events.Update{
	events.SetAccessListType{Type: events.AccessAllowAll},
	events.SetNativeTokenSpendLimit{Limit: events.MaxU256},
}

func TestAllowAllKeyIsRemovedOnChainOnce(t *testing.T) {
	w := newWorld(t, true)
	key := newAddr()
	st := w.last(w.apply(w.chain.AddKey(w.ctx, w.owner, w.account, key, [32]byte{}, allowAll)), key)
	if !st.Verified || st.Permissions.AccessControlType != events.AccessAllowAll {
		t.Fatalf("fold: %+v", st)
	}
	e := w.enforcer(enforcer.ModeEnforce, nil, "a")
	if err := e.HandleState(w.ctx, st); err != nil {
		t.Fatal(err)
	}
	if w.isKey(key) {
		t.Fatal("the allow-all key is still on the account")
	}
	got := w.audit.outcomes("no-allow-all")
	if len(got) != 2 || got[0] != events.OutcomeSubmitted || got[1] != events.OutcomeIncluded {
		t.Fatalf("outcomes %v", got)
	}
	if r := w.audit.lastAction("no-allow-all"); r.UserOpHash == "" || r.TxHash == "" {
		t.Fatalf("record lacks hashes: %+v", r)
	}
	// The same state delivered again, to this enforcer and to a second one: nothing more happens.
	if err := e.HandleState(w.ctx, st); err != nil {
		t.Fatal(err)
	}
	if err := w.enforcer(enforcer.ModeEnforce, nil, "b").HandleState(w.ctx, st); err != nil {
		t.Fatal(err)
	}
	if got := w.audit.outcomes("no-allow-all"); len(got) != 2 {
		t.Fatalf("redelivery acted again: %v", got)
	}
}

func TestTwoEnforcersAtOnceActOnce(t *testing.T) {
	w := newWorld(t, true)
	key := newAddr()
	st := w.last(w.apply(w.chain.AddKey(w.ctx, w.owner, w.account, key, [32]byte{}, allowAll)), key)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, name := range []string{"a", "b"} {
		wg.Add(1)
		go func(i int, e *enforcer.Enforcer) {
			defer wg.Done()
			errs[i] = e.HandleState(w.ctx, st)
		}(i, w.enforcer(enforcer.ModeEnforce, nil, name))
	}
	wg.Wait()
	// One of them may have found the key busy (its delivery is then retried): retry it.
	for i, err := range errs {
		if errors.Is(err, enforcer.ErrKeyBusy) {
			errs[i] = w.enforcer(enforcer.ModeEnforce, nil, "c").HandleState(w.ctx, st)
		}
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
	}
	if w.isKey(key) {
		t.Fatal("key not removed")
	}
	if got := w.audit.outcomes("no-allow-all"); len(got) != 2 || got[1] != events.OutcomeIncluded {
		t.Fatalf("want one submitted+included, got %v", got)
	}
}

func TestDryRunSendsNothing(t *testing.T) {
	w := newWorld(t, true)
	key := newAddr()
	st := w.last(w.apply(w.chain.AddKey(w.ctx, w.owner, w.account, key, [32]byte{}, allowAll)), key)
	if err := w.enforcer(enforcer.ModeDryRun, nil, "a").HandleState(w.ctx, st); err != nil {
		t.Fatal(err)
	}
	if !w.isKey(key) {
		t.Fatal("dry run removed the key")
	}
	r := w.audit.lastAction("no-allow-all")
	if r.Outcome != events.OutcomePlanned || r.UserOpHash == "" {
		t.Fatalf("dry run record %+v", r)
	}
}

func TestApprovalWaitsThenActs(t *testing.T) {
	w := newWorld(t, true)
	key := newAddr()
	st := w.last(w.apply(w.chain.AddKey(w.ctx, w.owner, w.account, key, [32]byte{}, allowAll)), key)
	e := w.enforcer(enforcer.ModeApproval, nil, "a")
	if err := e.HandleState(w.ctx, st); err != nil {
		t.Fatal(err)
	}
	r := w.audit.lastAction("no-allow-all")
	if r.Outcome != events.OutcomeAwaitingApproval || !w.isKey(key) {
		t.Fatalf("before approval: %+v, key present %v", r, w.isKey(key))
	}
	if err := e.Approve(w.ctx, r.ActionID, "alice"); err != nil {
		t.Fatal(err)
	}
	if w.isKey(key) {
		t.Fatal("approved removal did not happen")
	}
	if err := e.Approve(w.ctx, r.ActionID, "alice"); !errors.Is(err, enforcer.ErrNotAwaiting) {
		t.Fatalf("second approval: %v", err)
	}
}

func TestExpiringKeyIsRotatedToAgentKeyWithFreshRange(t *testing.T) {
	w := newWorld(t, true)
	key := newAddr()
	tag := [32]byte{'b', 'o', 't'}
	// A well-scoped key that expires in two hours.
	now := uint64(time.Now().Unix())
	hdr, _ := w.chain.Client().HeaderByNumber(w.ctx, nil)
	if hdr.Time > now {
		now = hdr.Time
	}
	perms := []events.Update{events.UpdateTimeRange{ValidUntil: now + 2*3600}, events.SetGasSpendLimit{Limit: events.U256From64(1e15)}}
	st := w.last(w.apply(w.chain.AddKey(w.ctx, w.owner, w.account, key, tag, perms)), key)
	fresh := newAddr()
	sub, err := enforcer.ServeAgent(w.nc, enforcer.AgentSubject(st.ChainID, tag, st.Account), func(req enforcer.RotationRequest) (events.Address, error) {
		if req.SessionKey.Common() != key {
			return events.Address{}, errors.New("not my key")
		}
		return events.Address(fresh), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	e := w.enforcer(enforcer.ModeEnforce, enforcer.NATSAgent{NC: w.nc}, "a")
	if err := e.HandleState(w.ctx, st); err != nil {
		t.Fatal(err)
	}
	if w.isKey(key) || !w.isKey(fresh) {
		t.Fatalf("rotation: old present %v, new present %v", w.isKey(key), w.isKey(fresh))
	}
	after, until, err := w.achain.Clients[events.Address(w.chain.Addresses.SessionKeyPlugin)].KeyTimeRange(w.ctx, w.account, fresh)
	if err != nil {
		t.Fatal(err)
	}
	if until < now+6*24*3600 || after == 0 {
		t.Fatalf("new key range [%d, %d]: want a fresh 7-day range", after, until)
	}
	r := w.audit.lastAction("expiring-soon")
	if r.Outcome != events.OutcomeIncluded || r.NewSessionKey.Common() != fresh {
		t.Fatalf("record %+v", r)
	}
}

func TestRotationWithoutAgentFallsBackToRemoval(t *testing.T) {
	w := newWorld(t, true)
	key := newAddr()
	hdr, _ := w.chain.Client().HeaderByNumber(w.ctx, nil)
	perms := []events.Update{events.UpdateTimeRange{ValidUntil: hdr.Time + 3600}, events.SetGasSpendLimit{Limit: events.U256From64(1e15)}}
	st := w.last(w.apply(w.chain.AddKey(w.ctx, w.owner, w.account, key, [32]byte{}, perms)), key)
	if err := w.enforcer(enforcer.ModeEnforce, enforcer.NATSAgent{NC: w.nc}, "a").HandleState(w.ctx, st); err != nil {
		t.Fatal(err)
	}
	if w.isKey(key) {
		t.Fatal("key still there")
	}
	if r := w.audit.lastAction("expiring-soon"); r.Action != events.ActionRemove || r.Outcome != events.OutcomeIncluded {
		t.Fatalf("record %+v", r)
	}
}

func TestKeyOverSpendCapIsRestricted(t *testing.T) {
	w := newWorld(t, true)
	key := newAddr()
	hdr, _ := w.chain.Client().HeaderByNumber(w.ctx, nil)
	perms := []events.Update{events.UpdateTimeRange{ValidUntil: hdr.Time + 5*24*3600},
		events.SetNativeTokenSpendLimit{Limit: events.U256From64(5e18)}, events.SetGasSpendLimit{Limit: events.U256From64(1e15)}}
	st := w.last(w.apply(w.chain.AddKey(w.ctx, w.owner, w.account, key, [32]byte{}, perms)), key)
	if err := w.enforcer(enforcer.ModeEnforce, nil, "a").HandleState(w.ctx, st); err != nil {
		t.Fatal(err)
	}
	info, err := w.achain.Clients[events.Address(w.chain.Addresses.SessionKeyPlugin)].NativeSpendLimit(w.ctx, w.account, key)
	if err != nil {
		t.Fatal(err)
	}
	if !w.isKey(key) || !info.HasLimit || info.Limit.String() != "1000000000000000000" {
		t.Fatalf("after restrict: present %v, native %+v", w.isKey(key), info)
	}
}

func TestUncoveredAccountGetsAlertsOnly(t *testing.T) {
	w := newWorld(t, false) // the enforcer is not an owner
	key := newAddr()
	st := w.last(w.apply(w.chain.AddKey(w.ctx, w.owner, w.account, key, [32]byte{}, allowAll)), key)
	if err := w.enforcer(enforcer.ModeEnforce, nil, "a").HandleState(w.ctx, st); err != nil {
		t.Fatal(err)
	}
	if !w.isKey(key) {
		t.Fatal("acted on an account the enforcer does not own")
	}
	if r := w.audit.lastAction("no-allow-all"); r.Outcome != events.OutcomeUncovered {
		t.Fatalf("record %+v", r)
	}
}

func TestKeyRemovedBySomeoneElseResolvesWithoutUserOp(t *testing.T) {
	w := newWorld(t, true)
	key := newAddr()
	st := w.last(w.apply(w.chain.AddKey(w.ctx, w.owner, w.account, key, [32]byte{}, allowAll)), key)
	w.apply(w.chain.RemoveKey(w.ctx, w.owner, w.account, key)) // the owner was faster
	if err := w.enforcer(enforcer.ModeEnforce, nil, "a").HandleState(w.ctx, st); err != nil {
		t.Fatal(err)
	}
	r := w.audit.lastAction("no-allow-all")
	if r.Outcome != events.OutcomeResolved || r.UserOpHash != "" {
		t.Fatalf("record %+v", r)
	}
}

func TestRetractedTriggerIsNeverActedOn(t *testing.T) {
	w := newWorld(t, true)
	key := newAddr()
	st := w.last(w.apply(w.chain.AddKey(w.ctx, w.owner, w.account, key, [32]byte{}, allowAll)), key)
	// Before the enforcer sees the key, a reorg replaces the block that added it; the add is
	// included again in the new branch (a new block hash), so the key exists on chain.
	//
	//	before:  … ─ A ─ [B: add key]
	//	after:   … ─ A ─ B' ─ C'   (the add re-sent into B')
	data, err := w.chain.AddSessionKeyCall(key, [32]byte{}, allowAll)
	if err != nil {
		t.Fatal(err)
	}
	acct := w.account
	if _, err := w.chain.Reorg(w.ctx, devchain.ReorgOptions{Depth: 1, Fill: func(ctx context.Context, i int) error {
		if i == 0 {
			_, err := w.chain.Send(ctx, devchain.TxRequest{From: w.owner, To: &acct, Data: data})
			return err
		}
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	if !w.isKey(key) {
		t.Fatal("the re-included add is missing")
	}
	if err := w.enforcer(enforcer.ModeEnforce, nil, "a").HandleState(w.ctx, st); err != nil {
		t.Fatal(err)
	}
	if !w.isKey(key) {
		t.Fatal("acted on a retracted trigger")
	}
	if r := w.audit.lastAction("no-allow-all"); r.Outcome != events.OutcomeRetracted {
		t.Fatalf("record %+v", r)
	}
}

func TestAuditIsOnTheStream(t *testing.T) {
	w := newWorld(t, true)
	key := newAddr()
	st := w.last(w.apply(w.chain.AddKey(w.ctx, w.owner, w.account, key, [32]byte{}, allowAll)), key)
	if err := w.enforcer(enforcer.ModeEnforce, nil, "a").HandleState(w.ctx, st); err != nil {
		t.Fatal(err)
	}
	cons, err := w.js.OrderedConsumer(w.ctx, events.StreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.AuditSubject(st.ChainID, "action")}})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.FetchNoWait(100)
	if err != nil {
		t.Fatal(err)
	}
	var included int
	for m := range batch.Messages() {
		var r events.ActionRecord
		if err := json.Unmarshal(m.Data(), &r); err != nil {
			t.Fatalf("audit message %s: %v", m.Data(), err)
		}
		if r.PolicyID == "no-allow-all" && r.Outcome == events.OutcomeIncluded {
			included++
		}
	}
	if included != 1 {
		t.Fatalf("%d included no-allow-all records on the stream, want 1", included)
	}
}

func TestOwnershipLossAlertsAndStopsActions(t *testing.T) {
	w := newWorld(t, true)
	got := make(chan enforcer.Notification, 8)
	hook := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var n enforcer.Notification
		_ = json.NewDecoder(r.Body).Decode(&n)
		got <- n
	}))
	defer hook.Close()
	e, err := enforcer.New(enforcer.Options{Policies: w.policies, Chains: map[uint64]enforcer.Chain{w.achain.ID: w.achain},
		Audit: w.audit, Ledger: w.ledger, Locks: w.locks, Instance: "a", Notifier: enforcer.NewWebhook(hook.URL, []byte("k"))})
	if err != nil {
		t.Fatal(err)
	}
	// The account's owner removes the enforcer's signer.
	acct := w.account
	rcpt, err := w.chain.Transact(w.ctx, devchain.TxRequest{From: w.owner, To: &acct,
		Data: actions.EncodeUpdateOwners(nil, []common.Address{devchain.Address(w.enfKey)})})
	if err != nil {
		t.Fatal(err)
	}
	hdr, _ := w.chain.Client().HeaderByHash(w.ctx, rcpt.BlockHash)
	var seen bool
	for _, lg := range rcpt.Logs {
		ev, err := decoder.Decode(*lg, decoder.Meta{ChainID: w.achain.ID, BlockTime: hdr.Time, ParentHash: hdr.ParentHash})
		if err != nil {
			continue
		}
		if ev.Kind == events.KindOwnerUpdated {
			seen = true
			if err := e.HandleEvent(w.ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !seen {
		t.Fatal("no OwnerUpdated log")
	}
	select {
	case n := <-got:
		if n.Kind != "ownership_lost" {
			t.Fatalf("notification %+v", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no ownership alert")
	}
	// A breaching key on that account now only gets an alert.
	key := newAddr()
	st := w.last(w.apply(w.chain.AddKey(w.ctx, w.owner, w.account, key, [32]byte{}, allowAll)), key)
	if err := e.HandleState(w.ctx, st); err != nil {
		t.Fatal(err)
	}
	if !w.isKey(key) || w.audit.lastAction("no-allow-all").Outcome != events.OutcomeUncovered {
		t.Fatalf("after losing ownership: key present %v, record %+v", w.isKey(key), w.audit.lastAction("no-allow-all"))
	}
}

func TestRetractionAfterSendIsRecorded(t *testing.T) {
	w := newWorld(t, true)
	key := newAddr()
	var ev events.Event
	state := w.last(w.apply(w.chain.AddKey(w.ctx, w.owner, w.account, key, [32]byte{}, allowAll)), key)
	e := w.enforcer(enforcer.ModeEnforce, nil, "a")
	if err := e.HandleState(w.ctx, state); err != nil {
		t.Fatal(err)
	}
	if w.audit.lastAction("no-allow-all").Outcome != events.OutcomeIncluded {
		t.Fatal("not included")
	}
	// Later a reorg retracts the event that triggered it (the indexer publishes a retraction
	// whose id is the trigger's).
	var chainID, logIndex uint64
	var hash string
	if _, err := fmt.Sscanf(strings.ReplaceAll(state.LastEventID, ":", " "), "%d %s %d", &chainID, &hash, &logIndex); err != nil {
		t.Fatal(err)
	}
	ev.Position = events.Position{ChainID: chainID, BlockHash: common.HexToHash(hash), LogIndex: logIndex, Removed: true}
	ev.Payload = events.SessionKeyAdded{Account: events.Address(w.account), SessionKey: events.Address(key)}
	if ev.ID() != state.LastEventID {
		t.Fatalf("rebuilt id %s, want %s", ev.ID(), state.LastEventID)
	}
	if err := e.HandleRetraction(w.ctx, ev); err != nil {
		t.Fatal(err)
	}
	r := w.audit.lastAction("no-allow-all")
	if r.Outcome != events.OutcomeRetracted || r.UserOpHash == "" {
		t.Fatalf("record %+v", r)
	}
}

func TestApprovalOverHTTPAndExpiry(t *testing.T) {
	w := newWorld(t, true)
	now := time.Now()
	clock := func() time.Time { return now }
	e, err := enforcer.New(enforcer.Options{Policies: w.policies, Mode: enforcer.ModeApproval,
		Chains: map[uint64]enforcer.Chain{w.achain.ID: w.achain}, Audit: w.audit, Ledger: w.ledger, Locks: w.locks,
		Instance: "a", ApprovalTTL: time.Hour, Now: func() time.Time { return clock() }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.ApprovalHandler())
	defer srv.Close()
	post := func(path, body string) int {
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	// Two allow-all keys wait for approval.
	var ids []string
	var keys []common.Address
	for i := 0; i < 2; i++ {
		key := newAddr()
		keys = append(keys, key)
		st := w.last(w.apply(w.chain.AddKey(w.ctx, w.owner, w.account, key, [32]byte{}, allowAll)), key)
		if err := e.HandleState(w.ctx, st); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, w.audit.lastAction("no-allow-all").ActionID)
	}
	if code := post("/actions/"+ids[0]+"/approve", `{}`); code != http.StatusBadRequest {
		t.Fatalf("approval without a name: %d", code)
	}
	if code := post("/actions/"+ids[0]+"/approve", `{"by":"alice"}`); code != http.StatusNoContent {
		t.Fatalf("approve: %d", code)
	}
	if w.isKey(keys[0]) {
		t.Fatal("approved key not removed")
	}
	if code := post("/actions/"+ids[0]+"/approve", `{"by":"alice"}`); code != http.StatusConflict {
		t.Fatalf("second approval: %d", code)
	}
	// The second one is never decided: past its deadline the sweep denies it.
	now = now.Add(2 * time.Hour)
	e.SweepApprovals(w.ctx)
	if r := w.audit.lastAction("no-allow-all"); r.ActionID != ids[1] || r.Outcome != events.OutcomeDenied || !w.isKey(keys[1]) {
		t.Fatalf("after the sweep: %+v, key present %v", r, w.isKey(keys[1]))
	}
	if code := post("/actions/"+ids[1]+"/approve", `{"by":"alice"}`); code != http.StatusConflict {
		t.Fatalf("late approval: %d", code)
	}
}

// Reliability case 18: whatever a policy or a bug asks for, the enforcer's signer signs only
// removeSessionKey, rotateSessionKey and updateKeyPermissions routed to the plugin.
func TestGuardRefusesEverythingElse(t *testing.T) {
	w := newWorld(t, true)
	client := w.achain.Clients[events.Address(w.chain.Addresses.SessionKeyPlugin)]
	target := w.chain.Addresses.TestTarget
	refused := map[string][]byte{
		"updateOwners (take over the account)": actions.EncodeUpdateOwners([]common.Address{newAddr()}, nil),
		"execute (move funds)":                 actions.EncodeExecute(actions.Call{Target: target, Value: big.NewInt(1)}),
		"addSessionKey (mint a key)":           actions.EncodeAddSessionKey(newAddr(), [32]byte{}, events.EncodeUpdates(allowAll)),
		"executeBatch with a transfer": actions.EncodeExecuteBatch([]actions.Call{{Target: w.account,
			Data: actions.EncodeUpdateKeyPermissions(newAddr(), nil)}, {Target: target, Value: big.NewInt(1)}}),
	}
	for name, callData := range refused {
		_, err := client.Prepare(w.ctx, actions.OpRequest{Sender: w.account, CallData: callData, NonceKey: enforcer.NonceKey}, w.achain.Owner)
		var ge *actions.GuardError
		if !errors.As(err, &ge) {
			t.Errorf("%s: signed (err %v)", name, err)
		}
	}
	// The calls it exists for are signed.
	if _, err := client.Prepare(w.ctx, actions.OpRequest{Sender: w.account, NonceKey: enforcer.NonceKey,
		CallData: actions.EncodeUpdateKeyPermissions(newAddr(), nil)}, w.achain.Owner); err != nil {
		var ge *actions.GuardError
		if errors.As(err, &ge) {
			t.Fatalf("updateKeyPermissions refused: %v", err)
		}
	}
}

func TestKeyOfAnUnconfiguredPluginFailsOnce(t *testing.T) {
	w := newWorld(t, true)
	key := newAddr()
	st := w.last(w.apply(w.chain.AddKey(w.ctx, w.owner, w.account, key, [32]byte{}, allowAll)), key)
	st.Plugin = events.SessionKeyPluginV100 // a plugin this enforcer has no client for
	if err := w.enforcer(enforcer.ModeEnforce, nil, "a").HandleState(w.ctx, st); err != nil {
		t.Fatalf("want the action recorded as failed, not a retry: %v", err)
	}
	if r := w.audit.lastAction("no-allow-all"); r.Outcome != events.OutcomeFailed || !strings.Contains(r.Error, "plugin not configured") {
		t.Fatalf("record %+v", r)
	}
}
