package actions

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/keywarden/keywarden/pkg/events"
)

// Rule allows calls of one selector on one target. A zero Target means the operation's
// sender, the account itself: the plugin's management functions are called on the account,
// which routes them to the Session Key Plugin.
type Rule struct {
	Target   common.Address
	Selector events.Selector
}

// EnforcerRules are the only calls the enforcer may sign: removeSessionKey, rotateSessionKey and
// updateKeyPermissions on the account.
func EnforcerRules() []Rule {
	return []Rule{{Selector: SelRemoveSessionKey}, {Selector: SelRotateSessionKey}, {Selector: SelUpdateKeyPermissions}}
}

// GuardError is the refusal of a Guard. It wraps ErrGuardRefused.
type GuardError struct {
	UserOpHash common.Hash
	Target     common.Address
	Selector   events.Selector
	Reason     string
}

func (e *GuardError) Error() string {
	return fmt.Sprintf("signing guard refused user operation %s: %s (target %s, selector %s)",
		e.UserOpHash.Hex(), e.Reason, e.Target.Hex(), e.Selector)
}

func (e *GuardError) Unwrap() error { return ErrGuardRefused }

// Guard wraps a Signer and signs only user operations whose callData is an allowed call on
// the sender (or an executeBatch whose every inner call is allowed), with no initCode, and
// whose hash is the hash of that operation for the configured EntryPoint and chain. It never
// signs a bare hash: SignHash always refuses.
type Guard struct {
	inner      Signer
	entryPoint common.Address
	chainID    *big.Int
	rules      map[Rule]bool
	routes     *Reader
}

var _ OpSigner = (*Guard)(nil)

// GuardOptions configures NewGuard.
type GuardOptions struct {
	EntryPoint common.Address // default events.EntryPointV06
	ChainID    *big.Int       // required
	Rules      []Rule         // default EnforcerRules()
	// DenyBatch refuses executeBatch; by default a batch passes when every inner call is a
	// self-call allowed by Rules.
	DenyBatch bool
	// Routes, when set, makes SignUserOp also check on chain that the account routes every
	// selector it is about to sign to Routes' Session Key Plugin (getExecutionFunctionConfig),
	// and refuse otherwise, or when the check cannot be made.
	Routes *Reader
}

// NewGuard wraps inner.
func NewGuard(inner Signer, opts GuardOptions) (*Guard, error) {
	if inner == nil || opts.ChainID == nil {
		return nil, fmt.Errorf("new guard: a signer and a chain id are required")
	}
	ep := opts.EntryPoint
	if ep == (common.Address{}) {
		ep = events.EntryPointV06.Common()
	}
	rules := opts.Rules
	if rules == nil {
		rules = EnforcerRules()
	}
	g := &Guard{inner: inner, entryPoint: ep, chainID: new(big.Int).Set(opts.ChainID), rules: map[Rule]bool{}, routes: opts.Routes}
	for _, r := range rules {
		g.rules[r] = true
	}
	if !opts.DenyBatch {
		g.rules[Rule{Selector: SelExecuteBatch}] = true // checked call by call in check
	}
	return g, nil
}

// Address is the wrapped signer's address.
func (g *Guard) Address() common.Address { return g.inner.Address() }

// SignHash refuses: the guard signs only operations it can inspect.
func (g *Guard) SignHash(_ context.Context, hash common.Hash) ([]byte, error) {
	return nil, &GuardError{UserOpHash: hash, Reason: "blind hash signing is not allowed"}
}

// SignUserOp signs hash with the wrapped signer if op passes Check and hash is op's hash.
func (g *Guard) SignUserOp(ctx context.Context, op *UserOperation, hash common.Hash) ([]byte, error) {
	if err := g.Check(op); err != nil {
		return nil, err
	}
	if want := op.Hash(g.entryPoint, g.chainID); want != hash {
		return nil, &GuardError{UserOpHash: hash, Target: op.Sender, Reason: "hash is not the hash of the operation " + want.Hex()}
	}
	if g.routes != nil {
		if err := g.checkRoutes(ctx, op, hash); err != nil {
			return nil, err
		}
	}
	if os, ok := g.inner.(OpSigner); ok {
		return os.SignUserOp(ctx, op, hash)
	}
	return g.inner.SignHash(ctx, hash)
}

// Check returns a *GuardError when op is outside the allowed set.
func (g *Guard) Check(op *UserOperation) error {
	hash := op.Hash(g.entryPoint, g.chainID)
	refuse := func(target common.Address, sel events.Selector, reason string) error {
		return &GuardError{UserOpHash: hash, Target: target, Selector: sel, Reason: reason}
	}
	if len(op.InitCode) != 0 {
		return refuse(op.Sender, events.Selector{}, "initCode is not allowed")
	}
	if len(op.CallData) < 4 {
		return refuse(op.Sender, events.SelectorOf(op.CallData), "callData has no selector")
	}
	sel := events.SelectorOf(op.CallData)
	if sel == SelExecuteBatch && g.rules[Rule{Selector: SelExecuteBatch}] {
		calls, err := DecodeExecuteBatch(op.CallData)
		if err != nil {
			return refuse(op.Sender, sel, "executeBatch does not decode")
		}
		if len(calls) == 0 {
			return refuse(op.Sender, sel, "empty executeBatch")
		}
		for i, c := range calls {
			if err := g.checkCall(op.Sender, c.Target, c.Value, c.Data); err != "" {
				return refuse(c.Target, events.SelectorOf(c.Data), fmt.Sprintf("batch call %d: %s", i, err))
			}
		}
		return nil
	}
	if err := g.checkCall(op.Sender, op.Sender, nil, op.CallData); err != "" {
		return refuse(op.Sender, sel, err)
	}
	return nil
}

// checkRoutes refuses unless the account routes every selector of op to the plugin.
func (g *Guard) checkRoutes(ctx context.Context, op *UserOperation, hash common.Hash) error {
	sels := []events.Selector{events.SelectorOf(op.CallData)}
	if sels[0] == SelExecuteBatch {
		calls, _ := DecodeExecuteBatch(op.CallData) // Check has accepted it
		sels = sels[:0]
		for _, c := range calls {
			sels = append(sels, events.SelectorOf(c.Data))
		}
	}
	want := g.routes.Addresses().SessionKeyPlugin
	for _, sel := range sels {
		cfg, err := g.routes.ExecutionFunctionConfig(ctx, op.Sender, sel)
		if err != nil {
			return &GuardError{UserOpHash: hash, Target: op.Sender, Selector: sel, Reason: "cannot check routing: " + err.Error()}
		}
		if cfg.Plugin != want {
			return &GuardError{UserOpHash: hash, Target: op.Sender, Selector: sel,
				Reason: "account routes the selector to " + cfg.Plugin.Hex() + ", not the Session Key Plugin " + want.Hex()}
		}
	}
	return nil
}

// checkCall returns a refusal reason, or "" when the call is allowed.
func (g *Guard) checkCall(sender, target common.Address, value *big.Int, data []byte) string {
	if value != nil && value.Sign() != 0 {
		return "calls carrying value are not allowed"
	}
	if len(data) < 4 {
		return "call has no selector"
	}
	sel := events.SelectorOf(data)
	if sel == SelExecuteBatch {
		return "nested executeBatch is not allowed"
	}
	allowed := g.rules[Rule{Target: target, Selector: sel}] || (target == sender && g.rules[Rule{Selector: sel}])
	if !allowed {
		return "call not in the allowed set"
	}
	if m, err := accountABI.MethodById(data[:4]); err == nil {
		if _, err := m.Inputs.Unpack(data[4:]); err != nil {
			return "arguments do not decode"
		}
	}
	return ""
}

// DecodeExecuteBatch decodes executeBatch callData into its calls.
func DecodeExecuteBatch(data []byte) ([]Call, error) {
	m := accountABI.Methods["executeBatch"]
	if len(data) < 4 || events.SelectorOf(data) != SelExecuteBatch {
		return nil, fmt.Errorf("decode executeBatch: wrong selector")
	}
	vals, err := m.Inputs.Unpack(data[4:])
	if err != nil {
		return nil, fmt.Errorf("decode executeBatch: %w", err)
	}
	raw, ok := vals[0].([]struct {
		Target common.Address `json:"target"`
		Value  *big.Int       `json:"value"`
		Data   []byte         `json:"data"`
	})
	if !ok {
		return nil, fmt.Errorf("decode executeBatch: unexpected type %T", vals[0])
	}
	out := make([]Call, len(raw))
	for i, c := range raw {
		out[i] = Call{Target: c.Target, Value: c.Value, Data: c.Data}
	}
	return out, nil
}
