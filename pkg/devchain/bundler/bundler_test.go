package bundler_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/keywarden/keywarden/pkg/devchain"
	"github.com/keywarden/keywarden/pkg/devchain/bundler"
	"github.com/keywarden/keywarden/pkg/events"
	"github.com/keywarden/keywarden/pkg/userop"
)

func setup(t *testing.T) (*devchain.Chain, *rpc.Client, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	c, err := devchain.Start(ctx, devchain.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cl, err := rpc.DialContext(ctx, c.BundlerURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return c, cl, ctx
}

func wantCode(t *testing.T, err error, code int, contains string) {
	t.Helper()
	var re rpc.Error
	if !errors.As(err, &re) || re.ErrorCode() != code || !strings.Contains(err.Error(), contains) {
		t.Fatalf("want error %d containing %q, got %v", code, contains, err)
	}
}

func TestChainIDAndEntryPoints(t *testing.T) {
	c, cl, ctx := setup(t)
	var id hexutil.Big
	if err := cl.CallContext(ctx, &id, "eth_chainId"); err != nil || id.ToInt().Cmp(c.ChainID) != 0 {
		t.Fatalf("eth_chainId %v, %v", id.ToInt(), err)
	}
	var eps []common.Address
	if err := cl.CallContext(ctx, &eps, "eth_supportedEntryPoints"); err != nil || len(eps) != 1 || eps[0] != c.Addresses.EntryPoint {
		t.Fatalf("eth_supportedEntryPoints %v, %v", eps, err)
	}
}

func TestRefusals(t *testing.T) {
	c, cl, ctx := setup(t)
	owner, _ := crypto.GenerateKey()
	account, err := c.CreateAccount(ctx, []common.Address{devchain.Address(owner)})
	if err != nil {
		t.Fatal(err)
	}
	target, _ := hexutil.Decode("0x")
	exec := func() []byte {
		// execute(TestTarget, 0, "") through the owner: a harmless call.
		data, err := c.ExecuteBatchCall([]devchain.Call{{Target: c.Addresses.TestTarget, Data: target}})
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	good, err := c.BuildUserOp(ctx, devchain.UserOpRequest{Sender: account, CallData: exec(), Signer: owner})
	if err != nil {
		t.Fatal(err)
	}
	var hash common.Hash

	// -32602: missing and malformed fields, an unsupported entry point.
	raw := map[string]any{"sender": account, "nonce": "0x0"}
	wantCode(t, cl.CallContext(ctx, &hash, "eth_sendUserOperation", raw, c.Addresses.EntryPoint), -32602, "callData: missing")
	bad := good.ToWire()
	b, _ := json.Marshal(bad)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	m["callGasLimit"] = "12"
	wantCode(t, cl.CallContext(ctx, &hash, "eth_sendUserOperation", m, c.Addresses.EntryPoint), -32602, "callGasLimit")
	wantCode(t, cl.CallContext(ctx, &hash, "eth_sendUserOperation", good, common.HexToAddress("0x5FF137D4b0FDCD49DcA30c7CF57E578a026d2789")), -32602, "unsupported entry point")

	// -32507: signed by someone who is not an owner.
	stranger, _ := crypto.GenerateKey()
	forged := good.Copy()
	if err := forged.Sign(c.Addresses.EntryPoint, c.ChainID, stranger); err != nil {
		t.Fatal(err)
	}
	wantCode(t, cl.CallContext(ctx, &hash, "eth_sendUserOperation", forged, c.Addresses.EntryPoint), -32507, "signature")

	// -32500 with the EntryPoint's reason: a wrong nonce (AA25), an undeployed sender (AA20).
	stale := good.Copy()
	stale.Nonce = big.NewInt(5)
	_ = stale.Sign(c.Addresses.EntryPoint, c.ChainID, owner)
	wantCode(t, cl.CallContext(ctx, &hash, "eth_sendUserOperation", stale, c.Addresses.EntryPoint), -32500, "AA25")
	ghost := good.Copy()
	ghost.Sender = common.HexToAddress("0x000000000000000000000000000000000000dEaD")
	_ = ghost.Sign(c.Addresses.EntryPoint, c.ChainID, owner)
	wantCode(t, cl.CallContext(ctx, &hash, "eth_sendUserOperation", ghost, c.Addresses.EntryPoint), -32500, "AA20")

	// -32503: a session key whose time range has ended.
	if err := c.Fund(ctx, devchain.Address(owner), big.NewInt(1e18)); err != nil {
		t.Fatal(err)
	}
	key, _ := crypto.GenerateKey()
	head, _ := c.Client().HeaderByNumber(ctx, nil)
	perms := []events.Update{
		events.UpdateAccessListAddressEntry{Target: events.Address(c.Addresses.TestTarget), IsOnList: true},
		events.UpdateTimeRange{ValidAfter: 1, ValidUntil: head.Time - 5},
	}
	if _, err := c.InstallSessionKeyPlugin(ctx, owner, account, []common.Address{devchain.Address(key)}, nil, [][]events.Update{perms}); err != nil {
		t.Fatal(err)
	}
	data, _ := c.ExecuteWithSessionKeyCall([]devchain.Call{{Target: c.Addresses.TestTarget}}, devchain.Address(key))
	_, err = c.SendUserOp(ctx, devchain.UserOpRequest{Sender: account, CallData: data, Signer: key,
		CallGasLimit: 200_000, VerificationGasLimit: 500_000, PreVerificationGas: 60_000})
	wantCode(t, err, -32503, "expired")

	// Nothing refused reached the chain; the good op still goes through afterwards.
	if _, err := c.SendSigned(ctx, good); err != nil {
		t.Fatal(err)
	}
}

func TestReceiptAndByHashFollowTheChain(t *testing.T) {
	c, cl, ctx := setup(t)
	owner, _ := crypto.GenerateKey()
	account, err := c.CreateAccount(ctx, []common.Address{devchain.Address(owner)})
	if err != nil {
		t.Fatal(err)
	}
	var none *bundler.Receipt
	if err := cl.CallContext(ctx, &none, "eth_getUserOperationReceipt", common.Hash{1}); err != nil || none != nil {
		t.Fatalf("unknown hash: %v, %v", none, err)
	}
	call, _ := c.InstallSessionKeyPluginCall(ctx, nil, nil, nil)
	res, err := c.SendUserOp(ctx, devchain.UserOpRequest{Sender: account, CallData: call, Signer: owner})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Receipt
	if r.UserOpHash != res.Hash || r.Sender != account || !r.Success || r.Nonce.ToInt().Sign() != 0 ||
		r.ActualGasCost.ToInt().Sign() <= 0 || r.EntryPoint != c.Addresses.EntryPoint || r.Receipt == nil {
		t.Fatalf("receipt %+v", r)
	}
	installed := false
	for _, l := range r.Logs {
		if l.Address == account && l.Topics[0] == events.TopicPluginInstalled {
			installed = true
		}
	}
	if !installed {
		t.Fatal("the op's logs lack PluginInstalled")
	}
	var by bundler.ByHash
	if err := cl.CallContext(ctx, &by, "eth_getUserOperationByHash", res.Hash); err != nil {
		t.Fatal(err)
	}
	if userop.FromWire(by.UserOperation).Hash(c.Addresses.EntryPoint, c.ChainID) != res.Hash || by.TransactionHash != r.Receipt.TxHash {
		t.Fatalf("by hash %+v", by)
	}

	// Reorg the op's block away: the bundler stops knowing it.
	if _, err := c.Reorg(ctx, devchain.ReorgOptions{Depth: 1}); err != nil {
		t.Fatal(err)
	}
	var gone *bundler.Receipt
	if err := cl.CallContext(ctx, &gone, "eth_getUserOperationReceipt", res.Hash); err != nil || gone != nil {
		t.Fatalf("receipt after reorg: %+v, %v", gone, err)
	}
}

func TestEstimateFillsGas(t *testing.T) {
	c, cl, ctx := setup(t)
	owner, _ := crypto.GenerateKey()
	salt := big.NewInt(7)
	owners := []common.Address{devchain.Address(owner)}
	initCode, _ := c.InitCode(salt, owners)
	account, _ := c.AccountAddress(ctx, salt, owners)
	if err := c.Fund(ctx, account, big.NewInt(1e18)); err != nil {
		t.Fatal(err)
	}
	call, _ := c.InstallSessionKeyPluginCall(ctx, nil, nil, nil)
	partial := map[string]any{"sender": account, "nonce": "0x0", "initCode": hexutil.Bytes(initCode), "callData": hexutil.Bytes(call)}
	var est bundler.GasEstimate
	if err := cl.CallContext(ctx, &est, "eth_estimateUserOperationGas", partial, c.Addresses.EntryPoint); err != nil {
		t.Fatal(err)
	}
	if est.CallGasLimit.ToInt().Sign() == 0 || est.VerificationGasLimit.ToInt().Uint64() < 100_000 || est.PreVerificationGas.ToInt().Uint64() < 21_000 {
		t.Fatalf("estimate %+v", est)
	}
	res, err := c.SendUserOp(ctx, devchain.UserOpRequest{Sender: account, InitCode: initCode, CallData: call, Signer: owner,
		CallGasLimit: est.CallGasLimit.ToInt().Uint64(), VerificationGasLimit: est.VerificationGasLimit.ToInt().Uint64(),
		PreVerificationGas: est.PreVerificationGas.ToInt().Uint64()})
	if err != nil || !res.Receipt.Success {
		t.Fatalf("op with the estimated gas: %v", err)
	}
}
