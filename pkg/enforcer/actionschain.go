package enforcer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"

	"github.com/keywarden/keywarden/pkg/actions"
	"github.com/keywarden/keywarden/pkg/events"
)

// ActionsChain implements Chain over pkg/actions. Signer should be an actions.Guard so that
// nothing but removeSessionKey, rotateSessionKey and updateKeyPermissions is ever signed.
type ActionsChain struct {
	ID uint64
	// Clients has one client per watched Session Key Plugin address (the reader of each is
	// bound to its plugin); every client shares the node and submitter.
	Clients map[events.Address]*actions.Client
	// Owner signs the user operations (wrap it in actions.Guard). Guards, when set, holds one
	// guard per plugin (each checking on chain that the account routes the signed selectors
	// to that plugin) and takes precedence.
	Owner  actions.Signer
	Guards map[events.Address]actions.Signer
	// Node answers block headers (for the reorg check).
	Node actions.Node
}

var _ Chain = (*ActionsChain)(nil)

// NonceKey is the 2-D nonce key of the enforcer's user operations ("keywarden" in ASCII), so
// they never compete with an owner's own operations on key 0.
var NonceKey = new(big.Int).SetBytes([]byte("keywarden"))

// ChainID is the chain's id.
func (c *ActionsChain) ChainID() uint64 { return c.ID }

// Signer is the enforcer's owner address.
func (c *ActionsChain) Signer() events.Address { return events.Address(c.Owner.Address()) }

func (c *ActionsChain) client(plugin events.Address) (*actions.Client, error) {
	cl, ok := c.Clients[plugin]
	if !ok {
		return nil, fmt.Errorf("chain %d: plugin %s: %w", c.ID, plugin, ErrUnknownPlugin)
	}
	return cl, nil
}

func (c *ActionsChain) any() *actions.Client {
	for _, cl := range c.Clients {
		return cl
	}
	return nil
}

// IsOwner reads isOwnerOf(account, signer) on the Multi Owner plugin.
func (c *ActionsChain) IsOwner(ctx context.Context, account events.Address) (bool, error) {
	return c.any().IsOwnerOf(ctx, account.Common(), c.Owner.Address())
}

// IsSessionKey reads isSessionKeyOf.
func (c *ActionsChain) IsSessionKey(ctx context.Context, plugin, account, key events.Address) (bool, error) {
	cl, err := c.client(plugin)
	if err != nil {
		return false, err
	}
	return cl.IsSessionKey(ctx, account.Common(), key.Common())
}

// ActiveKeys is len(sessionKeysOf(account)).
func (c *ActionsChain) ActiveKeys(ctx context.Context, plugin, account events.Address) (int, error) {
	cl, err := c.client(plugin)
	if err != nil {
		return 0, err
	}
	keys, err := cl.SessionKeys(ctx, account.Common())
	return len(keys), err
}

// Permissions reads the key's permissions from the plugin's views.
func (c *ActionsChain) Permissions(ctx context.Context, plugin, account, key events.Address, tokens, targets []events.Address) (events.Permissions, error) {
	cl, err := c.client(plugin)
	if err != nil {
		return events.Permissions{}, err
	}
	q := actions.PermissionsQuery{}
	for _, t := range tokens {
		q.Tokens = append(q.Tokens, t.Common())
	}
	for _, t := range targets {
		q.Targets = append(q.Targets, t.Common())
	}
	return cl.ReadPermissions(ctx, account.Common(), key.Common(), q)
}

// BlockHash returns the canonical hash at number.
func (c *ActionsChain) BlockHash(ctx context.Context, number uint64) (common.Hash, error) {
	h, err := c.Node.HeaderByNumber(ctx, new(big.Int).SetUint64(number))
	if errors.Is(err, ethereum.NotFound) || (err == nil && h == nil) {
		return common.Hash{}, ErrNoBlock
	}
	if err != nil {
		return common.Hash{}, err
	}
	return h.Hash(), nil
}

// Prepare builds and signs the plan's user operation. Remove and restrict are one plugin
// call each; a rotation is an executeBatch of rotateSessionKey and updateKeyPermissions of
// the new key (its fresh time range), so both land or neither.
func (c *ActionsChain) Prepare(ctx context.Context, plan Plan) (*Prepared, error) {
	cl, err := c.client(plan.Plugin)
	if err != nil {
		return nil, err
	}
	account, key := plan.Account.Common(), plan.Key.Common()
	var callData []byte
	switch plan.Action {
	case events.ActionRemove:
		pred, err := cl.Predecessor(ctx, account, key)
		if err != nil {
			return nil, fmt.Errorf("prepare removal: %w", err)
		}
		callData = actions.EncodeRemoveSessionKey(key, pred)
	case events.ActionRestrict:
		callData = actions.EncodeUpdateKeyPermissions(key, events.EncodeUpdates(plan.Updates))
	case events.ActionRotate:
		keys, err := cl.SessionKeys(ctx, account)
		if err != nil {
			return nil, fmt.Errorf("prepare rotation: %w", err)
		}
		steps := []actions.BatchStep{{Rotate: &actions.RotateStep{Old: key, New: plan.NewKey.Common()}}}
		if len(plan.Updates) > 0 {
			steps = append(steps, actions.BatchStep{Update: &actions.UpdateStep{Key: plan.NewKey.Common(),
				Updates: events.EncodeUpdates(plan.Updates)}})
		}
		calls, err := actions.BatchCalls(account, keys, steps)
		if err != nil {
			return nil, fmt.Errorf("prepare rotation: %w", err)
		}
		callData = actions.EncodeExecuteBatch(calls)
	default:
		return nil, fmt.Errorf("prepare %s: not an on-chain action", plan.Action)
	}
	signer := c.Owner
	if g, ok := c.Guards[plan.Plugin]; ok {
		signer = g
	}
	res, err := cl.Prepare(ctx, actions.OpRequest{Sender: account, CallData: callData, NonceKey: NonceKey}, signer)
	if err != nil {
		return nil, err
	}
	opJSON, err := json.Marshal(res.Op)
	if err != nil {
		return nil, fmt.Errorf("encode user operation: %w", err)
	}
	return &Prepared{Plan: plan, UserOpHash: res.UserOpHash, UserOp: opJSON, Native: res.Op}, nil
}

// Submit sends the prepared operation.
func (c *ActionsChain) Submit(ctx context.Context, p *Prepared) error {
	cl, err := c.client(p.Plan.Plugin)
	if err != nil {
		return err
	}
	op, ok := p.Native.(*actions.UserOperation)
	if !ok {
		return errors.New("submit: prepared operation of another chain implementation")
	}
	_, err = cl.Send(ctx, op)
	return err
}

// Wait waits for the receipt, up to timeout.
func (c *ActionsChain) Wait(ctx context.Context, p *Prepared, timeout time.Duration) (Receipt, error) {
	cl, err := c.client(p.Plan.Plugin)
	if err != nil {
		return Receipt{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, err := cl.Wait(ctx, p.UserOpHash)
	if r != nil && errors.Is(err, actions.ErrReverted) {
		return Receipt{Success: false, TxHash: r.TxHash, Reason: fmt.Sprintf("0x%x", r.Reason)}, nil
	}
	if err != nil {
		return Receipt{}, err
	}
	return Receipt{Success: r.Success, TxHash: r.TxHash}, nil
}
