package actions

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/rs/zerolog"
)

// Node is what a Client needs from the chain: reads, and the fee market.
type Node interface {
	ContractCaller
	SuggestGasTipCap(ctx context.Context) (*big.Int, error)
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
}

// Options configures NewClient.
type Options struct {
	Node      Node      // required
	Submitter Submitter // required: a BundlerClient or a DirectSubmitter
	ChainID   *big.Int  // required
	Addresses Addresses // zero fields: canonical deployments
	Logger    zerolog.Logger
	// GasMarginPercent is added to every gas estimate (default 20).
	GasMarginPercent int
	// PollInterval between receipt polls (default 250ms).
	PollInterval time.Duration
	// ReceiptTimeout bounds Wait when ctx has no deadline (default 2 minutes).
	ReceiptTimeout time.Duration
	// DroppedAfter: an op the submitter no longer knows and that has no receipt this many
	// polls in a row is reported as ErrDropped (default 8).
	DroppedAfter int
}

// Client builds, signs, submits and follows user operations for Modular Accounts, and reads
// the Session Key Plugin's views. It is safe for concurrent use; two operations of one
// account in flight at once must use different nonce keys (OpRequest.NonceKey,
// Account.NonceKey), or the second fails with AA25.
type Client struct {
	*Reader
	opts Options
	log  zerolog.Logger
}

// NewClient returns a Client.
func NewClient(opts Options) (*Client, error) {
	if opts.Node == nil || opts.Submitter == nil || opts.ChainID == nil {
		return nil, fmt.Errorf("new actions client: node, submitter and chain id are required")
	}
	if opts.GasMarginPercent == 0 {
		opts.GasMarginPercent = 20
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 250 * time.Millisecond
	}
	if opts.ReceiptTimeout == 0 {
		opts.ReceiptTimeout = 2 * time.Minute
	}
	if opts.DroppedAfter == 0 {
		opts.DroppedAfter = 8
	}
	opts.Addresses = opts.Addresses.withDefaults()
	return &Client{Reader: NewReader(opts.Node, opts.Addresses), opts: opts,
		log: opts.Logger.With().Str("component", "actions").Logger()}, nil
}

// ChainID returns the chain id the client hashes for.
func (c *Client) ChainID() *big.Int { return new(big.Int).Set(c.opts.ChainID) }

// OpRequest describes a user operation to build.
type OpRequest struct {
	Sender   common.Address
	CallData []byte
	InitCode []byte
	// NonceKey is the 2-D nonce key (nil: 0).
	NonceKey *big.Int
	// PaymasterAndData, if any.
	PaymasterAndData []byte
	// Gas overrides; nil fields are estimated.
	CallGasLimit, VerificationGasLimit, PreVerificationGas *big.Int
}

// dummySignature is a well-formed 65-byte signature (recoverable, low s, v 27/28) by a
// throwaway key, used while estimating so that signature checks fail softly instead of
// reverting on a malformed signature.
var dummySignature = func() []byte {
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte("keywarden estimation key")))
	if err != nil {
		panic(err)
	}
	sig, err := NewKeySigner(k).SignHash(context.Background(), crypto.Keccak256Hash([]byte("keywarden estimation")))
	if err != nil {
		panic(err)
	}
	return sig
}()

func (c *Client) margin(x *big.Int) *big.Int {
	m := new(big.Int).Mul(x, big.NewInt(int64(100+c.opts.GasMarginPercent)))
	return m.Quo(m, big.NewInt(100))
}

// Fees returns (maxFeePerGas, maxPriorityFeePerGas) from the node: the suggested tip plus twice
// the latest base fee.
func (c *Client) Fees(ctx context.Context) (*big.Int, *big.Int, error) {
	tip, err := c.opts.Node.SuggestGasTipCap(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read priority fee: %w", err)
	}
	head, err := c.opts.Node.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("read base fee: %w", err)
	}
	maxFee := new(big.Int).Set(tip)
	if head.BaseFee != nil {
		maxFee.Add(maxFee, new(big.Int).Mul(head.BaseFee, big.NewInt(2)))
	}
	return maxFee, tip, nil
}

// Build returns an unsigned user operation for req: the nonce from the EntryPoint, fees from
// the node, gas from the submitter's estimate plus the margin. A validation failure found
// while estimating is returned as an *AAError whose hash is that of the estimated operation
// (placeholder gas, dummy signature): the operation was never signed or sent.
func (c *Client) Build(ctx context.Context, req OpRequest) (*UserOperation, error) {
	nonce, err := c.Nonce(ctx, req.Sender, req.NonceKey)
	if err != nil {
		return nil, fmt.Errorf("build user operation: %w", err)
	}
	maxFee, tip, err := c.Fees(ctx)
	if err != nil {
		return nil, fmt.Errorf("build user operation: %w", err)
	}
	op := &UserOperation{Sender: req.Sender, Nonce: nonce, InitCode: req.InitCode, CallData: req.CallData,
		MaxFeePerGas: maxFee, MaxPriorityFeePerGas: tip, PaymasterAndData: req.PaymasterAndData,
		CallGasLimit: req.CallGasLimit, VerificationGasLimit: req.VerificationGasLimit, PreVerificationGas: req.PreVerificationGas,
		Signature: dummySignature}
	if op.CallGasLimit == nil || op.VerificationGasLimit == nil || op.PreVerificationGas == nil {
		// Estimate with generous placeholders, as bundlers expect non-zero limits.
		probe := op.Copy()
		probe.CallGasLimit, probe.VerificationGasLimit, probe.PreVerificationGas = big.NewInt(5_000_000), big.NewInt(5_000_000), big.NewInt(100_000)
		est, err := c.opts.Submitter.EstimateUserOperationGas(ctx, probe)
		if err != nil {
			return nil, fmt.Errorf("build user operation: %w", err)
		}
		if op.CallGasLimit == nil {
			op.CallGasLimit = c.margin(est.CallGasLimit)
		}
		if op.VerificationGasLimit == nil {
			op.VerificationGasLimit = c.margin(est.VerificationGasLimit)
		}
		if op.PreVerificationGas == nil {
			op.PreVerificationGas = c.margin(est.PreVerificationGas)
		}
	}
	op.Signature = nil
	return op, nil
}

// Hash returns op's hash for the client's EntryPoint and chain.
func (c *Client) Hash(op *UserOperation) common.Hash {
	return op.Hash(c.opts.Addresses.EntryPoint, c.opts.ChainID)
}

// Sign sets op.Signature with signer and returns op's hash. An OpSigner (such as Guard) sees
// the whole operation.
func (c *Client) Sign(ctx context.Context, op *UserOperation, signer Signer) (common.Hash, error) {
	hash := c.Hash(op)
	var sig []byte
	var err error
	if os, ok := signer.(OpSigner); ok {
		sig, err = os.SignUserOp(ctx, op, hash)
	} else {
		sig, err = signer.SignHash(ctx, hash)
	}
	if err != nil {
		return hash, fmt.Errorf("sign user operation %s: %w", hash.Hex(), err)
	}
	op.Signature = sig
	return hash, nil
}

// Send submits a signed op.
func (c *Client) Send(ctx context.Context, op *UserOperation) (common.Hash, error) {
	hash, err := c.opts.Submitter.SendUserOperation(ctx, op)
	if err != nil {
		return hash, err
	}
	c.log.Debug().Str("user_op_hash", hash.Hex()).Str("account", op.Sender.Hex()).Msg("user operation sent")
	return hash, nil
}

// Wait polls for the op's receipt until ctx ends (or ReceiptTimeout when ctx has no
// deadline). An included op whose callData reverted returns its receipt and an *OpError
// wrapping ErrReverted. Timeouts wrap ErrTimeout; an op the submitter forgot wraps ErrDropped.
func (c *Client) Wait(ctx context.Context, hash common.Hash) (*Receipt, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.ReceiptTimeout)
		defer cancel()
	}
	unknown := 0
	t := time.NewTicker(c.opts.PollInterval)
	defer t.Stop()
	for {
		r, err := c.opts.Submitter.UserOperationReceipt(ctx, hash)
		switch {
		case err == nil:
			if !r.Success {
				return r, &OpError{Kind: ErrReverted, UserOpHash: hash, RevertData: r.Reason, Reason: hexutil.Encode(r.Reason)}
			}
			return r, nil
		case errors.Is(err, errNoReceipt):
			known, kerr := c.opts.Submitter.UserOperationKnown(ctx, hash)
			if kerr == nil && !known {
				unknown++
				if unknown >= c.opts.DroppedAfter {
					return nil, &OpError{Kind: ErrDropped, UserOpHash: hash, Reason: "no receipt and unknown to the submitter"}
				}
			} else if kerr == nil {
				unknown = 0
			}
		case errors.Is(err, ErrDropped):
			return nil, err
		case ctx.Err() == nil:
			// A failing poll says nothing about the op: keep polling until the deadline.
			c.log.Warn().Err(err).Str("user_op_hash", hash.Hex()).Msg("receipt poll failed; retrying")
		}
		select {
		case <-ctx.Done():
			return nil, &OpError{Kind: ErrTimeout, UserOpHash: hash, Reason: ctx.Err().Error()}
		case <-t.C:
		}
	}
}

// Result is the outcome of a write.
type Result struct {
	UserOpHash common.Hash
	Op         *UserOperation
	// Receipt is nil for a dry run.
	Receipt *Receipt
	// Sent is false for a dry run.
	Sent bool
}

// Prepare builds and signs an op without sending it.
func (c *Client) Prepare(ctx context.Context, req OpRequest, signer Signer) (*Result, error) {
	op, err := c.Build(ctx, req)
	if err != nil {
		return nil, err
	}
	hash, err := c.Sign(ctx, op, signer)
	if err != nil {
		return nil, err
	}
	return &Result{UserOpHash: hash, Op: op}, nil
}

// Do builds, signs, sends and waits.
func (c *Client) Do(ctx context.Context, req OpRequest, signer Signer) (*Result, error) {
	res, err := c.Prepare(ctx, req, signer)
	if err != nil {
		return nil, err
	}
	if _, err := c.Send(ctx, res.Op); err != nil {
		return res, err
	}
	res.Sent = true
	res.Receipt, err = c.Wait(ctx, res.UserOpHash)
	return res, err
}
