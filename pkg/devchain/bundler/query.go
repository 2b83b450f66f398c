package bundler

import (
	"context"
	"encoding/json"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/keywarden/keywarden/pkg/userop"
)

// GasEstimate is the result of eth_estimateUserOperationGas.
type GasEstimate struct {
	PreVerificationGas   *hexutil.Big `json:"preVerificationGas"`
	VerificationGasLimit *hexutil.Big `json:"verificationGasLimit"`
	CallGasLimit         *hexutil.Big `json:"callGasLimit"`
}

// dummySignature is a well-formed 65-byte signature (low s, v = 28) that recovers to no owner.
var dummySignature = hexutil.MustDecode("0x" + strings.Repeat("ff", 15) + "f0" + strings.Repeat("00", 16) + "7a" + strings.Repeat("aa", 31) + "1c")

// EstimateUserOperationGas is eth_estimateUserOperationGas. Gas and fee fields may be
// omitted; a missing signature is replaced by a well-formed dummy one. The op is run with
// EntryPoint.simulateHandleOp with generous limits and a gas price of 1 wei, so the sender
// must be able to pay a prefund of a few tens of millions of wei.
func (a *api) EstimateUserOperationGas(ctx context.Context, raw json.RawMessage, entryPoint common.Address) (*GasEstimate, error) {
	if err := a.checkEntryPoint(entryPoint); err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, rpcErr(CodeInvalidFields, "invalid user operation: not a JSON object")
	}
	for _, f := range []string{"callGasLimit", "verificationGasLimit", "preVerificationGas", "maxFeePerGas", "maxPriorityFeePerGas"} {
		if _, ok := m[f]; !ok {
			m[f] = json.RawMessage(`"0x0"`)
		}
	}
	for _, f := range []string{"initCode", "paymasterAndData"} {
		if _, ok := m[f]; !ok {
			m[f] = json.RawMessage(`"0x"`)
		}
	}
	if s, ok := m["signature"]; !ok || string(s) == `"0x"` {
		m["signature"], _ = json.Marshal(hexutil.Bytes(dummySignature))
	}
	filled, _ := json.Marshal(m)
	op, err := decodeOp(filled)
	if err != nil {
		return nil, err
	}
	b := a.b
	sim := op.Copy()
	sim.CallGasLimit = big.NewInt(8_000_000)
	sim.VerificationGasLimit = big.NewInt(5_000_000)
	sim.PreVerificationGas = big.NewInt(0)
	sim.MaxFeePerGas, sim.MaxPriorityFeePerGas = big.NewInt(1), big.NewInt(1)
	data, err := b.opts.EntryPointABI.Pack("simulateHandleOp", toABI(sim), common.Address{}, []byte{})
	if err != nil {
		return nil, rpcErr(CodeInvalidFields, "encode simulateHandleOp: %v", err)
	}
	_, err = b.opts.Chain.CallContract(ctx, ethereum.CallMsg{To: &b.opts.EntryPoint, Data: data, Gas: 30_000_000}, nil)
	rev, ok := revertBytes(err)
	res, found := b.opts.EntryPointABI.Errors["ExecutionResult"]
	if err == nil || !ok || len(rev) < 4 || !found || string(res.ID[:4]) != string(rev[:4]) {
		if err == nil {
			return nil, rpcErr(CodeInternal, "simulateHandleOp returned without a result")
		}
		return nil, b.callError(err)
	}
	vals, uerr := res.Inputs.Unpack(rev[4:])
	if uerr != nil || len(vals) < 2 {
		return nil, rpcErr(CodeInternal, "decode ExecutionResult: %v", uerr)
	}
	preOpGas, _ := vals[0].(*big.Int)
	paid, _ := vals[1].(*big.Int)
	if preOpGas == nil || paid == nil {
		return nil, rpcErr(CodeInternal, "decode ExecutionResult: unexpected types")
	}
	verification := preOpGas.Uint64()
	call := uint64(0)
	if paid.Cmp(preOpGas) > 0 {
		call = new(big.Int).Sub(paid, preOpGas).Uint64()
	}
	pvg := preVerificationGas(op)
	return &GasEstimate{
		PreVerificationGas:   (*hexutil.Big)(new(big.Int).SetUint64(pvg)),
		VerificationGasLimit: (*hexutil.Big)(new(big.Int).SetUint64(max(verification*3/2, 100_000))),
		CallGasLimit:         (*hexutil.Big)(new(big.Int).SetUint64(max(call*6/5+30_000, 50_000))),
	}, nil
}

// preVerificationGas prices the op's share of a one-op bundle's calldata and overhead, as
// the reference bundler's calcPreVerificationGas does.
func preVerificationGas(op *userop.UserOperation) uint64 {
	p := op.Copy()
	if len(p.Signature) < 65 {
		p.Signature = dummySignature
	}
	for _, f := range []**big.Int{&p.CallGasLimit, &p.VerificationGasLimit, &p.PreVerificationGas, &p.MaxFeePerGas, &p.MaxPriorityFeePerGas} {
		if (*f).Sign() == 0 {
			*f = big.NewInt(1 << 40) // price non-zero bytes as the real values will be
		}
	}
	packed, _ := abi.Arguments{{Type: opTupleType}}.Pack(toABI(p))
	cost := uint64(21_000 + 18_300)
	for _, c := range packed {
		if c == 0 {
			cost += 4
		} else {
			cost += 16
		}
	}
	return cost + 4*uint64((len(packed)+31)/32)
}

var opTupleType, _ = abi.NewType("tuple", "", []abi.ArgumentMarshaling{
	{Name: "sender", Type: "address"}, {Name: "nonce", Type: "uint256"}, {Name: "initCode", Type: "bytes"},
	{Name: "callData", Type: "bytes"}, {Name: "callGasLimit", Type: "uint256"}, {Name: "verificationGasLimit", Type: "uint256"},
	{Name: "preVerificationGas", Type: "uint256"}, {Name: "maxFeePerGas", Type: "uint256"},
	{Name: "maxPriorityFeePerGas", Type: "uint256"}, {Name: "paymasterAndData", Type: "bytes"}, {Name: "signature", Type: "bytes"},
})

// Receipt is the result of eth_getUserOperationReceipt.
type Receipt struct {
	UserOpHash    common.Hash    `json:"userOpHash"`
	EntryPoint    common.Address `json:"entryPoint"`
	Sender        common.Address `json:"sender"`
	Nonce         *hexutil.Big   `json:"nonce"`
	Paymaster     common.Address `json:"paymaster"`
	ActualGasCost *hexutil.Big   `json:"actualGasCost"`
	ActualGasUsed *hexutil.Big   `json:"actualGasUsed"`
	Success       bool           `json:"success"`
	Reason        string         `json:"reason"`
	Logs          []*types.Log   `json:"logs"`
	Receipt       *types.Receipt `json:"receipt"`
}

// ByHash is the result of eth_getUserOperationByHash.
type ByHash struct {
	UserOperation   userop.Wire    `json:"userOperation"`
	EntryPoint      common.Address `json:"entryPoint"`
	TransactionHash common.Hash    `json:"transactionHash"`
	BlockHash       common.Hash    `json:"blockHash"`
	BlockNumber     *hexutil.Big   `json:"blockNumber"`
}

// LookbackBlocks bounds how far back an operation the bundler did not bundle itself is
// searched for (real bundlers bound it too).
const LookbackBlocks = 10_000

// findEvent returns the canonical UserOperationEvent log of hash, or nil. Operations this
// bundler bundled are searched from a little before the block they were first mined in
// (a reorg can only move them later); others within the last LookbackBlocks blocks.
func (b *Bundler) findEvent(ctx context.Context, hash common.Hash) (*types.Log, error) {
	head, err := b.opts.Chain.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, rpcErr(CodeInternal, "read head: %v", err)
	}
	from := uint64(0)
	if head.Number.Uint64() > LookbackBlocks {
		from = head.Number.Uint64() - LookbackBlocks
	}
	b.hintMu.Lock()
	if n, ok := b.hints[hash]; ok {
		from = max(n, 64) - 64
	}
	b.hintMu.Unlock()
	logs, err := b.opts.Chain.FilterLogs(ctx, ethereum.FilterQuery{
		FromBlock: new(big.Int).SetUint64(from), ToBlock: head.Number, Addresses: []common.Address{b.opts.EntryPoint},
		Topics: [][]common.Hash{{topicUserOperationEvent}, {hash}},
	})
	if err != nil {
		return nil, rpcErr(CodeInternal, "read logs: %v", err)
	}
	if len(logs) == 0 {
		return nil, nil
	}
	l := logs[len(logs)-1]
	return &l, nil
}

// GetUserOperationReceipt is eth_getUserOperationReceipt: null while the op is not mined.
func (a *api) GetUserOperationReceipt(ctx context.Context, hash common.Hash) (*Receipt, error) {
	b := a.b
	ev, err := b.findEvent(ctx, hash)
	if err != nil || ev == nil {
		return nil, err
	}
	rcpt, err := b.opts.Chain.TransactionReceipt(ctx, ev.TxHash)
	if err != nil {
		return nil, rpcErr(CodeInternal, "read receipt: %v", err)
	}
	vals, err := b.opts.EntryPointABI.Events["UserOperationEvent"].Inputs.NonIndexed().Unpack(ev.Data)
	if err != nil || len(vals) != 4 || len(ev.Topics) != 4 {
		return nil, rpcErr(CodeInternal, "decode UserOperationEvent: %v", err)
	}
	out := &Receipt{
		UserOpHash: hash, EntryPoint: b.opts.EntryPoint,
		Sender:    common.BytesToAddress(ev.Topics[2][:]),
		Paymaster: common.BytesToAddress(ev.Topics[3][:]),
		Nonce:     (*hexutil.Big)(vals[0].(*big.Int)), Success: vals[1].(bool),
		ActualGasCost: (*hexutil.Big)(vals[2].(*big.Int)), ActualGasUsed: (*hexutil.Big)(vals[3].(*big.Int)),
		Receipt: rcpt, Logs: []*types.Log{},
	}
	// The op's logs: after the previous op's UserOperationEvent (or BeforeExecution) and
	// before its own UserOperationEvent.
	start := 0
	for i, l := range rcpt.Logs {
		if l.Index == ev.Index {
			out.Logs = append(out.Logs, rcpt.Logs[start:i]...)
			break
		}
		if l.Address == b.opts.EntryPoint && len(l.Topics) > 0 {
			switch l.Topics[0] {
			case topicUserOperationEvent, topicBeforeExecution:
				start = i + 1
			case topicRevertReason:
				if len(l.Topics) > 1 && l.Topics[1] == hash {
					if rv, err := b.opts.EntryPointABI.Events["UserOperationRevertReason"].Inputs.NonIndexed().Unpack(l.Data); err == nil && len(rv) == 2 {
						out.Reason = hexutil.Encode(rv[1].([]byte))
					}
				}
			}
		}
	}
	return out, nil
}

// GetUserOperationByHash is eth_getUserOperationByHash: null while the op is not mined.
func (a *api) GetUserOperationByHash(ctx context.Context, hash common.Hash) (*ByHash, error) {
	b := a.b
	ev, err := b.findEvent(ctx, hash)
	if err != nil || ev == nil {
		return nil, err
	}
	tx, _, err := b.opts.Chain.TransactionByHash(ctx, ev.TxHash)
	if err != nil {
		return nil, rpcErr(CodeInternal, "read transaction: %v", err)
	}
	m := b.opts.EntryPointABI.Methods["handleOps"]
	if len(tx.Data()) < 4 || string(tx.Data()[:4]) != string(m.ID) {
		return nil, rpcErr(CodeInternal, "transaction %s is not a handleOps call", tx.Hash().Hex())
	}
	args, err := m.Inputs.Unpack(tx.Data()[4:])
	if err != nil || len(args) != 2 {
		return nil, rpcErr(CodeInternal, "decode handleOps: %v", err)
	}
	ops := *abi.ConvertType(args[0], new([]userop.UserOperation)).(*[]userop.UserOperation)
	for _, o := range ops {
		op := fromABI(o)
		if op.Hash(b.opts.EntryPoint, b.opts.ChainID) == hash {
			return &ByHash{
				UserOperation: op.ToWire(), EntryPoint: b.opts.EntryPoint, TransactionHash: ev.TxHash,
				BlockHash: ev.BlockHash, BlockNumber: (*hexutil.Big)(new(big.Int).SetUint64(ev.BlockNumber)),
			}, nil
		}
	}
	return nil, rpcErr(CodeInternal, "user operation %s not found in %s", hash.Hex(), tx.Hash().Hex())
}
