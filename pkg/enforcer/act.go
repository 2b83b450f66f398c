package enforcer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/keywarden/keywarden/pkg/bus"
	"github.com/keywarden/keywarden/pkg/events"
	"github.com/keywarden/keywarden/pkg/policy"
)

// ledgerRecord is what the action bucket holds per action id.
type ledgerRecord struct {
	Record    events.ActionRecord `json:"record"`
	Verdict   events.Verdict      `json:"verdict"`
	Plan      *Plan               `json:"plan,omitempty"`
	KeyState  *events.KeyState    `json:"key_state,omitempty"`
	ExpiresAt time.Time           `json:"expires_at,omitempty"` // approval deadline
}

func terminal(o events.Outcome) bool {
	switch o {
	case events.OutcomeIncluded, events.OutcomeFailed, events.OutcomeResolved, events.OutcomeRetracted,
		events.OutcomeUncovered, events.OutcomeAlerted, events.OutcomeDenied:
		return true
	}
	return false
}

// ErrKeyBusy is returned when another process holds the key's lock; the delivery is retried.
var ErrKeyBusy = errors.New("another enforcer is acting on this key")

func (e *Enforcer) act(ctx context.Context, v events.Verdict, in policy.Input) error {
	seen := e.o.Now()
	id := v.ActionID()
	rec := events.ActionRecord{Schema: events.SchemaVersion, ActionID: id, PolicyID: v.PolicyID, Action: v.Action,
		ChainID: v.ChainID, Account: v.Account, SessionKey: v.SessionKey, Trigger: v.Trigger, At: seen}
	key := in.Key.Clone()
	lr := ledgerRecord{Record: rec, Verdict: v, KeyState: &key}
	if v.Action == events.ActionAlert {
		lr.Record.Outcome = events.OutcomeAlerted
	} else {
		lr.Record.Outcome = events.OutcomePlanned
	}
	raw, err := json.Marshal(lr)
	if err != nil {
		return fmt.Errorf("encode action %s: %w", id, err)
	}
	created, err := e.o.Ledger.PutIfAbsent(ctx, id, raw)
	if err != nil {
		return err
	}
	if v.Action == events.ActionAlert {
		if !created {
			return nil // alerted before: one notification per action id
		}
		e.countOutcome(lr.Record)
		if err := e.o.Audit.Action(ctx, lr.Record); err != nil {
			return err
		}
		e.notify(ctx, Notification{Kind: "verdict", Verdict: &v, Message: v.Reason, At: seen})
		return nil
	}
	if !created {
		existing, _, err := e.load(ctx, id)
		if err != nil {
			return err
		}
		if terminal(existing.Record.Outcome) || existing.Record.Outcome == events.OutcomeAwaitingApproval ||
			(existing.Record.Outcome == events.OutcomePlanned && e.o.Mode == ModeDryRun) {
			return nil // already handled: a redelivery or a second enforcer
		}
		// planned or submitted by a process that stopped half way: go on under the lock.
		lr = existing
	}
	lock, err := e.o.Locks.Acquire(ctx, lockName(v),
		e.o.Instance, e.o.LockTTL)
	if errors.Is(err, bus.ErrLockHeld) {
		return fmt.Errorf("act %s: %w", id, ErrKeyBusy)
	}
	if err != nil {
		return fmt.Errorf("lock key for action %s: %w", id, err)
	}
	defer func() {
		if err := lock.Release(context.WithoutCancel(ctx)); err != nil {
			e.o.Logger.Warn().Err(err).Str("action_id", id).Msg("release key lock")
		}
	}()
	return e.run(ctx, lr, in, e.o.Mode, seen)
}

func (e *Enforcer) load(ctx context.Context, id string) (ledgerRecord, uint64, error) {
	raw, rev, err := e.o.Ledger.Get(ctx, id)
	if err != nil {
		return ledgerRecord{}, 0, err
	}
	var lr ledgerRecord
	if err := json.Unmarshal(raw, &lr); err != nil {
		return lr, 0, fmt.Errorf("decode action %s: %w", id, err)
	}
	return lr, rev, nil
}

// save writes lr over the current record (the caller holds the key lock) and audits it.
func (e *Enforcer) save(ctx context.Context, lr *ledgerRecord, outcome events.Outcome, msg string) error {
	lr.Record.Outcome = outcome
	lr.Record.At = e.o.Now()
	if msg != "" {
		lr.Record.Error = msg
	}
	raw, err := json.Marshal(lr)
	if err != nil {
		return fmt.Errorf("encode action %s: %w", lr.Record.ActionID, err)
	}
	_, rev, err := e.o.Ledger.Get(ctx, lr.Record.ActionID)
	if err != nil {
		return err
	}
	if _, err := e.o.Ledger.Update(ctx, lr.Record.ActionID, raw, rev); err != nil {
		return err
	}
	e.countOutcome(lr.Record)
	if err := e.o.Audit.Action(ctx, lr.Record); err != nil {
		return err
	}
	e.o.Logger.Info().Str("action_id", lr.Record.ActionID).Str("policy_id", lr.Record.PolicyID).
		Str("account", lr.Record.Account.Hex()).Str("session_key", lr.Record.SessionKey.Hex()).
		Str("outcome", string(outcome)).Str("user_op_hash", lr.Record.UserOpHash).Str("detail", lr.Record.Error).Msg("action")
	return nil
}

func (e *Enforcer) countOutcome(r events.ActionRecord) {
	e.o.Metrics.Actions.WithLabelValues(string(r.Action), string(r.Outcome)).Inc()
}

// run checks the chain, plans and (depending on mode) carries out the action of lr.
func (e *Enforcer) run(ctx context.Context, lr ledgerRecord, in policy.Input, mode Mode, seen time.Time) error {
	v := lr.Verdict
	ch := e.o.Chains[v.ChainID]
	if ch == nil {
		return e.save(ctx, &lr, events.OutcomeFailed, fmt.Sprintf("no chain %d configured", v.ChainID))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.mu.Lock()
	e.pending[v.Trigger] = cancel
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.pending, v.Trigger)
		e.mu.Unlock()
	}()

	owner, err := ch.IsOwner(ctx, v.Account)
	if err != nil {
		return fmt.Errorf("check ownership of %s: %w", v.Account, err)
	}
	e.noteCoverage(ctx, v.ChainID, v.Account, ch.Signer(), owner)
	if !owner {
		msg := fmt.Sprintf("the enforcer (%s) is not an owner of account %s: alert only", ch.Signer(), v.Account)
		e.notify(ctx, Notification{Kind: "uncovered", Verdict: &v, Message: msg, At: e.o.Now()})
		return e.save(ctx, &lr, events.OutcomeUncovered, msg)
	}
	if done, outcome, msg, err := e.settled(ctx, ch, v, in); err != nil || done {
		if errors.Is(err, ErrUnknownPlugin) {
			return e.save(ctx, &lr, events.OutcomeFailed, err.Error())
		}
		if err != nil {
			return err
		}
		return e.save(ctx, &lr, outcome, msg)
	}

	plan, fallbackMsg, err := e.plan(ctx, v, in)
	if errors.Is(err, errAlertOnly) {
		e.notify(ctx, Notification{Kind: "verdict", Verdict: &v, Message: fallbackMsg, At: e.o.Now()})
		return e.save(ctx, &lr, events.OutcomeAlerted, fallbackMsg)
	}
	if err != nil {
		if ctx.Err() != nil && e.isRetracted(v.Trigger) {
			return e.save(ctx, &lr, events.OutcomeRetracted, "the triggering event was retracted by a reorg")
		}
		return err
	}
	lr.Plan = &plan
	lr.Record.Action = plan.Action
	lr.Record.NewSessionKey = plan.NewKey
	if fallbackMsg != "" {
		lr.Record.Error = fallbackMsg
	}

	switch mode {
	case ModeDryRun:
		prep, err := ch.Prepare(ctx, plan)
		if err != nil {
			return e.save(ctx, &lr, events.OutcomeFailed, "prepare user operation: "+err.Error())
		}
		lr.Record.UserOpHash = prep.UserOpHash.Hex()
		return e.save(ctx, &lr, events.OutcomePlanned, "dry run: user operation prepared, not sent: "+string(prep.UserOp))
	case ModeApproval:
		lr.ExpiresAt = e.o.Now().Add(e.o.ApprovalTTL)
		e.notify(ctx, Notification{Kind: "approval_requested", Verdict: &v,
			Message: fmt.Sprintf("action %s (%s of key %s) waits for approval until %s", lr.Record.ActionID, plan.Action,
				plan.Key, lr.ExpiresAt.Format(time.RFC3339)), At: e.o.Now()})
		e.mu.Lock()
		e.awaiting[lr.Record.ActionID] = lr.ExpiresAt
		e.mu.Unlock()
		return e.save(ctx, &lr, events.OutcomeAwaitingApproval, "")
	}
	return e.execute(ctx, ch, lr, in, seen)
}

// settled reports whether the action is moot: trigger retracted, key gone, or compliant on chain.
func (e *Enforcer) settled(ctx context.Context, ch Chain, v events.Verdict, in policy.Input) (bool, events.Outcome, string, error) {
	retracted, err := e.triggerRetracted(ctx, ch, in)
	if err != nil {
		return false, "", "", err
	}
	if retracted {
		return true, events.OutcomeRetracted, "the triggering event was retracted by a reorg", nil
	}
	there, err := ch.IsSessionKey(ctx, v.Plugin, v.Account, v.SessionKey)
	if err != nil {
		return false, "", "", fmt.Errorf("check key %s: %w", v.SessionKey, err)
	}
	if !there {
		return true, events.OutcomeResolved, "the key is no longer registered on chain", nil
	}
	k := in.Key.Clone()
	var tokens, targets []events.Address
	for _, t := range k.Permissions.ERC20Limits {
		tokens = append(tokens, t.Token)
	}
	for _, a := range k.Permissions.AccessList {
		targets = append(targets, a.Target)
	}
	for _, f := range k.Permissions.FunctionList {
		targets = append(targets, f.Target)
	}
	perms, err := ch.Permissions(ctx, v.Plugin, v.Account, v.SessionKey, tokens, targets)
	if err != nil {
		return false, "", "", fmt.Errorf("read permissions of %s: %w", v.SessionKey, err)
	}
	k.Permissions = perms
	one := &policy.Set{Policies: []*policy.Policy{e.o.Policies.Policy(v.PolicyID)}}
	if one.Policies[0] == nil {
		return true, events.OutcomeResolved, "the policy is no longer loaded", nil
	}
	again, err := one.Evaluate(policy.Input{Key: k, Event: in.Event, Trigger: in.Trigger, Now: e.o.Now(), ActiveKeys: in.ActiveKeys})
	if err != nil {
		return false, "", "", err
	}
	if len(again) == 0 {
		return true, events.OutcomeResolved, "the key complies with the policy on chain", nil
	}
	return false, "", "", nil
}

func (e *Enforcer) triggerRetracted(ctx context.Context, ch Chain, in policy.Input) (bool, error) {
	if e.isRetracted(in.Trigger) {
		return true, nil
	}
	if in.Event == nil || in.Event.BlockHash == ([32]byte{}) {
		return false, nil // the expiry watch: no event to retract
	}
	h, err := ch.BlockHash(ctx, in.Event.BlockNumber)
	if errors.Is(err, ErrNoBlock) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("check block %d: %w", in.Event.BlockNumber, err)
	}
	return h != in.Event.BlockHash, nil
}

var errAlertOnly = errors.New("alert only")

// plan turns a verdict into a Plan; a rotation asks the key's agent for the new key.
func (e *Enforcer) plan(ctx context.Context, v events.Verdict, in policy.Input) (Plan, string, error) {
	p := Plan{Action: v.Action, ChainID: v.ChainID, Plugin: v.Plugin, Account: v.Account, Key: v.SessionKey}
	switch v.Action {
	case events.ActionRemove:
		return p, "", nil
	case events.ActionRestrict:
		p.Updates = v.Restrict
		return p, "", nil
	case events.ActionRotate:
		pol := e.o.Policies.Policy(v.PolicyID)
		fallback := events.ActionRemove
		lifetime := 24 * time.Hour
		if pol != nil {
			if pol.Fallback != "" {
				fallback = pol.Fallback
			}
			lifetime = pol.NewKeyLifetime()
		}
		var newKey events.Address
		var err error
		if e.o.Agent == nil {
			err = errors.New("no key agent configured")
		} else {
			actx, cancel := context.WithTimeout(ctx, e.o.AgentTimeout)
			newKey, err = e.o.Agent.NewKey(actx, RotationRequest{ChainID: v.ChainID, Account: v.Account, SessionKey: v.SessionKey,
				Tag: in.Key.Tag, ActionID: v.ActionID(), PolicyID: v.PolicyID, ValidUntil: in.Key.Permissions.ValidUntil})
			cancel()
			if err == nil && (newKey.IsZero() || newKey == v.SessionKey) {
				err = fmt.Errorf("agent answered an unusable key %s", newKey)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return p, "", ctx.Err()
			}
			msg := fmt.Sprintf("rotation: no new key from the agent (%v); fallback %s", err, fallback)
			if fallback == events.ActionAlert {
				return p, msg, errAlertOnly
			}
			p.Action = events.ActionRemove
			return p, msg, nil
		}
		now := uint64(e.o.Now().Unix())
		p.NewKey = newKey
		p.Updates = []events.Update{events.UpdateTimeRange{ValidAfter: now, ValidUntil: now + uint64(lifetime/time.Second)}}
		return p, "", nil
	}
	return p, "", fmt.Errorf("plan action %q: not an on-chain action", v.Action)
}

// execute submits the plan with retries and records the outcome.
func (e *Enforcer) execute(ctx context.Context, ch Chain, lr ledgerRecord, in policy.Input, seen time.Time) error {
	v := lr.Verdict
	plan := *lr.Plan
	var lastErr error
	delay := e.o.Backoff
	for attempt := 1; attempt <= e.o.Attempts; attempt++ {
		lr.Record.Attempt = attempt
		if attempt > 1 {
			select {
			case <-ctx.Done():
			case <-time.After(delay):
			}
			delay *= 2
			if ctx.Err() != nil {
				if e.isRetracted(v.Trigger) {
					return e.save(context.WithoutCancel(ctx), &lr, events.OutcomeRetracted, "the triggering event was retracted by a reorg")
				}
				return ctx.Err()
			}
			// A previous attempt may have landed after all, or someone else acted meanwhile.
			if done, outcome, msg, err := e.settled(ctx, ch, v, in); err == nil && done {
				return e.save(ctx, &lr, outcome, msg)
			}
		}
		prep, err := ch.Prepare(ctx, plan)
		if err != nil {
			lastErr = fmt.Errorf("prepare: %w", err)
			continue
		}
		if r, err := e.triggerRetracted(ctx, ch, in); err == nil && r {
			return e.save(ctx, &lr, events.OutcomeRetracted, "the triggering event was retracted by a reorg")
		}
		lr.Record.UserOpHash = prep.UserOpHash.Hex()
		if err := ch.Submit(ctx, prep); err != nil {
			lastErr = fmt.Errorf("submit: %w", err)
			e.o.Logger.Warn().Err(err).Str("action_id", lr.Record.ActionID).Int("attempt", attempt).Msg("user operation rejected")
			continue
		}
		e.o.Metrics.EventToSubmit.Observe(e.o.Now().Sub(seen).Seconds())
		e.mu.Lock()
		e.sent[v.Trigger] = append(e.sent[v.Trigger], lr.Record.ActionID)
		e.mu.Unlock()
		if err := e.save(ctx, &lr, events.OutcomeSubmitted, ""); err != nil {
			return err
		}
		rcpt, err := ch.Wait(ctx, prep, e.o.ReceiptTimeout)
		if err != nil {
			lastErr = fmt.Errorf("wait for user operation %s: %w", prep.UserOpHash.Hex(), err)
			continue
		}
		lr.Record.TxHash = rcpt.TxHash.Hex()
		if !rcpt.Success {
			lastErr = fmt.Errorf("user operation %s reverted: %s", prep.UserOpHash.Hex(), rcpt.Reason)
			continue
		}
		if e.isRetracted(v.Trigger) {
			return e.save(ctx, &lr, events.OutcomeRetracted, "included, but the triggering event was retracted by a reorg after it was sent")
		}
		lr.Record.Error = ""
		return e.save(ctx, &lr, events.OutcomeIncluded, "")
	}
	msg := fmt.Sprintf("gave up after %d attempts: %v", e.o.Attempts, lastErr)
	rec := lr.Record
	e.notify(ctx, Notification{Kind: "action_failed", Verdict: &v, Action: &rec, Message: msg, At: e.o.Now()})
	return e.save(ctx, &lr, events.OutcomeFailed, msg)
}

// Approve carries out an action waiting for approval. It fails if the action is not waiting,
// or if its approval expired (the action is then recorded as denied).
func (e *Enforcer) Approve(ctx context.Context, actionID, by string) error {
	return e.decide(ctx, actionID, by, true)
}

// Deny records that a person refused an action waiting for approval.
func (e *Enforcer) Deny(ctx context.Context, actionID, by string) error {
	return e.decide(ctx, actionID, by, false)
}

// ErrNotAwaiting is returned by Approve and Deny for an action that is not waiting for approval.
var ErrNotAwaiting = errors.New("action is not awaiting approval")

func (e *Enforcer) decide(ctx context.Context, actionID, by string, approve bool) error {
	lr, _, err := e.load(ctx, actionID)
	if err != nil {
		return err
	}
	if lr.Record.Outcome != events.OutcomeAwaitingApproval || lr.Plan == nil || lr.KeyState == nil {
		return fmt.Errorf("decide %s: %w (outcome %s)", actionID, ErrNotAwaiting, lr.Record.Outcome)
	}
	v := lr.Verdict
	lock, err := e.o.Locks.Acquire(ctx, lockName(v),
		e.o.Instance, e.o.LockTTL)
	if err != nil {
		return fmt.Errorf("lock key for action %s: %w", actionID, err)
	}
	defer func() { _ = lock.Release(context.WithoutCancel(ctx)) }()
	e.mu.Lock()
	delete(e.awaiting, actionID)
	e.mu.Unlock()
	if e.o.Now().After(lr.ExpiresAt) {
		return e.save(ctx, &lr, events.OutcomeDenied, "approval expired at "+lr.ExpiresAt.Format(time.RFC3339))
	}
	if !approve {
		return e.save(ctx, &lr, events.OutcomeDenied, "denied by "+by)
	}
	in := policy.Input{Key: *lr.KeyState, Trigger: v.Trigger, Now: e.o.Now()}
	if pos := triggerPosition(*lr.KeyState); lr.KeyState.LastEventID == v.Trigger {
		in.Event = &events.Event{Position: pos}
	}
	lr.Record.Error = "approved by " + by
	e.o.Logger.Info().Str("action_id", actionID).Str("by", by).Msg("action approved")
	return e.run(ctx, lr, in, ModeEnforce, e.o.Now())
}

func (e *Enforcer) notify(ctx context.Context, n Notification) {
	if e.o.Notifier == nil {
		return
	}
	if err := e.o.Notifier.Notify(ctx, n); err != nil {
		e.o.Metrics.NotifyErrors.Inc()
		e.o.Logger.Error().Err(err).Str("kind", n.Kind).Msg("notification not delivered")
	}
}

// lockName is the key lock of a verdict's key (Locker.Acquire encodes it for the bucket).
func lockName(v events.Verdict) string {
	return "key:" + strconv.FormatUint(v.ChainID, 10) + ":" + v.Account.Hex() + ":" + v.SessionKey.Hex()
}
