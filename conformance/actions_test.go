package conformance_test

import (
	"bytes"
	"fmt"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/keywarden/keywarden/internal/sdkvectors"
	"github.com/keywarden/keywarden/pkg/events"
)

// These tests hold the SDK's action outputs to the formulas of the shared reference doc
// (session-key-plugin.md), rebuilt with go-ethereum's generic ABI packer: they check the doc and
// the vectors that pkg/actions is tested against, not pkg/actions itself.

func mustType(t testing.TB, s string, comps []abi.ArgumentMarshaling) abi.Type {
	t.Helper()
	ty, err := abi.NewType(s, "", comps)
	if err != nil {
		t.Fatalf("abi type %s: %v", s, err)
	}
	return ty
}

func args(t testing.TB, types ...string) abi.Arguments {
	out := make(abi.Arguments, len(types))
	for i, s := range types {
		var comps []abi.ArgumentMarshaling
		if s == "(address,uint256,bytes)[]" {
			s = "tuple[]"
			comps = []abi.ArgumentMarshaling{{Name: "target", Type: "address"}, {Name: "value", Type: "uint256"}, {Name: "data", Type: "bytes"}}
		}
		out[i] = abi.Argument{Type: mustType(t, s, comps)}
	}
	return out
}

// docSelectors are the execution-function selectors of the reference doc.
var docSelectors = map[string]string{
	sdkvectors.FnExecuteWithSessionKey: "0x31d99c2c",
	sdkvectors.FnAddSessionKey:         "0x9aa74d23",
	sdkvectors.FnRemoveSessionKey:      "0x64b2bd25",
	sdkvectors.FnRotateSessionKey:      "0x85cb6e95",
	sdkvectors.FnUpdateKeyPermissions:  "0xbb319893",
}

// TestActionCallDataMatchesDoc rebuilds each SDK action's callData from the doc's signature.
func TestActionCallDataMatchesDoc(t *testing.T) {
	v := sdkvectors.Load(t)
	type execCall struct {
		Target common.Address
		Value  *big.Int
		Data   []byte
	}
	m := newMismatches(t)
	for i, c := range v.Actions.Calls {
		where := fmt.Sprintf("call %d (%s)", i, c.Function)
		a := c.Args
		var packed []byte
		var err error
		switch c.Function {
		case sdkvectors.FnAddSessionKey:
			packed, err = args(t, "address", "bytes32", "bytes[]").Pack(a.SessionKey.Common(), [32]byte(a.Tag), hexList(a.PermissionUpdates))
		case sdkvectors.FnRemoveSessionKey:
			packed, err = args(t, "address", "bytes32").Pack(a.SessionKey.Common(), [32]byte(a.Predecessor))
		case sdkvectors.FnRotateSessionKey:
			packed, err = args(t, "address", "bytes32", "address").Pack(a.OldSessionKey.Common(), [32]byte(a.Predecessor), a.NewSessionKey.Common())
		case sdkvectors.FnUpdateKeyPermissions:
			packed, err = args(t, "address", "bytes[]").Pack(a.SessionKey.Common(), hexList(a.Updates))
		case sdkvectors.FnExecuteWithSessionKey:
			calls := make([]execCall, len(a.Calls))
			for j, x := range a.Calls {
				calls[j] = execCall{Target: x.Target.Common(), Value: x.Value.Big(), Data: x.Data}
			}
			packed, err = args(t, "(address,uint256,bytes)[]", "address").Pack(calls, a.SessionKey.Common())
		default:
			t.Fatalf("%s: unknown function", where)
		}
		if err != nil {
			t.Fatalf("%s: pack: %v", where, err)
		}
		want := append(common.FromHex(docSelectors[c.Function]), packed...)
		if !bytes.Equal(c.CallData, want) {
			m.addf("%s: SDK callData %x, doc's encoding %x", where, []byte(c.CallData), want)
		}
	}
	m.done("action calls", len(v.Actions.Calls))
}

func hexList[T ~[]byte](xs []T) [][]byte {
	out := make([][]byte, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// TestInstallPayloadMatchesDoc checks installSessionKeyPlugin's payload against the doc:
// installPlugin(plugin, manifestHash, abi.encode(address[],bytes32[],bytes[][]), [multiOwner‖0x00, multiOwner‖0x01]).
func TestInstallPayloadMatchesDoc(t *testing.T) {
	v := sdkvectors.Load(t)
	m := newMismatches(t)
	for i, in := range v.Actions.Installs {
		where := fmt.Sprintf("install %d (chain %d)", i, in.ChainID)
		m.eq(where, "plugin", in.Plugin, events.SessionKeyPluginV101)
		keys := make([]common.Address, len(in.Keys))
		for j, k := range in.Keys {
			keys[j] = k.Common()
		}
		tags := make([][32]byte, len(in.Tags))
		for j, tg := range in.Tags {
			tags[j] = tg
		}
		perms := make([][][]byte, len(in.Permissions))
		for j, p := range in.Permissions {
			perms[j] = hexList(p)
		}
		data, err := args(t, "address[]", "bytes32[]", "bytes[][]").Pack(keys, tags, perms)
		if err != nil {
			t.Fatalf("%s: pack install data: %v", where, err)
		}
		if !bytes.Equal(data, in.PluginInstallData) {
			m.addf("%s: pluginInstallData %x, doc's encoding %x", where, []byte(in.PluginInstallData), data)
		}
		var deps [][21]byte
		for _, id := range []byte{0, 1} {
			var d [21]byte
			copy(d[:], events.MultiOwnerPlugin[:])
			d[20] = id
			deps = append(deps, d)
		}
		if len(in.Dependencies) != 2 || in.Dependencies[0] != deps[0] || in.Dependencies[1] != deps[1] {
			m.addf("%s: dependencies %x, doc says %x", where, in.Dependencies, deps)
		}
		packed, err := args(t, "address", "bytes32", "bytes", "bytes21[]").Pack(in.Plugin.Common(), [32]byte(in.ManifestHash), data, deps)
		if err != nil {
			t.Fatalf("%s: pack installPlugin: %v", where, err)
		}
		want := append(common.FromHex("0xc5f0e8d1"), packed...)
		if !bytes.Equal(in.CallData, want) {
			m.addf("%s: callData %x, doc's encoding %x", where, []byte(in.CallData), want)
		}
	}
	m.done("installs", len(v.Actions.Installs))
}

// TestUserOpHashMatchesDoc recomputes every v0.6 user-op hash with the doc's formula.
func TestUserOpHashMatchesDoc(t *testing.T) {
	v := sdkvectors.Load(t)
	if n := len(v.Actions.UserOpHashes); n < 50 {
		t.Fatalf("%d user op hash vectors, want at least 50", n)
	}
	pack := args(t, "address", "uint256", "bytes32", "bytes32", "uint256", "uint256", "uint256", "uint256", "uint256", "bytes32")
	outer := args(t, "bytes32", "address", "uint256")
	m := newMismatches(t)
	for i, u := range v.Actions.UserOpHashes {
		op := u.Op
		inner, err := pack.Pack(op.Sender.Common(), op.Nonce.Big(), crypto.Keccak256Hash(op.InitCode), crypto.Keccak256Hash(op.CallData),
			op.CallGasLimit.Big(), op.VerificationGasLimit.Big(), op.PreVerificationGas.Big(), op.MaxFeePerGas.Big(),
			op.MaxPriorityFeePerGas.Big(), crypto.Keccak256Hash(op.PaymasterAndData))
		if err != nil {
			t.Fatalf("user op %d: pack: %v", i, err)
		}
		enc, err := outer.Pack(crypto.Keccak256Hash(inner), u.EntryPoint.Common(), new(big.Int).SetUint64(u.ChainID))
		if err != nil {
			t.Fatalf("user op %d: pack outer: %v", i, err)
		}
		m.eq(fmt.Sprintf("user op %d (chain %d)", i, u.ChainID), "hash", crypto.Keccak256Hash(enc), u.Hash)
	}
	m.done("user op hashes", len(v.Actions.UserOpHashes))
}
