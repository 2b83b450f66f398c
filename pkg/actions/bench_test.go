package actions_test

import (
	"context"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/keywarden/keywarden/pkg/actions"
)

func BenchmarkUserOpHash(b *testing.B) {
	op := &actions.UserOperation{Sender: common.HexToAddress("0xacc"), Nonce: big.NewInt(7),
		CallData:     actions.EncodeRemoveSessionKey(common.HexToAddress("0x5e55"), actions.SentinelPredecessor),
		CallGasLimit: big.NewInt(1e5), VerificationGasLimit: big.NewInt(1e5), PreVerificationGas: big.NewInt(5e4),
		MaxFeePerGas: big.NewInt(1e9), MaxPriorityFeePerGas: big.NewInt(1e9)}
	ep, chain := common.HexToAddress("0x5FF137D4b0FDCD49DcA30c7CF57E578a026d2789"), big.NewInt(1)
	for b.Loop() {
		op.Hash(ep, chain)
	}
}

func BenchmarkGuardedSign(b *testing.B) {
	s, _ := actions.KeySignerFromHex(testKeyHex)
	g, _ := actions.NewGuard(s, actions.GuardOptions{ChainID: big.NewInt(1)})
	op := &actions.UserOperation{Sender: common.HexToAddress("0xacc"), Nonce: big.NewInt(7),
		CallData: actions.EncodeRemoveSessionKey(common.HexToAddress("0x5e55"), actions.SentinelPredecessor)}
	hash := op.Hash(common.HexToAddress("0x5FF137D4b0FDCD49DcA30c7CF57E578a026d2789"), big.NewInt(1))
	ctx := context.Background()
	for b.Loop() {
		if _, err := g.SignUserOp(ctx, op, hash); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPermissionsEncode(b *testing.B) {
	tgt := common.HexToAddress("0x7a")
	for b.Loop() {
		if _, err := actions.NewPermissions().AllowAll().AddressEntry(tgt, true, true).
			FunctionEntry(tgt, [4]byte{1, 2, 3, 4}, true).TimeRange(1, 2).NativeLimit(big.NewInt(1), 60).
			ERC20Limit(tgt, big.NewInt(5), 0).GasLimit(big.NewInt(9), 0).Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRemoveSessionKeyThroughBundler measures one enforcer action end to end on the dev
// chain: predecessor read, build (nonce, fees, bundler estimate), sign, send, receipt.
func BenchmarkRemoveSessionKeyThroughBundler(b *testing.B) {
	benchRemove(b, false)
}

// BenchmarkRemoveSessionKeyDirect is the same through direct handleOps.
func BenchmarkRemoveSessionKeyDirect(b *testing.B) { benchRemove(b, true) }

func benchRemove(b *testing.B, direct bool) {
	e := startEnvB(b, direct)
	ctx := context.Background()
	owner := e.client.Account(e.account, e.owner)
	if _, err := owner.InstallSessionKeyPlugin(ctx, actions.InstallOptions{}); err != nil {
		b.Fatal(err)
	}
	keys := make([]common.Address, b.N)
	for i := range keys {
		keys[i] = common.BigToAddress(big.NewInt(int64(0x1000 + i)))
	}
	for i := 0; i < len(keys); i += 50 {
		var steps []actions.BatchStep
		for j := i; j < i+50 && j < len(keys); j++ {
			steps = append(steps, actions.BatchStep{Add: &actions.AddStep{Key: keys[j]}})
		}
		if _, err := owner.Batch(ctx, steps); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := owner.RemoveSessionKey(ctx, keys[i]); err != nil {
			b.Fatal(err)
		}
	}
}
