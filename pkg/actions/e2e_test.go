package actions_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"math/big"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/keywarden/keywarden/pkg/actions"
	"github.com/keywarden/keywarden/pkg/devchain"
	"github.com/keywarden/keywarden/pkg/events"
)

// env is one dev chain with an account owned by owner and an actions client on it.
type env struct {
	chain   *devchain.Chain
	node    *ethclient.Client
	client  *actions.Client
	owner   *actions.KeySigner
	account common.Address
	addrs   actions.Addresses
}

func startEnv(t *testing.T, direct bool) *env { return startEnvB(t, direct) }

func startEnvB(t testing.TB, direct bool) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	chain, err := devchain.Start(ctx, devchain.Options{FundedKeys: 4, BlockTime: 50 * time.Millisecond})
	if err != nil {
		if os.Getenv("CI") != "true" && errors.Is(err, os.ErrNotExist) {
			t.Skipf("dev chain unavailable (run make deps): %v", err)
		}
		t.Fatalf("start dev chain: %v", err)
	}
	t.Cleanup(func() { _ = chain.Close() })
	node, err := ethclient.DialContext(ctx, chain.HTTPURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Close)
	ownerKey := chain.Keys[1]
	owner := actions.NewKeySigner(ownerKey)
	account, err := chain.CreateAccount(ctx, []common.Address{owner.Address()})
	if err != nil {
		t.Fatalf("create account: %v", err)
	}
	addrs := actions.Addresses{SessionKeyPlugin: chain.Addresses.SessionKeyPlugin, MultiOwner: chain.Addresses.MultiOwnerPlugin, EntryPoint: chain.Addresses.EntryPoint}
	var sub actions.Submitter
	if direct {
		sub, err = actions.NewDirectSubmitter(actions.DirectOptions{Node: node, From: actions.NewKeySigner(chain.Keys[2]), ChainID: chain.ChainID, EntryPoint: addrs.EntryPoint})
	} else {
		var bc *actions.BundlerClient
		bc, err = actions.DialBundler(ctx, chain.BundlerURL, addrs.EntryPoint, chain.ChainID)
		if err == nil {
			t.Cleanup(bc.Close)
		}
		sub = bc
	}
	if err != nil {
		t.Fatal(err)
	}
	client, err := actions.NewClient(actions.Options{Node: node, Submitter: sub, ChainID: chain.ChainID, Addresses: addrs, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &env{chain: chain, node: node, client: client, owner: owner, account: account, addrs: addrs}
}

func newKey(t *testing.T) (*ecdsa.PrivateKey, common.Address) {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k, crypto.PubkeyToAddress(k.PublicKey)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustOK(t *testing.T, what string) func(*actions.Result, error) *actions.Result {
	return func(res *actions.Result, err error) *actions.Result {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !res.Sent || res.Receipt == nil || !res.Receipt.Success {
			t.Fatalf("%s: not successful: %+v", what, res)
		}
		return res
	}
}

func keysEqual(t *testing.T, e *env, want ...common.Address) {
	t.Helper()
	got, err := e.client.SessionKeys(ctxT(t), e.account)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		want = []common.Address{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("sessionKeysOf = %v, want %v", got, want)
	}
}

// checkPermissions compares the plugin's views with the fold of the updates applied so far.
func checkPermissions(t *testing.T, e *env, key common.Address, folded events.Permissions, q actions.PermissionsQuery) {
	t.Helper()
	got, err := e.client.ReadPermissions(ctxT(t), e.account, key, q)
	if err != nil {
		t.Fatal(err)
	}
	if want := actions.ViewOf(folded, q); !reflect.DeepEqual(got, want) {
		t.Fatalf("views of %s:\n got  %+v\n want %+v", key, got, want)
	}
}

func TestEndToEndBundler(t *testing.T) { runEndToEnd(t, false) }
func TestEndToEndDirect(t *testing.T)  { runEndToEnd(t, true) }

func runEndToEnd(t *testing.T, direct bool) {
	e := startEnv(t, direct)
	ctx := ctxT(t)
	owner := e.client.Account(e.account, e.owner)
	target := e.chain.Addresses.TestTarget

	plugins, err := e.client.InstalledPlugins(ctx, e.account)
	if err != nil || len(plugins) != 1 || plugins[0] != e.addrs.MultiOwner {
		t.Fatalf("installed plugins %v, %v", plugins, err)
	}
	if ok, err := e.client.IsOwnerOf(ctx, e.account, e.owner.Address()); err != nil || !ok {
		t.Fatalf("isOwnerOf: %v %v", ok, err)
	}

	// 1. Install with one key: allow-all, 1 ETH lifetime, valid for an hour.
	k1, a1 := newKey(t)
	now := uint64(time.Now().Unix())
	p1 := actions.NewPermissions().AllowAll().NativeLimit(big.NewInt(1e18), 0).TimeRange(0, now+3600)
	u1, _ := p1.Encode()
	res := mustOK(t, "install")(owner.InstallSessionKeyPlugin(ctx, actions.InstallOptions{Keys: []actions.InitialKey{{Key: a1, Tag: common.HexToHash("0x01"), Updates: u1}}}))
	// The hash we computed is the EntryPoint's.
	if onChain := entryPointHash(t, e, res.Op); onChain != res.UserOpHash {
		t.Fatalf("getUserOpHash %s, ours %s", onChain, res.UserOpHash)
	}
	if ok, _ := e.client.HasSessionKeyPlugin(ctx, e.account); !ok {
		t.Fatal("plugin not installed")
	}
	keysEqual(t, e, a1)
	fold1 := events.DefaultPermissions()
	b1, _ := p1.Updates()
	_ = fold1.ApplyAll(b1, 0)
	checkPermissions(t, e, a1, fold1, actions.PermissionsQuery{})

	// 2. Add a key with a tag and an allowlist.
	_, a2 := newKey(t)
	p2 := actions.NewPermissions().AddressEntry(target, true, true).FunctionEntry(target, events.Selector{1, 2, 3, 4}, true)
	u2, _ := p2.Encode()
	mustOK(t, "add")(owner.AddSessionKey(ctx, a2, crypto.Keccak256Hash([]byte("app")), u2))
	keysEqual(t, e, a2, a1)
	fold2 := events.DefaultPermissions()
	b2, _ := p2.Updates()
	_ = fold2.ApplyAll(b2, 0)
	q2 := actions.PermissionsQuery{Targets: []common.Address{target, e.account}, Functions: []actions.FunctionRefQuery{{Target: target, Selector: events.Selector{1, 2, 3, 4}}, {Target: target, Selector: events.Selector{9, 9, 9, 9}}}, Tokens: []common.Address{e.chain.Addresses.TestERC20}}
	checkPermissions(t, e, a2, fold2, q2)

	// 3. Update its permissions (ERC-20 limit, gas limit, paymaster, time range).
	p3 := actions.NewPermissions().ERC20Limit(e.chain.Addresses.TestERC20, big.NewInt(500), 0).GasLimit(big.NewInt(1e17), 0).TimeRange(now, now+7200).RequiredPaymaster(common.HexToAddress("0x9999"))
	u3, _ := p3.Encode()
	mustOK(t, "update")(owner.UpdateKeyPermissions(ctx, a2, u3))
	b3, _ := p3.Updates()
	_ = fold2.ApplyAll(b3, 0)
	checkPermissions(t, e, a2, fold2, q2)

	// 4. Rotate it: the permissions move to the new key, which goes to the head.
	_, a3 := newKey(t)
	mustOK(t, "rotate")(owner.RotateSessionKey(ctx, a2, a3))
	keysEqual(t, e, a3, a1)
	checkPermissions(t, e, a3, fold2, q2)
	if ok, _ := e.client.IsSessionKey(ctx, e.account, a2); ok {
		t.Fatal("rotated-away key still on the list")
	}

	// 5. Execute with a session key, inside its permissions...
	sk := e.client.Account(e.account, actions.NewKeySigner(k1))
	mustOK(t, "execute within")(sk.ExecuteWithSessionKey(ctx, []actions.Call{{Target: target, Value: big.NewInt(1000)}}))
	native, err := e.client.NativeSpendLimit(ctx, e.account, a1)
	if err != nil || native.LimitUsed.Uint64() != 1000 {
		t.Fatalf("native used %v, %v", native.LimitUsed, err)
	}
	// ...and outside them (2 ETH over a 1 ETH limit): refused in validation.
	_, err = sk.ExecuteWithSessionKey(ctx, []actions.Call{{Target: target, Value: big.NewInt(2e18)}})
	if !actions.IsAA(err, actions.AAValidationReverted) {
		t.Fatalf("execute outside: %v, want AA23", err)
	}
	if h, ok := actions.UserOpHashOf(err); !ok || h == (common.Hash{}) {
		t.Fatalf("refusal carries no user op hash: %v", err)
	}
	t.Logf("execute outside permissions: %v", err)

	// 6. Remove the rotated key (predecessor read right before).
	mustOK(t, "remove")(owner.RemoveSessionKey(ctx, a3))
	keysEqual(t, e, a1)
	if _, err := owner.RemoveSessionKey(ctx, a3); !errors.Is(err, actions.ErrKeyNotFound) {
		t.Fatalf("second removal: %v, want ErrKeyNotFound", err)
	}
	if _, err := e.client.ReadPermissions(ctx, e.account, a3, q2); !errors.Is(err, actions.ErrKeyNotFound) {
		t.Fatalf("views of a removed key: %v, want ErrKeyNotFound", err)
	}

	// 7. Batch: add two keys, remove the first key, rotate one of the new ones, in one op.
	_, a4 := newKey(t)
	_, a5 := newKey(t)
	_, a6 := newKey(t)
	mustOK(t, "batch")(owner.Batch(ctx, []actions.BatchStep{
		{Add: &actions.AddStep{Key: a4, Tag: common.HexToHash("0x04")}},
		{Add: &actions.AddStep{Key: a5}},
		{Remove: &a1},
		{Rotate: &actions.RotateStep{Old: a4, New: a6}},
	}))
	keysEqual(t, e, a6, a5)

	// 8. The guard signs the enforcer's calls and nothing else.
	g, err := actions.NewGuard(e.owner, actions.GuardOptions{ChainID: e.chain.ChainID, EntryPoint: e.addrs.EntryPoint, Routes: e.client.Reader})
	if err != nil {
		t.Fatal(err)
	}
	// A guard that expects another plugin behind the selectors refuses.
	elsewhere := actions.NewReader(e.node, actions.Addresses{SessionKeyPlugin: common.HexToAddress("0xdead"), EntryPoint: e.addrs.EntryPoint})
	wrongRoute, _ := actions.NewGuard(e.owner, actions.GuardOptions{ChainID: e.chain.ChainID, EntryPoint: e.addrs.EntryPoint, Routes: elsewhere})
	if _, err := e.client.Account(e.account, wrongRoute).RemoveSessionKey(ctx, a5); !errors.Is(err, actions.ErrGuardRefused) {
		t.Fatalf("guard with the wrong plugin: %v, want ErrGuardRefused", err)
	}
	guarded := e.client.Account(e.account, g)
	mustOK(t, "guarded remove")(guarded.RemoveSessionKey(ctx, a5))
	keysEqual(t, e, a6)
	_, err = guarded.AddSessionKey(ctx, a5, common.Hash{}, nil)
	if !errors.Is(err, actions.ErrGuardRefused) {
		t.Fatalf("guarded add: %v, want ErrGuardRefused", err)
	}
	_, err = guarded.Submit(ctx, actions.EncodeExecute(actions.Call{Target: target, Value: big.NewInt(1)}))
	if !errors.Is(err, actions.ErrGuardRefused) {
		t.Fatalf("guarded execute: %v, want ErrGuardRefused", err)
	}

	// 9. Revoke all.
	mustOK(t, "revoke all")(guarded.RevokeAll(ctx))
	keysEqual(t, e)
}

func entryPointHash(t *testing.T, e *env, op *actions.UserOperation) common.Hash {
	t.Helper()
	data, err := actions.EntryPointGetUserOpHashCall(op)
	if err != nil {
		t.Fatal(err)
	}
	ep := e.addrs.EntryPoint
	out, err := e.node.CallContract(ctxT(t), ethereum.CallMsg{To: &ep, Data: data}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return common.BytesToHash(out)
}

func TestEndToEndTypedErrorsBundler(t *testing.T) { runTypedErrors(t, false) }
func TestEndToEndTypedErrorsDirect(t *testing.T)  { runTypedErrors(t, true) }

func runTypedErrors(t *testing.T, direct bool) {
	e := startEnv(t, direct)
	ctx := ctxT(t)
	owner := e.client.Account(e.account, e.owner)
	k1, a1 := newKey(t)
	all, _ := actions.NewPermissions().AllowAll().NativeLimit(actions.NoLimit(), 0).Encode()
	ok := mustOK(t, "install")
	ok(owner.InstallSessionKeyPlugin(ctx, actions.InstallOptions{Keys: []actions.InitialKey{{Key: a1, Updates: all}}}))

	wantAA := func(what string, err error, code string) {
		t.Helper()
		var aa *actions.AAError
		if !errors.As(err, &aa) || aa.Code != code {
			t.Fatalf("%s: %v, want %s", what, err, code)
		}
		if aa.UserOpHash == (common.Hash{}) {
			t.Fatalf("%s: no user op hash in %v", what, err)
		}
		t.Logf("%s: %v", what, err)
	}

	// A wrong signature: signed by someone who is not an owner.
	stranger, _ := actions.KeySignerFromHex("0x" + common.Bytes2Hex(crypto.Keccak256([]byte("not an owner"))))
	_, a2 := newKey(t)
	_, err := e.client.Account(e.account, stranger).AddSessionKey(ctx, a2, common.Hash{}, nil)
	wantAA("wrong signature", err, actions.AASignatureError)

	// A stale nonce: two ops built on the same nonce; the second fails once the first landed.
	req := actions.OpRequest{Sender: e.account, CallData: actions.EncodeAddSessionKey(a2, common.Hash{}, nil)}
	first, err := e.client.Prepare(ctx, req, e.owner)
	if err != nil {
		t.Fatal(err)
	}
	_, a3 := newKey(t)
	req.CallData = actions.EncodeAddSessionKey(a3, common.Hash{}, nil)
	second, err := e.client.Prepare(ctx, req, e.owner)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Send(ctx, first.Op); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Wait(ctx, first.UserOpHash); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.Send(ctx, second.Op)
	wantAA("stale nonce", err, actions.AAInvalidNonce)
	if h, _ := actions.UserOpHashOf(err); h != second.UserOpHash {
		t.Fatalf("stale nonce error carries %s, want %s", h, second.UserOpHash)
	}

	// A session key that is not on the account.
	outsider, _ := newKey(t)
	_, err = e.client.Account(e.account, actions.NewKeySigner(outsider)).ExecuteWithSessionKey(ctx, []actions.Call{{Target: e.chain.Addresses.TestTarget}})
	wantAA("key not on the account", err, actions.AAValidationReverted)

	// The session key that is on the account still works.
	ok2 := mustOK(t, "execute")
	ok2(e.client.Account(e.account, actions.NewKeySigner(k1)).ExecuteWithSessionKey(ctx, []actions.Call{{Target: e.chain.Addresses.TestTarget, Value: big.NewInt(1)}}))

	// A stale predecessor is caught before sending (read right before building).
	if _, err := owner.RemoveSessionKey(ctx, common.HexToAddress("0x1234")); !errors.Is(err, actions.ErrKeyNotFound) {
		t.Fatalf("remove unknown key: %v", err)
	}
}

func TestWaitTimeoutAndDropped(t *testing.T) {
	e := startEnv(t, false)
	unknown := crypto.Keccak256Hash([]byte("never sent"))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	slow, err := actions.NewClient(actions.Options{Node: e.node, Submitter: mustBundler(t, e), ChainID: e.chain.ChainID,
		Addresses: e.addrs, PollInterval: 10 * time.Millisecond, DroppedAfter: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	_, err = slow.Wait(ctx, unknown)
	if !errors.Is(err, actions.ErrTimeout) {
		t.Fatalf("wait: %v, want ErrTimeout", err)
	}
	if h, _ := actions.UserOpHashOf(err); h != unknown {
		t.Fatalf("timeout carries %s", h)
	}
	_, err = e.client.Wait(ctxT(t), unknown)
	if !errors.Is(err, actions.ErrDropped) {
		t.Fatalf("wait: %v, want ErrDropped", err)
	}
}

func mustBundler(t *testing.T, e *env) *actions.BundlerClient {
	t.Helper()
	bc, err := actions.DialBundler(ctxT(t), e.chain.BundlerURL, e.addrs.EntryPoint, e.chain.ChainID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bc.Close)
	return bc
}

// A key with a gas spend limit must use its own address as the nonce key; the client picks
// it, and the usage is recorded by the plugin.
func TestEndToEndGasLimitedKeyUsesItsNonceKey(t *testing.T) {
	e := startEnv(t, false)
	ctx := ctxT(t)
	owner := e.client.Account(e.account, e.owner)
	k, a := newKey(t)
	perms, _ := actions.NewPermissions().AllowAll().GasLimit(new(big.Int).Mul(big.NewInt(1e18), big.NewInt(10)), 0).Encode()
	mustOK(t, "install")(owner.InstallSessionKeyPlugin(ctx, actions.InstallOptions{Keys: []actions.InitialKey{{Key: a, Updates: perms}}}))
	res := mustOK(t, "execute")(e.client.Account(e.account, actions.NewKeySigner(k)).ExecuteWithSessionKey(ctx, []actions.Call{{Target: e.chain.Addresses.TestTarget}}))
	if got := actions.NonceKey(res.Op.Nonce); got.Cmp(actions.NonceKeyFor(a)) != 0 {
		t.Fatalf("nonce key %x, want the key's address", got)
	}
	gas, _, err := e.client.GasSpendLimit(ctx, e.account, a)
	if err != nil || !gas.HasLimit || gas.LimitUsed.IsZero() {
		t.Fatalf("gas limit %+v, %v", gas, err)
	}
	n, err := e.client.Nonce(ctx, e.account, actions.NonceKeyFor(a))
	if err != nil || new(big.Int).And(n, big.NewInt(0xffff)).Uint64() != 1 {
		t.Fatalf("nonce under the key's nonce key: %v %v", n, err)
	}
}

// A counterfactual account is deployed by its first user operation's initCode, which also
// installs the plugin with a key.
func TestEndToEndCounterfactualAccount(t *testing.T) {
	for _, direct := range []bool{false, true} {
		e := startEnv(t, direct)
		ctx := ctxT(t)
		owners := []common.Address{e.owner.Address()}
		salt := big.NewInt(42)
		addr, err := e.chain.AccountAddress(ctx, salt, owners)
		if err != nil {
			t.Fatal(err)
		}
		initCode, err := e.chain.InitCode(salt, owners)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.chain.Fund(ctx, addr, big.NewInt(1e18)); err != nil {
			t.Fatal(err)
		}
		acct := e.client.Account(addr, e.owner)
		acct.InitCode = initCode
		_, key := newKey(t)
		mustOK(t, "deploy and install")(acct.InstallSessionKeyPlugin(ctx, actions.InstallOptions{Keys: []actions.InitialKey{{Key: key}}}))
		if ok, err := e.client.IsSessionKey(ctx, addr, key); err != nil || !ok {
			t.Fatalf("direct=%v: key not on the new account: %v %v", direct, ok, err)
		}
	}
}
