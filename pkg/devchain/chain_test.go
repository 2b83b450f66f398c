package devchain

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/keywarden/keywarden/pkg/userop"
)

func startChain(t *testing.T, opts Options) *Chain {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return c
}

func TestStartServesHTTPAndWS(t *testing.T) {
	c := startChain(t, Options{NoBundler: true})
	ctx := context.Background()
	for _, url := range []string{c.HTTPURL, c.WSURL} {
		cl, err := ethclient.DialContext(ctx, url)
		if err != nil {
			t.Fatalf("dial %s: %v", url, err)
		}
		id, err := cl.ChainID(ctx)
		if err != nil || id.Cmp(c.ChainID) != 0 {
			t.Fatalf("%s chain id %v, %v", url, id, err)
		}
		code, err := cl.CodeAt(ctx, c.Addresses.EntryPoint, nil)
		if err != nil || len(code) == 0 {
			t.Fatalf("%s: no EntryPoint code at %s: %v", url, c.Addresses.EntryPoint, err)
		}
		cl.Close()
	}
	// Head subscriptions work over WebSocket, as an indexer's live tail uses them.
	ws, err := ethclient.DialContext(ctx, c.WSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	heads := make(chan *types.Header, 4)
	sub, err := ws.SubscribeNewHead(ctx, heads)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	want := c.Commit()
	select {
	case h := <-heads:
		if h.Hash() != want {
			t.Fatalf("subscribed head %s, sealed %s", h.Hash(), want)
		}
	case err := <-sub.Err():
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("no head over the subscription")
	}
	bal, err := c.Client().BalanceAt(ctx, Address(c.Keys[1]), nil)
	if err != nil || bal.Sign() == 0 {
		t.Fatalf("funded key has balance %v, %v", bal, err)
	}
}

func TestUserOpHashMatchesEntryPoint(t *testing.T) {
	c := startChain(t, Options{NoBundler: true})
	op := &userop.UserOperation{
		Sender: common.HexToAddress("0x00000000000000000000000000000000000000aa"), Nonce: big.NewInt(3),
		InitCode: []byte{1, 2, 3}, CallData: []byte{4, 5}, CallGasLimit: big.NewInt(1), VerificationGasLimit: big.NewInt(2),
		PreVerificationGas: big.NewInt(3), MaxFeePerGas: big.NewInt(4), MaxPriorityFeePerGas: big.NewInt(5),
		PaymasterAndData: []byte{6}, Signature: []byte{7, 8},
	}
	data, err := c.abis.entryPoint.Pack("getUserOpHash", *op.Copy())
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Client().CallContract(context.Background(), ethereum.CallMsg{To: &c.Addresses.EntryPoint, Data: data}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := common.BytesToHash(out), op.Hash(c.Addresses.EntryPoint, c.ChainID); got != want {
		t.Fatalf("EntryPoint getUserOpHash %s, userop.Hash %s", got, want)
	}
}

func TestAdjustTimeAndAutoMine(t *testing.T) {
	c := startChain(t, Options{NoBundler: true})
	ctx := context.Background()
	before, _ := c.Client().HeaderByNumber(ctx, nil)
	if err := c.AdjustTime(2 * time.Hour); err != nil {
		t.Fatal(err)
	}
	after, _ := c.Client().HeaderByNumber(ctx, nil)
	if after.Time < before.Time+7200 {
		t.Fatalf("time moved %d s, want >= 7200", after.Time-before.Time)
	}
	a := c.AutoMine(20 * time.Millisecond)
	// Helpers cooperate with the auto-miner: Transact waits for it instead of sealing.
	to := Address(c.Keys[2])
	if _, err := c.Transact(ctx, TxRequest{From: c.Keys[1], To: &to, Value: big.NewInt(1)}); err != nil {
		t.Fatal(err)
	}
	if err := c.AdjustTime(time.Minute); err != nil {
		t.Fatal(err)
	}
	a.Stop()
	a.Stop()
}

// emitterCode deploys a contract that logs its calldata under topic keccak("Ping(bytes)").
func emitterCode() []byte {
	runtime := []byte{0x36, 0x5f, 0x5f, 0x37, 0x7f}
	runtime = append(runtime, crypto.Keccak256([]byte("Ping(bytes)"))...)
	runtime = append(runtime, 0x36, 0x5f, 0xa1, 0x00)
	n := byte(len(runtime))
	init := []byte{0x60, n, 0x60, 10, 0x5f, 0x39, 0x60, n, 0x5f, 0xf3}
	return append(init, runtime...)
}

func TestRevertsAreExplained(t *testing.T) {
	c := startChain(t, Options{NoBundler: true})
	ctx := context.Background()
	owner := c.Keys[1]
	account, err := c.CreateAccount(ctx, []common.Address{Address(owner)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.InstallSessionKeyPlugin(ctx, owner, account, []common.Address{{1}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RemoveKey(ctx, owner, account, common.Address{2}); err == nil || !strings.Contains(err.Error(), "SessionKeyNotFound") {
		t.Fatalf("remove unknown key: %v", err)
	}
	// A duplicate add, mined with a fixed gas limit so that it reverts on chain.
	data, _ := c.AddSessionKeyCall(common.Address{1}, Tag("dup"), nil)
	_, err = c.Transact(ctx, TxRequest{From: owner, To: &account, Data: data, Gas: 300_000})
	var re *RevertError
	if !errors.As(err, &re) || !errors.Is(err, ErrReverted) || !strings.Contains(re.Reason, "InvalidSessionKey") {
		t.Fatalf("duplicate add: %v", err)
	}
}
