package policy

import (
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/keywarden/keywarden/pkg/events"
)

// Key is the CEL view of a session key (variable `key`). Addresses are EIP-55 strings; use
// addr("0x…") in expressions to compare with any spelling. Amounts are wei as doubles (exact
// below 2^53; amount_text has the exact decimal); an absent limit reads as `unlimited`.
type Key struct {
	ChainID    uint64 `cel:"chain_id"`
	Plugin     string `cel:"plugin"`
	Account    string `cel:"account"`
	Address    string `cel:"address"`
	Tag        string `cel:"tag"`
	Status     string `cel:"status"`
	Verified   bool   `cel:"verified"`
	AccessType string `cel:"access_type"` // "allowlist", "denylist", "allow_all"
	// Targets are the addresses on the access list; SelectorTargets those of them whose
	// selector entries count (checkSelectors); Functions are "target:selector" pairs on the list.
	Targets         []string  `cel:"targets"`
	SelectorTargets []string  `cel:"selector_targets"`
	Functions       []string  `cel:"functions"`
	HasExpiry       bool      `cel:"has_expiry"`
	ValidAfter      time.Time `cel:"valid_after"`
	ValidUntil      time.Time `cel:"valid_until"` // the Unix epoch when there is no expiry
	AddedAt         time.Time `cel:"added_at"`
	UpdatedAt       time.Time `cel:"updated_at"`
	// Lifetime is valid_until minus the later of valid_after and added_at; 0 without expiry.
	Lifetime          time.Duration    `cel:"lifetime"`
	Native            Limit            `cel:"native"`
	Gas               Limit            `cel:"gas"`
	ERC20             map[string]Limit `cel:"erc20"`
	RequiredPaymaster string           `cel:"required_paymaster"` // "" when none is required
	RotatedFrom       string           `cel:"rotated_from"`       // "" when not rotated

	perms events.Permissions
}

// Limit is the CEL view of a spend limit.
type Limit struct {
	Limited    bool          `cel:"limited"`
	Amount     float64       `cel:"amount"`      // wei; unlimited when !limited
	AmountText string        `cel:"amount_text"` // exact decimal; "unlimited" when !limited
	Refresh    time.Duration `cel:"refresh"`     // 0: a lifetime total
}

// Event is the CEL view of the triggering event (variable `event`); present is false for the
// expiry watch.
type Event struct {
	Present     bool      `cel:"present"`
	Kind        string    `cel:"kind"`
	ID          string    `cel:"id"`
	BlockNumber uint64    `cel:"block_number"`
	BlockTime   time.Time `cel:"block_time"`
	TxHash      string    `cel:"tx_hash"`
}

// Account is the CEL view of the key's account (variable `account`).
type Account struct {
	Address    string `cel:"address"`
	ActiveKeys int64  `cel:"active_keys"`
}

// Unlimited is the value of an absent limit: 2^256-1 as a double.
var Unlimited, _ = new(big.Float).SetInt(events.MaxU256.Big()).Float64()

func toLimit(s events.SpendLimit) Limit {
	if !s.HasLimit {
		return Limit{Amount: Unlimited, AmountText: "unlimited"}
	}
	return Limit{Limited: true, Amount: s.Limit.Float64(), AmountText: s.Limit.String(), Refresh: seconds(s.RefreshInterval)}
}

// seconds converts a uint48 number of seconds, saturating at the largest Duration.
func seconds(s uint64) time.Duration {
	if s > uint64(math.MaxInt64/int64(time.Second)) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(s) * time.Second
}

func unix(s uint64) time.Time {
	if s > events.MaxUint48 {
		s = events.MaxUint48
	}
	return time.Unix(int64(s), 0).UTC()
}

// KeyView builds the CEL view of k.
func KeyView(k events.KeyState) Key {
	p := k.Permissions
	v := Key{
		ChainID: k.ChainID, Plugin: k.Plugin.Hex(), Account: k.Account.Hex(), Address: k.SessionKey.Hex(),
		Tag: k.Tag.Hex(), Status: string(k.Status), Verified: k.Verified, AccessType: p.AccessControlType.String(),
		Targets: []string{}, SelectorTargets: []string{}, Functions: []string{},
		HasExpiry: p.ValidUntil != 0, ValidAfter: unix(p.ValidAfter), ValidUntil: unix(p.ValidUntil),
		AddedAt: unix(k.AddedTime), UpdatedAt: unix(k.UpdatedTime),
		Native: toLimit(p.NativeLimit), Gas: toLimit(p.GasLimit), ERC20: map[string]Limit{},
		perms: p,
	}
	for _, e := range p.AccessList {
		if e.IsOnList {
			v.Targets = append(v.Targets, e.Target.Hex())
		}
		if e.CheckSelectors {
			v.SelectorTargets = append(v.SelectorTargets, e.Target.Hex())
		}
	}
	for _, f := range p.FunctionList {
		v.Functions = append(v.Functions, f.Target.Hex()+":"+f.Selector.String())
	}
	for _, t := range p.ERC20Limits {
		v.ERC20[t.Token.Hex()] = toLimit(t.SpendLimit)
	}
	if !p.RequiredPaymaster.IsZero() {
		v.RequiredPaymaster = p.RequiredPaymaster.Hex()
	}
	if !k.RotatedFrom.IsZero() {
		v.RotatedFrom = k.RotatedFrom.Hex()
	}
	if v.HasExpiry {
		start := p.ValidAfter
		if k.AddedTime > start {
			start = k.AddedTime
		}
		if p.ValidUntil > start {
			v.Lifetime = seconds(p.ValidUntil - start)
		}
	}
	return v
}

// CanCall reports whether the key's access list lets it call selector on target, as the
// plugin's _checkCallPermissions decides (ignoring spend limits).
func CanCall(p events.Permissions, target events.Address, sel events.Selector) bool {
	e := p.AccessEntryOf(target)
	switch p.AccessControlType {
	case events.AccessAllowlist:
		if !e.IsOnList {
			return false
		}
		return !e.CheckSelectors || p.IsSelectorOnList(target, sel)
	case events.AccessDenylist:
		if !e.IsOnList {
			return true
		}
		return e.CheckSelectors && !p.IsSelectorOnList(target, sel)
	default:
		return true
	}
}

// CanCallSelectorSomewhere reports whether some target exists that the key may call with sel.
func CanCallSelectorSomewhere(p events.Permissions, sel events.Selector) bool {
	if p.AccessControlType != events.AccessAllowlist {
		return true // a target that is on no list is allowed under a denylist or allow-all
	}
	for _, e := range p.AccessList {
		if e.IsOnList && (!e.CheckSelectors || p.IsSelectorOnList(e.Target, sel)) {
			return true
		}
	}
	return false
}

// CanCallTarget reports whether the key may call target with at least one selector.
func CanCallTarget(p events.Permissions, target events.Address) bool {
	e := p.AccessEntryOf(target)
	switch p.AccessControlType {
	case events.AccessAllowlist:
		if !e.IsOnList {
			return false
		}
		if !e.CheckSelectors {
			return true
		}
		for _, f := range p.FunctionList {
			if f.Target == target && f.IsOnList {
				return true
			}
		}
		return false
	case events.AccessDenylist:
		return !e.IsOnList || e.CheckSelectors
	default:
		return true
	}
}

// ParseSelector accepts "0x095ea7b3" or a signature like "approve(address,uint256)".
func ParseSelector(s string) (events.Selector, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "0x") {
		var sel events.Selector
		if err := sel.UnmarshalText([]byte(strings.ToLower(s))); err != nil {
			return sel, err
		}
		return sel, nil
	}
	if !strings.Contains(s, "(") || !strings.HasSuffix(s, ")") || strings.ContainsAny(s, " \t") {
		return events.Selector{}, fmt.Errorf("parse selector %q: want 0x12345678 or a signature like transfer(address,uint256)", s)
	}
	return events.SelectorOf(crypto.Keccak256([]byte(s))), nil
}

// parseAddressLoose accepts any case (policy authors paste addresses from many places) but
// still rejects a wrong length or non-hex.
func parseAddressLoose(s string) (events.Address, error) {
	a, err := events.ParseAddress(strings.ToLower(strings.TrimSpace(s)))
	if err != nil {
		return a, fmt.Errorf("parse address %q: not a 0x-prefixed 20-byte hex address", s)
	}
	return a, nil
}

var (
	keyType   = cel.ObjectType("policy.Key")
	limitType = cel.ObjectType("policy.Limit")
)

func limitOf(v ref.Val) (*Limit, bool) {
	switch l := v.Value().(type) {
	case *Limit:
		return l, true
	case Limit:
		return &l, true
	}
	return nil, false
}

// Exceeds reports whether the limit allows more than capAmt, exactly: no limit, a larger
// amount, or (when minRefresh > 0) the same amount renewed more often than every minRefresh.
// A refresh of 0 is a lifetime total, the strictest form.
func (l Limit) Exceeds(capAmt events.U256, minRefresh time.Duration) bool {
	if !l.Limited {
		return true
	}
	amt, err := events.ParseU256(l.AmountText)
	if err != nil || amt.Cmp(capAmt) > 0 {
		return true
	}
	return minRefresh > 0 && l.Refresh != 0 && l.Refresh < minRefresh
}

func keyOf(v ref.Val) (*Key, bool) {
	switch k := v.Value().(type) {
	case *Key:
		return k, true
	case Key:
		return &k, true
	}
	return nil, false
}

// newEnv is the CEL environment every policy compiles in.
func newEnv() (*cel.Env, error) {
	base, err := baseEnv()
	if err != nil {
		return nil, err
	}
	// erc20_limit returns a native struct, so it needs the environment's own type adapter.
	adapter := base.CELTypeAdapter()
	return base.Extend(
		cel.Function("erc20_limit",
			cel.MemberOverload("key_erc20_limit", []*cel.Type{keyType, cel.StringType}, limitType,
				cel.BinaryBinding(func(kv, tv ref.Val) ref.Val {
					k, ok := keyOf(kv)
					if !ok {
						return types.NewErr("erc20_limit: not a key")
					}
					t, err := parseAddressLoose(string(tv.(types.String)))
					if err != nil {
						return types.NewErr("%s", err.Error())
					}
					l := toLimit(k.perms.ERC20(t))
					return adapter.NativeToValue(&l)
				}))),
	)
}

func baseEnv() (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(reflect.TypeOf(&Key{}), reflect.TypeOf(&Limit{}), reflect.TypeOf(&Event{}),
			reflect.TypeOf(&Account{}), ext.ParseStructTags(true)),
		ext.Strings(), ext.Sets(), ext.Lists(), ext.Math(),
		cel.Variable("key", keyType),
		cel.Variable("event", cel.ObjectType("policy.Event")),
		cel.Variable("account", cel.ObjectType("policy.Account")),
		cel.Variable("now", cel.TimestampType),
		cel.Constant("unlimited", cel.DoubleType, types.Double(Unlimited)),
		cel.Function("ether",
			cel.Overload("ether_double", []*cel.Type{cel.DoubleType}, cel.DoubleType,
				cel.UnaryBinding(func(v ref.Val) ref.Val { return types.Double(float64(v.(types.Double)) * 1e18) })),
			cel.Overload("ether_int", []*cel.Type{cel.IntType}, cel.DoubleType,
				cel.UnaryBinding(func(v ref.Val) ref.Val { return types.Double(float64(v.(types.Int)) * 1e18) }))),
		cel.Function("gwei",
			cel.Overload("gwei_double", []*cel.Type{cel.DoubleType}, cel.DoubleType,
				cel.UnaryBinding(func(v ref.Val) ref.Val { return types.Double(float64(v.(types.Double)) * 1e9) })),
			cel.Overload("gwei_int", []*cel.Type{cel.IntType}, cel.DoubleType,
				cel.UnaryBinding(func(v ref.Val) ref.Val { return types.Double(float64(v.(types.Int)) * 1e9) }))),
		cel.Function("addr",
			cel.Overload("addr_string", []*cel.Type{cel.StringType}, cel.StringType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					a, err := parseAddressLoose(string(v.(types.String)))
					if err != nil {
						return types.NewErr("%s", err.Error())
					}
					return types.String(a.Hex())
				}))),
		cel.Function("selector",
			cel.Overload("selector_string", []*cel.Type{cel.StringType}, cel.StringType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					s, err := ParseSelector(string(v.(types.String)))
					if err != nil {
						return types.NewErr("%s", err.Error())
					}
					return types.String(s.String())
				}))),
		cel.Function("can_call",
			cel.MemberOverload("key_can_call", []*cel.Type{keyType, cel.StringType, cel.StringType}, cel.BoolType,
				cel.FunctionBinding(func(args ...ref.Val) ref.Val {
					k, ok := keyOf(args[0])
					if !ok {
						return types.NewErr("can_call: not a key")
					}
					t, err := parseAddressLoose(string(args[1].(types.String)))
					if err != nil {
						return types.NewErr("%s", err.Error())
					}
					s, err := ParseSelector(string(args[2].(types.String)))
					if err != nil {
						return types.NewErr("%s", err.Error())
					}
					return types.Bool(CanCall(k.perms, t, s))
				}))),
		cel.Function("can_call_selector",
			cel.MemberOverload("key_can_call_selector", []*cel.Type{keyType, cel.StringType}, cel.BoolType,
				cel.BinaryBinding(func(kv, sv ref.Val) ref.Val {
					k, ok := keyOf(kv)
					if !ok {
						return types.NewErr("can_call_selector: not a key")
					}
					s, err := ParseSelector(string(sv.(types.String)))
					if err != nil {
						return types.NewErr("%s", err.Error())
					}
					return types.Bool(CanCallSelectorSomewhere(k.perms, s))
				}))),
		cel.Function("can_call_target",
			cel.MemberOverload("key_can_call_target", []*cel.Type{keyType, cel.StringType}, cel.BoolType,
				cel.BinaryBinding(func(kv, tv ref.Val) ref.Val {
					k, ok := keyOf(kv)
					if !ok {
						return types.NewErr("can_call_target: not a key")
					}
					t, err := parseAddressLoose(string(tv.(types.String)))
					if err != nil {
						return types.NewErr("%s", err.Error())
					}
					return types.Bool(CanCallTarget(k.perms, t))
				}))),
		cel.Function("exceeds",
			cel.MemberOverload("limit_exceeds", []*cel.Type{limitType, cel.StringType, cel.DurationType}, cel.BoolType,
				cel.FunctionBinding(func(args ...ref.Val) ref.Val {
					l, ok := limitOf(args[0])
					if !ok {
						return types.NewErr("exceeds: not a limit")
					}
					capAmt, err := ParseAmount(string(args[1].(types.String)))
					if err != nil {
						return types.NewErr("%s", err.Error())
					}
					return types.Bool(l.Exceeds(capAmt, args[2].(types.Duration).Duration))
				}))),
	)
}
