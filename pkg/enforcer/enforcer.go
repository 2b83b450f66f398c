package enforcer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/rs/zerolog"

	"github.com/keywarden/keywarden/pkg/bus"
	"github.com/keywarden/keywarden/pkg/events"
	"github.com/keywarden/keywarden/pkg/policy"
)

// Mode selects how far the enforcer goes.
type Mode string

// Modes.
const (
	ModeEnforce  Mode = "enforce"  // act
	ModeDryRun   Mode = "dry_run"  // record verdicts and planned user operations, send nothing
	ModeApproval Mode = "approval" // destructive actions wait for Approve
)

// Valid reports whether m is a known mode.
func (m Mode) Valid() bool { return m == ModeEnforce || m == ModeDryRun || m == ModeApproval }

// Options configures an Enforcer. Policies, Chains, Audit, Ledger and Locks are required.
type Options struct {
	Policies *policy.Set
	Mode     Mode
	Chains   map[uint64]Chain
	Audit    Audit
	Ledger   Ledger
	Locks    bus.KeyLocker
	// Agent supplies new keys for rotations; nil makes every rotation take its fallback.
	Agent    KeyAgent
	Notifier Notifier
	Metrics  *Metrics
	// Instance names this process in locks and logs (default: "enforcer-<pid-ish>").
	Instance string
	// LockTTL bounds how long one process may hold a key (default 2m).
	LockTTL time.Duration
	// AgentTimeout bounds the wait for a new key (default 10s).
	AgentTimeout time.Duration
	// ReceiptTimeout bounds the wait for an included user operation (default 60s).
	ReceiptTimeout time.Duration
	// Attempts is how many times a failed submission is tried (default 4); Backoff the first
	// delay between attempts, doubled each time (default 1s).
	Attempts int
	Backoff  time.Duration
	// ApprovalTTL is how long an action waits for approval (default 24h).
	ApprovalTTL time.Duration
	Now         func() time.Time
	Logger      zerolog.Logger
}

// Enforcer evaluates policies and acts. It is safe for concurrent use.
type Enforcer struct {
	o Options

	mu        sync.Mutex
	retracted map[string]time.Time          // trigger ids retracted by reorgs
	pending   map[string]context.CancelFunc // trigger id -> cancel of work in progress
	sent      map[string][]string           // trigger id -> action ids already submitted
	watch     *expiryWatch
	covered   map[coverageKey]bool
	awaiting  map[string]time.Time // action id -> approval deadline, for the sweep
}

type coverageKey struct {
	chain   uint64
	account events.Address
}

// New validates options and returns an Enforcer.
func New(o Options) (*Enforcer, error) {
	var errs []error
	if o.Policies == nil {
		errs = append(errs, errors.New("policies are required"))
	}
	if o.Mode == "" {
		o.Mode = ModeEnforce
	}
	if !o.Mode.Valid() {
		errs = append(errs, fmt.Errorf("mode %q: want enforce, dry_run or approval", o.Mode))
	}
	if o.Audit == nil {
		errs = append(errs, errors.New("an audit sink is required"))
	}
	if o.Ledger == nil {
		errs = append(errs, errors.New("an action ledger is required"))
	}
	if o.Locks == nil {
		errs = append(errs, errors.New("a key locker is required"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("new enforcer: %w", errors.Join(errs...))
	}
	if o.Instance == "" {
		o.Instance = "enforcer-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.LockTTL, 2*time.Minute)
	def(&o.AgentTimeout, 10*time.Second)
	def(&o.ReceiptTimeout, 60*time.Second)
	def(&o.Backoff, time.Second)
	def(&o.ApprovalTTL, 24*time.Hour)
	if o.Attempts <= 0 {
		o.Attempts = 4
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	e := &Enforcer{o: o, retracted: map[string]time.Time{}, pending: map[string]context.CancelFunc{},
		sent: map[string][]string{}, covered: map[coverageKey]bool{},
		awaiting: map[string]time.Time{}}
	e.watch = newExpiryWatch(o.Policies.ExpiryLead())
	return e, nil
}

// Handle processes one delivery from the indexer's stream; returning nil acknowledges it.
func (e *Enforcer) Handle(ctx context.Context, d bus.Delivery) error {
	switch {
	case d.State != nil:
		return e.HandleState(ctx, *d.State)
	case d.Event != nil && d.Event.Removed:
		return e.HandleRetraction(ctx, *d.Event)
	case d.Event != nil:
		return e.HandleEvent(ctx, *d.Event)
	}
	return nil
}

// HandleEvent watches ownership changes of the enforcer's signer.
func (e *Enforcer) HandleEvent(ctx context.Context, ev events.Event) error {
	p, ok := ev.Payload.(events.OwnerUpdated)
	if !ok {
		return nil
	}
	ch := e.o.Chains[ev.ChainID]
	if ch == nil {
		return nil
	}
	signer := ch.Signer()
	for _, o := range p.AddedOwners {
		if o == signer {
			e.noteCoverage(ctx, ev.ChainID, p.Account, signer, true)
		}
	}
	for _, o := range p.RemovedOwners {
		if o == signer {
			e.o.Logger.Warn().Uint64("chain_id", ev.ChainID).Str("account", p.Account.Hex()).
				Msg("the account removed the enforcer as owner: its keys get alerts only from now on")
			// Seen as covered before the removal, so that noteCoverage alerts on the change.
			e.mu.Lock()
			e.covered[coverageKey{ev.ChainID, p.Account}] = true
			e.mu.Unlock()
			e.noteCoverage(ctx, ev.ChainID, p.Account, signer, false)
		}
	}
	return nil
}

// HandleRetraction cancels pending work triggered by a retracted event, and records actions
// already sent for it.
func (e *Enforcer) HandleRetraction(ctx context.Context, ev events.Event) error {
	id := ev.ID()
	e.mu.Lock()
	e.retracted[id] = e.o.Now()
	cancel := e.pending[id]
	sent := append([]string(nil), e.sent[id]...)
	e.gcLocked()
	e.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	for _, actionID := range sent {
		raw, _, err := e.o.Ledger.Get(ctx, actionID)
		if err != nil {
			return fmt.Errorf("read action %s: %w", actionID, err)
		}
		var lr ledgerRecord
		if err := json.Unmarshal(raw, &lr); err != nil {
			return fmt.Errorf("decode action %s: %w", actionID, err)
		}
		rec := lr.Record
		rec.Outcome = events.OutcomeRetracted
		rec.Error = "the triggering event was retracted by a reorg after the user operation was sent"
		rec.At = e.o.Now()
		if err := e.o.Audit.Action(ctx, rec); err != nil {
			return err
		}
	}
	return nil
}

func (e *Enforcer) gcLocked() {
	if len(e.retracted) < 10000 {
		return
	}
	cut := e.o.Now().Add(-time.Hour)
	for k, t := range e.retracted {
		if t.Before(cut) {
			delete(e.retracted, k)
		}
	}
}

func (e *Enforcer) isRetracted(trigger string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.retracted[trigger]
	return ok
}

// HandleState evaluates a key state published by the indexer.
func (e *Enforcer) HandleState(ctx context.Context, k events.KeyState) error {
	e.watch.update(k)
	trigger := k.LastEventID
	ev := &events.Event{Position: triggerPosition(k)}
	return e.evaluate(ctx, policy.Input{Key: k, Event: ev, Trigger: trigger, Now: e.o.Now()})
}

// triggerPosition rebuilds the position of the event that last changed k from its id
// "chain:block_hash:log_index" and UpdatedBlock.
func triggerPosition(k events.KeyState) events.Position {
	pos := events.Position{ChainID: k.ChainID, BlockNumber: k.UpdatedBlock, BlockTime: k.UpdatedTime}
	parts := strings.Split(k.LastEventID, ":")
	if len(parts) == 3 {
		pos.BlockHash = common.HexToHash(parts[1])
		pos.LogIndex, _ = strconv.ParseUint(parts[2], 10, 64)
	}
	return pos
}

// CheckExpiry evaluates the keys whose expiry lead has been reached by now.
func (e *Enforcer) CheckExpiry(ctx context.Context) error {
	var errs []error
	for _, k := range e.watch.due(e.o.Now()) {
		in := policy.Input{Key: k, Now: e.o.Now()}
		if err := e.evaluate(ctx, in); err != nil {
			errs = append(errs, err)
			e.watch.retry(k, e.o.Now().Add(e.o.Backoff*10))
		}
	}
	return errors.Join(errs...)
}

// LoadExpiring seeds the expiry watch (at start).
func (e *Enforcer) LoadExpiring(ctx context.Context, src KeySource) error {
	keys, err := src.ExpiringKeys(ctx)
	if err != nil {
		return fmt.Errorf("load expiring keys: %w", err)
	}
	for _, k := range keys {
		e.watch.update(k)
	}
	return nil
}

// RunExpiryWatch runs CheckExpiry whenever the next key falls due, until ctx ends.
func (e *Enforcer) RunExpiryWatch(ctx context.Context) error {
	for {
		wait := e.watch.nextIn(e.o.Now())
		if wait > time.Minute {
			wait = time.Minute // new keys may fall due sooner; the watch also wakes on updates
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-e.watch.wake:
			t.Stop()
		case <-t.C:
		}
		if err := e.CheckExpiry(ctx); err != nil {
			e.o.Logger.Error().Err(err).Msg("expiry watch")
		}
		e.SweepApprovals(ctx)
	}
}

func (e *Enforcer) evaluate(ctx context.Context, in policy.Input) error {
	if in.Key.Status != events.StatusActive {
		return nil
	}
	ch := e.o.Chains[in.Key.ChainID]
	if ch != nil {
		n, err := ch.ActiveKeys(ctx, in.Key.Plugin, in.Key.Account)
		if err == nil {
			in.ActiveKeys = n
		}
	}
	start := e.o.Now()
	verdicts, err := e.o.Policies.Evaluate(in)
	e.o.Metrics.EvalSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		e.o.Logger.Error().Err(err).Str("session_key", in.Key.SessionKey.Hex()).Msg("policy evaluation")
	}
	var errs []error
	for _, v := range verdicts {
		e.o.Metrics.Verdicts.WithLabelValues(v.PolicyID, string(v.Severity), string(v.Action)).Inc()
		if err := e.o.Audit.Verdict(ctx, v); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := e.act(ctx, v, in); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// noteCoverage records whether the enforcer can act on account, when that changes.
func (e *Enforcer) noteCoverage(ctx context.Context, chainID uint64, account, signer events.Address, covered bool) {
	k := coverageKey{chainID, account}
	e.mu.Lock()
	prev, seen := e.covered[k]
	e.covered[k] = covered
	var yes, no int
	for ck, c := range e.covered {
		if ck.chain != chainID {
			continue
		}
		if c {
			yes++
		} else {
			no++
		}
	}
	e.mu.Unlock()
	id := strconv.FormatUint(chainID, 10)
	e.o.Metrics.Covered.WithLabelValues(id, "true").Set(float64(yes))
	e.o.Metrics.Covered.WithLabelValues(id, "false").Set(float64(no))
	if seen && prev == covered {
		return
	}
	if rec, ok := e.o.Audit.(CoverageRecorder); ok {
		if err := rec.Coverage(ctx, chainID, account, signer, covered, e.o.Now()); err != nil {
			e.o.Logger.Warn().Err(err).Str("account", account.Hex()).Msg("record coverage")
		}
	}
	if seen && prev && !covered {
		e.o.Metrics.OwnershipLost.Inc()
		msg := fmt.Sprintf("account %s on chain %d no longer has the enforcer (%s) as owner", account, chainID, signer)
		e.notify(ctx, Notification{Kind: "ownership_lost", Message: msg, At: e.o.Now()})
	}
}

// SweepApprovals records as denied every action this process put up for approval whose
// deadline has passed. (An action put up by a process that has since stopped is denied when
// someone tries to approve it after its deadline.)
func (e *Enforcer) SweepApprovals(ctx context.Context) {
	now := e.o.Now()
	e.mu.Lock()
	var due []string
	for id, deadline := range e.awaiting {
		if now.After(deadline) {
			due = append(due, id)
		}
	}
	e.mu.Unlock()
	for _, id := range due {
		err := e.decide(ctx, id, "approval sweep", false)
		if err != nil && !errors.Is(err, ErrNotAwaiting) {
			e.o.Logger.Warn().Err(err).Str("action_id", id).Msg("expire approval")
			continue
		}
		e.mu.Lock()
		delete(e.awaiting, id)
		e.mu.Unlock()
	}
}
