package devchain

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/keywarden/keywarden/pkg/events"
)

// seed is the state of the seed-flow test.
type seed struct {
	t       *testing.T
	c       *Chain
	ctx     context.Context
	owner   *ecdsa.PrivateKey
	account common.Address
}

func eth(milli int64) *big.Int { return new(big.Int).Mul(big.NewInt(milli), big.NewInt(1e15)) }

func u256(b *big.Int) events.U256 {
	u, err := events.U256FromBig(b)
	if err != nil {
		panic(err)
	}
	return u
}

// logsOf returns the logs of the op's transaction emitted by addr with event name of x.
func (s *seed) logsOf(r *UserOpResult, addr common.Address, x abi.ABI, name string) []types.Log {
	var out []types.Log
	id := x.Events[name].ID
	for _, l := range r.Receipt.Receipt.Logs {
		if l.Address == addr && len(l.Topics) > 0 && l.Topics[0] == id {
			out = append(out, *l)
		}
	}
	return out
}

func (s *seed) one(r *UserOpResult, addr common.Address, x abi.ABI, name string) types.Log {
	s.t.Helper()
	ls := s.logsOf(r, addr, x, name)
	if len(ls) != 1 {
		s.t.Fatalf("%d %s logs from %s, want 1", len(ls), name, addr.Hex())
	}
	return ls[0]
}

func (s *seed) none(r *UserOpResult, addr common.Address, x abi.ABI, name string) {
	s.t.Helper()
	if ls := s.logsOf(r, addr, x, name); len(ls) != 0 {
		s.t.Fatalf("unexpected %s logs: %d", name, len(ls))
	}
}

func (s *seed) view(x abi.ABI, to common.Address, method string, args ...any) []any {
	s.t.Helper()
	out, err := s.c.call(s.ctx, x, to, method, args...)
	if err != nil {
		s.t.Fatalf("%s: %v", method, err)
	}
	return out
}

func (s *seed) plugin(method string, args ...any) []any {
	s.t.Helper()
	return s.view(s.c.abis.plugin, s.c.Addresses.SessionKeyPlugin, method, args...)
}

func (s *seed) op(callData []byte, initCode []byte, signer *ecdsa.PrivateKey) *UserOpResult {
	s.t.Helper()
	r, err := s.c.SendUserOp(s.ctx, UserOpRequest{Sender: s.account, InitCode: initCode, CallData: callData, Signer: signer})
	if err != nil {
		s.t.Fatal(err)
	}
	if !r.Receipt.Success {
		s.t.Fatalf("user op %s executed with success=false (reason %s)", r.Hash, r.Receipt.Reason)
	}
	ev := s.one(r, s.c.Addresses.EntryPoint, s.c.abis.entryPoint, "UserOperationEvent")
	if ev.Topics[1] != r.Hash || common.BytesToAddress(ev.Topics[2][:]) != s.account {
		s.t.Fatalf("UserOperationEvent names %s / %s", ev.Topics[1], ev.Topics[2])
	}
	return r
}

func (s *seed) keys() []common.Address {
	s.t.Helper()
	ks, err := s.c.SessionKeysOf(s.ctx, s.account)
	if err != nil {
		s.t.Fatal(err)
	}
	return ks
}

func addrTopic(t common.Hash) common.Address { return common.BytesToAddress(t[:]) }

func (s *seed) updatesOf(l types.Log) [][]byte {
	s.t.Helper()
	vals, err := s.c.abis.plugin.Events["PermissionsUpdated"].Inputs.NonIndexed().Unpack(l.Data)
	if err != nil {
		s.t.Fatal(err)
	}
	return vals[0].([][]byte)
}

func sameUpdates(got [][]byte, want []events.Update) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i].Encode()) {
			return false
		}
	}
	return true
}

// TestSeedFlow replays the vendor's documented session-key flow through user operations
// sent to the local bundler, checking the logs and the plugin's views after every step.
func TestSeedFlow(t *testing.T) {
	c := startChain(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	owner, _ := crypto.GenerateKey()
	s := &seed{t: t, c: c, ctx: ctx, owner: owner}
	A := c.Addresses
	target, _ := c.abis.target.Pack("ping", big.NewInt(7))

	// 1. Create the account from the op's initCode (factory ‖ createAccount(salt, owners)).
	salt := big.NewInt(42)
	owners := []common.Address{Address(owner)}
	initCode, err := c.InitCode(salt, owners)
	if err != nil {
		t.Fatal(err)
	}
	if s.account, err = c.AccountAddress(ctx, salt, owners); err != nil {
		t.Fatal(err)
	}
	if err := c.Fund(ctx, s.account, eth(10_000)); err != nil {
		t.Fatal(err)
	}
	exec, _ := c.abis.account.Pack("execute", A.TestTarget, big.NewInt(0), target)
	r := s.op(exec, initCode, owner)
	dep := s.one(r, A.EntryPoint, c.abis.entryPoint, "AccountDeployed")
	if addrTopic(dep.Topics[2]) != s.account {
		t.Fatalf("AccountDeployed sender %s", dep.Topics[2])
	}
	ou := s.one(r, A.MultiOwnerPlugin, c.abis.multiOwner, "OwnerUpdated")
	if addrTopic(ou.Topics[1]) != s.account {
		t.Fatalf("OwnerUpdated account %s", ou.Topics[1])
	}
	s.one(r, A.TestTarget, c.abis.target, "Called")
	if got := s.view(c.abis.multiOwner, A.MultiOwnerPlugin, "ownersOf", s.account)[0].([]common.Address); !reflect.DeepEqual(got, owners) {
		t.Fatalf("ownersOf %v", got)
	}

	// 2. Installed plugins: only the Multi Owner plugin.
	plugins, err := c.InstalledPlugins(ctx, s.account)
	if err != nil || !reflect.DeepEqual(plugins, []common.Address{A.MultiOwnerPlugin}) {
		t.Fatalf("installed plugins %v, %v", plugins, err)
	}

	// 3. Install the Session Key Plugin with one key: TestTarget allowed, a 1 ETH native limit
	// and a one-hour time range.
	k1, _ := crypto.GenerateKey()
	head, _ := c.Client().HeaderByNumber(ctx, nil)
	validAfter, validUntil := head.Time-60, head.Time+3600
	perms1 := []events.Update{
		events.UpdateAccessListAddressEntry{Target: events.Address(A.TestTarget), IsOnList: true},
		events.SetNativeTokenSpendLimit{Limit: u256(eth(1000))},
		events.UpdateTimeRange{ValidAfter: validAfter, ValidUntil: validUntil},
	}
	tag1 := Tag("seed-install")
	install, err := c.InstallSessionKeyPluginCall(ctx, []common.Address{Address(k1)}, [][32]byte{tag1}, [][]events.Update{perms1})
	if err != nil {
		t.Fatal(err)
	}
	r = s.op(install, nil, owner)
	added := s.one(r, A.SessionKeyPlugin, c.abis.plugin, "SessionKeyAdded")
	if addrTopic(added.Topics[1]) != s.account || addrTopic(added.Topics[2]) != Address(k1) || added.Topics[3] != tag1 {
		t.Fatalf("SessionKeyAdded %v", added.Topics)
	}
	pu := s.one(r, A.SessionKeyPlugin, c.abis.plugin, "PermissionsUpdated")
	if !sameUpdates(s.updatesOf(pu), perms1) || pu.Index <= added.Index {
		t.Fatalf("PermissionsUpdated carries %x", s.updatesOf(pu))
	}
	pi := s.one(r, s.account, c.abis.account, "PluginInstalled")
	mh, _ := c.SessionKeyManifestHash(ctx)
	if addrTopic(pi.Topics[1]) != A.SessionKeyPlugin || !bytes.Equal(pi.Data[:32], mh[:]) || pi.Index <= pu.Index {
		t.Fatalf("PluginInstalled %v", pi)
	}
	if plugins, _ = c.InstalledPlugins(ctx, s.account); !reflect.DeepEqual(plugins, []common.Address{A.SessionKeyPlugin, A.MultiOwnerPlugin}) {
		t.Fatalf("installed plugins after install: %v", plugins)
	}
	if ks := s.keys(); !reflect.DeepEqual(ks, []common.Address{Address(k1)}) {
		t.Fatalf("keys %v", ks)
	}
	if tr := s.plugin("getKeyTimeRange", s.account, Address(k1)); tr[0].(*big.Int).Uint64() != validAfter || tr[1].(*big.Int).Uint64() != validUntil {
		t.Fatalf("time range %v", tr)
	}
	native := func(k common.Address) (bool, *big.Int, *big.Int) {
		v := reflect.ValueOf(s.plugin("getNativeTokenSpendLimitInfo", s.account, k)[0])
		return v.FieldByName("HasLimit").Bool(), v.FieldByName("Limit").Interface().(*big.Int), v.FieldByName("LimitUsed").Interface().(*big.Int)
	}
	if has, lim, used := native(Address(k1)); !has || lim.Cmp(eth(1000)) != 0 || used.Sign() != 0 {
		t.Fatalf("native limit %v %v %v", has, lim, used)
	}

	// 4. Add a key with a tag and no permissions: SessionKeyAdded only; it becomes the head.
	k2, _ := crypto.GenerateKey()
	tag2 := Tag("dashboard-bot")
	add, _ := c.AddSessionKeyCall(Address(k2), tag2, nil)
	r = s.op(add, nil, owner)
	added = s.one(r, A.SessionKeyPlugin, c.abis.plugin, "SessionKeyAdded")
	if addrTopic(added.Topics[2]) != Address(k2) || added.Topics[3] != tag2 {
		t.Fatalf("SessionKeyAdded %v", added.Topics)
	}
	s.none(r, A.SessionKeyPlugin, c.abis.plugin, "PermissionsUpdated")
	if ks := s.keys(); !reflect.DeepEqual(ks, []common.Address{Address(k2), Address(k1)}) {
		t.Fatalf("keys after add %v", ks)
	}
	if typ := s.plugin("getAccessControlType", s.account, Address(k2))[0].(uint8); typ != 0 {
		t.Fatalf("fresh key access type %d", typ)
	}
	if has, lim, _ := native(Address(k2)); !has || lim.Sign() != 0 {
		t.Fatal("a fresh key must have a native limit of 0")
	}

	// 5. Update its permissions.
	perms2 := []events.Update{
		events.SetAccessListType{Type: events.AccessAllowlist},
		events.UpdateAccessListAddressEntry{Target: events.Address(A.TestTarget), IsOnList: true, CheckSelectors: true},
		events.UpdateAccessListFunctionEntry{Target: events.Address(A.TestTarget), Function: events.SelectorOf(target), IsOnList: true},
		events.SetNativeTokenSpendLimit{Limit: u256(eth(500)), RefreshInterval: 86400},
	}
	upd, _ := c.UpdatePermissionsCall(Address(k2), perms2)
	r = s.op(upd, nil, owner)
	pu = s.one(r, A.SessionKeyPlugin, c.abis.plugin, "PermissionsUpdated")
	if addrTopic(pu.Topics[2]) != Address(k2) || !sameUpdates(s.updatesOf(pu), perms2) {
		t.Fatal("PermissionsUpdated does not carry the updates sent")
	}
	if e := s.plugin("getAccessControlEntry", s.account, Address(k2), A.TestTarget); !e[0].(bool) || !e[1].(bool) {
		t.Fatalf("access entry %v", e)
	}
	if !s.plugin("isSelectorOnAccessControlList", s.account, Address(k2), A.TestTarget, [4]byte(target[:4]))[0].(bool) {
		t.Fatal("ping selector not on the list")
	}

	// 6. Rotate it: the registration and permissions move to the new key, at the head.
	k3, _ := crypto.GenerateKey()
	pred, _ := c.Predecessor(ctx, s.account, Address(k2))
	if pred != [32]byte(common.LeftPadBytes([]byte{1}, 32)) {
		t.Fatalf("predecessor of the head %x, want the sentinel", pred)
	}
	rot, _ := c.RotateSessionKeyCall(Address(k2), pred, Address(k3))
	r = s.op(rot, nil, owner)
	ro := s.one(r, A.SessionKeyPlugin, c.abis.plugin, "SessionKeyRotated")
	if addrTopic(ro.Topics[1]) != s.account || addrTopic(ro.Topics[2]) != Address(k2) || addrTopic(ro.Topics[3]) != Address(k3) {
		t.Fatalf("SessionKeyRotated %v", ro.Topics)
	}
	if ks := s.keys(); !reflect.DeepEqual(ks, []common.Address{Address(k3), Address(k1)}) {
		t.Fatalf("keys after rotate %v", ks)
	}
	if s.plugin("isSessionKeyOf", s.account, Address(k2))[0].(bool) {
		t.Fatal("old key still registered")
	}
	if has, lim, _ := native(Address(k3)); !has || lim.Cmp(eth(500)) != 0 {
		t.Fatal("permissions did not move to the rotated key")
	}

	// 7. Remove it (the predecessor of k3 is the sentinel again, it is the head).
	pred, _ = c.Predecessor(ctx, s.account, Address(k3))
	rm, _ := c.RemoveSessionKeyCall(Address(k3), pred)
	r = s.op(rm, nil, owner)
	re := s.one(r, A.SessionKeyPlugin, c.abis.plugin, "SessionKeyRemoved")
	if addrTopic(re.Topics[1]) != s.account || addrTopic(re.Topics[2]) != Address(k3) {
		t.Fatalf("SessionKeyRemoved %v", re.Topics)
	}
	if ks := s.keys(); !reflect.DeepEqual(ks, []common.Address{Address(k1)}) {
		t.Fatalf("keys after remove %v", ks)
	}
	if _, err := c.call(ctx, c.abis.plugin, A.SessionKeyPlugin, "getKeyTimeRange", s.account, Address(k3)); err == nil {
		t.Fatal("views must revert for a removed key")
	}

	// 8. Execute with the installed session key within its permissions: ping with 0.1 ETH.
	r, err = c.ExecuteWithSessionKey(ctx, s.account, k1, []Call{{Target: A.TestTarget, Value: eth(100), Data: target}})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Receipt.Success {
		t.Fatalf("session-key op failed: %s", r.Receipt.Reason)
	}
	called := s.one(r, A.TestTarget, c.abis.target, "Called")
	if addrTopic(called.Topics[1]) != s.account {
		t.Fatalf("target called by %s", called.Topics[1])
	}
	if _, _, used := native(Address(k1)); used.Cmp(eth(100)) != 0 {
		t.Fatalf("native used %v, want 0.1 ETH", used)
	}

	// 9. ... and outside them: the token is not on its allowlist. The bundler refuses the op
	// with the EntryPoint's AA23 reason; nothing is mined and the nonce does not move.
	nonceBefore, _ := c.NonceOf(ctx, s.account, nil)
	transfer, _ := c.abis.erc20.Pack("transfer", Address(k1), big.NewInt(1))
	bad, _ := c.ExecuteWithSessionKeyCall([]Call{{Target: A.TestERC20, Data: transfer}}, Address(k1))
	_, err = c.SendUserOp(ctx, UserOpRequest{Sender: s.account, CallData: bad, Signer: k1,
		CallGasLimit: 200_000, VerificationGasLimit: 500_000, PreVerificationGas: 60_000})
	var re2 rpc.Error
	if !errors.As(err, &re2) || re2.ErrorCode() != -32500 || !strings.Contains(err.Error(), "AA23") {
		t.Fatalf("want -32500 AA23, got %v", err)
	}
	if n, _ := c.NonceOf(ctx, s.account, nil); n.Cmp(nonceBefore) != 0 {
		t.Fatal("a refused op consumed a nonce")
	}
	// Gas estimation refuses it the same way.
	if _, err := c.SendUserOp(ctx, UserOpRequest{Sender: s.account, CallData: bad, Signer: k1}); !errors.As(err, &re2) || re2.ErrorCode() != -32500 {
		t.Fatalf("estimation: want -32500, got %v", err)
	}
	// Over the native limit (0.1 used of 1 ETH, 2 ETH asked) is refused too.
	if _, err := c.ExecuteWithSessionKey(ctx, s.account, k1, []Call{{Target: A.TestTarget, Value: eth(2000), Data: target}}); !errors.As(err, &re2) || re2.ErrorCode() != -32500 {
		t.Fatalf("over the native limit: want -32500, got %v", err)
	}
}
