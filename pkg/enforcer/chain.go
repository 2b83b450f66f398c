package enforcer

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/keywarden/keywarden/pkg/events"
)

// Chain is what the enforcer needs from one chain. cmd/enforcer implements it over
// pkg/actions; every write goes through the signing guard there.
type Chain interface {
	ChainID() uint64
	// Signer is the owner address the enforcer signs with on this chain.
	Signer() events.Address
	IsOwner(ctx context.Context, account events.Address) (bool, error)
	IsSessionKey(ctx context.Context, plugin, account, key events.Address) (bool, error)
	// Permissions reads a registered key's permissions from the plugin's views; tokens are
	// the ERC-20 tokens and targets the access-list targets whose entries to read.
	Permissions(ctx context.Context, plugin, account, key events.Address, tokens, targets []events.Address) (events.Permissions, error)
	// ActiveKeys is the length of sessionKeysOf(account).
	ActiveKeys(ctx context.Context, plugin, account events.Address) (int, error)
	// BlockHash is the canonical hash at number (ErrNoBlock when there is none).
	BlockHash(ctx context.Context, number uint64) (common.Hash, error)
	// Prepare builds and signs the user operation of plan; nothing is sent.
	Prepare(ctx context.Context, plan Plan) (*Prepared, error)
	// Submit sends a prepared user operation to the bundler (or the EntryPoint).
	Submit(ctx context.Context, p *Prepared) error
	// Wait waits for the receipt of a submitted user operation.
	Wait(ctx context.Context, p *Prepared, timeout time.Duration) (Receipt, error)
}

// ErrUnknownPlugin is returned by a Chain asked about a plugin it is not configured for; the
// action fails at once instead of being retried.
var ErrUnknownPlugin = errors.New("plugin not configured")

// ErrNoBlock is returned by Chain.BlockHash when the chain has no block at that height.
var ErrNoBlock = errors.New("no block at that height")

// Plan is an action to carry out on chain.
type Plan struct {
	Action  events.ActionKind `json:"action"` // remove, rotate or restrict
	ChainID uint64            `json:"chain_id"`
	Plugin  events.Address    `json:"plugin"`
	Account events.Address    `json:"account"`
	Key     events.Address    `json:"session_key"`
	// NewKey is the rotation target.
	NewKey events.Address `json:"new_session_key"`
	// Updates are the restrict updates (for Key), or the updates given to NewKey after a
	// rotation (its fresh time range).
	Updates []events.Update `json:"-"`
}

// MarshalJSON includes the updates in their typed wire form.
func (p Plan) MarshalJSON() ([]byte, error) {
	type plain Plan
	ups := make([]json.RawMessage, 0, len(p.Updates))
	for _, u := range p.Updates {
		b, err := events.MarshalUpdate(u)
		if err != nil {
			return nil, err
		}
		ups = append(ups, b)
	}
	return json.Marshal(struct {
		plain
		Updates []json.RawMessage `json:"updates"`
	}{plain(p), ups})
}

// Prepared is a signed user operation ready to send.
type Prepared struct {
	Plan       Plan            `json:"plan"`
	UserOpHash common.Hash     `json:"user_op_hash"`
	UserOp     json.RawMessage `json:"user_op"` // the JSON-RPC form, for audit and dry-run output
	// Native is the implementation's own handle (the typed user operation).
	Native any `json:"-"`
}

// Receipt is the result of an included user operation.
type Receipt struct {
	Success bool        `json:"success"`
	TxHash  common.Hash `json:"tx_hash"`
	Reason  string      `json:"reason,omitempty"`
}

// Audit records verdicts and action outcomes durably (ClickHouse and NATS in production).
type Audit interface {
	Verdict(ctx context.Context, v events.Verdict) error
	Action(ctx context.Context, r events.ActionRecord) error
}

// CoverageRecorder is implemented by audit sinks that keep which accounts the enforcer can
// act on (the coverage table).
type CoverageRecorder interface {
	Coverage(ctx context.Context, chainID uint64, account, signer events.Address, covered bool, at time.Time) error
}

// Ledger keeps one record per action id (bus.ActionStore implements it).
type Ledger interface {
	PutIfAbsent(ctx context.Context, actionID string, record []byte) (bool, error)
	Get(ctx context.Context, actionID string) ([]byte, uint64, error)
	Update(ctx context.Context, actionID string, record []byte, rev uint64) (uint64, error)
}

// KeyAgent supplies the new key of a rotation.
type KeyAgent interface {
	NewKey(ctx context.Context, req RotationRequest) (events.Address, error)
}

// RotationRequest is what a key's agent is asked.
type RotationRequest struct {
	ChainID    uint64         `json:"chain_id"`
	Account    events.Address `json:"account"`
	SessionKey events.Address `json:"session_key"`
	Tag        common.Hash    `json:"tag"`
	ActionID   string         `json:"action_id"`
	PolicyID   string         `json:"policy_id"`
	ValidUntil uint64         `json:"valid_until"` // the old key's expiry
}

// Notifier delivers alerts (webhooks in production).
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// Notification is one alert.
type Notification struct {
	Kind    string               `json:"kind"` // "verdict", "action_failed", "ownership_lost", "uncovered"
	Verdict *events.Verdict      `json:"verdict,omitempty"`
	Action  *events.ActionRecord `json:"action,omitempty"`
	Message string               `json:"message"`
	At      time.Time            `json:"at"`
}

// KeySource lists the keys the expiry watch starts from (ClickHouse in production).
type KeySource interface {
	ExpiringKeys(ctx context.Context) ([]events.KeyState, error)
}
