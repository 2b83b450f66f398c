package events

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// The fold follows SessionKeyPermissions.sol (modular-account v1.0.x): _performSessionKeyPermissionsUpdate,
// _updateSpendLimits, _setRequiredPaymaster, and the loupe's views.

const now = 1_700_000_000

var tToken2 = HexToAddress("0x0000000000000000000000000000000000000005")

func TestDefaultPermissions(t *testing.T) {
	p := DefaultPermissions()
	if p.AccessControlType != AccessAllowlist || len(p.AccessList) != 0 || len(p.FunctionList) != 0 {
		t.Error("a new key is an allowlist with no entries (it may call nothing)")
	}
	if p.ValidAfter != 0 || p.ValidUntil != 0 || p.Expired(1<<40) {
		t.Error("a new key has no time range")
	}
	if n := p.NativeView(); !n.HasLimit || !n.Limit.IsZero() || n.RefreshInterval != 0 || n.LastUsedTime != 0 {
		t.Errorf("a new key has a native limit of 0: %+v", n)
	}
	if p.GasView() != (SpendLimit{}) || p.ERC20(tToken) != (SpendLimit{}) || len(p.ERC20Limits) != 0 {
		t.Error("a new key has no gas or ERC-20 limits")
	}
	if !p.RequiredPaymaster.IsZero() || p.AccessEntryOf(tTarget) != (AccessEntry{Target: tTarget}) ||
		p.IsSelectorOnList(tTarget, Selector{1, 2, 3, 4}) {
		t.Error("a new key has no paymaster rule and no list entries")
	}
}

func limit(has bool, l U256, interval, last uint64) SpendLimit {
	return SpendLimit{HasLimit: has, Limit: l, RefreshInterval: interval, LastUsedTime: last}
}

func TestPermissionsApply(t *testing.T) {
	sel1, sel2 := Selector{0xa9, 0x05, 0x9c, 0xbb}, Selector{0x09, 0x5e, 0xa7, 0xb3}
	def := DefaultPermissions
	with := func(f func(p *Permissions)) Permissions { p := def(); f(&p); return p }
	cases := []struct {
		name    string
		updates []Update
		want    Permissions
	}{
		{"no updates", nil, def()},
		{"denylist", []Update{SetAccessListType{Type: AccessDenylist}}, with(func(p *Permissions) { p.AccessControlType = AccessDenylist })},
		{"allow all", []Update{SetAccessListType{Type: AccessAllowAll}}, with(func(p *Permissions) { p.AccessControlType = AccessAllowAll })},
		{"type change keeps entries", []Update{
			UpdateAccessListAddressEntry{Target: tTarget, IsOnList: true}, SetAccessListType{Type: AccessDenylist},
		}, with(func(p *Permissions) {
			p.AccessControlType = AccessDenylist
			p.AccessList = []AccessEntry{{Target: tTarget, IsOnList: true}}
		})},
		{"address entries sorted", []Update{
			UpdateAccessListAddressEntry{Target: tTarget, IsOnList: true, CheckSelectors: true},
			UpdateAccessListAddressEntry{Target: tAccount, IsOnList: true},
		}, with(func(p *Permissions) {
			p.AccessList = []AccessEntry{{Target: tAccount, IsOnList: true}, {Target: tTarget, IsOnList: true, CheckSelectors: true}}
		})},
		{"address entry overwritten", []Update{
			UpdateAccessListAddressEntry{Target: tTarget, IsOnList: true, CheckSelectors: true},
			UpdateAccessListAddressEntry{Target: tTarget, IsOnList: false, CheckSelectors: true},
		}, with(func(p *Permissions) { p.AccessList = []AccessEntry{{Target: tTarget, CheckSelectors: true}} })},
		{"address entry cleared is gone", []Update{
			UpdateAccessListAddressEntry{Target: tTarget, IsOnList: true, CheckSelectors: true},
			UpdateAccessListAddressEntry{Target: tTarget},
		}, def()},
		{"function entries sorted by target then selector", []Update{
			UpdateAccessListFunctionEntry{Target: tTarget, Function: sel1, IsOnList: true},
			UpdateAccessListFunctionEntry{Target: tTarget, Function: sel2, IsOnList: true},
			UpdateAccessListFunctionEntry{Target: tAccount, Function: sel1, IsOnList: true},
		}, with(func(p *Permissions) {
			p.FunctionList = []FunctionEntry{{tAccount, sel1, true}, {tTarget, sel2, true}, {tTarget, sel1, true}}
		})},
		{"function entry removed", []Update{
			UpdateAccessListFunctionEntry{Target: tTarget, Function: sel1, IsOnList: true},
			UpdateAccessListFunctionEntry{Target: tTarget, Function: sel1},
		}, def()},
		{"time range", []Update{UpdateTimeRange{ValidAfter: 10, ValidUntil: MaxUint48}},
			with(func(p *Permissions) { p.ValidAfter, p.ValidUntil = 10, MaxUint48 })},
		{"time range not checked for order", []Update{UpdateTimeRange{ValidAfter: 20, ValidUntil: 10}},
			with(func(p *Permissions) { p.ValidAfter, p.ValidUntil = 20, 10 })},
		{"time range replaced by zeros", []Update{UpdateTimeRange{ValidAfter: 20, ValidUntil: 30}, UpdateTimeRange{}}, def()},
		{"native lifetime limit: lastUsed 0", []Update{SetNativeTokenSpendLimit{Limit: U256From64(5)}},
			with(func(p *Permissions) { p.NativeLimit = limit(true, U256From64(5), 0, 0) })},
		{"native interval: lastUsed = block time", []Update{SetNativeTokenSpendLimit{Limit: U256From64(5), RefreshInterval: 60}},
			with(func(p *Permissions) { p.NativeLimit = limit(true, U256From64(5), 60, now) })},
		{"native max disables, keeps stale amount and interval", []Update{
			SetNativeTokenSpendLimit{Limit: U256From64(5), RefreshInterval: 60}, SetNativeTokenSpendLimit{Limit: MaxU256, RefreshInterval: 7},
		}, with(func(p *Permissions) { p.NativeLimit = limit(false, U256From64(5), 60, now) })},
		{"native max on a new key", []Update{SetNativeTokenSpendLimit{Limit: MaxU256, RefreshInterval: 9}},
			with(func(p *Permissions) { p.NativeLimit = SpendLimit{} })},
		{"native re-enabled after max", []Update{
			SetNativeTokenSpendLimit{Limit: U256From64(5), RefreshInterval: 60}, SetNativeTokenSpendLimit{Limit: MaxU256},
			SetNativeTokenSpendLimit{Limit: U256From64(7)},
		}, with(func(p *Permissions) { p.NativeLimit = limit(true, U256From64(7), 0, 0) })},
		{"native max-1 is a limit", []Update{SetNativeTokenSpendLimit{Limit: maxMinus1()}},
			with(func(p *Permissions) { p.NativeLimit = limit(true, maxMinus1(), 0, 0) })},
		{"erc20 per token, sorted", []Update{
			SetERC20SpendLimit{Token: tToken, Limit: U256From64(100), RefreshInterval: 86400},
			SetERC20SpendLimit{Token: tToken2, Limit: U256From64(1)},
		}, with(func(p *Permissions) {
			p.ERC20Limits = []TokenLimit{{tToken2, limit(true, U256From64(1), 0, 0)}, {tToken, limit(true, U256From64(100), 86400, now)}}
		})},
		{"erc20 max keeps stale fields", []Update{
			SetERC20SpendLimit{Token: tToken, Limit: U256From64(100), RefreshInterval: 86400}, SetERC20SpendLimit{Token: tToken, Limit: MaxU256},
		}, with(func(p *Permissions) {
			p.ERC20Limits = []TokenLimit{{tToken, limit(false, U256From64(100), 86400, now)}}
		})},
		{"erc20 max on an unset token is the default", []Update{SetERC20SpendLimit{Token: tToken, Limit: MaxU256, RefreshInterval: 5}}, def()},
		{"gas limit with interval", []Update{SetGasSpendLimit{Limit: U256From64(1e18), RefreshInterval: 3600}},
			with(func(p *Permissions) { p.GasLimit = limit(true, U256From64(1e18), 3600, now) })},
		{"gas max disables, keeps stale", []Update{
			SetGasSpendLimit{Limit: U256From64(1e18), RefreshInterval: 3600}, SetGasSpendLimit{Limit: MaxU256},
		}, with(func(p *Permissions) { p.GasLimit = limit(false, U256From64(1e18), 3600, now) })},
		{"paymaster", []Update{SetRequiredPaymaster{Paymaster: tPM}}, with(func(p *Permissions) { p.RequiredPaymaster = tPM })},
		{"paymaster zero removes the rule", []Update{SetRequiredPaymaster{Paymaster: tPM}, SetRequiredPaymaster{}}, def()},
		{"later update wins", []Update{SetAccessListType{Type: AccessAllowAll}, SetAccessListType{Type: AccessAllowlist}}, def()},
		{"sdk unrestricted", []Update{SetAccessListType{Type: AccessAllowAll}, SetNativeTokenSpendLimit{Limit: MaxU256}},
			with(func(p *Permissions) { p.AccessControlType, p.NativeLimit = AccessAllowAll, SpendLimit{} })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := DefaultPermissions()
			if err := p.ApplyAll(c.updates, now); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, c.want) {
				t.Errorf("\n got %+v\nwant %+v", p, c.want)
			}
			// One at a time gives the same state.
			q := DefaultPermissions()
			for _, u := range c.updates {
				if err := q.Apply(u, now); err != nil {
					t.Fatal(err)
				}
			}
			if !reflect.DeepEqual(q, p) {
				t.Errorf("Apply one by one differs from ApplyAll")
			}
		})
	}
}

func maxMinus1() U256 { b := MaxU256.Bytes32(); b[31] = 0xfe; return U256FromBytes(b[:]) }

func TestPermissionsViews(t *testing.T) {
	p := DefaultPermissions()
	_ = p.ApplyAll([]Update{
		SetNativeTokenSpendLimit{Limit: U256From64(5), RefreshInterval: 60}, SetNativeTokenSpendLimit{Limit: MaxU256},
		SetGasSpendLimit{Limit: U256From64(9), RefreshInterval: 1}, SetGasSpendLimit{Limit: MaxU256},
		SetERC20SpendLimit{Token: tToken, Limit: U256From64(3), RefreshInterval: 2}, SetERC20SpendLimit{Token: tToken, Limit: MaxU256},
		UpdateTimeRange{ValidUntil: 100},
	}, now)
	// getNativeTokenSpendLimitInfo and getGasSpendLimit report zeros when disabled; the ERC-20
	// getter returns the stored, stale fields.
	if p.NativeView() != (SpendLimit{}) || p.GasView() != (SpendLimit{}) {
		t.Errorf("disabled native/gas views must be zero: %+v %+v", p.NativeView(), p.GasView())
	}
	if got := p.ERC20(tToken); got != limit(false, U256From64(3), 2, now) {
		t.Errorf("ERC20 view = %+v", got)
	}
	if !p.Expired(101) || p.Expired(100) {
		t.Error("validUntil is inclusive")
	}
}

func TestPermissionsRejected(t *testing.T) {
	base := DefaultPermissions()
	_ = base.ApplyAll([]Update{SetAccessListType{Type: AccessDenylist}, UpdateAccessListAddressEntry{Target: tTarget, IsOnList: true}}, now)
	for name, u := range map[string]Update{
		"access type 3":      SetAccessListType{Type: 3},
		"access type 255":    SetAccessListType{Type: 255},
		"validAfter > u48":   UpdateTimeRange{ValidAfter: MaxUint48 + 1},
		"validUntil > u48":   UpdateTimeRange{ValidUntil: 1 << 63},
		"native interval":    SetNativeTokenSpendLimit{Limit: U256From64(1), RefreshInterval: MaxUint48 + 1},
		"erc20 interval":     SetERC20SpendLimit{Token: tToken, Limit: U256From64(1), RefreshInterval: MaxUint48 + 1},
		"erc20 token 0":      SetERC20SpendLimit{Limit: U256From64(1)},
		"erc20 token 0, max": SetERC20SpendLimit{Limit: MaxU256},
		"gas interval":       SetGasSpendLimit{Limit: U256From64(1), RefreshInterval: MaxUint48 + 1},
		"unknown selector":   UnknownUpdate{Raw: []byte{0xde, 0xad, 0xbe, 0xef}},
		"nil update":         nil,
	} {
		p := base.Clone()
		if err := p.Apply(u, now); !errors.Is(err, ErrRejectedUpdate) {
			t.Errorf("%s: Apply err = %v", name, err)
		}
		if !reflect.DeepEqual(p, base) {
			t.Errorf("%s: rejected Apply changed the state", name)
		}
		// In a batch, the whole call reverts: nothing before it sticks either.
		p = base.Clone()
		err := p.ApplyAll([]Update{SetAccessListType{Type: AccessAllowAll}, SetRequiredPaymaster{Paymaster: tPM}, u}, now)
		if !errors.Is(err, ErrRejectedUpdate) || !strings.Contains(err.Error(), "update 2") {
			t.Errorf("%s: ApplyAll err = %v", name, err)
		}
		if !reflect.DeepEqual(p, base) {
			t.Errorf("%s: rejected ApplyAll changed the state", name)
		}
	}
	// Edge values that are accepted.
	p := DefaultPermissions()
	if err := p.ApplyAll([]Update{UpdateTimeRange{ValidAfter: MaxUint48, ValidUntil: MaxUint48},
		SetGasSpendLimit{Limit: U256From64(1), RefreshInterval: MaxUint48}}, now); err != nil {
		t.Errorf("uint48 max rejected: %v", err)
	}
}

func TestPermissionsCloneIndependent(t *testing.T) {
	p := DefaultPermissions()
	_ = p.ApplyAll([]Update{UpdateAccessListAddressEntry{Target: tTarget, IsOnList: true},
		UpdateAccessListFunctionEntry{Target: tTarget, Function: Selector{1}, IsOnList: true},
		SetERC20SpendLimit{Token: tToken, Limit: U256From64(1)}}, now)
	c := p.Clone()
	c.AccessList[0].IsOnList = false
	c.FunctionList[0].IsOnList = false
	c.ERC20Limits[0].HasLimit = false
	if !p.AccessList[0].IsOnList || !p.FunctionList[0].IsOnList || !p.ERC20Limits[0].HasLimit {
		t.Error("Clone shares slices")
	}
}
