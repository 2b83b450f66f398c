package actions_test

import (
	"bytes"
	"math/big"
	"reflect"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/keywarden/keywarden/internal/sdkvectors"
	"github.com/keywarden/keywarden/pkg/actions"
	"github.com/keywarden/keywarden/pkg/decoder"
	"github.com/keywarden/keywarden/pkg/events"
)

// replay calls the builder methods of an SDK vector on a PermissionsBuilder.
func replay(t *testing.T, p sdkvectors.Permission) *actions.PermissionsBuilder {
	t.Helper()
	b := actions.NewPermissions()
	u64 := func(p *uint64) uint64 {
		if p == nil {
			return 0
		}
		return *p
	}
	u256 := func(p *events.U256) *big.Int {
		if p == nil {
			return new(big.Int)
		}
		return p.Big()
	}
	addr := func(p *events.Address) common.Address {
		if p == nil {
			return common.Address{}
		}
		return p.Common()
	}
	flag := func(p *bool) bool { return p != nil && *p }
	for _, c := range p.Calls {
		a := c.Args
		switch c.Method {
		case sdkvectors.MethodSetContractAccessControlType:
			var ty uint8
			if a.Type != nil {
				ty = *a.Type
			}
			b.AccessControlType(events.AccessControlType(ty))
		case sdkvectors.MethodAddContractAddressAccessEntry:
			b.AddressEntry(addr(a.ContractAddress), flag(a.IsOnList), flag(a.CheckSelectors))
		case sdkvectors.MethodAddContractFunctionAccessEntry:
			var sel events.Selector
			if a.MethodSelector != nil {
				sel = *a.MethodSelector
			}
			b.FunctionEntry(addr(a.ContractAddress), sel, flag(a.IsOnList))
		case sdkvectors.MethodSetTimeRange:
			b.TimeRange(u64(a.ValidFrom), u64(a.ValidUntil))
		case sdkvectors.MethodSetNativeTokenSpendLimit:
			b.NativeLimit(u256(a.SpendLimit), u64(a.RefreshInterval))
		case sdkvectors.MethodAddErc20TokenSpendLimit:
			b.ERC20Limit(addr(a.TokenAddress), u256(a.SpendLimit), u64(a.RefreshInterval))
		case sdkvectors.MethodSetGasSpendLimit:
			b.GasLimit(u256(a.SpendLimit), u64(a.RefreshInterval))
		case sdkvectors.MethodSetRequiredPaymaster:
			b.RequiredPaymaster(addr(a.Paymaster))
		default:
			t.Fatalf("%s: unknown builder method %q", p.ID, c.Method)
		}
	}
	return b
}

func TestConformanceBuilderMatchesSDK(t *testing.T) {
	v := sdkvectors.Load(t)
	if len(v.Permissions) < 100 {
		t.Fatalf("only %d permission vectors", len(v.Permissions))
	}
	matched := 0
	for _, p := range v.Permissions {
		got, err := replay(t, p).Encode()
		if err != nil {
			t.Errorf("%s: %v", p.ID, err)
			continue
		}
		if len(got) != len(p.Encoded) {
			t.Errorf("%s: %d elements, SDK %d", p.ID, len(got), len(p.Encoded))
			continue
		}
		same := true
		for i := range got {
			if !bytes.Equal(got[i], p.Encoded[i]) {
				same = false
				t.Errorf("%s element %d:\n got %x\nwant %x", p.ID, i, got[i], []byte(p.Encoded[i]))
			}
		}
		if same {
			matched++
		}
	}
	t.Logf("%d of %d SDK builder configurations reproduced byte for byte", matched, len(v.Permissions))
}

// Build -> encode -> decode (pkg/decoder) gives back the built updates, on every SDK
// configuration.
func TestConformanceBuildEncodeDecodeRoundTrip(t *testing.T) {
	v := sdkvectors.Load(t)
	for _, p := range v.Permissions {
		b := replay(t, p)
		want, err := b.Updates()
		if err != nil {
			t.Fatalf("%s: %v", p.ID, err)
		}
		enc, _ := b.Encode()
		got, err := decoder.DecodeUpdates(enc)
		if err != nil {
			t.Fatalf("%s: decode: %v", p.ID, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded %+v, built %+v", p.ID, got, want)
		}
	}
}

func hexes(bs []hexutil.Bytes) [][]byte {
	out := make([][]byte, len(bs))
	for i, b := range bs {
		out[i] = b
	}
	return out
}

func TestConformanceCallDataMatchesSDK(t *testing.T) {
	v := sdkvectors.Load(t)
	seen := map[string]int{}
	for i, c := range v.Actions.Calls {
		a := c.Args
		var got []byte
		switch c.Function {
		case sdkvectors.FnAddSessionKey:
			got = actions.EncodeAddSessionKey(a.SessionKey.Common(), a.Tag, hexes(a.PermissionUpdates))
		case sdkvectors.FnRemoveSessionKey:
			got = actions.EncodeRemoveSessionKey(a.SessionKey.Common(), actions.Predecessor(a.Predecessor))
		case sdkvectors.FnRotateSessionKey:
			got = actions.EncodeRotateSessionKey(a.OldSessionKey.Common(), actions.Predecessor(a.Predecessor), a.NewSessionKey.Common())
		case sdkvectors.FnUpdateKeyPermissions:
			got = actions.EncodeUpdateKeyPermissions(a.SessionKey.Common(), hexes(a.Updates))
		case sdkvectors.FnExecuteWithSessionKey:
			calls := make([]actions.Call, len(a.Calls))
			for j, ec := range a.Calls {
				calls[j] = actions.Call{Target: ec.Target.Common(), Value: ec.Value.Big(), Data: ec.Data}
			}
			got = actions.EncodeExecuteWithSessionKey(calls, a.SessionKey.Common())
		default:
			t.Fatalf("call %d: unknown function %q", i, c.Function)
		}
		seen[c.Function]++
		if !bytes.Equal(got, c.CallData) {
			t.Errorf("call %d %s:\n got %x\nwant %x", i, c.Function, got, []byte(c.CallData))
		}
	}
	for _, fn := range []string{sdkvectors.FnAddSessionKey, sdkvectors.FnRemoveSessionKey, sdkvectors.FnRotateSessionKey,
		sdkvectors.FnUpdateKeyPermissions, sdkvectors.FnExecuteWithSessionKey} {
		if seen[fn] == 0 {
			t.Errorf("no SDK vector for %s", fn)
		}
	}
	t.Logf("call data vectors: %v", seen)
}

func TestConformanceInstallPayloadMatchesSDK(t *testing.T) {
	v := sdkvectors.Load(t)
	if len(v.Actions.Installs) == 0 {
		t.Fatal("no install vectors")
	}
	for i, in := range v.Actions.Installs {
		keys := make([]actions.InitialKey, len(in.Keys))
		for j := range in.Keys {
			keys[j] = actions.InitialKey{Key: in.Keys[j].Common(), Tag: in.Tags[j], Updates: hexes(in.Permissions[j])}
		}
		data := actions.EncodeSessionKeyPluginInstallData(keys)
		if !bytes.Equal(data, in.PluginInstallData) {
			t.Errorf("install %d: install data\n got %x\nwant %x", i, data, []byte(in.PluginInstallData))
		}
		deps := actions.SessionKeyPluginDependencies(events.MultiOwnerPlugin.Common())
		if len(deps) != len(in.Dependencies) {
			t.Fatalf("install %d: %d dependencies, SDK %d", i, len(deps), len(in.Dependencies))
		}
		for j := range deps {
			if [21]byte(deps[j]) != [21]byte(in.Dependencies[j]) {
				t.Errorf("install %d: dependency %d %x, SDK %x", i, j, deps[j], in.Dependencies[j])
			}
		}
		got := actions.EncodeInstallPlugin(in.Plugin.Common(), in.ManifestHash, data, deps)
		if !bytes.Equal(got, in.CallData) {
			t.Errorf("install %d: callData\n got %x\nwant %x", i, got, []byte(in.CallData))
		}
	}
}

func TestConformanceUserOpHashMatchesSDK(t *testing.T) {
	v := sdkvectors.Load(t)
	if len(v.Actions.UserOpHashes) == 0 {
		t.Fatal("no user op hash vectors")
	}
	for i, h := range v.Actions.UserOpHashes {
		o := h.Op
		op := &actions.UserOperation{Sender: o.Sender.Common(), Nonce: o.Nonce.Big(), InitCode: o.InitCode, CallData: o.CallData,
			CallGasLimit: o.CallGasLimit.Big(), VerificationGasLimit: o.VerificationGasLimit.Big(),
			PreVerificationGas: o.PreVerificationGas.Big(), MaxFeePerGas: o.MaxFeePerGas.Big(),
			MaxPriorityFeePerGas: o.MaxPriorityFeePerGas.Big(), PaymasterAndData: o.PaymasterAndData, Signature: o.Signature}
		got := op.Hash(h.EntryPoint.Common(), new(big.Int).SetUint64(h.ChainID))
		if got != h.Hash {
			t.Errorf("op %d (chain %d): hash %s, SDK %s", i, h.ChainID, got.Hex(), h.Hash.Hex())
		}
	}
}
