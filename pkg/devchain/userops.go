package devchain

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/keywarden/keywarden/pkg/devchain/bundler"
	"github.com/keywarden/keywarden/pkg/userop"
)

// UserOpRequest is a user operation for [Chain.SendUserOp].
type UserOpRequest struct {
	Sender   common.Address
	InitCode []byte
	CallData []byte
	// Signer signs the EIP-191 digest of the user op hash: an owner, or the session key for
	// executeWithSessionKey.
	Signer *ecdsa.PrivateKey
	// NonceKey is the 192-bit nonce key (nil: 0).
	NonceKey *big.Int
	// Gas, when CallGasLimit is set, is used as given; otherwise the bundler estimates it.
	CallGasLimit, VerificationGasLimit, PreVerificationGas uint64
}

// UserOpResult is a mined user operation.
type UserOpResult struct {
	Op      *userop.UserOperation
	Hash    common.Hash
	Receipt *bundler.Receipt
}

type bundlerClient struct {
	once sync.Once
	c    *rpc.Client
	err  error
}

func (c *Chain) bundlerRPC(ctx context.Context) (*rpc.Client, error) {
	c.bc.once.Do(func() { c.bc.c, c.bc.err = rpc.DialContext(ctx, c.BundlerURL) })
	if c.bc.err != nil {
		return nil, fmt.Errorf("dial bundler: %w", c.bc.err)
	}
	return c.bc.c, nil
}

// NonceOf returns EntryPoint.getNonce(sender, key).
func (c *Chain) NonceOf(ctx context.Context, sender common.Address, key *big.Int) (*big.Int, error) {
	if key == nil {
		key = new(big.Int)
	}
	out, err := c.call(ctx, c.abis.entryPoint, c.Addresses.EntryPoint, "getNonce", sender, key)
	if err != nil {
		return nil, err
	}
	return out[0].(*big.Int), nil
}

// BuildUserOp fills nonce, fees and (unless given) gas of a user operation, and signs it.
func (c *Chain) BuildUserOp(ctx context.Context, r UserOpRequest) (*userop.UserOperation, error) {
	nonce, err := c.NonceOf(ctx, r.Sender, r.NonceKey)
	if err != nil {
		return nil, fmt.Errorf("build user op: %w", err)
	}
	head, err := c.client.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("build user op: read head: %w", err)
	}
	op := &userop.UserOperation{
		Sender: r.Sender, Nonce: nonce, InitCode: r.InitCode, CallData: r.CallData,
		MaxFeePerGas:         new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip),
		MaxPriorityFeePerGas: new(big.Int).Set(tip),
		CallGasLimit:         new(big.Int).SetUint64(r.CallGasLimit),
		VerificationGasLimit: new(big.Int).SetUint64(r.VerificationGasLimit),
		PreVerificationGas:   new(big.Int).SetUint64(r.PreVerificationGas),
		PaymasterAndData:     []byte{},
	}
	if op.InitCode == nil {
		op.InitCode = []byte{}
	}
	if r.CallGasLimit == 0 {
		cl, err := c.bundlerRPC(ctx)
		if err != nil {
			return nil, err
		}
		var est bundler.GasEstimate
		if err := cl.CallContext(ctx, &est, "eth_estimateUserOperationGas", op, c.Addresses.EntryPoint); err != nil {
			return nil, fmt.Errorf("estimate user op gas: %w", err)
		}
		op.CallGasLimit = est.CallGasLimit.ToInt()
		op.VerificationGasLimit = est.VerificationGasLimit.ToInt()
		op.PreVerificationGas = est.PreVerificationGas.ToInt()
	}
	if err := op.Sign(c.Addresses.EntryPoint, c.ChainID, r.Signer); err != nil {
		return nil, err
	}
	return op, nil
}

// SendUserOp builds, signs and sends a user operation through the local bundler and returns
// once it is mined. A refusal by the bundler is returned as the bundler's JSON-RPC error
// (errors.As it to rpc.Error for the code: -32500 with the EntryPoint's AAxx reason, ...).
func (c *Chain) SendUserOp(ctx context.Context, r UserOpRequest) (*UserOpResult, error) {
	op, err := c.BuildUserOp(ctx, r)
	if err != nil {
		return nil, err
	}
	return c.SendSigned(ctx, op)
}

// SendSigned sends an already signed user operation through the local bundler.
func (c *Chain) SendSigned(ctx context.Context, op *userop.UserOperation) (*UserOpResult, error) {
	cl, err := c.bundlerRPC(ctx)
	if err != nil {
		return nil, err
	}
	var hash common.Hash
	if err := cl.CallContext(ctx, &hash, "eth_sendUserOperation", op, c.Addresses.EntryPoint); err != nil {
		return nil, fmt.Errorf("send user op: %w", err)
	}
	var rcpt *bundler.Receipt
	if err := cl.CallContext(ctx, &rcpt, "eth_getUserOperationReceipt", hash); err != nil {
		return nil, fmt.Errorf("read user op receipt: %w", err)
	}
	if rcpt == nil {
		return nil, fmt.Errorf("read user op receipt: %s has none after it was bundled", hash.Hex())
	}
	return &UserOpResult{Op: op, Hash: hash, Receipt: rcpt}, nil
}

// ExecuteWithSessionKey sends executeWithSessionKey(calls, key) as a user operation signed by
// the session key, through the local bundler.
func (c *Chain) ExecuteWithSessionKey(ctx context.Context, account common.Address, sessionKey *ecdsa.PrivateKey, calls []Call) (*UserOpResult, error) {
	data, err := c.ExecuteWithSessionKeyCall(calls, Address(sessionKey))
	if err != nil {
		return nil, err
	}
	return c.SendUserOp(ctx, UserOpRequest{Sender: account, CallData: data, Signer: sessionKey})
}
