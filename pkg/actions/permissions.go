package actions

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/keywarden/keywarden/pkg/events"
)

// PermissionsBuilder builds a session key's permission updates in the order of the SDK's
// SessionKeyPermissionsBuilder.encode(): setAccessListType (always, allowlist by default),
// then the address entries, the function entries, the time range, the native limit, the
// ERC-20 limits, the gas limit and the required paymaster, in the order they were added.
// Optional items that were never set are left out; a refresh interval of 0 means a lifetime
// limit. Values the SDK cannot encode either (an access type outside its enum, a uint48
// overflow, a negative or oversized amount) are collected and returned by Updates and Encode,
// all at once.
//
// The zero value is ready to use; methods chain.
type PermissionsBuilder struct {
	accessType     events.AccessControlType
	addressEntries []events.UpdateAccessListAddressEntry
	functionEntrys []events.UpdateAccessListFunctionEntry
	timeRange      *events.UpdateTimeRange
	native         *events.SetNativeTokenSpendLimit
	erc20          []events.SetERC20SpendLimit
	gas            *events.SetGasSpendLimit
	paymaster      *events.SetRequiredPaymaster
	errs           []error
}

// NewPermissions returns an empty builder (allowlist, nothing else).
func NewPermissions() *PermissionsBuilder { return &PermissionsBuilder{} }

func (b *PermissionsBuilder) fail(format string, args ...any) {
	b.errs = append(b.errs, fmt.Errorf(format, args...))
}

func (b *PermissionsBuilder) checkUint48(what string, v uint64) {
	if v > events.MaxUint48 {
		b.fail("%s %d exceeds uint48", what, v)
	}
}

// AccessControlType sets the access list mode (the SDK's setContractAccessControlType).
func (b *PermissionsBuilder) AccessControlType(t events.AccessControlType) *PermissionsBuilder {
	if !t.Valid() {
		b.fail("access control type %d is not 0, 1 or 2", uint8(t))
	}
	b.accessType = t
	return b
}

// AllowAll is AccessControlType(events.AccessAllowAll): the key may call any target.
func (b *PermissionsBuilder) AllowAll() *PermissionsBuilder {
	return b.AccessControlType(events.AccessAllowAll)
}

// AddressEntry puts target on or off the list (the SDK's addContractAddressAccessEntry).
func (b *PermissionsBuilder) AddressEntry(target common.Address, isOnList, checkSelectors bool) *PermissionsBuilder {
	b.addressEntries = append(b.addressEntries, events.UpdateAccessListAddressEntry{
		Target: events.AddressFrom(target), IsOnList: isOnList, CheckSelectors: checkSelectors})
	return b
}

// FunctionEntry puts (target, selector) on or off the list (addContractFunctionAccessEntry).
func (b *PermissionsBuilder) FunctionEntry(target common.Address, selector events.Selector, isOnList bool) *PermissionsBuilder {
	b.functionEntrys = append(b.functionEntrys, events.UpdateAccessListFunctionEntry{
		Target: events.AddressFrom(target), Function: selector, IsOnList: isOnList})
	return b
}

// TimeRange sets validAfter and validUntil in unix seconds (0: unbounded); the SDK calls them
// validFrom and validUntil.
func (b *PermissionsBuilder) TimeRange(validAfter, validUntil uint64) *PermissionsBuilder {
	b.checkUint48("validAfter", validAfter)
	b.checkUint48("validUntil", validUntil)
	b.timeRange = &events.UpdateTimeRange{ValidAfter: validAfter, ValidUntil: validUntil}
	return b
}

func (b *PermissionsBuilder) u256(what string, x *big.Int) events.U256 {
	u, err := events.U256FromBig(x)
	if err != nil {
		b.fail("%s: %v", what, err)
	}
	return u
}

// NativeLimit sets the native token spend limit in wei over refreshInterval seconds (0: a
// lifetime total). events.MaxU256 (see NoLimit) removes the limit.
func (b *PermissionsBuilder) NativeLimit(limit *big.Int, refreshInterval uint64) *PermissionsBuilder {
	b.checkUint48("native refresh interval", refreshInterval)
	b.native = &events.SetNativeTokenSpendLimit{Limit: b.u256("native limit", limit), RefreshInterval: refreshInterval}
	return b
}

// ERC20Limit adds a spend limit for token (addErc20TokenSpendLimit). Like the SDK, it encodes
// token 0, which the plugin rejects (InvalidToken) when the updates are applied.
func (b *PermissionsBuilder) ERC20Limit(token common.Address, limit *big.Int, refreshInterval uint64) *PermissionsBuilder {
	b.checkUint48("erc20 refresh interval", refreshInterval)
	b.erc20 = append(b.erc20, events.SetERC20SpendLimit{Token: events.AddressFrom(token),
		Limit: b.u256("erc20 limit", limit), RefreshInterval: refreshInterval})
	return b
}

// GasLimit sets the gas spend limit in wei. When set, the key's user operations must use the
// key's address as their nonce key (NonceKeyFor).
func (b *PermissionsBuilder) GasLimit(limit *big.Int, refreshInterval uint64) *PermissionsBuilder {
	b.checkUint48("gas refresh interval", refreshInterval)
	b.gas = &events.SetGasSpendLimit{Limit: b.u256("gas limit", limit), RefreshInterval: refreshInterval}
	return b
}

// RequiredPaymaster requires paymaster; the zero address removes the rule.
func (b *PermissionsBuilder) RequiredPaymaster(paymaster common.Address) *PermissionsBuilder {
	b.paymaster = &events.SetRequiredPaymaster{Paymaster: events.AddressFrom(paymaster)}
	return b
}

// NoLimit is 2^256-1, the value that removes a spend limit.
func NoLimit() *big.Int { return events.MaxU256.Big() }

// Updates returns the typed updates in SDK order, or every validation error joined.
func (b *PermissionsBuilder) Updates() ([]events.Update, error) {
	if len(b.errs) > 0 {
		return nil, fmt.Errorf("build permissions: %w", errors.Join(b.errs...))
	}
	us := []events.Update{events.SetAccessListType{Type: b.accessType}}
	for _, e := range b.addressEntries {
		us = append(us, e)
	}
	for _, e := range b.functionEntrys {
		us = append(us, e)
	}
	if b.timeRange != nil {
		us = append(us, *b.timeRange)
	}
	if b.native != nil {
		us = append(us, *b.native)
	}
	for _, e := range b.erc20 {
		us = append(us, e)
	}
	if b.gas != nil {
		us = append(us, *b.gas)
	}
	if b.paymaster != nil {
		us = append(us, *b.paymaster)
	}
	return us, nil
}

// Encode returns the bytes[] argument of addSessionKey/updateKeyPermissions, byte for byte
// what the SDK's encode() returns for the same calls.
func (b *PermissionsBuilder) Encode() ([][]byte, error) {
	us, err := b.Updates()
	if err != nil {
		return nil, err
	}
	return events.EncodeUpdates(us), nil
}

// UpdatesFor returns updates that, applied to a fresh key (events.DefaultPermissions) at any
// block time, give p, except for spend-limit usage times (LastUsedTime), which the chain
// sets. A disabled limit that still holds a stored amount is set first, then disabled, as
// its history must have done. The order is the SDK builder's.
func UpdatesFor(p events.Permissions) []events.Update {
	us := []events.Update{events.SetAccessListType{Type: p.AccessControlType}}
	for _, e := range p.AccessList {
		us = append(us, events.UpdateAccessListAddressEntry(e))
	}
	for _, e := range p.FunctionList {
		us = append(us, events.UpdateAccessListFunctionEntry{Target: e.Target, Function: e.Selector, IsOnList: e.IsOnList})
	}
	if p.ValidAfter != 0 || p.ValidUntil != 0 {
		us = append(us, events.UpdateTimeRange{ValidAfter: p.ValidAfter, ValidUntil: p.ValidUntil})
	}
	native := func(l events.U256, iv uint64) events.Update {
		return events.SetNativeTokenSpendLimit{Limit: l, RefreshInterval: iv}
	}
	us = append(us, limitUpdates(p.NativeLimit, events.SpendLimit{HasLimit: true}, native)...)
	for _, t := range p.ERC20Limits {
		tok := t.Token
		mk := func(l events.U256, iv uint64) events.Update {
			return events.SetERC20SpendLimit{Token: tok, Limit: l, RefreshInterval: iv}
		}
		tu := limitUpdates(t.SpendLimit, events.SpendLimit{}, mk)
		if len(tu) == 0 {
			tu = []events.Update{mk(events.MaxU256, 0)} // the fold lists every token ever set
		}
		us = append(us, tu...)
	}
	gas := func(l events.U256, iv uint64) events.Update {
		return events.SetGasSpendLimit{Limit: l, RefreshInterval: iv}
	}
	us = append(us, limitUpdates(p.GasLimit, events.SpendLimit{}, gas)...)
	if !p.RequiredPaymaster.IsZero() {
		us = append(us, events.SetRequiredPaymaster{Paymaster: p.RequiredPaymaster})
	}
	return us
}

func limitUpdates(want, fresh events.SpendLimit, mk func(events.U256, uint64) events.Update) []events.Update {
	stored := want.Limit != fresh.Limit || want.RefreshInterval != fresh.RefreshInterval
	switch {
	case want.HasLimit && (!fresh.HasLimit || stored):
		return []events.Update{mk(want.Limit, want.RefreshInterval)}
	case want.HasLimit:
		return nil // the fresh state already is this limit
	case stored:
		return []events.Update{mk(want.Limit, want.RefreshInterval), mk(events.MaxU256, 0)}
	case fresh.HasLimit:
		return []events.Update{mk(events.MaxU256, 0)}
	}
	return nil
}
