package events

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Severity ranks a verdict.
type Severity string

// Severities, lowest first.
const (
	SeverityInfo     Severity = "info"
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// Rank orders severities (info 0 … critical 4); -1 for an unknown one.
func (s Severity) Rank() int {
	switch s {
	case SeverityInfo:
		return 0
	case SeverityLow:
		return 1
	case SeverityMedium:
		return 2
	case SeverityHigh:
		return 3
	case SeverityCritical:
		return 4
	}
	return -1
}

// ActionKind is what the enforcer does about a verdict.
type ActionKind string

// Action kinds.
const (
	ActionAlert    ActionKind = "alert"    // record and notify only
	ActionRemove   ActionKind = "remove"   // removeSessionKey
	ActionRotate   ActionKind = "rotate"   // rotateSessionKey to a key supplied by the key's agent, then a fresh time range
	ActionRestrict ActionKind = "restrict" // updateKeyPermissions with the smallest update that satisfies the policy
)

// Valid reports whether a is one of the four kinds.
func (a ActionKind) Valid() bool {
	switch a {
	case ActionAlert, ActionRemove, ActionRotate, ActionRestrict:
		return true
	}
	return false
}

// Verdict says that a key breaches a policy, and what to do.
type Verdict struct {
	Schema     int        `json:"schema"`
	PolicyID   string     `json:"policy_id"`
	Severity   Severity   `json:"severity"`
	Action     ActionKind `json:"action"`
	Reason     string     `json:"reason"`
	ChainID    uint64     `json:"chain_id"`
	Plugin     Address    `json:"plugin"`
	Account    Address    `json:"account"`
	SessionKey Address    `json:"session_key"`
	// Trigger identifies what caused the evaluation: an event id, or "expiry:<valid_until>" for
	// the expiry watch. It is part of the action id.
	Trigger string `json:"trigger"`
	// Restrict holds the permission updates of a restrict action.
	Restrict    []Update  `json:"-"`
	EvaluatedAt time.Time `json:"evaluated_at"`
}

// ActionID is the deterministic id of the action a verdict calls for: the same (policy, chain,
// account, key, trigger) always gives the same id, so a redelivered event never acts twice.
func (v Verdict) ActionID() string {
	h := sha256.New()
	for _, part := range []string{v.PolicyID, strconv.FormatUint(v.ChainID, 10), v.Plugin.Hex(), v.Account.Hex(),
		v.SessionKey.Hex(), v.Trigger} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Outcome is the state of an action.
type Outcome string

// Action outcomes.
const (
	OutcomePlanned          Outcome = "planned"           // decided; in dry-run mode nothing more happens
	OutcomeAwaitingApproval Outcome = "awaiting_approval" // approval mode: waits for a person
	OutcomeDenied           Outcome = "denied"            // a person denied it, or the approval expired
	OutcomeSubmitted        Outcome = "submitted"         // user operation accepted by the bundler
	OutcomeIncluded         Outcome = "included"          // user operation included and succeeded
	OutcomeFailed           Outcome = "failed"            // retries exhausted, or included and reverted
	OutcomeResolved         Outcome = "resolved"          // nothing to do: the key is already gone or compliant
	OutcomeRetracted        Outcome = "retracted"         // the triggering event was retracted by a reorg
	OutcomeUncovered        Outcome = "uncovered"         // the enforcer is not an owner of the account: alert only
	OutcomeAlerted          Outcome = "alerted"           // alert-only action delivered
)

// ActionRecord is one step in the life of an action, for the audit trail.
type ActionRecord struct {
	Schema     int        `json:"schema"`
	ActionID   string     `json:"action_id"`
	PolicyID   string     `json:"policy_id"`
	Action     ActionKind `json:"action"`
	Outcome    Outcome    `json:"outcome"`
	ChainID    uint64     `json:"chain_id"`
	Account    Address    `json:"account"`
	SessionKey Address    `json:"session_key"`
	Trigger    string     `json:"trigger"`
	// NewSessionKey is set for a rotation.
	NewSessionKey Address   `json:"new_session_key"`
	UserOpHash    string    `json:"user_op_hash,omitempty"`
	TxHash        string    `json:"tx_hash,omitempty"`
	Attempt       int       `json:"attempt"`
	Error         string    `json:"error,omitempty"`
	At            time.Time `json:"at"`
}

// MarshalJSON writes the verdict with its restrict updates in their typed wire form.
func (v Verdict) MarshalJSON() ([]byte, error) {
	type plain Verdict
	p := plain(v)
	if p.Schema == 0 {
		p.Schema = SchemaVersion
	}
	ups := make([]json.RawMessage, 0, len(v.Restrict))
	for _, u := range v.Restrict {
		b, err := MarshalUpdate(u)
		if err != nil {
			return nil, err
		}
		ups = append(ups, b)
	}
	return json.Marshal(struct {
		plain
		Restrict []json.RawMessage `json:"restrict"`
	}{p, ups})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (v *Verdict) UnmarshalJSON(b []byte) error {
	type plain Verdict
	var w struct {
		plain
		Restrict []json.RawMessage `json:"restrict"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*v = Verdict(w.plain)
	v.Restrict = nil
	for i, raw := range w.Restrict {
		u, err := UnmarshalUpdate(raw)
		if err != nil {
			return fmt.Errorf("restrict update %d: %w", i, err)
		}
		v.Restrict = append(v.Restrict, u)
	}
	return nil
}
