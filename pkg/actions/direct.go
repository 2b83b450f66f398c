package actions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// DirectNode is what DirectSubmitter needs from a node (ethclient.Client has all of it).
type DirectNode interface {
	ContractCaller
	EstimateGas(ctx context.Context, call ethereum.CallMsg) (uint64, error)
	PendingNonceAt(ctx context.Context, account common.Address) (uint64, error)
	SuggestGasTipCap(ctx context.Context) (*big.Int, error)
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
	SendTransaction(ctx context.Context, tx *types.Transaction) error
	TransactionReceipt(ctx context.Context, txHash common.Hash) (*types.Receipt, error)
	FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error)
	BlockNumber(ctx context.Context) (uint64, error)
}

// TxSigner signs plain transactions for DirectSubmitter (KeySigner is one).
type TxSigner interface {
	Address() common.Address
	SignTx(ctx context.Context, tx *types.Transaction, chainID *big.Int) (*types.Transaction, error)
}

var _ TxSigner = (*KeySigner)(nil)

// SignTx signs tx for chainID (London signer and later).
func (s *KeySigner) SignTx(_ context.Context, tx *types.Transaction, chainID *big.Int) (*types.Transaction, error) {
	signed, err := types.SignTx(tx, types.LatestSignerForChainID(chainID), s.key)
	if err != nil {
		return nil, fmt.Errorf("sign transaction with %s: %w", s.addr.Hex(), err)
	}
	return signed, nil
}

// DirectOptions configures NewDirectSubmitter.
type DirectOptions struct {
	Node       DirectNode // required
	From       TxSigner   // required: a funded EOA that sends handleOps
	ChainID    *big.Int   // required
	EntryPoint common.Address
	// Beneficiary receives the ops' gas payment (default From).
	Beneficiary common.Address
	// VerificationGasLimit used in estimates (default 1,000,000; plus 2,000,000 with initCode).
	VerificationGasLimit uint64
}

// DirectSubmitter submits user operations by sending handleOps([op], beneficiary) to the
// EntryPoint from a funded EOA, without a bundler. Validation failures surface as *AAError
// from the EntryPoint's FailedOp revert, found by estimating the transaction first.
type DirectSubmitter struct {
	opts DirectOptions
	mu   sync.Mutex // serialises EOA nonces
	sent map[common.Hash]sentOp
}

type sentOp struct {
	tx        common.Hash
	fromBlock uint64
}

var _ Submitter = (*DirectSubmitter)(nil)

// NewDirectSubmitter returns a DirectSubmitter.
func NewDirectSubmitter(opts DirectOptions) (*DirectSubmitter, error) {
	if opts.Node == nil || opts.From == nil || opts.ChainID == nil {
		return nil, fmt.Errorf("new direct submitter: node, from and chain id are required")
	}
	if opts.EntryPoint == (common.Address{}) {
		opts.EntryPoint = Addresses{}.withDefaults().EntryPoint
	}
	if opts.Beneficiary == (common.Address{}) {
		opts.Beneficiary = opts.From.Address()
	}
	if opts.VerificationGasLimit == 0 {
		opts.VerificationGasLimit = 1_000_000
	}
	return &DirectSubmitter{opts: opts, sent: map[common.Hash]sentOp{}}, nil
}

// failedOpSel is FailedOp(uint256,string), the EntryPoint's validation revert.
var failedOpSel = keccak4("FailedOp(uint256,string)")

// decodeFailedOp returns the reason of a FailedOp revert.
func decodeFailedOp(data []byte) (string, bool) {
	if len(data) < 4 || !bytes.Equal(data[:4], failedOpSel[:]) {
		return "", false
	}
	vals, err := entryPointABI.Errors["FailedOp"].Inputs.Unpack(data[4:])
	if err != nil || len(vals) != 2 {
		return "", false
	}
	s, ok := vals[1].(string)
	return s, ok
}

// EstimateUserOperationGas estimates without a bundler: the call gas from eth_estimateGas of
// the callData sent by the EntryPoint to the account (1,000,000 when that reverts or the
// account does not exist yet), a fixed verification gas limit, and a preVerificationGas that
// covers the op's calldata. It does not validate: SendUserOperation does.
func (d *DirectSubmitter) EstimateUserOperationGas(ctx context.Context, op *UserOperation) (GasEstimate, error) {
	hash := op.Hash(d.opts.EntryPoint, d.opts.ChainID)
	vg := d.opts.VerificationGasLimit
	callGas := uint64(200_000)
	if len(op.InitCode) != 0 {
		vg += 2_000_000
		callGas = 1_000_000 // the account does not exist yet: no estimate possible
	} else {
		sender := op.Sender
		g, err := d.opts.Node.EstimateGas(ctx, ethereum.CallMsg{From: d.opts.EntryPoint, To: &sender, Data: op.CallData})
		switch {
		case err == nil:
			callGas = g
		case ctx.Err() != nil:
			return GasEstimate{}, fmt.Errorf("estimate call gas of %s: %w", hash.Hex(), err)
		default:
			// The callData reverts on its own (or needs the validation that runs before it,
			// as executeWithSessionKey does): keep the default and let handleOps decide, as
			// the EntryPoint would: a validation failure comes back as an AAxx error, an
			// execution failure as an included op with success=false (ErrReverted).
			callGas = 1_000_000
		}
	}
	size := uint64(len(op.CallData) + len(op.InitCode) + len(op.PaymasterAndData) + 65 + 11*32)
	return GasEstimate{
		PreVerificationGas:   new(big.Int).SetUint64(21_000 + 16*size),
		VerificationGasLimit: new(big.Int).SetUint64(vg),
		CallGasLimit:         new(big.Int).SetUint64(callGas),
	}, nil
}

// SendUserOperation sends handleOps([op]) and returns once the transaction is in the pool.
func (d *DirectSubmitter) SendUserOperation(ctx context.Context, op *UserOperation) (common.Hash, error) {
	n := d.opts.Node
	hash := op.Hash(d.opts.EntryPoint, d.opts.ChainID)
	data := pack(entryPointABI, "handleOps", []UserOperation{*op.Copy()}, d.opts.Beneficiary)
	from := d.opts.From.Address()
	ep := d.opts.EntryPoint
	gas, err := n.EstimateGas(ctx, ethereum.CallMsg{From: from, To: &ep, Data: data})
	if err != nil {
		rd, ok := RevertData(err)
		if ok {
			if reason, isFailed := decodeFailedOp(rd); isFailed {
				if aa, isAA := parseAA(reason, hash, ""); isAA {
					return hash, aa
				}
				return hash, &OpError{Kind: ErrRejected, UserOpHash: hash, Reason: reason, RevertData: rd}
			}
			return hash, &OpError{Kind: ErrRejected, UserOpHash: hash, Reason: "handleOps reverts: " + err.Error(), RevertData: rd}
		}
		return hash, fmt.Errorf("estimate handleOps for %s: %w", hash.Hex(), err)
	}
	tip, err := n.SuggestGasTipCap(ctx)
	if err != nil {
		return hash, fmt.Errorf("suggest tip for %s: %w", hash.Hex(), err)
	}
	head, err := n.HeaderByNumber(ctx, nil)
	if err != nil {
		return hash, fmt.Errorf("read head for %s: %w", hash.Hex(), err)
	}
	feeCap := new(big.Int).Set(tip)
	if head.BaseFee != nil {
		feeCap.Add(feeCap, new(big.Int).Mul(head.BaseFee, big.NewInt(2)))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	nonce, err := n.PendingNonceAt(ctx, from)
	if err != nil {
		return hash, fmt.Errorf("read nonce of %s: %w", from.Hex(), err)
	}
	tx := types.NewTx(&types.DynamicFeeTx{ChainID: d.opts.ChainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap,
		Gas: gas + gas/4, To: &ep, Data: data})
	signed, err := d.opts.From.SignTx(ctx, tx, d.opts.ChainID)
	if err != nil {
		return hash, err
	}
	if err := n.SendTransaction(ctx, signed); err != nil {
		return hash, fmt.Errorf("send handleOps for %s: %w", hash.Hex(), err)
	}
	d.sent[hash] = sentOp{tx: signed.Hash(), fromBlock: head.Number.Uint64()}
	return hash, nil
}

var (
	topicUserOperationEvent        = entryPointABI.Events["UserOperationEvent"].ID
	topicUserOperationRevertReason = entryPointABI.Events["UserOperationRevertReason"].ID
)

// UserOperationReceipt finds the op's UserOperationEvent: in the receipt of the handleOps
// transaction this submitter sent, or else in the EntryPoint's logs.
func (d *DirectSubmitter) UserOperationReceipt(ctx context.Context, hash common.Hash) (*Receipt, error) {
	d.mu.Lock()
	s, ours := d.sent[hash]
	d.mu.Unlock()
	if ours {
		rc, err := d.opts.Node.TransactionReceipt(ctx, s.tx)
		if errors.Is(err, ethereum.NotFound) {
			return nil, fmt.Errorf("receipt of %s: %w", hash.Hex(), errNoReceipt)
		}
		if err != nil {
			return nil, fmt.Errorf("read receipt of %s: %w", hash.Hex(), err)
		}
		if rc.Status != types.ReceiptStatusSuccessful {
			return nil, &OpError{Kind: ErrDropped, UserOpHash: hash, Reason: "handleOps transaction " + s.tx.Hex() + " reverted"}
		}
		d.mu.Lock()
		delete(d.sent, hash) // final: later lookups go through the EntryPoint's logs
		d.mu.Unlock()
		r := ReceiptFromLogs(hash, rc.Logs, d.opts.EntryPoint)
		if r == nil {
			return nil, &OpError{Kind: ErrDropped, UserOpHash: hash, Reason: "handleOps transaction " + s.tx.Hex() + " has no UserOperationEvent"}
		}
		return r, nil
	}
	logs, err := d.opts.Node.FilterLogs(ctx, ethereum.FilterQuery{Addresses: []common.Address{d.opts.EntryPoint},
		FromBlock: new(big.Int), Topics: [][]common.Hash{{topicUserOperationEvent, topicUserOperationRevertReason}, {hash}}})
	if err != nil {
		return nil, fmt.Errorf("filter logs for %s: %w", hash.Hex(), err)
	}
	ptrs := make([]*types.Log, len(logs))
	for i := range logs {
		ptrs[i] = &logs[i]
	}
	if r := ReceiptFromLogs(hash, ptrs, d.opts.EntryPoint); r != nil {
		return r, nil
	}
	return nil, fmt.Errorf("receipt of %s: %w", hash.Hex(), errNoReceipt)
}

// UserOperationKnown reports whether this submitter sent the op and has not yet seen its
// transaction mined.
func (d *DirectSubmitter) UserOperationKnown(_ context.Context, hash common.Hash) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.sent[hash]
	return ok, nil
}

// ReceiptFromLogs builds a Receipt from the EntryPoint's UserOperationEvent (and
// UserOperationRevertReason) for hash among logs; nil when there is none.
func ReceiptFromLogs(hash common.Hash, logs []*types.Log, entryPoint common.Address) *Receipt {
	var r *Receipt
	var reason []byte
	for _, l := range logs {
		if l.Address != entryPoint || len(l.Topics) < 3 || l.Topics[1] != hash || l.Removed {
			continue
		}
		switch l.Topics[0] {
		case topicUserOperationEvent:
			vals, err := entryPointABI.Events["UserOperationEvent"].Inputs.NonIndexed().Unpack(l.Data)
			if err != nil || len(vals) != 4 {
				continue
			}
			ok, _ := vals[1].(bool)
			r = &Receipt{UserOpHash: hash, Sender: common.BytesToAddress(l.Topics[2][:]), Nonce: asBig(vals[0]),
				Success: ok, ActualGasCost: asBig(vals[2]), ActualGasUsed: asBig(vals[3]),
				TxHash: l.TxHash, BlockHash: l.BlockHash, BlockNumber: l.BlockNumber}
		case topicUserOperationRevertReason:
			vals, err := entryPointABI.Events["UserOperationRevertReason"].Inputs.NonIndexed().Unpack(l.Data)
			if err == nil && len(vals) == 2 {
				reason, _ = vals[1].([]byte)
			}
		}
	}
	if r != nil {
		r.Reason = reason
	}
	return r
}

func asBig(v any) *big.Int {
	if b, ok := v.(*big.Int); ok {
		return b
	}
	return new(big.Int)
}

// keccak4 returns the selector of a signature (used by tests and the CLI).
func keccak4(sig string) [4]byte { return [4]byte(crypto.Keccak256([]byte(sig))[:4]) }
