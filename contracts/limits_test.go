package contracts_test

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/keywarden/keywarden/pkg/events"
)

// TestSpendLimitSemantics drives the native and gas limits through user operations: an interval that pushes
// validAfter (AA22) until it elapses, usage kept by a finite update and zeroed by max, the gas limit's
// nonce-key rule and its recorded maximum cost, and the required-paymaster rule.
func TestSpendLimitSemantics(t *testing.T) {
	e := newEnv(t)
	e.requireOK(e.send(e.deployer, e.account, nil, new(big.Int).Mul(ether, big.NewInt(5))), "fund account")
	skKey, sk := newKey(t)
	r := e.install([]common.Address{sk}, []common.Hash{{}}, [][][]byte{{
		update(t, events.SetAccessListType{Type: events.AccessAllowAll}),
		update(t, events.SetNativeTokenSpendLimit{Limit: events.U256From64(100), RefreshInterval: 3600}),
	}})
	installedAt := e.blockTime(r)
	pay := func(value int64, nonceKey *big.Int) *userOp {
		op := e.newOp(e.account, nonceKey, e.pack(e.skp, "executeWithSessionKey",
			[]contractsCall{{Target: e.d.TestTarget, Value: big.NewInt(value), Data: []byte{}}}, sk))
		e.sign(op, skKey)
		return op
	}
	native := func() spendInfo { return e.spendInfo("getNativeTokenSpendLimitInfo", e.account, sk) }

	if n := native(); n.LastUsedTime.Uint64() != installedAt || n.RefreshInterval.Uint64() != 3600 {
		t.Fatalf("native limit after install %+v (install block time %d)", n, installedAt)
	}
	if r, failed := e.handle(pay(60, nil)); failed != "" || !e.opSucceeded(r) {
		t.Fatalf("first spend: %q", failed)
	}
	// 60 more does not fit this interval but fits the next: valid only from lastUsed+interval.
	if _, failed := e.handle(pay(60, nil)); !strings.Contains(failed, "AA22") {
		t.Fatalf("second spend in the same interval: %q, want AA22", failed)
	}
	// 101 never fits.
	if _, failed := e.handle(pay(101, nil)); !strings.Contains(failed, "AA23") {
		t.Fatalf("spend over the limit: %q, want AA23", failed)
	}
	if err := e.sim.AdjustTime(3601 * time.Second); err != nil {
		t.Fatal(err)
	}
	e.sim.Commit()
	r, failed := e.handle(pay(60, nil))
	if failed != "" || !e.opSucceeded(r) {
		t.Fatalf("spend after the interval: %q", failed)
	}
	if n := native(); n.LimitUsed.Uint64() != 60 || n.LastUsedTime.Uint64() != e.blockTime(r) {
		t.Fatalf("native after a new interval %+v, want used 60 and lastUsed = block time %d", n, e.blockTime(r))
	}

	upd := func(us ...events.Update) {
		t.Helper()
		b := make([][]byte, len(us))
		for i, u := range us {
			b[i] = update(t, u)
		}
		e.requireOK(e.send(e.owner, e.account, e.pack(e.skp, "updateKeyPermissions", sk, b), nil), "updateKeyPermissions")
	}
	// A finite limit keeps the usage and, with interval 0, sets lastUsed to 0.
	upd(events.SetNativeTokenSpendLimit{Limit: events.U256From64(1000)})
	if n := native(); !n.HasLimit || n.LimitUsed.Uint64() != 60 || n.LastUsedTime.Sign() != 0 || n.Limit.Uint64() != 1000 {
		t.Fatalf("native after a finite update %+v", n)
	}
	// max switches it off and forgets the usage.
	upd(events.SetNativeTokenSpendLimit{Limit: events.MaxU256})
	if n := native(); n.HasLimit || n.LimitUsed.Sign() != 0 {
		t.Fatalf("native after max %+v", n)
	}
	upd(events.SetNativeTokenSpendLimit{Limit: events.U256From64(1000)})
	if n := native(); n.LimitUsed.Sign() != 0 || n.Limit.Uint64() != 1000 {
		t.Fatalf("native re-enabled %+v", n)
	}

	// Gas limit: the nonce key must be the session key; the op's maximum cost is recorded in validation.
	upd(events.SetGasSpendLimit{Limit: events.U256From64(1e18)})
	if _, failed := e.handle(pay(0, nil)); !strings.Contains(failed, "AA23") {
		t.Fatalf("gas-limited key with nonce key 0: %q, want AA23", failed)
	}
	keyNonce := new(big.Int).SetBytes(sk.Bytes())
	op := pay(0, keyNonce)
	if r, failed := e.handle(op); failed != "" || !e.opSucceeded(r) {
		t.Fatalf("gas-limited key with its own nonce key: %q", failed)
	}
	maxCost := new(big.Int).Add(op.CallGasLimit, op.VerificationGasLimit)
	maxCost.Add(maxCost, op.PreVerificationGas).Mul(maxCost, op.MaxFeePerGas)
	if g := e.spendInfo("getGasSpendLimit", e.account, sk); g.LimitUsed.Cmp(maxCost) != 0 {
		t.Fatalf("gas used %s, want the op's maximum cost %s", g.LimitUsed, maxCost)
	}
	upd(events.SetGasSpendLimit{Limit: events.U256From64(1)})
	if _, failed := e.handle(pay(0, keyNonce)); !strings.Contains(failed, "AA23") {
		t.Fatalf("gas over the limit: %q, want AA23", failed)
	}
	upd(events.SetGasSpendLimit{Limit: events.MaxU256})

	// Required paymaster: an op without it is refused.
	upd(events.SetRequiredPaymaster{Paymaster: events.HexToAddress("0xbeef")})
	if _, failed := e.handle(pay(0, nil)); !strings.Contains(failed, "AA23") {
		t.Fatalf("op without the required paymaster: %q, want AA23", failed)
	}
	upd(events.SetRequiredPaymaster{})
	if r, failed := e.handle(pay(0, nil)); failed != "" || !e.opSucceeded(r) {
		t.Fatalf("op after the paymaster rule is removed: %q", failed)
	}
}

// TestAccountRules covers account-level refusals: uninstalling a plugin others depend on, installing with a
// wrong manifest hash or wrong dependencies, a stranger's direct execute, and the implementation's lock.
func TestAccountRules(t *testing.T) {
	e := newEnv(t)
	e.install([]common.Address{common.HexToAddress("0xd1")}, []common.Hash{{}}, [][][]byte{{}})
	e.expectRevert(e.owner, e.account, e.pack(e.acct, "uninstallPlugin", e.d.MultiOwnerPlugin, []byte{}, []byte{}), "PluginDependencyViolation")
	e.expectRevert(e.owner, e.account, e.pack(e.acct, "installPlugin", e.d.SessionKeyPlugin, common.Hash{1}, []byte{}, dependencies(e.d.MultiOwnerPlugin)), "PluginAlreadyInstalled")
	e.expectRevert(e.stranger, e.account, e.pack(e.acct, "execute", e.d.TestTarget, big.NewInt(0), []byte{}), "RuntimeValidationFunctionReverted(")
	e.expectRevert(e.owner, e.d.AccountImplementation, e.pack(e.acct, "initialize", []common.Address{}, []byte{}), "AlreadyInitialized")
	e.expectRevert(e.owner, e.account, e.pack(e.acct, "initialize", []common.Address{}, []byte{}), "AlreadyInitialized")

	// A second account: wrong manifest hash, then wrong dependency count.
	owners := []common.Address{addrOf(e.owner)}
	acct2 := common.BytesToAddress(e.mustCall(e.d.Factory, e.pack(e.factory, "getAddress", big.NewInt(5), owners)))
	e.requireOK(e.send(e.deployer, e.d.Factory, e.pack(e.factory, "createAccount", big.NewInt(5), owners), nil), "createAccount")
	data := e.installData([]common.Address{}, []common.Hash{}, [][][]byte{})
	e.expectRevert(e.owner, acct2, e.pack(e.acct, "installPlugin", e.d.SessionKeyPlugin, common.Hash{1}, data, dependencies(e.d.MultiOwnerPlugin)), "InvalidPluginManifest")
	e.expectRevert(e.owner, acct2, e.pack(e.acct, "installPlugin", e.d.SessionKeyPlugin, e.manifestHash(e.d.SessionKeyPlugin), data, dependencies(e.d.MultiOwnerPlugin)[:1]), "InvalidDependenciesProvided")
	// Mismatched install data lengths surface as the plugin's LengthMismatch inside the callback error.
	bad := e.installData([]common.Address{common.HexToAddress("0xd2")}, []common.Hash{}, [][][]byte{{}})
	e.expectRevert(e.owner, acct2, e.pack(e.acct, "installPlugin", e.d.SessionKeyPlugin, e.manifestHash(e.d.SessionKeyPlugin), bad, dependencies(e.d.MultiOwnerPlugin)), "PluginInstallCallbackFailed(")
	// Owners: updateOwners through the account emits OwnerUpdated; the last owner cannot be removed.
	_, newOwner := newKey(t)
	r := e.send(e.owner, acct2, e.pack(e.mop, "updateOwners", []common.Address{newOwner}, []common.Address{}), nil)
	e.requireOK(r, "updateOwners")
	e.one(r, e.mop, "OwnerUpdated", e.d.MultiOwnerPlugin)
	if got := e.view(e.mop, e.d.MultiOwnerPlugin, "ownersOf", acct2)[0].([]common.Address); len(got) != 2 || got[0] != newOwner {
		t.Fatalf("ownersOf after update %v (newest first)", got)
	}
	e.expectRevert(e.owner, acct2, e.pack(e.mop, "updateOwners", []common.Address{}, []common.Address{newOwner, addrOf(e.owner)}), "EmptyOwnersNotAllowed")

	// Anyone may call the plugin directly and get events naming itself as the account (as on the real
	// plugin); only installing needs a contract caller.
	k := common.HexToAddress("0xd3")
	r = e.send(e.stranger, e.d.SessionKeyPlugin, e.pack(e.skp, "addSessionKey", k, [32]byte{}, [][]byte{}), nil)
	e.requireOK(r, "direct addSessionKey from an EOA")
	if l := e.one(r, e.skp, "SessionKeyAdded", e.d.SessionKeyPlugin); l.Topics[1] != topicAddr(addrOf(e.stranger)) {
		t.Fatalf("direct add names account %s", l.Topics[1])
	}
	e.expectRevert(e.stranger, e.d.SessionKeyPlugin, e.pack(e.skp, "onInstall", e.installData(nil, nil, nil)), "NotContractCaller")
}

// TestERC20SelectorRule pins the vendor code's order of checks: the "only transfer/approve on an ERC-20 with
// a limit" rule is applied after the access list, and an allowlisted target without selector checks returns
// early, so there another function of the token passes. With no access list (ALLOW_ALL_ACCESS) it is refused.
func TestERC20SelectorRule(t *testing.T) {
	e := newEnv(t)
	e.requireOK(e.send(e.deployer, e.account, nil, ether), "fund account")
	skKey, sk := newKey(t)
	e.install([]common.Address{sk}, []common.Hash{{}}, [][][]byte{{
		update(t, events.UpdateAccessListAddressEntry{Target: events.Address(e.d.TestERC20), IsOnList: true}),
		update(t, events.SetERC20SpendLimit{Token: events.Address(e.d.TestERC20), Limit: events.U256From64(100)}),
	}})
	mint := func() *userOp {
		op := e.newOp(e.account, nil, e.pack(e.skp, "executeWithSessionKey", []contractsCall{{
			Target: e.d.TestERC20, Value: big.NewInt(0), Data: e.pack(e.erc20, "mint", e.account, big.NewInt(5)),
		}}, sk))
		e.sign(op, skKey)
		return op
	}
	if r, failed := e.handle(mint()); failed != "" || !e.opSucceeded(r) {
		t.Fatalf("allowlisted limited token, other selector: %q, want success", failed)
	}
	e.requireOK(e.send(e.owner, e.account, e.pack(e.skp, "updateKeyPermissions", sk,
		[][]byte{update(t, events.SetAccessListType{Type: events.AccessAllowAll})}), nil), "allow all")
	if _, failed := e.handle(mint()); !strings.Contains(failed, "AA23") {
		t.Fatalf("allow-all, limited token, other selector: %q, want AA23", failed)
	}
}
