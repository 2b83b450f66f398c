package policy

import (
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/keywarden/keywarden/pkg/events"
)

// restrictFunc computes the updates of a restrict action for a breaching key; nil means the
// rule has no update that would make this key comply.
type restrictFunc func(k Key, in Input) []events.Update

type rule struct {
	expr       string
	restrict   restrictFunc
	expiryLead time.Duration
}

// DefaultForbiddenSelectors are the calls a session key should never be able to make on any
// target: token approvals and ownership or implementation changes.
var DefaultForbiddenSelectors = []string{
	"approve(address,uint256)",
	"increaseAllowance(address,uint256)",
	"setApprovalForAll(address,bool)",
	"transferOwnership(address)",
	"upgradeTo(address)",
	"upgradeToAndCall(address,bytes)",
}

// RuleTypes lists the ready-made rules and their parameters.
var RuleTypes = map[string]string{
	"max_lifetime":         "max: duration — a key with an expiry may not be valid for longer (see time_range_required for keys without one)",
	"time_range_required":  "default_lifetime: duration (24h) — the key must have an expiry; restrict sets now+default_lifetime",
	"no_allow_all":         "(none) — the access list may not be ALLOW_ALL",
	"spend_cap":            "token: native|address, max: amount, refresh: duration (optional minimum interval)",
	"gas_or_paymaster":     "max_gas: amount and/or paymaster: address — a gas cap or a required paymaster",
	"forbidden_calls":      "selectors: list|default, targets: list — the key may not be able to call these",
	"expiry_horizon":       "lead: duration — the key expires within lead (or already expired)",
	"max_keys_per_account": "max: int — the account has more active keys than max",
}

func expandRule(r RuleSpec) (rule, error) {
	p := params(r.Params)
	var out rule
	var err error
	switch r.Type {
	case "max_lifetime":
		var max time.Duration
		if max, err = p.duration("max", 0); err == nil && max <= 0 {
			err = errors.New("max must be positive")
		}
		// Keys without any expiry are the time_range_required rule's concern.
		out.expr = fmt.Sprintf(`key.has_expiry && key.lifetime > duration(%q)`, max.String())
		out.restrict = func(k Key, in Input) []events.Update {
			start := k.ValidAfter
			if k.AddedAt.After(start) {
				start = k.AddedAt
			}
			return []events.Update{events.UpdateTimeRange{ValidAfter: uint64(k.ValidAfter.Unix()),
				ValidUntil: uint64(start.Add(max).Unix())}}
		}
	case "time_range_required":
		var life time.Duration
		life, err = p.duration("default_lifetime", 24*time.Hour)
		out.expr = `!key.has_expiry`
		out.restrict = func(k Key, in Input) []events.Update {
			return []events.Update{events.UpdateTimeRange{ValidAfter: uint64(k.ValidAfter.Unix()),
				ValidUntil: uint64(in.Now.Add(life).Unix())}}
		}
	case "no_allow_all":
		out.expr = `key.access_type == "allow_all"`
		out.restrict = func(Key, Input) []events.Update {
			return []events.Update{events.SetAccessListType{Type: events.AccessAllowlist}}
		}
	case "spend_cap":
		out, err = spendCap(p)
	case "gas_or_paymaster":
		out, err = gasOrPaymaster(p)
	case "forbidden_calls":
		out, err = forbiddenCalls(p)
	case "expiry_horizon":
		var lead time.Duration
		if lead, err = p.duration("lead", 0); err == nil && lead <= 0 {
			err = errors.New("lead must be positive")
		}
		out.expr = fmt.Sprintf(`key.has_expiry && key.valid_until - now <= duration(%q)`, lead.String())
		out.expiryLead = lead
	case "max_keys_per_account":
		var max int64
		max, err = p.int("max")
		out.expr = fmt.Sprintf(`account.active_keys > %d`, max)
	default:
		names := make([]string, 0, len(RuleTypes))
		for n := range RuleTypes {
			names = append(names, n)
		}
		sort.Strings(names)
		return rule{}, fmt.Errorf("rule type %q: want one of %s", r.Type, strings.Join(names, ", "))
	}
	if err == nil {
		err = p.unused()
	}
	if err != nil {
		return rule{}, fmt.Errorf("rule %s: %w", r.Type, err)
	}
	return out, nil
}

func spendCap(p params) (rule, error) {
	var out rule
	token, err := p.string("token")
	if err != nil {
		return out, err
	}
	capAmt, err := p.amount("max")
	if err != nil {
		return out, err
	}
	refresh, err := p.duration("refresh", 0)
	if err != nil {
		return out, err
	}
	interval := uint64(refresh / time.Second)
	if token == "native" {
		out.expr = fmt.Sprintf(`key.native.exceeds(%q, duration(%q))`, capAmt.String(), refresh.String())
		out.restrict = func(Key, Input) []events.Update {
			return []events.Update{events.SetNativeTokenSpendLimit{Limit: capAmt, RefreshInterval: interval}}
		}
		return out, nil
	}
	addr, err := parseAddressLoose(token)
	if err != nil {
		return out, fmt.Errorf("token: %w", err)
	}
	out.expr = fmt.Sprintf(`key.can_call_target(%q) && key.erc20_limit(%q).exceeds(%q, duration(%q))`,
		addr.Hex(), addr.Hex(), capAmt.String(), refresh.String())
	out.restrict = func(Key, Input) []events.Update {
		return []events.Update{events.SetERC20SpendLimit{Token: addr, Limit: capAmt, RefreshInterval: interval}}
	}
	return out, nil
}

func gasOrPaymaster(p params) (rule, error) {
	var out rule
	hasGas, hasPM := p.has("max_gas"), p.has("paymaster")
	if !hasGas && !hasPM {
		return out, errors.New("set max_gas, paymaster or both")
	}
	var conds []string
	var ups []events.Update
	if hasGas {
		capAmt, err := p.amount("max_gas")
		if err != nil {
			return out, err
		}
		refresh, err := p.duration("refresh", 0)
		if err != nil {
			return out, err
		}
		conds = append(conds, fmt.Sprintf(`key.gas.exceeds(%q, duration(%q))`, capAmt.String(), refresh.String()))
		ups = append(ups, events.SetGasSpendLimit{Limit: capAmt, RefreshInterval: uint64(refresh / time.Second)})
	}
	if hasPM {
		s, err := p.string("paymaster")
		if err != nil {
			return out, err
		}
		pm, err := parseAddressLoose(s)
		if err != nil || pm.IsZero() {
			return out, fmt.Errorf("paymaster: want a non-zero address, got %q", s)
		}
		conds = append(conds, fmt.Sprintf(`key.required_paymaster != %q`, pm.Hex()))
		if !hasGas {
			ups = append(ups, events.SetRequiredPaymaster{Paymaster: pm})
		}
	} else {
		conds = append(conds, `key.required_paymaster == ""`)
	}
	// Breach only when neither safeguard is in place.
	out.expr = strings.Join(conds, " && ")
	out.restrict = func(Key, Input) []events.Update { return ups }
	return out, nil
}

func forbiddenCalls(p params) (rule, error) {
	var out rule
	var sels, targets []string
	if p.has("selectors") {
		if s, ok := p.raw("selectors").(string); ok && s == "default" {
			p.take("selectors")
			sels = DefaultForbiddenSelectors
		} else {
			list, err := p.strings("selectors")
			if err != nil {
				return out, err
			}
			sels = list
		}
	}
	if p.has("targets") {
		list, err := p.strings("targets")
		if err != nil {
			return out, err
		}
		targets = list
	}
	if len(sels) == 0 && len(targets) == 0 {
		return out, errors.New("set selectors (a list or \"default\") and/or targets")
	}
	var selHex, tgtHex []string
	for _, s := range sels {
		sel, err := ParseSelector(s)
		if err != nil {
			return out, err
		}
		selHex = append(selHex, strconv.Quote(sel.String()))
	}
	var tgtAddrs []events.Address
	for _, t := range targets {
		a, err := parseAddressLoose(t)
		if err != nil {
			return out, err
		}
		tgtAddrs = append(tgtAddrs, a)
		tgtHex = append(tgtHex, strconv.Quote(a.Hex()))
	}
	var conds []string
	if len(selHex) > 0 {
		conds = append(conds, fmt.Sprintf(`[%s].exists(s, key.can_call_selector(s))`, strings.Join(selHex, ", ")))
	}
	if len(tgtHex) > 0 {
		conds = append(conds, fmt.Sprintf(`[%s].exists(t, key.can_call_target(t))`, strings.Join(tgtHex, ", ")))
	}
	out.expr = strings.Join(conds, " || ")
	if len(sels) > 0 {
		return out, nil // no single update can forbid a selector on every target
	}
	out.restrict = func(k Key, _ Input) []events.Update {
		var ups []events.Update
		for _, t := range tgtAddrs {
			if !CanCallTarget(k.perms, t) {
				continue
			}
			switch k.perms.AccessControlType {
			case events.AccessAllowlist:
				ups = append(ups, events.UpdateAccessListAddressEntry{Target: t})
			case events.AccessDenylist:
				ups = append(ups, events.UpdateAccessListAddressEntry{Target: t, IsOnList: true})
			default:
				return nil // allow-all cannot deny one target without reinterpreting the list
			}
		}
		return ups
	}
	return out, nil
}

// params reads a rule's parameters and tracks which were used, so that a misspelt one is an error.
type params map[string]any

func (p params) has(k string) bool { _, ok := p[k]; return ok }
func (p params) raw(k string) any  { v := p[k]; return v }

func (p params) take(k string) (any, bool) {
	v, ok := p[k]
	if ok {
		delete(p, k)
	}
	return v, ok
}

func (p params) unused() error {
	if len(p) == 0 {
		return nil
	}
	var names []string
	for k := range p {
		names = append(names, k)
	}
	sort.Strings(names)
	return fmt.Errorf("unknown parameter(s): %s", strings.Join(names, ", "))
}

func (p params) string(k string) (string, error) {
	v, ok := p.take(k)
	if !ok {
		return "", fmt.Errorf("parameter %s is required", k)
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("parameter %s: want a string", k)
	}
	return s, nil
}

func (p params) strings(k string) ([]string, error) {
	v, _ := p.take(k)
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("parameter %s: want a list", k)
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("parameter %s: want a list of strings", k)
		}
		out = append(out, s)
	}
	return out, nil
}

func (p params) duration(k string, def time.Duration) (time.Duration, error) {
	v, ok := p.take(k)
	if !ok {
		if def == 0 && k != "refresh" {
			return 0, fmt.Errorf("parameter %s is required", k)
		}
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("parameter %s: want a duration like 24h", k)
	}
	d, err := parseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("parameter %s: %w", k, err)
	}
	return d, nil
}

func (p params) int(k string) (int64, error) {
	v, ok := p.take(k)
	if !ok {
		return 0, fmt.Errorf("parameter %s is required", k)
	}
	n, ok := v.(int)
	if !ok || n < 0 {
		return 0, fmt.Errorf("parameter %s: want a whole number", k)
	}
	return int64(n), nil
}

// amount reads "1.5 ether", "30 gwei", "12345" (wei) or a YAML integer.
func (p params) amount(k string) (events.U256, error) {
	v, ok := p.take(k)
	if !ok {
		return events.U256{}, fmt.Errorf("parameter %s is required", k)
	}
	var s string
	switch x := v.(type) {
	case int:
		s = strconv.Itoa(x)
	case string:
		s = x
	default:
		return events.U256{}, fmt.Errorf("parameter %s: want an amount like \"1 ether\", \"30 gwei\" or wei", k)
	}
	u, err := ParseAmount(s)
	if err != nil {
		return u, fmt.Errorf("parameter %s: %w", k, err)
	}
	return u, nil
}

// ParseAmount reads "1.5 ether", "30 gwei" or a decimal number of wei, exactly.
func ParseAmount(s string) (events.U256, error) {
	fields := strings.Fields(s)
	unit := new(big.Int).SetInt64(1)
	if len(fields) == 2 {
		switch strings.ToLower(fields[1]) {
		case "ether", "eth":
			unit.SetString("1000000000000000000", 10)
		case "gwei":
			unit.SetInt64(1_000_000_000)
		case "wei":
		default:
			return events.U256{}, fmt.Errorf("amount %q: unknown unit %q", s, fields[1])
		}
	} else if len(fields) != 1 {
		return events.U256{}, fmt.Errorf("amount %q: want a number and an optional unit", s)
	}
	r, ok := new(big.Rat).SetString(fields[0])
	if !ok || r.Sign() < 0 {
		return events.U256{}, fmt.Errorf("amount %q: not a non-negative number", s)
	}
	r.Mul(r, new(big.Rat).SetInt(unit))
	if !r.IsInt() {
		return events.U256{}, fmt.Errorf("amount %q: not a whole number of wei", s)
	}
	return events.U256FromBig(r.Num())
}
