package actions_test

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/keywarden/keywarden/pkg/actions"
	"github.com/keywarden/keywarden/pkg/events"
)

func newGuard(t *testing.T) (*actions.Guard, common.Address) {
	t.Helper()
	s, err := actions.KeySignerFromHex(testKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	g, err := actions.NewGuard(s, actions.GuardOptions{ChainID: big.NewInt(1337)})
	if err != nil {
		t.Fatal(err)
	}
	return g, s.Address()
}

func TestGuardSignsOnlyTheEnforcersCalls(t *testing.T) {
	g, owner := newGuard(t)
	account := common.HexToAddress("0xacc0")
	key, key2 := common.HexToAddress("0x5e55"), common.HexToAddress("0x5e56")
	plugin := events.SessionKeyPluginV101.Common()
	upd, _ := actions.NewPermissions().TimeRange(0, 1).Encode()
	pred := actions.SentinelPredecessor

	allowed := map[string][]byte{
		"removeSessionKey":      actions.EncodeRemoveSessionKey(key, pred),
		"rotateSessionKey":      actions.EncodeRotateSessionKey(key, pred, key2),
		"updateKeyPermissions":  actions.EncodeUpdateKeyPermissions(key, upd),
		"executeBatch(removes)": actions.EncodeExecuteBatch([]actions.Call{{Target: account, Data: actions.EncodeRemoveSessionKey(key, pred)}, {Target: account, Data: actions.EncodeRemoveSessionKey(key2, pred)}}),
		"executeBatch(mixed allowed)": actions.EncodeExecuteBatch([]actions.Call{{Target: account, Data: actions.EncodeUpdateKeyPermissions(key, upd)},
			{Target: account, Data: actions.EncodeRotateSessionKey(key, pred, key2)}}),
	}
	transfer := append(crypto.Keccak256([]byte("transfer(address,uint256)"))[:4], make([]byte, 64)...)
	refused := map[string][]byte{
		"execute":                         actions.EncodeExecute(actions.Call{Target: common.HexToAddress("0xbeef"), Value: big.NewInt(1)}),
		"execute(self remove)":            actions.EncodeExecute(actions.Call{Target: account, Data: actions.EncodeRemoveSessionKey(key, pred)}),
		"executeBatch with a transfer":    actions.EncodeExecuteBatch([]actions.Call{{Target: account, Data: actions.EncodeRemoveSessionKey(key, pred)}, {Target: common.HexToAddress("0x7070"), Data: transfer}}),
		"executeBatch with native value":  actions.EncodeExecuteBatch([]actions.Call{{Target: account, Value: big.NewInt(1), Data: actions.EncodeRemoveSessionKey(key, pred)}}),
		"executeBatch to the plugin":      actions.EncodeExecuteBatch([]actions.Call{{Target: plugin, Data: actions.EncodeRemoveSessionKey(key, pred)}}),
		"executeBatch nested":             actions.EncodeExecuteBatch([]actions.Call{{Target: account, Data: actions.EncodeExecuteBatch([]actions.Call{{Target: account, Data: actions.EncodeRemoveSessionKey(key, pred)}})}}),
		"executeBatch empty":              actions.EncodeExecuteBatch(nil),
		"executeBatch malformed":          append(append([]byte{}, actions.SelExecuteBatch[:]...), 0xff),
		"installPlugin":                   actions.EncodeInstallPlugin(plugin, common.Hash{}, nil, actions.SessionKeyPluginDependencies(events.MultiOwnerPlugin.Common())),
		"uninstallPlugin":                 actions.EncodeUninstallPlugin(plugin, nil, nil),
		"updateOwners":                    actions.EncodeUpdateOwners([]common.Address{common.HexToAddress("0xbad")}, []common.Address{owner}),
		"executeWithSessionKey":           actions.EncodeExecuteWithSessionKey([]actions.Call{{Target: common.HexToAddress("0xbeef")}}, key),
		"addSessionKey":                   actions.EncodeAddSessionKey(key2, common.Hash{}, nil),
		"empty callData":                  nil,
		"three bytes":                     {0x64, 0xb2, 0xbd},
		"removeSessionKey, bad arguments": append(append([]byte{}, actions.SelRemoveSessionKey[:]...), 1, 2, 3),
		"unknown selector":                {0xde, 0xad, 0xbe, 0xef},
	}
	ctx := context.Background()
	for name, data := range allowed {
		op := &actions.UserOperation{Sender: account, Nonce: big.NewInt(3), CallData: data}
		hash := op.Hash(events.EntryPointV06.Common(), big.NewInt(1337))
		sig, err := g.SignUserOp(ctx, op, hash)
		if err != nil {
			t.Errorf("%s: refused: %v", name, err)
			continue
		}
		if got, _ := actions.RecoverSigner(hash, sig); got != owner {
			t.Errorf("%s: signed by %s", name, got)
		}
	}
	for name, data := range refused {
		op := &actions.UserOperation{Sender: account, Nonce: big.NewInt(3), CallData: data}
		hash := op.Hash(events.EntryPointV06.Common(), big.NewInt(1337))
		sig, err := g.SignUserOp(ctx, op, hash)
		var ge *actions.GuardError
		if !errors.Is(err, actions.ErrGuardRefused) || !errors.As(err, &ge) || sig != nil {
			t.Errorf("%s: signed (%x, %v)", name, sig, err)
			continue
		}
		if ge.UserOpHash != hash {
			t.Errorf("%s: refusal carries hash %s, want %s", name, ge.UserOpHash, hash)
		}
	}
}

func TestGuardRefusesBlindHashesInitCodeAndForeignHashes(t *testing.T) {
	g, _ := newGuard(t)
	ctx := context.Background()
	account := common.HexToAddress("0xacc0")
	if _, err := g.SignHash(ctx, common.HexToHash("0x01")); !errors.Is(err, actions.ErrGuardRefused) {
		t.Errorf("blind SignHash: %v", err)
	}
	remove := actions.EncodeRemoveSessionKey(common.HexToAddress("0x5e55"), actions.SentinelPredecessor)
	withInit := &actions.UserOperation{Sender: account, CallData: remove, InitCode: []byte{1, 2, 3}}
	if _, err := g.SignUserOp(ctx, withInit, withInit.Hash(events.EntryPointV06.Common(), big.NewInt(1337))); !errors.Is(err, actions.ErrGuardRefused) {
		t.Errorf("initCode: %v", err)
	}
	op := &actions.UserOperation{Sender: account, CallData: remove}
	other := &actions.UserOperation{Sender: account, CallData: actions.EncodeExecute(actions.Call{Target: common.HexToAddress("0xbeef")})}
	if _, err := g.SignUserOp(ctx, op, other.Hash(events.EntryPointV06.Common(), big.NewInt(1337))); !errors.Is(err, actions.ErrGuardRefused) {
		t.Errorf("hash of another op: %v", err)
	}
	if _, err := g.SignUserOp(ctx, op, op.Hash(events.EntryPointV06.Common(), big.NewInt(1))); !errors.Is(err, actions.ErrGuardRefused) {
		t.Errorf("hash for another chain: %v", err)
	}
	// DenyBatch turns batches off entirely.
	s, _ := actions.KeySignerFromHex(testKeyHex)
	strict, _ := actions.NewGuard(s, actions.GuardOptions{ChainID: big.NewInt(1337), DenyBatch: true})
	batch := &actions.UserOperation{Sender: account, CallData: actions.EncodeExecuteBatch([]actions.Call{{Target: account, Data: remove}})}
	if err := strict.Check(batch); !errors.Is(err, actions.ErrGuardRefused) {
		t.Errorf("DenyBatch: %v", err)
	}
}
