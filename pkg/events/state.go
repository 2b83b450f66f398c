package events

import (
	"errors"
	"fmt"
	"sort"

	"github.com/ethereum/go-ethereum/common"
)

// SpendLimit is one spend limit as the plugin stores it. Usage (limitUsed) is not derivable
// from events, so it is not tracked here; LastUsedTime is what the last update set it to
// (the update's block time when the interval is non-zero, else 0) and later usage moves it.
//
// When HasLimit is false the plugin keeps the last configured Limit and RefreshInterval in
// storage (the ERC-20 getter still returns them); they are kept here for the same reason.
type SpendLimit struct {
	HasLimit        bool   `json:"has_limit"`
	Limit           U256   `json:"limit"`
	RefreshInterval uint64 `json:"refresh_interval"`
	LastUsedTime    uint64 `json:"last_used_time"`
}

// AccessEntry is one target on the access list.
type AccessEntry struct {
	Target         Address `json:"target"`
	IsOnList       bool    `json:"is_on_list"`
	CheckSelectors bool    `json:"check_selectors"`
}

// FunctionEntry is one (target, selector) on the access list.
type FunctionEntry struct {
	Target   Address  `json:"target"`
	Selector Selector `json:"selector"`
	IsOnList bool     `json:"is_on_list"`
}

// TokenLimit is the ERC-20 spend limit of one token.
type TokenLimit struct {
	Token Address `json:"token"`
	SpendLimit
}

// Permissions is a session key's permission configuration. The zero value is not a new key's
// state: use DefaultPermissions. Slices are kept sorted (by target, then selector; by token)
// and hold only entries that differ from the storage default, so two equal configurations
// compare equal with reflect.DeepEqual.
type Permissions struct {
	AccessControlType AccessControlType `json:"access_control_type"`
	AccessList        []AccessEntry     `json:"access_list"`
	FunctionList      []FunctionEntry   `json:"function_list"`
	ValidAfter        uint64            `json:"valid_after"`
	ValidUntil        uint64            `json:"valid_until"` // 0: no expiry
	NativeLimit       SpendLimit        `json:"native_limit"`
	ERC20Limits       []TokenLimit      `json:"erc20_limits"`
	GasLimit          SpendLimit        `json:"gas_limit"`
	// RequiredPaymaster is zero when no paymaster is required.
	RequiredPaymaster Address `json:"required_paymaster"`
}

// DefaultPermissions is the state of a freshly added key: allowlist with no entries, no time
// range, a native limit of 0 (no value transfers), no ERC-20 or gas limits, no paymaster rule.
func DefaultPermissions() Permissions {
	return Permissions{
		AccessControlType: AccessAllowlist,
		AccessList:        []AccessEntry{},
		FunctionList:      []FunctionEntry{},
		NativeLimit:       SpendLimit{HasLimit: true},
		ERC20Limits:       []TokenLimit{},
	}
}

// Clone returns a deep copy.
func (p Permissions) Clone() Permissions {
	c := p
	c.AccessList = append([]AccessEntry{}, p.AccessList...)
	c.FunctionList = append([]FunctionEntry{}, p.FunctionList...)
	c.ERC20Limits = append([]TokenLimit{}, p.ERC20Limits...)
	return c
}

// ErrRejectedUpdate marks an update the plugin would have reverted on (so no real log carries it).
var ErrRejectedUpdate = errors.New("update rejected by the plugin")

// Apply applies one update as the plugin does at block time blockTime. An update the plugin
// rejects (unknown selector, access type above 2, token 0, values above uint48) returns an
// error wrapping ErrRejectedUpdate and leaves p unchanged.
func (p *Permissions) Apply(u Update, blockTime uint64) error {
	switch u := Unpadded(u).(type) {
	case SetAccessListType:
		if !u.Type.Valid() {
			return fmt.Errorf("apply %s %d: %w", u.UpdateKind(), u.Type, ErrRejectedUpdate)
		}
		p.AccessControlType = u.Type
	case UpdateAccessListAddressEntry:
		p.setAccessEntry(AccessEntry(u))
	case UpdateAccessListFunctionEntry:
		p.setFunctionEntry(FunctionEntry{Target: u.Target, Selector: u.Function, IsOnList: u.IsOnList})
	case UpdateTimeRange:
		if u.ValidAfter > MaxUint48 || u.ValidUntil > MaxUint48 {
			return fmt.Errorf("apply %s: value above uint48: %w", u.UpdateKind(), ErrRejectedUpdate)
		}
		p.ValidAfter, p.ValidUntil = u.ValidAfter, u.ValidUntil
	case SetNativeTokenSpendLimit:
		if u.RefreshInterval > MaxUint48 {
			return fmt.Errorf("apply %s: interval above uint48: %w", u.UpdateKind(), ErrRejectedUpdate)
		}
		p.NativeLimit = p.NativeLimit.set(u.Limit, u.RefreshInterval, blockTime)
	case SetERC20SpendLimit:
		if u.Token.IsZero() {
			return fmt.Errorf("apply %s: token 0: %w", u.UpdateKind(), ErrRejectedUpdate)
		}
		if u.RefreshInterval > MaxUint48 {
			return fmt.Errorf("apply %s: interval above uint48: %w", u.UpdateKind(), ErrRejectedUpdate)
		}
		i, found := p.tokenIndex(u.Token)
		if !found {
			p.ERC20Limits = append(p.ERC20Limits, TokenLimit{})
			copy(p.ERC20Limits[i+1:], p.ERC20Limits[i:])
			p.ERC20Limits[i] = TokenLimit{Token: u.Token}
		}
		p.ERC20Limits[i].SpendLimit = p.ERC20Limits[i].SpendLimit.set(u.Limit, u.RefreshInterval, blockTime)
		if p.ERC20Limits[i].SpendLimit == (SpendLimit{}) {
			// Disabling a limit that was never set leaves storage at its default: keep no entry,
			// so that equal on-chain states compare equal.
			p.ERC20Limits = append(p.ERC20Limits[:i], p.ERC20Limits[i+1:]...)
		}
	case SetGasSpendLimit:
		if u.RefreshInterval > MaxUint48 {
			return fmt.Errorf("apply %s: interval above uint48: %w", u.UpdateKind(), ErrRejectedUpdate)
		}
		p.GasLimit = p.GasLimit.set(u.Limit, u.RefreshInterval, blockTime)
	case SetRequiredPaymaster:
		p.RequiredPaymaster = u.Paymaster
	case UnknownUpdate:
		return fmt.Errorf("apply update with selector %s: %w", u.Selector(), ErrRejectedUpdate)
	default:
		return fmt.Errorf("apply update of type %T: %w", u, ErrRejectedUpdate)
	}
	return nil
}

// ApplyAll applies updates in order. The plugin applies all or none (a rejected element reverts
// the whole call), so on error p is left as it was.
func (p *Permissions) ApplyAll(us []Update, blockTime uint64) error {
	next := p.Clone()
	for i, u := range us {
		if err := next.Apply(u, blockTime); err != nil {
			return fmt.Errorf("update %d: %w", i, err)
		}
	}
	*p = next
	return nil
}

// set mirrors the plugin's _updateSpendLimits: max disables the limit and keeps the stored
// amount and interval; any other value enables it, replaces amount and interval, and restarts
// the interval at blockTime (or clears lastUsed for a lifetime limit).
func (s SpendLimit) set(limit U256, interval, blockTime uint64) SpendLimit {
	if limit.IsMax() {
		s.HasLimit = false
		return s
	}
	s.HasLimit = true
	s.Limit = limit
	s.RefreshInterval = interval
	if interval == 0 {
		s.LastUsedTime = 0
	} else {
		s.LastUsedTime = blockTime
	}
	return s
}

// NativeView is what getNativeTokenSpendLimitInfo returns (zeros when there is no limit),
// without usage.
func (p Permissions) NativeView() SpendLimit {
	if !p.NativeLimit.HasLimit {
		return SpendLimit{}
	}
	return p.NativeLimit
}

// GasView is what getGasSpendLimit returns (zeros when there is no limit), without usage.
func (p Permissions) GasView() SpendLimit {
	if !p.GasLimit.HasLimit {
		return SpendLimit{}
	}
	return p.GasLimit
}

// ERC20 returns the stored limit of token (what getERC20SpendLimitInfo returns, without usage).
func (p Permissions) ERC20(token Address) SpendLimit {
	if i, ok := p.tokenIndex(token); ok {
		return p.ERC20Limits[i].SpendLimit
	}
	return SpendLimit{}
}

// AccessEntryOf returns the (isOnList, checkSelectors) of target.
func (p Permissions) AccessEntryOf(target Address) AccessEntry {
	i := sort.Search(len(p.AccessList), func(i int) bool { return !lessAddr(p.AccessList[i].Target, target) })
	if i < len(p.AccessList) && p.AccessList[i].Target == target {
		return p.AccessList[i]
	}
	return AccessEntry{Target: target}
}

// IsSelectorOnList reports whether (target, sel) is on the function list.
func (p Permissions) IsSelectorOnList(target Address, sel Selector) bool {
	i := p.functionIndex(target, sel)
	return i < len(p.FunctionList) && p.FunctionList[i].Target == target && p.FunctionList[i].Selector == sel
}

// Expired reports whether the key's time range ended before now (unix seconds).
func (p Permissions) Expired(now uint64) bool { return p.ValidUntil != 0 && now > p.ValidUntil }

func lessAddr(a, b Address) bool { return string(a[:]) < string(b[:]) }

func (p *Permissions) setAccessEntry(e AccessEntry) {
	i := sort.Search(len(p.AccessList), func(i int) bool { return !lessAddr(p.AccessList[i].Target, e.Target) })
	found := i < len(p.AccessList) && p.AccessList[i].Target == e.Target
	keep := e.IsOnList || e.CheckSelectors
	switch {
	case found && keep:
		p.AccessList[i] = e
	case found && !keep:
		p.AccessList = append(p.AccessList[:i], p.AccessList[i+1:]...)
	case !found && keep:
		p.AccessList = append(p.AccessList, AccessEntry{})
		copy(p.AccessList[i+1:], p.AccessList[i:])
		p.AccessList[i] = e
	}
}

func (p Permissions) functionIndex(target Address, sel Selector) int {
	return sort.Search(len(p.FunctionList), func(i int) bool {
		f := p.FunctionList[i]
		if f.Target != target {
			return !lessAddr(f.Target, target)
		}
		return string(f.Selector[:]) >= string(sel[:])
	})
}

func (p *Permissions) setFunctionEntry(e FunctionEntry) {
	i := p.functionIndex(e.Target, e.Selector)
	found := i < len(p.FunctionList) && p.FunctionList[i].Target == e.Target && p.FunctionList[i].Selector == e.Selector
	switch {
	case found && e.IsOnList:
		p.FunctionList[i] = e
	case found:
		p.FunctionList = append(p.FunctionList[:i], p.FunctionList[i+1:]...)
	case e.IsOnList:
		p.FunctionList = append(p.FunctionList, FunctionEntry{})
		copy(p.FunctionList[i+1:], p.FunctionList[i:])
		p.FunctionList[i] = e
	}
}

func (p Permissions) tokenIndex(token Address) (int, bool) {
	i := sort.Search(len(p.ERC20Limits), func(i int) bool { return !lessAddr(p.ERC20Limits[i].Token, token) })
	return i, i < len(p.ERC20Limits) && p.ERC20Limits[i].Token == token
}

// KeyStatus is the lifecycle state of a session key.
type KeyStatus string

// Key statuses.
const (
	StatusActive      KeyStatus = "active"
	StatusRemoved     KeyStatus = "removed"
	StatusRotatedAway KeyStatus = "rotated_away"
)

// KeyState is the folded state of one (chain, plugin, account, session key).
type KeyState struct {
	Schema     int       `json:"schema"`
	ChainID    uint64    `json:"chain_id"`
	Plugin     Address   `json:"plugin"`
	Account    Address   `json:"account"`
	SessionKey Address   `json:"session_key"`
	Status     KeyStatus `json:"status"`
	// Tag comes from SessionKeyAdded. keywarden carries it through rotation (the plugin does
	// not store it) so that the rotated key can still be found by its tag.
	Tag common.Hash `json:"tag"`
	// Verified is true while the account has the plugin installed (a PluginInstalled seen).
	Verified    bool        `json:"verified"`
	RotatedFrom Address     `json:"rotated_from"` // the key this one was rotated from, if any
	RotatedTo   Address     `json:"rotated_to"`   // set when Status is rotated_away
	Permissions Permissions `json:"permissions"`
	AddedBlock  uint64      `json:"added_block"`
	AddedTime   uint64      `json:"added_time"`
	// UpdatedBlock/UpdatedTime/LastEventID describe the last event that changed this state.
	UpdatedBlock uint64 `json:"updated_block"`
	UpdatedTime  uint64 `json:"updated_time"`
	LastEventID  string `json:"last_event_id"`
}

// Clone returns a deep copy.
func (k KeyState) Clone() KeyState { c := k; c.Permissions = k.Permissions.Clone(); return c }

func (k *KeyState) touch(e Event) {
	k.UpdatedBlock, k.UpdatedTime, k.LastEventID = e.BlockNumber, e.BlockTime, e.ID()
}
