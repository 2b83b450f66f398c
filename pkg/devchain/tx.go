package devchain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// ErrReverted is matched by the error of a transaction that was mined but reverted.
var ErrReverted = errors.New("transaction reverted")

// RevertError is a mined transaction that reverted, with the revert data when it could be
// reproduced by a call.
type RevertError struct {
	Tx     common.Hash
	Data   []byte
	Reason string
}

func (e *RevertError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("transaction %s reverted: %s", e.Tx.Hex(), e.Reason)
	}
	return fmt.Sprintf("transaction %s reverted (data 0x%x)", e.Tx.Hex(), e.Data)
}

// Is makes errors.Is(err, ErrReverted) true.
func (e *RevertError) Is(target error) bool { return target == ErrReverted }

var tip = big.NewInt(1_000_000_000)

type sender struct {
	next  uint64
	known bool
}

func (c *Chain) senderState(a common.Address) (*sender, func()) {
	c.sendMu.Lock()
	mu, ok := c.senders[a]
	if !ok {
		mu = new(senderLock)
		c.senders[a] = mu
	}
	c.sendMu.Unlock()
	mu.Lock()
	return &mu.s, mu.Unlock
}

// resetNonces forgets every cached nonce (after a reorg cleared the pool).
func (c *Chain) resetNonces() {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	for _, mu := range c.senders {
		mu.Lock()
		mu.s = sender{}
		mu.Unlock()
	}
}

// TxRequest is a transaction for [Chain.Send].
type TxRequest struct {
	From  *ecdsa.PrivateKey
	To    *common.Address // nil deploys Data
	Value *big.Int
	Data  []byte
	// Gas is the gas limit; 0 estimates it against the latest block (plus a margin).
	Gas uint64
}

// Send signs and submits a transaction without sealing a block. Nonces are assigned
// locally per sender, so several transactions from one key may be in flight.
func (c *Chain) Send(ctx context.Context, r TxRequest) (*types.Transaction, error) {
	from := Address(r.From)
	value := r.Value
	if value == nil {
		value = new(big.Int)
	}
	gas := r.Gas
	if gas == 0 {
		est, err := c.client.EstimateGas(ctx, ethereum.CallMsg{From: from, To: r.To, Value: value, Data: r.Data})
		if err != nil {
			return nil, fmt.Errorf("estimate gas: %w", c.explain(err))
		}
		gas = min(est*6/5+20_000, c.gasCap)
	}
	head, err := c.client.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("read head: %w", err)
	}
	feeCap := new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip)
	st, unlock := c.senderState(from)
	defer unlock()
	if !st.known {
		n, err := c.client.PendingNonceAt(ctx, from)
		if err != nil {
			return nil, fmt.Errorf("read nonce: %w", err)
		}
		st.next, st.known = n, true
	}
	tx := types.NewTx(&types.DynamicFeeTx{
		ChainID: c.ChainID, Nonce: st.next, GasTipCap: tip, GasFeeCap: feeCap,
		Gas: gas, To: r.To, Value: value, Data: r.Data,
	})
	signed, err := types.SignTx(tx, types.LatestSignerForChainID(c.ChainID), r.From)
	if err != nil {
		return nil, fmt.Errorf("sign transaction: %w", err)
	}
	if err := c.client.SendTransaction(ctx, signed); err != nil {
		st.known = false
		return nil, fmt.Errorf("send transaction: %w", err)
	}
	st.next++
	return signed, nil
}

// Mined returns the receipt of tx once it is in a block: it seals blocks itself unless
// auto-mining is on, in which case it waits for the auto-miner.
func (c *Chain) Mined(ctx context.Context, tx *types.Transaction) (*types.Receipt, error) {
	for i := 0; ; i++ {
		rcpt, err := c.client.TransactionReceipt(ctx, tx.Hash())
		if err == nil {
			return rcpt, nil
		}
		// Right after a block, geth may answer "transaction indexing is in progress".
		if !errors.Is(err, ethereum.NotFound) && !strings.Contains(err.Error(), "indexing is in progress") {
			return nil, fmt.Errorf("read receipt: %w", err)
		}
		if !c.autoMining() {
			if i > 20 {
				return nil, fmt.Errorf("wait for %s: not included after %d blocks", tx.Hash().Hex(), i)
			}
			c.Commit()
			continue
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for %s: %w", tx.Hash().Hex(), ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Transact sends a transaction, waits until it is mined and fails with a *RevertError when
// it reverted.
func (c *Chain) Transact(ctx context.Context, r TxRequest) (*types.Receipt, error) {
	tx, err := c.Send(ctx, r)
	if err != nil {
		return nil, err
	}
	rcpt, err := c.Mined(ctx, tx)
	if err != nil {
		return nil, err
	}
	if rcpt.Status != types.ReceiptStatusSuccessful {
		return rcpt, c.revertError(ctx, r, rcpt)
	}
	return rcpt, nil
}

// revertError replays the call on the parent block to recover the revert data.
func (c *Chain) revertError(ctx context.Context, r TxRequest, rcpt *types.Receipt) error {
	e := &RevertError{Tx: rcpt.TxHash}
	parent := new(big.Int).Sub(rcpt.BlockNumber, big.NewInt(1))
	_, err := c.client.CallContract(ctx, ethereum.CallMsg{From: Address(r.From), To: r.To, Value: r.Value, Data: r.Data, Gas: rcpt.GasUsed * 2}, parent)
	if err != nil {
		e.Data, e.Reason = revertData(err)
		if name := c.abis.errorName(e.Data); name != "" {
			e.Reason = name
		}
	}
	return e
}

type senderLock struct {
	sync.Mutex
	s sender
}
