// Package e2e runs keywarden end to end in one process: a dev chain with its bundler, the
// indexer (pkg/indexer's App) writing ClickHouse and publishing on JetStream, and the enforcer
// consuming the stream through its durable consumer and acting on chain.
package e2e

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/rs/zerolog"

	"github.com/keywarden/keywarden/internal/testenv"
	"github.com/keywarden/keywarden/pkg/actions"
	"github.com/keywarden/keywarden/pkg/bus"
	"github.com/keywarden/keywarden/pkg/devchain"
	"github.com/keywarden/keywarden/pkg/enforcer"
	"github.com/keywarden/keywarden/pkg/events"
	"github.com/keywarden/keywarden/pkg/indexer"
	"github.com/keywarden/keywarden/pkg/policy"
	"github.com/keywarden/keywarden/pkg/store"
)

func TestMain(m *testing.M) { testenv.Run(m) }

type pipeline struct {
	t      *testing.T
	ctx    context.Context
	chain  *devchain.Chain
	st     *store.Store
	nats   *testenv.NATSServer
	reader *actions.Reader
	owner  *ecdsa.PrivateKey
	enfKey *ecdsa.PrivateKey
	alice  common.Address // owned by owner and the enforcer
	bob    common.Address // owned by another person only
}

func start(t *testing.T, mode enforcer.Mode) *pipeline {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	ch := testenv.ClickHouse(t)
	nt := testenv.NATS(t)
	chain, err := devchain.Start(ctx, devchain.Options{FundedKeys: 6, BlockTime: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = chain.Close() })
	p := &pipeline{t: t, ctx: ctx, chain: chain, nats: nt, owner: chain.Keys[1], enfKey: chain.Keys[2]}
	owners := []common.Address{devchain.Address(p.owner), devchain.Address(p.enfKey)}
	sort.Slice(owners, func(i, j int) bool { return owners[i].Cmp(owners[j]) < 0 })
	if p.alice, err = chain.CreateAccount(ctx, owners); err != nil {
		t.Fatal(err)
	}
	if p.bob, err = chain.CreateAccount(ctx, []common.Address{devchain.Address(chain.Keys[3])}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct {
		k    *ecdsa.PrivateKey
		acct common.Address
	}{{p.owner, p.alice}, {chain.Keys[3], p.bob}} {
		if _, err := chain.InstallSessionKeyPlugin(ctx, a.k, a.acct, nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	}

	// The indexer, as cmd/indexer runs it.
	a := chain.Addresses
	cfg := indexer.DefaultConfig()
	cfg.Chains = []indexer.ChainConfig{{ID: chain.ChainID.Uint64(), Name: "devchain", RPCURLs: []string{chain.HTTPURL},
		SessionKeyPlugins: []string{a.SessionKeyPlugin.Hex()}, MultiOwnerPlugin: a.MultiOwnerPlugin.Hex(), EntryPoint: a.EntryPoint.Hex(),
		PollInterval: 50 * time.Millisecond, ReorgWindow: 32, Concurrency: 2, RangeSize: 100, RequestTimeout: 5 * time.Second}}
	cfg.ClickHouse = indexer.ClickHouseConfig{Addrs: []string{ch.Addr}, Database: ch.Database, Username: ch.Username,
		Password: ch.Password, Timeout: 10 * time.Second}
	cfg.NATS.URL = nt.URL
	cfg.HTTP.Listen = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	app, err := indexer.Open(ctx, cfg, indexer.AppOptions{Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatalf("open indexer: %v", err)
	}
	runCtx, stopIndexer := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- app.Run(runCtx) }()
	t.Cleanup(func() {
		stopIndexer()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("indexer: %v", err)
		}
		_ = app.Close(context.Background())
	})

	p.st, err = store.Open(ctx, store.Options{Addrs: []string{ch.Addr}, Database: ch.Database, Username: ch.Username, Password: ch.Password})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.st.Close() })

	// The enforcer, as cmd/enforcer wires it.
	node, err := ethclient.DialContext(ctx, chain.HTTPURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Close)
	bundler, err := actions.DialBundler(ctx, chain.BundlerURL, a.EntryPoint, chain.ChainID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bundler.Close)
	client, err := actions.NewClient(actions.Options{Node: node, Submitter: bundler, ChainID: chain.ChainID, PollInterval: 20 * time.Millisecond,
		Addresses: actions.Addresses{SessionKeyPlugin: a.SessionKeyPlugin, MultiOwner: a.MultiOwnerPlugin, EntryPoint: a.EntryPoint}})
	if err != nil {
		t.Fatal(err)
	}
	p.reader = client.Reader
	guard, err := actions.NewGuard(actions.NewKeySigner(p.enfKey), actions.GuardOptions{EntryPoint: a.EntryPoint, ChainID: chain.ChainID,
		Routes: client.Reader})
	if err != nil {
		t.Fatal(err)
	}
	achain := &enforcer.ActionsChain{ID: chain.ChainID.Uint64(), Owner: guard, Node: node,
		Clients: map[events.Address]*actions.Client{events.Address(a.SessionKeyPlugin): client}}
	policies, err := policy.LoadFile("../../policies/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ledger, err := bus.NewActionStore(ctx, nt.JS, bus.KVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	locks, err := bus.NewLocker(ctx, nt.JS, bus.KVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	enf, err := enforcer.New(enforcer.Options{Policies: policies, Mode: mode, Chains: map[uint64]enforcer.Chain{achain.ID: achain},
		Audit:  enforcer.Audits{enforcer.ClickHouseAudit{Conn: p.st.Conn()}, enforcer.NATSAudit{JS: nt.JS}},
		Ledger: ledger, Locks: locks, Agent: enforcer.NATSAgent{NC: nt.Conn}, Instance: "e2e", Backoff: 100 * time.Millisecond,
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	if err != nil {
		t.Fatal(err)
	}
	subs, err := enf.ServeApprovals(ctx, nt.Conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	})
	// The stream exists once the indexer has started.
	var consumer *bus.Consumer
	for i := 0; ; i++ {
		consumer, err = bus.NewConsumer(ctx, nt.JS, bus.ConsumerOptions{Durable: "e2e-enforcer", AckWait: 30 * time.Second,
			NakDelays: []time.Duration{200 * time.Millisecond}})
		if err == nil || i > 100 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	handle, err := consumer.Consume(ctx, enf.Handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		handle.Stop()
		<-handle.Closed()
	})
	return p
}

func (p *pipeline) addKey(acct common.Address, signer *ecdsa.PrivateKey, tag [32]byte, perms []events.Update) common.Address {
	p.t.Helper()
	k, _ := crypto.GenerateKey()
	key := crypto.PubkeyToAddress(k.PublicKey)
	if _, err := p.chain.AddKey(p.ctx, signer, acct, key, tag, perms); err != nil {
		p.t.Fatal(err)
	}
	return key
}

func (p *pipeline) isKey(acct, key common.Address) bool {
	p.t.Helper()
	ok, err := p.reader.IsSessionKey(p.ctx, acct, key)
	if err != nil {
		p.t.Fatal(err)
	}
	return ok
}

// outcome is the current outcome of policy's action on key, from ClickHouse.
func (p *pipeline) outcomes(key common.Address) map[string]string {
	p.t.Helper()
	rows, err := p.st.Conn().Query(p.ctx, `SELECT policy_id, argMax(outcome, version) FROM actions
		WHERE session_key = ? GROUP BY action_id, policy_id`, events.Address(key).Hex())
	if err != nil {
		p.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var pol, o string
		if err := rows.Scan(&pol, &o); err != nil {
			p.t.Fatal(err)
		}
		if o == "included" || out[pol] == "" {
			out[pol] = o
		}
	}
	return out
}

func (p *pipeline) eventually(what string, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestPipelineCatchesAndActs(t *testing.T) {
	p := start(t, enforcer.ModeEnforce)
	hdr, err := p.chain.Client().HeaderByNumber(p.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	target := events.Address(p.chain.Addresses.TestTarget)
	ping := events.SelectorOf(crypto.Keccak256([]byte("ping()")))
	scoped := func(until uint64) []events.Update {
		return []events.Update{
			events.UpdateAccessListAddressEntry{Target: target, IsOnList: true, CheckSelectors: true},
			events.UpdateAccessListFunctionEntry{Target: target, Function: ping, IsOnList: true},
			events.SetNativeTokenSpendLimit{Limit: events.U256From64(1e17)}, events.UpdateTimeRange{ValidUntil: until},
		}
	}
	botTag := [32]byte{'b', 'o', 't'}
	fresh := common.Address{}
	sub, err := enforcer.ServeAgent(p.nats.Conn, enforcer.AgentSubject(p.chain.ChainID.Uint64(), botTag, events.Address(p.alice)),
		func(req enforcer.RotationRequest) (events.Address, error) {
			k, _ := crypto.GenerateKey()
			fresh = crypto.PubkeyToAddress(k.PublicKey)
			return events.Address(fresh), nil
		})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	good := p.addKey(p.alice, p.owner, [32]byte{}, scoped(hdr.Time+72*3600))
	wild := p.addKey(p.alice, p.owner, [32]byte{}, []events.Update{events.SetAccessListType{Type: events.AccessAllowAll},
		events.SetNativeTokenSpendLimit{Limit: events.MaxU256}})
	bot := p.addKey(p.alice, p.owner, botTag, scoped(hdr.Time+3*3600))
	spender := p.addKey(p.alice, p.owner, [32]byte{}, append(scoped(hdr.Time + 72*3600)[:3:3],
		events.SetNativeTokenSpendLimit{Limit: events.U256From64(4e18)}, events.UpdateTimeRange{ValidUntil: hdr.Time + 72*3600}))
	bobs := p.addKey(p.bob, p.chain.Keys[3], [32]byte{}, []events.Update{events.SetAccessListType{Type: events.AccessAllowAll}})
	// A stranger calls the plugin directly, naming itself as the account.
	spoofKey, _ := crypto.GenerateKey()
	spoof := crypto.PubkeyToAddress(spoofKey.PublicKey)
	data, err := p.chain.AddSessionKeyCall(spoof, [32]byte{}, []events.Update{events.SetAccessListType{Type: events.AccessAllowAll}})
	if err != nil {
		t.Fatal(err)
	}
	plugin := p.chain.Addresses.SessionKeyPlugin
	if _, err := p.chain.Transact(p.ctx, devchain.TxRequest{From: p.chain.Keys[4], To: &plugin, Data: data}); err != nil {
		t.Fatal(err)
	}

	p.eventually("the allow-all key removed", func() bool { return !p.isKey(p.alice, wild) })
	p.eventually("the expiring key rotated", func() bool { return !p.isKey(p.alice, bot) && fresh != (common.Address{}) && p.isKey(p.alice, fresh) })
	p.eventually("the spender restricted", func() bool {
		info, err := p.reader.NativeSpendLimit(p.ctx, p.alice, spender)
		return err == nil && info.Limit.String() == "1000000000000000000"
	})
	if o := p.outcomes(wild); o["no-allow-all"] != "included" {
		t.Fatalf("wildcard outcomes %v", o)
	}
	p.eventually("Bob's key reported uncovered", func() bool { return p.outcomes(bobs)["no-allow-all"] == "uncovered" })
	// Coverage: the view says which accounts the enforcer can act on.
	p.eventually("coverage of both accounts", func() bool {
		got := map[string]uint8{}
		rows, err := p.st.Conn().Query(p.ctx, "SELECT account, covered FROM coverage_current")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var a string
			var c uint8
			if err := rows.Scan(&a, &c); err != nil {
				t.Fatal(err)
			}
			got[a] = c
		}
		return got[events.Address(p.alice).Hex()] == 1 && got[events.Address(p.bob).Hex()] == 0
	})
	if !p.isKey(p.alice, good) || !p.isKey(p.bob, bobs) {
		t.Fatal("a key that must stay was removed")
	}
	if len(p.outcomes(good)) != 0 {
		t.Fatalf("the compliant key got actions: %v", p.outcomes(good))
	}
	// The spoofed key: stored unverified, never acted on.
	p.eventually("the spoofed key stored unverified", func() bool {
		ks, err := p.st.KeyStates(p.ctx, store.KeyFilter{ChainID: p.chain.ChainID.Uint64(),
			Accounts: []events.Address{events.Address(devchain.Address(p.chain.Keys[4]))}})
		return err == nil && len(ks) == 1 && !ks[0].Verified
	})
	if len(p.outcomes(spoof)) != 0 {
		t.Fatalf("acted on an unverified key: %v", p.outcomes(spoof))
	}

	// The folded state in ClickHouse equals what the plugin's views say, for every key left.
	p.eventually("key state in ClickHouse to match the chain", func() bool {
		for _, key := range []common.Address{good, fresh, spender} {
			ks, err := p.st.KeyStates(p.ctx, store.KeyFilter{ChainID: p.chain.ChainID.Uint64(), SessionKeys: []events.Address{events.Address(key)}})
			if err != nil || len(ks) != 1 || ks[0].Status != events.StatusActive {
				return false
			}
			q := actions.PermissionsQuery{Targets: []common.Address{target.Common()},
				Functions: []actions.FunctionRefQuery{{Target: target.Common(), Selector: ping}}}
			onChain, err := p.reader.ReadPermissions(p.ctx, p.alice, key, q)
			if err != nil || !equalPerms(actions.ViewOf(ks[0].Permissions, q), onChain) {
				return false
			}
		}
		return true
	})
}

func equalPerms(a, b events.Permissions) bool {
	ja, _ := jsonOf(a)
	jb, _ := jsonOf(b)
	return ja == jb
}

func TestPipelineDryRunSendsNothing(t *testing.T) {
	p := start(t, enforcer.ModeDryRun)
	wild := p.addKey(p.alice, p.owner, [32]byte{}, []events.Update{events.SetAccessListType{Type: events.AccessAllowAll}})
	p.eventually("a planned removal", func() bool { return p.outcomes(wild)["no-allow-all"] == "planned" })
	time.Sleep(time.Second)
	if !p.isKey(p.alice, wild) {
		t.Fatal("dry run removed the key")
	}
	for pol, o := range p.outcomes(wild) {
		if o == "submitted" || o == "included" {
			t.Fatalf("dry run sent %s for %s", o, pol)
		}
	}
}

func TestPipelineApprovalWaitsForAPerson(t *testing.T) {
	p := start(t, enforcer.ModeApproval)
	wild := p.addKey(p.alice, p.owner, [32]byte{}, []events.Update{events.SetAccessListType{Type: events.AccessAllowAll}})
	p.eventually("an action awaiting approval", func() bool { return p.outcomes(wild)["no-allow-all"] == "awaiting_approval" })
	time.Sleep(time.Second)
	if !p.isKey(p.alice, wild) {
		t.Fatal("acted without approval")
	}
	var id string
	if err := p.st.Conn().QueryRow(p.ctx, `SELECT action_id FROM actions WHERE session_key = ? AND policy_id = 'no-allow-all' LIMIT 1`,
		events.Address(wild).Hex()).Scan(&id); err != nil {
		t.Fatal(err)
	}
	// A person approves over NATS request-reply.
	msg, err := p.nats.Conn.Request(enforcer.ApproveSubject, []byte(`{"action_id":"`+id+`","by":"alice@security"}`), 30*time.Second)
	if err != nil || string(msg.Data) != "ok" {
		t.Fatalf("approve: %v %s", err, msgData(msg))
	}
	p.eventually("the approved removal", func() bool { return !p.isKey(p.alice, wild) })
}
