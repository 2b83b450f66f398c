package policy

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/keywarden/keywarden/pkg/events"
)

// Input is what one evaluation sees.
type Input struct {
	Key events.KeyState
	// Event is the triggering event; nil for the expiry watch.
	Event *events.Event
	// Trigger overrides the trigger id (default: the event id, or "expiry:<valid_until>").
	Trigger string
	Now     time.Time
	// ActiveKeys is the number of active keys on the key's account.
	ActiveKeys int
}

func (in Input) trigger() string {
	switch {
	case in.Trigger != "":
		return in.Trigger
	case in.Event != nil:
		return in.Event.ID()
	default:
		return "expiry:" + strconv.FormatUint(in.Key.Permissions.ValidUntil, 10)
	}
}

func (in Input) activation() map[string]any {
	ev := &Event{}
	if in.Event != nil {
		ev = &Event{Present: true, Kind: string(in.Event.Kind), ID: in.Event.ID(), BlockNumber: in.Event.BlockNumber,
			BlockTime: unix(in.Event.BlockTime), TxHash: in.Event.TxHash.Hex()}
	}
	k := KeyView(in.Key)
	return map[string]any{
		"key":     &k,
		"event":   ev,
		"account": &Account{Address: in.Key.Account.Hex(), ActiveKeys: int64(in.ActiveKeys)},
		"now":     in.Now.UTC(),
	}
}

// Evaluate runs every policy whose scope covers the key and returns the verdicts of those it
// breaches, most severe first. Only active keys are evaluated. A policy that fails at run time
// (for example addr() given a bad address) is reported in the error; the others still run.
func (s *Set) Evaluate(in Input) ([]events.Verdict, error) {
	if in.Key.Status != events.StatusActive {
		return nil, nil
	}
	act := in.activation()
	view := act["key"].(*Key)
	var out []events.Verdict
	var errs []error
	for _, p := range s.Policies {
		if !p.scope.matches(in.Key) {
			continue
		}
		val, _, err := p.program.Eval(act)
		if err != nil {
			errs = append(errs, fmt.Errorf("evaluate policy %s: %w", p.ID, err))
			continue
		}
		breach, ok := val.Value().(bool)
		if !ok {
			errs = append(errs, fmt.Errorf("evaluate policy %s: result %v is not a bool", p.ID, val))
			continue
		}
		if !breach {
			continue
		}
		v := events.Verdict{Schema: events.SchemaVersion, PolicyID: p.ID, Severity: p.Severity, Action: p.Action,
			Reason: p.Description, ChainID: in.Key.ChainID, Plugin: in.Key.Plugin, Account: in.Key.Account,
			SessionKey: in.Key.SessionKey, Trigger: in.trigger(), EvaluatedAt: in.Now.UTC()}
		if v.Reason == "" {
			v.Reason = "breaches " + p.ID
		}
		if p.Action == events.ActionRestrict {
			v.Restrict = p.restrict(*view, in)
			if len(v.Restrict) == 0 {
				v.Action = events.ActionAlert
				v.Reason += " (no permission update can make this key comply: alert only)"
			}
		}
		if !in.Key.Verified && v.Action != events.ActionAlert {
			v.Action = events.ActionAlert
			v.Restrict = nil
			v.Reason += " (account has not installed the plugin: events are unverified, alert only)"
		}
		out = append(out, v)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if a, b := out[i].Severity.Rank(), out[j].Severity.Rank(); a != b {
			return a > b
		}
		return out[i].PolicyID < out[j].PolicyID
	})
	return out, errors.Join(errs...)
}

// Policy returns the policy with id, or nil.
func (s *Set) Policy(id string) *Policy {
	for _, p := range s.Policies {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// ExpiryLead is the longest expiry lead among the policies (0 when none watches expiry).
func (s *Set) ExpiryLead() time.Duration {
	var lead time.Duration
	for _, p := range s.Policies {
		if p.expiryLead > lead {
			lead = p.expiryLead
		}
	}
	return lead
}
