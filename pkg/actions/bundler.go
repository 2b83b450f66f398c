package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
)

// GasEstimate is what eth_estimateUserOperationGas returns.
type GasEstimate struct {
	PreVerificationGas   *big.Int
	VerificationGasLimit *big.Int
	CallGasLimit         *big.Int
}

// Receipt is a user operation's outcome (eth_getUserOperationReceipt, or the EntryPoint's
// UserOperationEvent).
type Receipt struct {
	UserOpHash    common.Hash
	Sender        common.Address
	Nonce         *big.Int
	Success       bool
	ActualGasCost *big.Int
	ActualGasUsed *big.Int
	// Reason is the callData's revert data when Success is false, if known.
	Reason      []byte
	TxHash      common.Hash
	BlockHash   common.Hash
	BlockNumber uint64
}

// errNoReceipt is returned by a Submitter while the operation has no receipt yet.
var errNoReceipt = errors.New("no receipt yet")

// Submitter sends user operations and reports their outcome: a bundler over JSON-RPC
// (BundlerClient) or the EntryPoint directly (DirectSubmitter).
type Submitter interface {
	EstimateUserOperationGas(ctx context.Context, op *UserOperation) (GasEstimate, error)
	// SendUserOperation returns the op's hash, or an *AAError / *OpError carrying it.
	SendUserOperation(ctx context.Context, op *UserOperation) (common.Hash, error)
	// UserOperationReceipt returns errNoReceipt-wrapping errors while the op is pending.
	UserOperationReceipt(ctx context.Context, hash common.Hash) (*Receipt, error)
	// UserOperationKnown reports whether the submitter still knows the op (pending or included).
	UserOperationKnown(ctx context.Context, hash common.Hash) (bool, error)
}

// BundlerClient speaks the ERC-4337 bundler JSON-RPC API for one EntryPoint.
type BundlerClient struct {
	rpc        *rpc.Client
	entryPoint common.Address
	chainID    *big.Int
}

var _ Submitter = (*BundlerClient)(nil)

// DialBundler connects to a bundler. chainID is used to compute hashes for errors.
func DialBundler(ctx context.Context, url string, entryPoint common.Address, chainID *big.Int) (*BundlerClient, error) {
	c, err := rpc.DialContext(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("dial bundler: %w", err)
	}
	return NewBundlerClient(c, entryPoint, chainID), nil
}

// NewBundlerClient wraps an RPC client.
func NewBundlerClient(c *rpc.Client, entryPoint common.Address, chainID *big.Int) *BundlerClient {
	return &BundlerClient{rpc: c, entryPoint: entryPoint, chainID: new(big.Int).Set(chainID)}
}

// Close closes the connection.
func (b *BundlerClient) Close() { b.rpc.Close() }

// SupportedEntryPoints returns eth_supportedEntryPoints.
func (b *BundlerClient) SupportedEntryPoints(ctx context.Context) ([]common.Address, error) {
	var out []common.Address
	if err := b.rpc.CallContext(ctx, &out, "eth_supportedEntryPoints"); err != nil {
		return nil, fmt.Errorf("call eth_supportedEntryPoints: %w", err)
	}
	return out, nil
}

// classify turns a bundler error into an *AAError (AAxx codes) or an *OpError(ErrRejected).
// Transport errors (no JSON-RPC error object) are returned wrapped, unclassified, so callers
// can retry them.
func classify(err error, hash common.Hash, what string) error {
	var re rpc.Error
	if !errors.As(err, &re) {
		return fmt.Errorf("%s %s: %w", what, hash.Hex(), err)
	}
	detail := ""
	var de rpc.DataError
	if errors.As(err, &de) && de.ErrorData() != nil {
		if b, jerr := json.Marshal(de.ErrorData()); jerr == nil {
			detail = string(b)
		}
	}
	if aa, ok := parseAA(re.Error(), hash, detail); ok {
		return aa
	}
	return &OpError{Kind: ErrRejected, UserOpHash: hash, Reason: fmt.Sprintf("%s: code %d: %s", what, re.ErrorCode(), re.Error())}
}

// quantity accepts a JSON hex string, a decimal string or a JSON number.
type quantity struct{ v *big.Int }

func (q *quantity) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" || s == "" {
		q.v = new(big.Int)
		return nil
	}
	v, ok := new(big.Int), false
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		v, ok = v.SetString(s[2:], 16)
	} else {
		v, ok = v.SetString(s, 10)
	}
	if !ok || v.Sign() < 0 {
		return fmt.Errorf("parse quantity %s: not a number", strconv.Quote(s))
	}
	q.v = v
	return nil
}

func (q quantity) big() *big.Int {
	if q.v == nil {
		return new(big.Int)
	}
	return q.v
}

// EstimateUserOperationGas implements Submitter.
func (b *BundlerClient) EstimateUserOperationGas(ctx context.Context, op *UserOperation) (GasEstimate, error) {
	var out struct {
		PreVerificationGas   quantity `json:"preVerificationGas"`
		VerificationGasLimit quantity `json:"verificationGasLimit"`
		VerificationGas      quantity `json:"verificationGas"` // older bundlers
		CallGasLimit         quantity `json:"callGasLimit"`
	}
	if err := b.rpc.CallContext(ctx, &out, "eth_estimateUserOperationGas", op, b.entryPoint); err != nil {
		return GasEstimate{}, classify(err, op.Hash(b.entryPoint, b.chainID), "estimate user operation gas")
	}
	vg := out.VerificationGasLimit.big()
	if vg.Sign() == 0 {
		vg = out.VerificationGas.big()
	}
	return GasEstimate{PreVerificationGas: out.PreVerificationGas.big(), VerificationGasLimit: vg, CallGasLimit: out.CallGasLimit.big()}, nil
}

// SendUserOperation implements Submitter.
func (b *BundlerClient) SendUserOperation(ctx context.Context, op *UserOperation) (common.Hash, error) {
	hash := op.Hash(b.entryPoint, b.chainID)
	var got common.Hash
	if err := b.rpc.CallContext(ctx, &got, "eth_sendUserOperation", op, b.entryPoint); err != nil {
		return hash, classify(err, hash, "send user operation")
	}
	if got != hash {
		return hash, &OpError{Kind: ErrRejected, UserOpHash: hash, Reason: "bundler returned hash " + got.Hex()}
	}
	return hash, nil
}

type receiptJSON struct {
	UserOpHash    common.Hash    `json:"userOpHash"`
	Sender        common.Address `json:"sender"`
	Nonce         quantity       `json:"nonce"`
	Success       bool           `json:"success"`
	ActualGasCost quantity       `json:"actualGasCost"`
	ActualGasUsed quantity       `json:"actualGasUsed"`
	Reason        string         `json:"reason"`
	Receipt       struct {
		TransactionHash common.Hash `json:"transactionHash"`
		BlockHash       common.Hash `json:"blockHash"`
		BlockNumber     quantity    `json:"blockNumber"`
	} `json:"receipt"`
}

// UserOperationReceipt implements Submitter (eth_getUserOperationReceipt).
func (b *BundlerClient) UserOperationReceipt(ctx context.Context, hash common.Hash) (*Receipt, error) {
	var raw json.RawMessage
	if err := b.rpc.CallContext(ctx, &raw, "eth_getUserOperationReceipt", hash); err != nil {
		return nil, classify(err, hash, "get user operation receipt")
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, fmt.Errorf("receipt of %s: %w", hash.Hex(), errNoReceipt)
	}
	var r receiptJSON
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("decode receipt of %s: %w", hash.Hex(), err)
	}
	reason, _ := hexutil.Decode(r.Reason)
	return &Receipt{UserOpHash: hash, Sender: r.Sender, Nonce: r.Nonce.big(), Success: r.Success,
		ActualGasCost: r.ActualGasCost.big(), ActualGasUsed: r.ActualGasUsed.big(), Reason: reason,
		TxHash: r.Receipt.TransactionHash, BlockHash: r.Receipt.BlockHash, BlockNumber: r.Receipt.BlockNumber.big().Uint64()}, nil
}

// UserOperationKnown implements Submitter (eth_getUserOperationByHash).
func (b *BundlerClient) UserOperationKnown(ctx context.Context, hash common.Hash) (bool, error) {
	var raw json.RawMessage
	if err := b.rpc.CallContext(ctx, &raw, "eth_getUserOperationByHash", hash); err != nil {
		return false, classify(err, hash, "get user operation")
	}
	return len(raw) != 0 && string(raw) != "null", nil
}
