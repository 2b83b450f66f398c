package contracts_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"

	"github.com/keywarden/keywarden/contracts"
	"github.com/keywarden/keywarden/pkg/events"
)

// txGas stays under the EIP-7825 per-transaction cap (2^24) of the simulated chain's forks.
const txGas = 16_000_000

var (
	ether    = new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)
	sentinel = common.BigToHash(big.NewInt(1))
	// Expected manifest hashes: the SessionKeyPlugin one is the docs' computed value for the vendor's
	// manifest; of the Multi Owner one the docs give only the ends.
	sessionKeyManifestHash = common.HexToHash("0x833a1f0442e68769684efcd91c9fbd90948637d3d3bae76a4c7fd65f58e2947b")
)

// env is a simulated chain with the contracts deployed and one account owned by `owner`.
type env struct {
	t        *testing.T
	ctx      context.Context
	sim      *simulated.Backend
	client   simulated.Client
	deployer *ecdsa.PrivateKey
	owner    *ecdsa.PrivateKey
	stranger *ecdsa.PrivateKey
	d        *contracts.Deployment
	account  common.Address

	skp, mop, acct, factory, ep, target, erc20 abi.ABI
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if _, _, err := contracts.EntryPoint(); err != nil {
		skipOrFail(t, err)
	}
	e := &env{t: t, ctx: context.Background()}
	e.deployer, _ = crypto.GenerateKey()
	e.owner, _ = crypto.GenerateKey()
	e.stranger, _ = crypto.GenerateKey()
	alloc := types.GenesisAlloc{}
	for _, k := range []*ecdsa.PrivateKey{e.deployer, e.owner, e.stranger} {
		alloc[addrOf(k)] = types.Account{Balance: new(big.Int).Mul(ether, big.NewInt(1000))}
	}
	e.sim = simulated.NewBackend(alloc, osakaRules)
	t.Cleanup(func() { _ = e.sim.Close() })
	e.client = e.sim.Client()

	auth := bind.NewKeyedTransactor(e.deployer, big.NewInt(1337))
	var err error
	e.d, err = contracts.Deploy(e.ctx, e.client, auth, contracts.DeployOptions{Mine: func() { e.sim.Commit() }, WithTestContracts: true})
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	e.skp = mustABI(t, contracts.SessionKeyPlugin)
	e.mop = mustABI(t, contracts.MultiOwnerPlugin)
	e.acct = mustABI(t, contracts.ModularAccount)
	e.factory = mustABI(t, contracts.ModularAccountFactory)
	e.target = mustABI(t, contracts.TestTarget)
	e.erc20 = mustABI(t, contracts.TestERC20)
	e.ep, _, _ = contracts.EntryPoint()

	owners := []common.Address{addrOf(e.owner)}
	e.account = common.BytesToAddress(e.mustCall(e.d.Factory, e.pack(e.factory, "getAddress", big.NewInt(0), owners)))
	rcpt := e.send(e.deployer, e.d.Factory, e.pack(e.factory, "createAccount", big.NewInt(0), owners), nil)
	e.requireOK(rcpt, "createAccount")
	return e
}

// osakaRules runs the simulated chain on mainnet's current rules: the dev config also schedules the
// unreleased Amsterdam/Bogota repricing, under which a fresh storage slot costs several times more.
func osakaRules(_ *node.Config, ec *ethconfig.Config) {
	cfg := *ec.Genesis.Config
	cfg.AmsterdamTime, cfg.BogotaTime = nil, nil
	ec.Genesis.Config = &cfg
}

func addrOf(k *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(k.PublicKey) }

func (e *env) pack(a abi.ABI, method string, args ...any) []byte {
	e.t.Helper()
	b, err := a.Pack(method, args...)
	if err != nil {
		e.t.Fatalf("pack %s: %v", method, err)
	}
	return b
}

// send signs and mines one transaction; the receipt may be a failure.
func (e *env) send(from *ecdsa.PrivateKey, to common.Address, data []byte, value *big.Int) *types.Receipt {
	e.t.Helper()
	nonce, err := e.client.PendingNonceAt(e.ctx, addrOf(from))
	if err != nil {
		e.t.Fatal(err)
	}
	head, err := e.client.HeaderByNumber(e.ctx, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if value == nil {
		value = new(big.Int)
	}
	feeCap := new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), big.NewInt(1e9))
	tx := types.NewTx(&types.DynamicFeeTx{
		ChainID: big.NewInt(1337), Nonce: nonce, GasTipCap: big.NewInt(1e9), GasFeeCap: feeCap,
		Gas: txGas, To: &to, Value: value, Data: data,
	})
	signed, err := types.SignTx(tx, types.LatestSignerForChainID(big.NewInt(1337)), from)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.client.SendTransaction(e.ctx, signed); err != nil {
		e.t.Fatalf("send: %v", err)
	}
	e.sim.Commit()
	rcpt, err := e.client.TransactionReceipt(e.ctx, signed.Hash())
	if err != nil {
		e.t.Fatalf("receipt: %v", err)
	}
	return rcpt
}

func (e *env) requireOK(r *types.Receipt, what string) {
	e.t.Helper()
	if r.Status != types.ReceiptStatusSuccessful {
		e.t.Fatalf("%s: transaction reverted", what)
	}
}

func (e *env) call(from, to common.Address, data []byte) ([]byte, error) {
	return e.client.CallContract(e.ctx, ethereum.CallMsg{From: from, To: &to, Data: data, Gas: txGas}, nil)
}

func (e *env) mustCall(to common.Address, data []byte) []byte {
	e.t.Helper()
	out, err := e.call(common.Address{}, to, data)
	if err != nil {
		e.t.Fatalf("call %x: %v (%s)", data[:4], err, e.revertName(err))
	}
	return out
}

// view calls a view of `a` at `to` and unpacks its outputs.
func (e *env) view(a abi.ABI, to common.Address, method string, args ...any) []any {
	e.t.Helper()
	out := e.mustCall(to, e.pack(a, method, args...))
	vals, err := a.Unpack(method, out)
	if err != nil {
		e.t.Fatalf("unpack %s: %v", method, err)
	}
	return vals
}

// revertName decodes the custom error of a failed call as Name or Name(arg,...) with nested bytes decoded.
func (e *env) revertName(err error) string {
	var de interface{ ErrorData() any }
	if !errors.As(err, &de) {
		return "no revert data: " + err.Error()
	}
	s, _ := de.ErrorData().(string)
	data, decErr := hexutil.Decode(s)
	if decErr != nil {
		return "undecodable revert data"
	}
	return e.decodeRevert(data)
}

func (e *env) decodeRevert(data []byte) string {
	if len(data) < 4 {
		return fmt.Sprintf("empty revert (%x)", data)
	}
	for _, a := range []abi.ABI{e.acct, e.skp, e.mop, e.factory, e.ep, e.target, e.erc20} {
		for _, er := range a.Errors {
			if !bytes.Equal(er.ID[:4], data[:4]) {
				continue
			}
			vals, err := er.Unpack(data)
			if err != nil {
				return er.Name
			}
			parts := []string{}
			for _, v := range vals.([]any) {
				if b, ok := v.([]byte); ok && len(b) >= 4 {
					parts = append(parts, e.decodeRevert(b))
				} else {
					parts = append(parts, fmt.Sprint(v))
				}
			}
			return er.Name + "(" + strings.Join(parts, ",") + ")"
		}
	}
	return fmt.Sprintf("unknown revert %x", data)
}

// expectRevert checks that a call from `from` reverts with an error whose decoded text starts with want,
// and that the same transaction fails on chain.
func (e *env) expectRevert(from *ecdsa.PrivateKey, to common.Address, data []byte, want string) {
	e.t.Helper()
	_, err := e.call(addrOf(from), to, data)
	if err == nil {
		e.t.Fatalf("call %x succeeded, want revert %s", data[:4], want)
	}
	if got := e.revertName(err); !strings.HasPrefix(got, want) {
		e.t.Fatalf("call %x reverted %s, want %s", data[:4], got, want)
	}
	if r := e.send(from, to, data, nil); r.Status == types.ReceiptStatusSuccessful {
		e.t.Fatalf("transaction %x succeeded, want revert %s", data[:4], want)
	}
}

// logs returns the receipt's logs of event `name` of `a`, emitted by `emitter`.
func (e *env) logs(r *types.Receipt, a abi.ABI, name string, emitter common.Address) []*types.Log {
	var out []*types.Log
	id := a.Events[name].ID
	for _, l := range r.Logs {
		if len(l.Topics) > 0 && l.Topics[0] == id && l.Address == emitter {
			out = append(out, l)
		}
	}
	return out
}

func (e *env) one(r *types.Receipt, a abi.ABI, name string, emitter common.Address) *types.Log {
	e.t.Helper()
	ls := e.logs(r, a, name, emitter)
	if len(ls) != 1 {
		e.t.Fatalf("%d %s logs from %s, want 1", len(ls), name, emitter)
	}
	return ls[0]
}

func topicAddr(a common.Address) common.Hash { return common.BytesToHash(a.Bytes()) }

func leftAligned(a common.Address) common.Hash {
	var h common.Hash
	copy(h[:20], a.Bytes())
	return h
}

func dependencies(mo common.Address) [][21]byte {
	var runtime, userOp [21]byte
	copy(runtime[:], mo.Bytes())
	copy(userOp[:], mo.Bytes())
	userOp[20] = 1
	return [][21]byte{runtime, userOp}
}

// update encodes one permission update with events' Update types.
func update(t *testing.T, u events.Update) []byte {
	t.Helper()
	return u.Encode()
}

func (e *env) installData(keys []common.Address, tags []common.Hash, perms [][][]byte) []byte {
	e.t.Helper()
	args := abi.Arguments{{Type: mustType("address[]")}, {Type: mustType("bytes32[]")}, {Type: mustType("bytes[][]")}}
	tg := make([][32]byte, len(tags))
	for i, h := range tags {
		tg[i] = h
	}
	b, err := args.Pack(keys, tg, perms)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func mustType(s string) abi.Type {
	ty, err := abi.NewType(s, "", nil)
	if err != nil {
		panic(err)
	}
	return ty
}

func (e *env) manifestHash(plugin common.Address) common.Hash {
	out := e.mustCall(plugin, e.pack(e.skp, "pluginManifest"))
	return crypto.Keccak256Hash(out)
}

// install puts the Session Key Plugin on the account from the owner EOA with initial keys.
func (e *env) install(keys []common.Address, tags []common.Hash, perms [][][]byte) *types.Receipt {
	e.t.Helper()
	data := e.pack(e.acct, "installPlugin", e.d.SessionKeyPlugin, e.manifestHash(e.d.SessionKeyPlugin),
		e.installData(keys, tags, perms), dependencies(e.d.MultiOwnerPlugin))
	r := e.send(e.owner, e.account, data, nil)
	e.requireOK(r, "installPlugin")
	return r
}

func (e *env) keys() []common.Address {
	return e.view(e.skp, e.d.SessionKeyPlugin, "sessionKeysOf", e.account)[0].([]common.Address)
}

func (e *env) pred(key common.Address) common.Hash {
	return common.Hash(e.view(e.skp, e.d.SessionKeyPlugin, "findPredecessor", e.account, key)[0].([32]byte))
}

func newKey(t *testing.T) (*ecdsa.PrivateKey, common.Address) {
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k, addrOf(k)
}

// TestDeployAndOwnerFlow deploys everything on the simulated backend, creates an account, installs the Session
// Key Plugin and adds/removes keys with plain transactions from the owner EOA, checking events and views.
func TestDeployAndOwnerFlow(t *testing.T) {
	e := newEnv(t)
	names := make([]string, 0, len(e.d.GasUsed))
	for n := range e.d.GasUsed {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Logf("deploy gas %-22s %9d", n, e.d.GasUsed[n])
	}

	// The account: Multi Owner installed, owner registered.
	if code, _ := e.client.CodeAt(e.ctx, e.account, nil); len(code) == 0 {
		t.Fatal("no code at the factory's predicted address")
	}
	if got := e.view(e.acct, e.account, "getInstalledPlugins")[0].([]common.Address); len(got) != 1 || got[0] != e.d.MultiOwnerPlugin {
		t.Fatalf("getInstalledPlugins = %v, want [multiOwner]", got)
	}
	if got := e.view(e.mop, e.d.MultiOwnerPlugin, "ownersOf", e.account)[0].([]common.Address); len(got) != 1 || got[0] != addrOf(e.owner) {
		t.Fatalf("ownersOf = %v", got)
	}
	if !e.view(e.mop, e.d.MultiOwnerPlugin, "isOwnerOf", e.account, addrOf(e.owner))[0].(bool) {
		t.Fatal("isOwnerOf(owner) = false")
	}

	// Manifest hashes as the vendor's plugins have them.
	if got := e.manifestHash(e.d.SessionKeyPlugin); got != sessionKeyManifestHash {
		t.Errorf("SessionKeyPlugin manifest hash %s, want %s", got, sessionKeyManifestHash)
	}
	if got := e.manifestHash(e.d.MultiOwnerPlugin).Hex(); !strings.HasPrefix(got, "0x21d0f6cc") || !strings.HasSuffix(got, "d0fb") {
		t.Errorf("MultiOwnerPlugin manifest hash %s, want 0x21d0f6cc…d0fb", got)
	}

	// Install with one key and two updates.
	k1 := common.HexToAddress("0x1000000000000000000000000000000000000001")
	tag1 := common.HexToHash("0x7461673100000000000000000000000000000000000000000000000000000000")
	ups := [][]byte{update(t, events.SetAccessListType{Type: events.AccessAllowAll}), update(t, events.SetNativeTokenSpendLimit{Limit: events.MaxU256, RefreshInterval: 0})}
	r := e.install([]common.Address{k1}, []common.Hash{tag1}, [][][]byte{ups})
	added := e.one(r, e.skp, "SessionKeyAdded", e.d.SessionKeyPlugin)
	if added.Topics[1] != topicAddr(e.account) || added.Topics[2] != topicAddr(k1) || added.Topics[3] != tag1 {
		t.Fatalf("SessionKeyAdded topics %v", added.Topics)
	}
	pu := e.one(r, e.skp, "PermissionsUpdated", e.d.SessionKeyPlugin)
	vals, err := e.skp.Events["PermissionsUpdated"].Inputs.NonIndexed().Unpack(pu.Data)
	if err != nil || len(vals[0].([][]byte)) != 2 || !bytes.Equal(vals[0].([][]byte)[1], ups[1]) {
		t.Fatalf("PermissionsUpdated data %v, %v", vals, err)
	}
	inst := e.one(r, e.acct, "PluginInstalled", e.account)
	if inst.Topics[1] != topicAddr(e.d.SessionKeyPlugin) {
		t.Fatalf("PluginInstalled plugin topic %s", inst.Topics[1])
	}
	if got := e.view(e.acct, e.account, "getInstalledPlugins")[0].([]common.Address); len(got) != 2 || got[0] != e.d.SessionKeyPlugin {
		t.Fatalf("getInstalledPlugins = %v, want [sessionKey, multiOwner]", got)
	}
	// Routing as the manifest wired it: removeSessionKey goes to the plugin, validated by the owner plugin
	// (user op: function 1, runtime: function 0); executeWithSessionKey by the plugin's own function 0.
	deps := dependencies(e.d.MultiOwnerPlugin)
	var selfCheck [21]byte
	copy(selfCheck[:], e.d.SessionKeyPlugin.Bytes())
	for _, c := range []struct {
		method          string
		userOp, runtime [21]byte
	}{
		{"removeSessionKey", deps[1], deps[0]},
		{"executeWithSessionKey", selfCheck, [21]byte{}},
	} {
		cfg := e.view(e.acct, e.account, "getExecutionFunctionConfig", [4]byte(e.skp.Methods[c.method].ID))[0]
		got := abi.ConvertType(cfg, new(struct {
			Plugin                    common.Address
			UserOpValidationFunction  [21]byte
			RuntimeValidationFunction [21]byte
		})).(*struct {
			Plugin                    common.Address
			UserOpValidationFunction  [21]byte
			RuntimeValidationFunction [21]byte
		})
		if got.Plugin != e.d.SessionKeyPlugin || got.UserOpValidationFunction != c.userOp || got.RuntimeValidationFunction != c.runtime {
			t.Fatalf("getExecutionFunctionConfig(%s) = %+v", c.method, got)
		}
	}

	// Add a second key directly from the owner: no PermissionsUpdated without updates.
	k2 := common.HexToAddress("0x2000000000000000000000000000000000000002")
	r = e.send(e.owner, e.account, e.pack(e.skp, "addSessionKey", k2, [32]byte{}, [][]byte{}), nil)
	e.requireOK(r, "addSessionKey")
	e.one(r, e.skp, "SessionKeyAdded", e.d.SessionKeyPlugin)
	if n := len(e.logs(r, e.skp, "PermissionsUpdated", e.d.SessionKeyPlugin)); n != 0 {
		t.Fatalf("%d PermissionsUpdated logs for an add without updates", n)
	}
	if got := e.keys(); len(got) != 2 || got[0] != k2 || got[1] != k1 {
		t.Fatalf("sessionKeysOf = %v, want [k2 k1]", got)
	}
	if got := e.pred(k2); got != sentinel {
		t.Fatalf("findPredecessor(head) = %s", got)
	}
	if got := e.pred(k1); got != leftAligned(k2) {
		t.Fatalf("findPredecessor(k1) = %s, want %s", got, leftAligned(k2))
	}
	e.expectRevert(e.owner, e.d.SessionKeyPlugin, e.pack(e.skp, "findPredecessor", e.account, common.HexToAddress("0x99")), "SessionKeyNotFound")

	// Who may call: a stranger may not; duplicates and the zero key are refused.
	e.expectRevert(e.stranger, e.account, e.pack(e.skp, "addSessionKey", common.HexToAddress("0x33"), [32]byte{}, [][]byte{}), "RuntimeValidationFunctionReverted(")
	e.expectRevert(e.owner, e.account, e.pack(e.skp, "addSessionKey", k1, [32]byte{}, [][]byte{}), "InvalidSessionKey")
	e.expectRevert(e.owner, e.account, e.pack(e.skp, "addSessionKey", common.Address{}, [32]byte{}, [][]byte{}), "InvalidSessionKey")
	// Session keys only act through user operations; plugins are not reachable with execute.
	e.expectRevert(e.owner, e.account, e.pack(e.skp, "executeWithSessionKey", []contractsCall{}, k1), "AlwaysDenyRule")
	e.expectRevert(e.owner, e.account, e.pack(e.acct, "execute", e.d.SessionKeyPlugin, big.NewInt(0), e.pack(e.skp, "removeSessionKey", k1, leftAligned(k2))), "PluginCallDenied")

	// Remove k1: wrong (right-aligned) predecessor first.
	e.expectRevert(e.owner, e.account, e.pack(e.skp, "removeSessionKey", k1, common.BytesToHash(k2.Bytes())), "InvalidSessionKey")
	r = e.send(e.owner, e.account, e.pack(e.skp, "removeSessionKey", k1, e.pred(k1)), nil)
	e.requireOK(r, "removeSessionKey")
	rm := e.one(r, e.skp, "SessionKeyRemoved", e.d.SessionKeyPlugin)
	if rm.Topics[1] != topicAddr(e.account) || rm.Topics[2] != topicAddr(k1) {
		t.Fatalf("SessionKeyRemoved topics %v", rm.Topics)
	}
	if e.view(e.skp, e.d.SessionKeyPlugin, "isSessionKeyOf", e.account, k1)[0].(bool) {
		t.Fatal("isSessionKeyOf(k1) after removal")
	}
	e.expectRevert(e.owner, e.d.SessionKeyPlugin, e.pack(e.skp, "getKeyTimeRange", e.account, k1), "InvalidSessionKey")

	// Batched self-call: the owner removes k2 through executeBatch targeting the account.
	batch := []contractsCall{{Target: e.account, Value: big.NewInt(0), Data: e.pack(e.skp, "removeSessionKey", k2, sentinel)}}
	r = e.send(e.owner, e.account, e.pack(e.acct, "executeBatch", batch), nil)
	e.requireOK(r, "executeBatch(removeSessionKey)")
	e.one(r, e.skp, "SessionKeyRemoved", e.d.SessionKeyPlugin)
	if got := e.keys(); len(got) != 0 {
		t.Fatalf("sessionKeysOf after removals = %v", got)
	}
}

// contractsCall is the (target, value, data) tuple of executeBatch and executeWithSessionKey.
type contractsCall struct {
	Target common.Address
	Value  *big.Int
	Data   []byte
}

type spendInfo struct {
	HasLimit        bool
	Limit           *big.Int
	LimitUsed       *big.Int
	RefreshInterval *big.Int
	LastUsedTime    *big.Int
}

func (e *env) spendInfo(method string, args ...any) spendInfo {
	e.t.Helper()
	v := e.view(e.skp, e.d.SessionKeyPlugin, method, args...)[0]
	var s spendInfo
	if err := copyStruct(v, &s); err != nil {
		e.t.Fatal(err)
	}
	return s
}

// copyStruct moves an abi-unpacked anonymous struct into s (abi.ConvertType does it by field name).
func copyStruct(v any, s *spendInfo) error {
	out, ok := abi.ConvertType(v, s).(*spendInfo)
	if !ok {
		return fmt.Errorf("unexpected %T", v)
	}
	*s = *out
	return nil
}

func (e *env) blockTime(r *types.Receipt) uint64 {
	h, err := e.client.HeaderByNumber(e.ctx, r.BlockNumber)
	if err != nil {
		e.t.Fatal(err)
	}
	return h.Time
}

// TestPermissionUpdates checks defaults, each update's effect on the views, rotation and reinstall.
func TestPermissionUpdates(t *testing.T) {
	e := newEnv(t)
	k := common.HexToAddress("0xa00000000000000000000000000000000000000a")
	e.install([]common.Address{k}, []common.Hash{{}}, [][][]byte{{}})
	sk := e.d.SessionKeyPlugin

	// Defaults of a fresh key.
	if ty := e.view(e.skp, sk, "getAccessControlType", e.account, k)[0].(uint8); ty != 0 {
		t.Fatalf("default access type %d", ty)
	}
	if tr := e.view(e.skp, sk, "getKeyTimeRange", e.account, k); tr[0].(*big.Int).Sign() != 0 || tr[1].(*big.Int).Sign() != 0 {
		t.Fatalf("default time range %v", tr)
	}
	if n := e.spendInfo("getNativeTokenSpendLimitInfo", e.account, k); !n.HasLimit || n.Limit.Sign() != 0 {
		t.Fatalf("default native limit %+v", n)
	}
	if g := e.spendInfo("getGasSpendLimit", e.account, k); g.HasLimit {
		t.Fatalf("default gas limit %+v", g)
	}
	if pm := e.view(e.skp, sk, "getRequiredPaymaster", e.account, k)[0].(common.Address); pm != (common.Address{}) {
		t.Fatalf("default paymaster %s", pm)
	}

	target := e.d.TestTarget
	token := e.d.TestERC20
	sel := events.Selector{0x12, 0x34, 0x56, 0x78}
	ups := [][]byte{
		update(t, events.SetAccessListType{Type: events.AccessDenylist}),
		update(t, events.UpdateAccessListAddressEntry{Target: events.Address(target), IsOnList: true, CheckSelectors: true}),
		update(t, events.UpdateAccessListFunctionEntry{Target: events.Address(target), Function: sel, IsOnList: true}),
		update(t, events.UpdateTimeRange{ValidAfter: 100, ValidUntil: 5000000000}),
		update(t, events.SetNativeTokenSpendLimit{Limit: events.U256From64(1000), RefreshInterval: 3600}),
		update(t, events.SetERC20SpendLimit{Token: events.Address(token), Limit: events.U256From64(50), RefreshInterval: 0}),
		update(t, events.SetGasSpendLimit{Limit: events.U256From64(7), RefreshInterval: 60}),
		update(t, events.SetRequiredPaymaster{Paymaster: events.Address(common.HexToAddress("0xbeef"))}),
	}
	r := e.send(e.owner, e.account, e.pack(e.skp, "updateKeyPermissions", k, ups), nil)
	e.requireOK(r, "updateKeyPermissions")
	now := e.blockTime(r)
	e.one(r, e.skp, "PermissionsUpdated", sk)

	if ty := e.view(e.skp, sk, "getAccessControlType", e.account, k)[0].(uint8); ty != 1 {
		t.Fatalf("access type %d", ty)
	}
	if en := e.view(e.skp, sk, "getAccessControlEntry", e.account, k, target); !en[0].(bool) || !en[1].(bool) {
		t.Fatalf("access entry %v", en)
	}
	if !e.view(e.skp, sk, "isSelectorOnAccessControlList", e.account, k, target, [4]byte(sel))[0].(bool) {
		t.Fatal("selector not on list")
	}
	if tr := e.view(e.skp, sk, "getKeyTimeRange", e.account, k); tr[0].(*big.Int).Uint64() != 100 || tr[1].(*big.Int).Uint64() != 5000000000 {
		t.Fatalf("time range %v", tr)
	}
	if n := e.spendInfo("getNativeTokenSpendLimitInfo", e.account, k); !n.HasLimit || n.Limit.Uint64() != 1000 || n.RefreshInterval.Uint64() != 3600 || n.LastUsedTime.Uint64() != now {
		t.Fatalf("native limit %+v (block time %d)", n, now)
	}
	if n := e.spendInfo("getERC20SpendLimitInfo", e.account, k, token); !n.HasLimit || n.Limit.Uint64() != 50 || n.LastUsedTime.Sign() != 0 {
		t.Fatalf("erc20 limit %+v", n)
	}
	if g := e.spendInfo("getGasSpendLimit", e.account, k); !g.HasLimit || g.Limit.Uint64() != 7 || g.LastUsedTime.Uint64() != now {
		t.Fatalf("gas limit %+v", g)
	}
	if pm := e.view(e.skp, sk, "getRequiredPaymaster", e.account, k)[0].(common.Address); pm != common.HexToAddress("0xbeef") {
		t.Fatalf("paymaster %s", pm)
	}

	// Switching off: max disables, zero paymaster removes the rule.
	off := [][]byte{
		update(t, events.SetNativeTokenSpendLimit{Limit: events.MaxU256}),
		update(t, events.SetGasSpendLimit{Limit: events.MaxU256}),
		update(t, events.SetERC20SpendLimit{Token: events.Address(token), Limit: events.MaxU256}),
		update(t, events.SetRequiredPaymaster{}),
	}
	e.requireOK(e.send(e.owner, e.account, e.pack(e.skp, "updateKeyPermissions", k, off), nil), "disable limits")
	if n := e.spendInfo("getNativeTokenSpendLimitInfo", e.account, k); n.HasLimit || n.Limit.Sign() != 0 {
		t.Fatalf("native limit after max %+v", n)
	}
	if n := e.spendInfo("getERC20SpendLimitInfo", e.account, k, token); n.HasLimit || n.Limit.Uint64() != 50 || n.LimitUsed.Sign() != 0 {
		t.Fatalf("erc20 after max %+v (stored figures stay, usage zeroed)", n)
	}
	if pm := e.view(e.skp, sk, "getRequiredPaymaster", e.account, k)[0].(common.Address); pm != (common.Address{}) {
		t.Fatalf("paymaster after zero %s", pm)
	}

	// Invalid updates revert the whole call.
	e.expectRevert(e.owner, e.account, e.pack(e.skp, "updateKeyPermissions", k, [][]byte{update(t, events.SetERC20SpendLimit{Limit: events.U256From64(1)})}), "InvalidToken")
	e.expectRevert(e.owner, e.account, e.pack(e.skp, "updateKeyPermissions", k, [][]byte{{0xde, 0xad, 0xbe, 0xef}}), "InvalidPermissionsUpdate([222 173 190 239])")
	e.expectRevert(e.owner, e.account, e.pack(e.skp, "updateKeyPermissions", k, [][]byte{{0x01}}), "InvalidPermissionsUpdate")
	e.expectRevert(e.owner, e.account, e.pack(e.skp, "updateKeyPermissions", common.HexToAddress("0x77"), [][]byte{}), "InvalidSessionKey")

	// Rotation moves everything to the new key; the old address re-added starts from defaults.
	k2 := common.HexToAddress("0xb00000000000000000000000000000000000000b")
	r = e.send(e.owner, e.account, e.pack(e.skp, "rotateSessionKey", k, e.pred(k), k2), nil)
	e.requireOK(r, "rotateSessionKey")
	rot := e.one(r, e.skp, "SessionKeyRotated", sk)
	if rot.Topics[2] != topicAddr(k) || rot.Topics[3] != topicAddr(k2) {
		t.Fatalf("SessionKeyRotated topics %v", rot.Topics)
	}
	if tr := e.view(e.skp, sk, "getKeyTimeRange", e.account, k2); tr[0].(*big.Int).Uint64() != 100 {
		t.Fatalf("rotated key time range %v", tr)
	}
	e.expectRevert(e.owner, sk, e.pack(e.skp, "getKeyTimeRange", e.account, k), "InvalidSessionKey")
	e.requireOK(e.send(e.owner, e.account, e.pack(e.skp, "addSessionKey", k, [32]byte{}, [][]byte{}), nil), "re-add")
	if tr := e.view(e.skp, sk, "getKeyTimeRange", e.account, k); tr[0].(*big.Int).Sign() != 0 {
		t.Fatalf("re-added key inherits time range %v", tr)
	}
	if got := e.keys(); len(got) != 2 || got[0] != k || got[1] != k2 {
		t.Fatalf("keys after rotate and re-add %v", got)
	}
	// Rotating a key into itself is allowed and keeps its permissions.
	e.requireOK(e.send(e.owner, e.account, e.pack(e.skp, "rotateSessionKey", k2, e.pred(k2), k2), nil), "self-rotate")
	if got := e.keys(); got[0] != k2 {
		t.Fatalf("self-rotated key not at head: %v", got)
	}

	// Uninstall: a SessionKeyRemoved per key, then an empty list; reinstalling never revives permissions.
	r = e.send(e.owner, e.account, e.pack(e.acct, "uninstallPlugin", sk, []byte{}, []byte{}), nil)
	e.requireOK(r, "uninstallPlugin")
	if n := len(e.logs(r, e.skp, "SessionKeyRemoved", sk)); n != 2 {
		t.Fatalf("%d SessionKeyRemoved on uninstall, want 2", n)
	}
	un := e.one(r, e.acct, "PluginUninstalled", e.account)
	if un.Topics[2] != common.BigToHash(big.NewInt(1)) {
		t.Fatalf("PluginUninstalled onUninstallSucceeded topic %s", un.Topics[2])
	}
	if got := e.keys(); len(got) != 0 {
		t.Fatalf("keys after uninstall %v", got)
	}
	e.install([]common.Address{k2}, []common.Hash{{}}, [][][]byte{{}})
	if tr := e.view(e.skp, sk, "getKeyTimeRange", e.account, k2); tr[0].(*big.Int).Sign() != 0 {
		t.Fatalf("reinstalled key revived time range %v", tr)
	}
}

// ─── user operations through the real EntryPoint ─────────────────────────────────────────────────────

type userOp struct {
	Sender               common.Address
	Nonce                *big.Int
	InitCode             []byte
	CallData             []byte
	CallGasLimit         *big.Int
	VerificationGasLimit *big.Int
	PreVerificationGas   *big.Int
	MaxFeePerGas         *big.Int
	MaxPriorityFeePerGas *big.Int
	PaymasterAndData     []byte
	Signature            []byte
}

func (e *env) newOp(sender common.Address, nonceKey *big.Int, callData []byte) *userOp {
	e.t.Helper()
	if nonceKey == nil {
		nonceKey = new(big.Int)
	}
	nonce := e.view(e.ep, e.d.EntryPoint, "getNonce", sender, nonceKey)[0].(*big.Int)
	return &userOp{
		Sender: sender, Nonce: nonce, CallData: callData, InitCode: []byte{}, PaymasterAndData: []byte{},
		CallGasLimit: big.NewInt(5_000_000), VerificationGasLimit: big.NewInt(3_000_000), PreVerificationGas: big.NewInt(60_000),
		MaxFeePerGas: big.NewInt(20e9), MaxPriorityFeePerGas: big.NewInt(1e9),
	}
}

// sign sets a personal-sign signature (r||s||v, v 27/28) over the EntryPoint's userOpHash.
func (e *env) sign(op *userOp, key *ecdsa.PrivateKey) common.Hash {
	e.t.Helper()
	op.Signature = []byte{}
	hash := common.Hash(e.view(e.ep, e.d.EntryPoint, "getUserOpHash", *op)[0].([32]byte))
	digest := crypto.Keccak256(append([]byte("\x19Ethereum Signed Message:\n32"), hash[:]...))
	sig, err := crypto.Sign(digest, key)
	if err != nil {
		e.t.Fatal(err)
	}
	sig[64] += 27
	op.Signature = sig
	return hash
}

// handle sends handleOps([op]). On a validation failure it returns the FailedOp text and no receipt.
func (e *env) handle(op *userOp) (*types.Receipt, string) {
	e.t.Helper()
	data := e.pack(e.ep, "handleOps", []userOp{*op}, addrOf(e.deployer))
	if _, err := e.call(addrOf(e.deployer), e.d.EntryPoint, data); err != nil {
		return nil, e.revertName(err)
	}
	r := e.send(e.deployer, e.d.EntryPoint, data, nil)
	e.requireOK(r, "handleOps")
	return r, ""
}

func (e *env) opSucceeded(r *types.Receipt) bool {
	e.t.Helper()
	l := e.one(r, e.ep, "UserOperationEvent", e.d.EntryPoint)
	vals, err := e.ep.Events["UserOperationEvent"].Inputs.NonIndexed().Unpack(l.Data)
	if err != nil {
		e.t.Fatal(err)
	}
	if ok := vals[1].(bool); ok {
		return true
	}
	for _, rr := range e.logs(r, e.ep, "UserOperationRevertReason", e.d.EntryPoint) {
		v, err := e.ep.Events["UserOperationRevertReason"].Inputs.NonIndexed().Unpack(rr.Data)
		if err == nil {
			e.t.Logf("user op reverted: %s", e.decodeRevert(v[1].([]byte)))
		}
	}
	return false
}

// TestUserOperations runs owner and session-key user operations through the EntryPoint v0.6: a counterfactual
// account made by initCode, an owner op adding a key, a session-key op within and outside its permissions,
// an ERC-20 breach at execution, and a wrong signer.
func TestUserOperations(t *testing.T) {
	e := newEnv(t)

	// Counterfactual account of a second owner set, created by the user op's initCode.
	_, other := newKey(t)
	owners := []common.Address{addrOf(e.owner), other}
	if bytes.Compare(owners[0].Bytes(), owners[1].Bytes()) > 0 {
		owners[0], owners[1] = owners[1], owners[0]
	}
	cf := common.BytesToAddress(e.mustCall(e.d.Factory, e.pack(e.factory, "getAddress", big.NewInt(7), owners)))
	e.requireOK(e.send(e.deployer, cf, nil, ether), "fund counterfactual account")
	op := e.newOp(cf, nil, e.pack(e.acct, "execute", e.d.TestTarget, big.NewInt(0), e.pack(e.target, "ping", big.NewInt(1))))
	op.InitCode = append(e.d.Factory.Bytes(), e.pack(e.factory, "createAccount", big.NewInt(7), owners)...)
	op.VerificationGasLimit = big.NewInt(3_000_000) // account creation (~0.7M gas) runs inside validation
	e.sign(op, e.owner)
	r, failed := e.handle(op)
	if failed != "" {
		t.Fatalf("initCode op failed: %s", failed)
	}
	e.one(r, e.ep, "AccountDeployed", e.d.EntryPoint)
	if !e.opSucceeded(r) {
		t.Fatal("initCode op execution failed")
	}
	e.expectRevert(e.owner, e.d.Factory, e.pack(e.factory, "getAddress", big.NewInt(7), []common.Address{owners[1], owners[0]}), "InvalidOwner")

	// The main account: fund it, install the plugin with an owner user op (raw installPlugin callData).
	e.requireOK(e.send(e.deployer, e.account, nil, new(big.Int).Mul(ether, big.NewInt(5))), "fund account")
	skKey, sk := newKey(t)
	allowTarget := [][]byte{
		update(t, events.UpdateAccessListAddressEntry{Target: events.Address(e.d.TestTarget), IsOnList: true}),
		update(t, events.UpdateAccessListAddressEntry{Target: events.Address(e.d.TestERC20), IsOnList: true}),
		update(t, events.SetNativeTokenSpendLimit{Limit: events.U256From64(1000)}),
		update(t, events.SetERC20SpendLimit{Token: events.Address(e.d.TestERC20), Limit: events.U256From64(100)}),
	}
	op = e.newOp(e.account, nil, e.pack(e.acct, "installPlugin", e.d.SessionKeyPlugin, e.manifestHash(e.d.SessionKeyPlugin),
		e.installData([]common.Address{sk}, []common.Hash{{}}, [][][]byte{allowTarget}), dependencies(e.d.MultiOwnerPlugin)))
	e.sign(op, e.owner)
	if r, failed = e.handle(op); failed != "" || !e.opSucceeded(r) {
		t.Fatalf("install op: %s", failed)
	}
	e.one(r, e.skp, "SessionKeyAdded", e.d.SessionKeyPlugin)

	// Within permissions: ping with 10 wei.
	call := func(target common.Address, value int64, data []byte) []contractsCall {
		return []contractsCall{{Target: target, Value: big.NewInt(value), Data: data}}
	}
	op = e.newOp(e.account, nil, e.pack(e.skp, "executeWithSessionKey", call(e.d.TestTarget, 10, e.pack(e.target, "ping", big.NewInt(2))), sk))
	e.sign(op, skKey)
	if r, failed = e.handle(op); failed != "" || !e.opSucceeded(r) {
		t.Fatalf("session-key op within permissions: %q", failed)
	}
	if n := e.view(e.target, e.d.TestTarget, "counter")[0].(*big.Int); n.Uint64() != 2 { // the initCode op pinged once
		t.Fatalf("target counter %d", n)
	}
	if used := e.spendInfo("getNativeTokenSpendLimitInfo", e.account, sk).LimitUsed; used.Uint64() != 10 {
		t.Fatalf("native used %d, want 10", used)
	}

	// Outside permissions: a target not on the allowlist, and a value over the native limit.
	op = e.newOp(e.account, nil, e.pack(e.skp, "executeWithSessionKey", call(e.d.Factory, 0, nil), sk))
	e.sign(op, skKey)
	if _, failed = e.handle(op); !strings.Contains(failed, "AA23") {
		t.Fatalf("op to a target off the allowlist: %q, want AA23", failed)
	}
	op = e.newOp(e.account, nil, e.pack(e.skp, "executeWithSessionKey", call(e.d.TestTarget, 991, nil), sk))
	e.sign(op, skKey)
	if _, failed = e.handle(op); !strings.Contains(failed, "AA23") {
		t.Fatalf("op over the native limit: %q, want AA23", failed)
	}
	// A wrong signer: AA24. No calls at all: refused.
	op = e.newOp(e.account, nil, e.pack(e.skp, "executeWithSessionKey", call(e.d.TestTarget, 0, nil), sk))
	e.sign(op, e.stranger)
	if _, failed = e.handle(op); !strings.Contains(failed, "AA24") {
		t.Fatalf("op signed by another key: %q, want AA24", failed)
	}
	op = e.newOp(e.account, nil, e.pack(e.skp, "executeWithSessionKey", []contractsCall{}, sk))
	e.sign(op, skKey)
	if _, failed = e.handle(op); !strings.Contains(failed, "AA23") {
		t.Fatalf("op with no calls: %q, want AA23", failed)
	}

	// ERC-20: transfers up to the limit pass; the breach fails at execution (op included, success=false).
	e.requireOK(e.send(e.deployer, e.d.TestERC20, e.pack(e.erc20, "mint", e.account, big.NewInt(1000)), nil), "mint")
	op = e.newOp(e.account, nil, e.pack(e.skp, "executeWithSessionKey", call(e.d.TestERC20, 0, e.pack(e.erc20, "transfer", other, big.NewInt(60))), sk))
	e.sign(op, skKey)
	if r, failed = e.handle(op); failed != "" || !e.opSucceeded(r) {
		t.Fatalf("erc20 transfer within limit: %q", failed)
	}
	op = e.newOp(e.account, nil, e.pack(e.skp, "executeWithSessionKey", call(e.d.TestERC20, 0, e.pack(e.erc20, "transfer", other, big.NewInt(41))), sk))
	e.sign(op, skKey)
	if r, failed = e.handle(op); failed != "" || e.opSucceeded(r) {
		t.Fatalf("erc20 breach: failed=%q, want an included op with success=false", failed)
	}
	e.one(r, e.ep, "UserOperationRevertReason", e.d.EntryPoint)
	if used := e.spendInfo("getERC20SpendLimitInfo", e.account, sk, e.d.TestERC20).LimitUsed; used.Uint64() != 60 {
		t.Fatalf("erc20 used %d, want 60", used)
	}

	// Time range: a key valid only in the future is refused by the EntryPoint (AA22).
	future := uint64(time.Now().Unix()) + 1_000_000
	op = e.newOp(e.account, nil, e.pack(e.skp, "updateKeyPermissions", sk, [][]byte{update(t, events.UpdateTimeRange{ValidAfter: future})}))
	e.sign(op, e.owner)
	if r, failed = e.handle(op); failed != "" || !e.opSucceeded(r) {
		t.Fatalf("owner op updating time range: %q", failed)
	}
	op = e.newOp(e.account, nil, e.pack(e.skp, "executeWithSessionKey", call(e.d.TestTarget, 0, nil), sk))
	e.sign(op, skKey)
	if _, failed = e.handle(op); !strings.Contains(failed, "AA22") {
		t.Fatalf("op before validAfter: %q, want AA22", failed)
	}
}
