package events

import (
	"encoding/binary"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// AccessControlType is the plugin's ContractAccessControlType.
type AccessControlType uint8

// The three access-list modes.
const (
	AccessAllowlist AccessControlType = 0 // only listed targets (default of a new key)
	AccessDenylist  AccessControlType = 1 // everything but listed targets
	AccessAllowAll  AccessControlType = 2 // the list is ignored (the SDK's ALLOW_ALL_ACCESS)
)

// String returns "allowlist", "denylist", "allow_all" or "invalid(N)".
func (t AccessControlType) String() string {
	switch t {
	case AccessAllowlist:
		return "allowlist"
	case AccessDenylist:
		return "denylist"
	case AccessAllowAll:
		return "allow_all"
	}
	return fmt.Sprintf("invalid(%d)", uint8(t))
}

// Valid reports whether t is one of the three modes.
func (t AccessControlType) Valid() bool { return t <= AccessAllowAll }

// UpdateKind names a permission update type. The values are stable.
type UpdateKind string

// The eight update kinds and the unknown one.
const (
	UpdSetAccessListType             UpdateKind = "set_access_list_type"
	UpdUpdateAccessListAddressEntry  UpdateKind = "update_access_list_address_entry"
	UpdUpdateAccessListFunctionEntry UpdateKind = "update_access_list_function_entry"
	UpdUpdateTimeRange               UpdateKind = "update_time_range"
	UpdSetNativeTokenSpendLimit      UpdateKind = "set_native_token_spend_limit"
	UpdSetERC20SpendLimit            UpdateKind = "set_erc20_spend_limit"
	UpdSetGasSpendLimit              UpdateKind = "set_gas_spend_limit"
	UpdSetRequiredPaymaster          UpdateKind = "set_required_paymaster"
	UpdUnknown                       UpdateKind = "unknown"
)

// Update is one element of a PermissionsUpdated event's updates (an ABI-encoded call).
type Update interface {
	UpdateKind() UpdateKind
	// Selector is the 4-byte selector the encoded form starts with.
	Selector() Selector
	// Encode returns selector ‖ abi.encode(args), byte for byte what the SDK's builder emits.
	// An UnknownUpdate returns its raw bytes.
	Encode() []byte
}

// SetAccessListType is setAccessListType(uint8).
type SetAccessListType struct {
	Type AccessControlType `json:"access_control_type"`
}

// UpdateAccessListAddressEntry is updateAccessListAddressEntry(address,bool,bool).
type UpdateAccessListAddressEntry struct {
	Target         Address `json:"target"`
	IsOnList       bool    `json:"is_on_list"`
	CheckSelectors bool    `json:"check_selectors"`
}

// UpdateAccessListFunctionEntry is updateAccessListFunctionEntry(address,bytes4,bool).
type UpdateAccessListFunctionEntry struct {
	Target Address `json:"target"`
	// Function is the selector of the target's function that the entry is about.
	Function Selector `json:"selector"`
	IsOnList bool     `json:"is_on_list"`
}

// UpdateTimeRange is updateTimeRange(uint48,uint48). Zero means unbounded on either end.
type UpdateTimeRange struct {
	ValidAfter uint64 `json:"valid_after"`
	ValidUntil uint64 `json:"valid_until"`
}

// SetNativeTokenSpendLimit is setNativeTokenSpendLimit(uint256,uint48). MaxU256 removes the limit.
type SetNativeTokenSpendLimit struct {
	Limit           U256   `json:"limit"`
	RefreshInterval uint64 `json:"refresh_interval"`
}

// SetERC20SpendLimit is setERC20SpendLimit(address,uint256,uint48). MaxU256 removes the limit.
type SetERC20SpendLimit struct {
	Token           Address `json:"token"`
	Limit           U256    `json:"limit"`
	RefreshInterval uint64  `json:"refresh_interval"`
}

// SetGasSpendLimit is setGasSpendLimit(uint256,uint48), in wei. MaxU256 removes the limit.
type SetGasSpendLimit struct {
	Limit           U256   `json:"limit"`
	RefreshInterval uint64 `json:"refresh_interval"`
}

// SetRequiredPaymaster is setRequiredPaymaster(address). The zero address removes the rule.
type SetRequiredPaymaster struct {
	Paymaster Address `json:"paymaster"`
}

// UnknownUpdate keeps an element whose selector is not one of the eight, or that did not
// decode, byte for byte.
type UnknownUpdate struct {
	Raw hexutil.Bytes `json:"raw"`
	// Reason says why it was not decoded (unknown selector, short data, ...).
	Reason string `json:"reason,omitempty"`
}

func (SetAccessListType) UpdateKind() UpdateKind             { return UpdSetAccessListType }
func (UpdateAccessListAddressEntry) UpdateKind() UpdateKind  { return UpdUpdateAccessListAddressEntry }
func (UpdateAccessListFunctionEntry) UpdateKind() UpdateKind { return UpdUpdateAccessListFunctionEntry }
func (UpdateTimeRange) UpdateKind() UpdateKind               { return UpdUpdateTimeRange }
func (SetNativeTokenSpendLimit) UpdateKind() UpdateKind      { return UpdSetNativeTokenSpendLimit }
func (SetERC20SpendLimit) UpdateKind() UpdateKind            { return UpdSetERC20SpendLimit }
func (SetGasSpendLimit) UpdateKind() UpdateKind              { return UpdSetGasSpendLimit }
func (SetRequiredPaymaster) UpdateKind() UpdateKind          { return UpdSetRequiredPaymaster }
func (UnknownUpdate) UpdateKind() UpdateKind                 { return UpdUnknown }

func (SetAccessListType) Selector() Selector             { return SelSetAccessListType }
func (UpdateAccessListAddressEntry) Selector() Selector  { return SelUpdateAccessListAddressEntry }
func (UpdateAccessListFunctionEntry) Selector() Selector { return SelUpdateAccessListFunctionEntry }
func (UpdateTimeRange) Selector() Selector               { return SelUpdateTimeRange }
func (SetNativeTokenSpendLimit) Selector() Selector      { return SelSetNativeTokenSpendLimit }
func (SetERC20SpendLimit) Selector() Selector            { return SelSetERC20SpendLimit }
func (SetGasSpendLimit) Selector() Selector              { return SelSetGasSpendLimit }
func (SetRequiredPaymaster) Selector() Selector          { return SelSetRequiredPaymaster }
func (u UnknownUpdate) Selector() Selector               { return SelectorOf(u.Raw) }

// word helpers: every argument of these calls is one static 32-byte word.
func wordAddress(a Address) []byte { return common.LeftPadBytes(a[:], 32) }
func wordBool(b bool) []byte {
	w := make([]byte, 32)
	if b {
		w[31] = 1
	}
	return w
}
func wordUint(x uint64) []byte {
	w := make([]byte, 32)
	binary.BigEndian.PutUint64(w[24:], x)
	return w
}
func wordU256(u U256) []byte { b := u.Bytes32(); return b[:] }
func wordSelector(s Selector) []byte {
	w := make([]byte, 32)
	copy(w, s[:]) // bytesN is left-aligned
	return w
}

func call(sel Selector, words ...[]byte) []byte {
	out := make([]byte, 0, 4+32*len(words))
	out = append(out, sel[:]...)
	for _, w := range words {
		out = append(out, w...)
	}
	return out
}

func (u SetAccessListType) Encode() []byte {
	return call(u.Selector(), wordUint(uint64(u.Type)))
}
func (u UpdateAccessListAddressEntry) Encode() []byte {
	return call(u.Selector(), wordAddress(u.Target), wordBool(u.IsOnList), wordBool(u.CheckSelectors))
}
func (u UpdateAccessListFunctionEntry) Encode() []byte {
	return call(u.Selector(), wordAddress(u.Target), wordSelector(u.Function), wordBool(u.IsOnList))
}

func (u UpdateTimeRange) Encode() []byte {
	return call(u.Selector(), wordUint(u.ValidAfter), wordUint(u.ValidUntil))
}
func (u SetNativeTokenSpendLimit) Encode() []byte {
	return call(u.Selector(), wordU256(u.Limit), wordUint(u.RefreshInterval))
}
func (u SetERC20SpendLimit) Encode() []byte {
	return call(u.Selector(), wordAddress(u.Token), wordU256(u.Limit), wordUint(u.RefreshInterval))
}
func (u SetGasSpendLimit) Encode() []byte {
	return call(u.Selector(), wordU256(u.Limit), wordUint(u.RefreshInterval))
}
func (u SetRequiredPaymaster) Encode() []byte {
	return call(u.Selector(), wordAddress(u.Paymaster))
}
func (u UnknownUpdate) Encode() []byte { return append([]byte(nil), u.Raw...) }

// EncodeUpdates encodes each update; the result is the bytes[] argument of updateKeyPermissions.
func EncodeUpdates(us []Update) [][]byte {
	out := make([][]byte, len(us))
	for i, u := range us {
		out[i] = u.Encode()
	}
	return out
}

// Padded is an update whose element carried bytes after its ABI arguments. The plugin decodes
// elements with Solidity's abi.decode, which ignores such bytes, so the update takes effect on
// chain: the fold applies Update, and Encode returns the element byte for byte.
type Padded struct {
	Update Update
	Raw    []byte
}

func (p Padded) UpdateKind() UpdateKind { return p.Update.UpdateKind() }
func (p Padded) Selector() Selector     { return p.Update.Selector() }
func (p Padded) Encode() []byte         { return append([]byte(nil), p.Raw...) }

// Unpadded returns the update a Padded wraps, or u itself.
func Unpadded(u Update) Update {
	if p, ok := u.(Padded); ok {
		return p.Update
	}
	return u
}
