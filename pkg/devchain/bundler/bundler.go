package bundler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/keywarden/keywarden/pkg/userop"
	"github.com/rs/zerolog"
)

// Chain is what the bundler reads from the chain.
type Chain interface {
	ethereum.ContractCaller
	ethereum.GasEstimator
	ethereum.LogFilterer
	ethereum.TransactionReader
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
}

// SubmitFunc sends a transaction calling to with data and gas from the beneficiary and returns
// its receipt once it is mined (whatever its status).
type SubmitFunc func(ctx context.Context, to common.Address, data []byte, gas uint64) (*types.Receipt, error)

// Options configures [Start].
type Options struct {
	Chain         Chain
	Submit        SubmitFunc
	ChainID       *big.Int
	EntryPoint    common.Address
	EntryPointABI abi.ABI
	// Beneficiary receives the bundles' fees; it is the sender of handleOps.
	Beneficiary common.Address
	// Listen is the TCP address to serve on (default "127.0.0.1:0").
	Listen string
	Logger zerolog.Logger
	// TxGasCap caps the handleOps gas limit (default 2^24, the EIP-7825 cap).
	TxGasCap uint64
}

// Bundler is a running local bundler.
type Bundler struct {
	opts   Options
	log    zerolog.Logger
	srv    *http.Server
	rpc    *rpc.Server
	ln     net.Listener
	url    string
	mu     sync.Mutex // one bundle at a time
	done   chan struct{}
	hintMu sync.Mutex
	hints  map[common.Hash]uint64 // op hash -> block it was first mined in
}

var (
	topicUserOperationEvent = crypto.Keccak256Hash([]byte("UserOperationEvent(bytes32,address,address,uint256,bool,uint256,uint256)"))
	topicBeforeExecution    = crypto.Keccak256Hash([]byte("BeforeExecution()"))
	topicRevertReason       = crypto.Keccak256Hash([]byte("UserOperationRevertReason(bytes32,address,uint256,bytes)"))
)

// Start serves the bundler until Close.
func Start(ctx context.Context, opts Options) (*Bundler, error) {
	if opts.Chain == nil || opts.Submit == nil || opts.ChainID == nil {
		return nil, errors.New("start bundler: Chain, Submit and ChainID are required")
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.TxGasCap == 0 {
		opts.TxGasCap = 1 << 24
	}
	b := &Bundler{opts: opts, log: opts.Logger.With().Str("component", "bundler").Logger(), done: make(chan struct{}), hints: map[common.Hash]uint64{}}
	b.rpc = rpc.NewServer()
	if err := b.rpc.RegisterName("eth", &api{b: b}); err != nil {
		return nil, fmt.Errorf("start bundler: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("start bundler: listen: %w", err)
	}
	b.ln = ln
	b.url = "http://" + ln.Addr().String()
	b.srv = &http.Server{Handler: b.rpc, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(b.done)
		if err := b.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.log.Error().Err(err).Msg("bundler server stopped")
		}
	}()
	return b, nil
}

// URL is the bundler's JSON-RPC endpoint.
func (b *Bundler) URL() string { return b.url }

// Close stops serving.
func (b *Bundler) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := b.srv.Shutdown(ctx)
	b.rpc.Stop()
	<-b.done
	if err != nil {
		return fmt.Errorf("close bundler: %w", err)
	}
	return nil
}

// api holds the JSON-RPC methods (namespace eth).
type api struct{ b *Bundler }

// SupportedEntryPoints is eth_supportedEntryPoints.
func (a *api) SupportedEntryPoints() []common.Address { return []common.Address{a.b.opts.EntryPoint} }

// ChainId is eth_chainId.
func (a *api) ChainId() *hexutil.Big { return (*hexutil.Big)(a.b.opts.ChainID) }

func (a *api) checkEntryPoint(ep common.Address) error {
	if ep != a.b.opts.EntryPoint {
		return rpcErr(CodeInvalidFields, "unsupported entry point %s (supported: %s)", ep.Hex(), a.b.opts.EntryPoint.Hex())
	}
	return nil
}

func decodeOp(raw json.RawMessage) (*userop.UserOperation, error) {
	op, err := userop.Decode(raw)
	if err != nil {
		return nil, &Error{Code: CodeInvalidFields, Message: err.Error()}
	}
	return op, nil
}

// SendUserOperation is eth_sendUserOperation: validate, bundle alone, wait until mined.
func (a *api) SendUserOperation(ctx context.Context, raw json.RawMessage, entryPoint common.Address) (common.Hash, error) {
	if err := a.checkEntryPoint(entryPoint); err != nil {
		return common.Hash{}, err
	}
	op, err := decodeOp(raw)
	if err != nil {
		return common.Hash{}, err
	}
	b := a.b
	hash := op.Hash(b.opts.EntryPoint, b.opts.ChainID)
	log := b.log.With().Str("user_op", hash.Hex()).Str("sender", op.Sender.Hex()).Logger()
	if err := b.simulateValidation(ctx, op); err != nil {
		log.Debug().Err(err).Msg("user operation refused")
		return common.Hash{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	data, err := b.opts.EntryPointABI.Pack("handleOps", []userop.UserOperation{toABI(op)}, b.opts.Beneficiary)
	if err != nil {
		return common.Hash{}, rpcErr(CodeInvalidFields, "encode handleOps: %v", err)
	}
	gas, err := b.opts.Chain.EstimateGas(ctx, ethereum.CallMsg{From: b.opts.Beneficiary, To: &b.opts.EntryPoint, Data: data})
	if err != nil {
		return common.Hash{}, b.callError(err)
	}
	gas = min(gas*6/5+50_000, b.opts.TxGasCap)
	rcpt, err := b.opts.Submit(ctx, b.opts.EntryPoint, data, gas)
	if err != nil {
		return common.Hash{}, rpcErr(CodeInternal, "submit handleOps: %v", err)
	}
	if rcpt.Status != types.ReceiptStatusSuccessful {
		return common.Hash{}, rpcErr(CodeSimulateValidation, "handleOps transaction %s reverted", rcpt.TxHash.Hex())
	}
	b.hintMu.Lock()
	if _, ok := b.hints[hash]; !ok {
		b.hints[hash] = rcpt.BlockNumber.Uint64()
	}
	b.hintMu.Unlock()
	log.Debug().Str("tx", rcpt.TxHash.Hex()).Uint64("block", rcpt.BlockNumber.Uint64()).Msg("user operation bundled")
	return hash, nil
}

// validationResult mirrors the EntryPoint's ValidationResult.returnInfo.
type returnInfo struct {
	PreOpGas         *big.Int
	Prefund          *big.Int
	SigFailed        bool
	ValidAfter       *big.Int
	ValidUntil       *big.Int
	PaymasterContext []byte
}

// simulateValidation runs EntryPoint.simulateValidation (which always reverts) and maps the
// outcome to the bundler errors of ERC-7769.
func (b *Bundler) simulateValidation(ctx context.Context, op *userop.UserOperation) error {
	data, err := b.opts.EntryPointABI.Pack("simulateValidation", toABI(op))
	if err != nil {
		return rpcErr(CodeInvalidFields, "encode simulateValidation: %v", err)
	}
	_, err = b.opts.Chain.CallContract(ctx, ethereum.CallMsg{To: &b.opts.EntryPoint, Data: data}, nil)
	if err == nil {
		return rpcErr(CodeInternal, "simulateValidation returned without a result")
	}
	rev, ok := revertBytes(err)
	if !ok || len(rev) < 4 {
		return b.callError(err)
	}
	var name string
	for n, e := range b.opts.EntryPointABI.Errors {
		if string(e.ID[:4]) == string(rev[:4]) {
			name = n
		}
	}
	if name != "ValidationResult" && name != "ValidationResultWithAggregation" {
		return b.callError(err)
	}
	vals, uerr := b.opts.EntryPointABI.Errors[name].Inputs.Unpack(rev[4:])
	if uerr != nil || len(vals) == 0 {
		return rpcErr(CodeInternal, "decode %s: %v", name, uerr)
	}
	info := *abi.ConvertType(vals[0], new(returnInfo)).(*returnInfo)
	if info.SigFailed {
		return rpcErr(CodeSignature, "Invalid UserOp signature or paymaster signature (the EntryPoint would fail it with AA24 signature error)")
	}
	head, herr := b.opts.Chain.HeaderByNumber(ctx, nil)
	if herr != nil {
		return rpcErr(CodeInternal, "read head: %v", herr)
	}
	next := max(uint64(time.Now().Unix()), head.Time+1)
	if info.ValidAfter != nil && info.ValidAfter.Uint64() > next {
		return rpcErr(CodeTimeRange, "UserOperation not due: validAfter %d, next block time %d (AA22 expired or not due)", info.ValidAfter, next)
	}
	if info.ValidUntil != nil && info.ValidUntil.Sign() != 0 && info.ValidUntil.Uint64() < next {
		return rpcErr(CodeTimeRange, "UserOperation expired: validUntil %d, next block time %d (AA22 expired or not due)", info.ValidUntil, next)
	}
	return nil
}

// callError maps a failed call to the EntryPoint (FailedOp or anything else) to a bundler error.
func (b *Bundler) callError(err error) error {
	rev, ok := revertBytes(err)
	if ok && len(rev) >= 4 {
		if e, found := b.opts.EntryPointABI.Errors["FailedOp"]; found && string(e.ID[:4]) == string(rev[:4]) {
			vals, uerr := e.Inputs.Unpack(rev[4:])
			if uerr == nil && len(vals) == 2 {
				reason, _ := vals[1].(string)
				code := CodeSimulateValidation
				if strings.HasPrefix(reason, "AA3") {
					code = CodePaymaster
				}
				return &Error{Code: code, Message: reason}
			}
		}
		if reason, uerr := abi.UnpackRevert(rev); uerr == nil {
			return &Error{Code: CodeSimulateValidation, Message: reason}
		}
		return &Error{Code: CodeSimulateValidation, Message: "execution reverted", Data: hexutil.Encode(rev)}
	}
	return rpcErr(CodeInternal, "call entry point: %v", err)
}

type dataError interface {
	error
	ErrorData() any
}

func revertBytes(err error) ([]byte, bool) {
	var de dataError
	if !errors.As(err, &de) {
		return nil, false
	}
	switch v := de.ErrorData().(type) {
	case string:
		b, derr := hexutil.Decode(v)
		return b, derr == nil
	case []byte:
		return v, true
	}
	return nil, false
}
