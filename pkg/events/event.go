package events

import (
	"fmt"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
)

// SchemaVersion is the version of the wire form. Readers reject versions they do not know.
const SchemaVersion = 1

// Kind names an event type. The values are stable: they appear in subjects and tables.
type Kind string

// The event kinds keywarden decodes.
const (
	KindSessionKeyAdded    Kind = "session_key_added"
	KindSessionKeyRemoved  Kind = "session_key_removed"
	KindSessionKeyRotated  Kind = "session_key_rotated"
	KindPermissionsUpdated Kind = "permissions_updated"
	KindPluginInstalled    Kind = "plugin_installed"
	KindPluginUninstalled  Kind = "plugin_uninstalled"
	KindOwnerUpdated       Kind = "owner_updated"
	KindUserOperation      Kind = "user_operation"
)

// Kinds lists every kind, in a stable order.
var Kinds = []Kind{KindSessionKeyAdded, KindSessionKeyRemoved, KindSessionKeyRotated, KindPermissionsUpdated,
	KindPluginInstalled, KindPluginUninstalled, KindOwnerUpdated, KindUserOperation}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// Position is where a log stands on the chain.
type Position struct {
	ChainID     uint64      `json:"chain_id"`
	BlockNumber uint64      `json:"block_number"`
	BlockHash   common.Hash `json:"block_hash"`
	ParentHash  common.Hash `json:"parent_hash"`
	BlockTime   uint64      `json:"block_time"` // unix seconds
	TxHash      common.Hash `json:"tx_hash"`
	TxIndex     uint64      `json:"tx_index"`
	LogIndex    uint64      `json:"log_index"`
	// Removed is set when a reorg retracted the log.
	Removed bool `json:"removed"`
}

// ID is the identity of the log end to end: "chain:block_hash:log_index".
func (p Position) ID() string {
	return strconv.FormatUint(p.ChainID, 10) + ":" + p.BlockHash.Hex() + ":" + strconv.FormatUint(p.LogIndex, 10)
}

// Before reports whether p comes before o in chain order (block, then log index).
func (p Position) Before(o Position) bool {
	if p.BlockNumber != o.BlockNumber {
		return p.BlockNumber < o.BlockNumber
	}
	return p.LogIndex < o.LogIndex
}

// Payload is the kind-specific content of an Event. Implementations are the value types below.
type Payload interface {
	Kind() Kind
	// AccountOf returns the account the event is about.
	AccountOf() Address
}

// Event is a decoded log with its chain position.
type Event struct {
	Schema int  `json:"schema"`
	Kind   Kind `json:"kind"`
	Position
	// Emitter is the log's address: the plugin, the account or the EntryPoint.
	Emitter Address `json:"emitter"`
	// Verified is false for plugin events of an account that has not installed the plugin
	// (anyone can call the plugin directly); the decoder leaves it false, the indexer sets it.
	Verified bool    `json:"verified"`
	Payload  Payload `json:"data"`
}

// ID is Position.ID.
func (e Event) ID() string { return e.Position.ID() }

// Account is the account the event is about.
func (e Event) Account() Address {
	if e.Payload == nil {
		return ZeroAddress
	}
	return e.Payload.AccountOf()
}

// SessionKeys returns the session keys the event names (none for account-level events).
func (e Event) SessionKeys() []Address {
	switch p := e.Payload.(type) {
	case SessionKeyAdded:
		return []Address{p.SessionKey}
	case SessionKeyRemoved:
		return []Address{p.SessionKey}
	case SessionKeyRotated:
		return []Address{p.OldSessionKey, p.NewSessionKey}
	case PermissionsUpdated:
		return []Address{p.SessionKey}
	}
	return nil
}

// SessionKeyAdded is the plugin's SessionKeyAdded(account, sessionKey, tag).
type SessionKeyAdded struct {
	Account    Address     `json:"account"`
	SessionKey Address     `json:"session_key"`
	Tag        common.Hash `json:"tag"`
}

// SessionKeyRemoved is the plugin's SessionKeyRemoved(account, sessionKey).
type SessionKeyRemoved struct {
	Account    Address `json:"account"`
	SessionKey Address `json:"session_key"`
}

// SessionKeyRotated is the plugin's SessionKeyRotated(account, oldSessionKey, newSessionKey).
type SessionKeyRotated struct {
	Account       Address `json:"account"`
	OldSessionKey Address `json:"old_session_key"`
	NewSessionKey Address `json:"new_session_key"`
}

// PermissionsUpdated is the plugin's PermissionsUpdated(account, sessionKey, updates), with each
// element of updates decoded. An element the decoder does not recognise is an UnknownUpdate.
type PermissionsUpdated struct {
	Account    Address  `json:"account"`
	SessionKey Address  `json:"session_key"`
	Updates    []Update `json:"updates"`
}

// FunctionReference is a plugin address followed by a one-byte function id (Solidity bytes21).
type FunctionReference [21]byte

// Plugin returns the address part.
func (f FunctionReference) Plugin() Address { var a Address; copy(a[:], f[:20]); return a }

// FunctionID returns the function id byte.
func (f FunctionReference) FunctionID() uint8 { return f[20] }

// MarshalText renders 0x-prefixed hex.
func (f FunctionReference) MarshalText() ([]byte, error) {
	return []byte(fmt.Sprintf("0x%x", f[:])), nil
}

// UnmarshalText parses 0x-prefixed hex of exactly 21 bytes.
func (f *FunctionReference) UnmarshalText(b []byte) error {
	s := string(b)
	raw := common.FromHex(s)
	if len(s) != 44 || len(raw) != 21 {
		return fmt.Errorf("parse function reference %q: want 0x and 42 hex digits", s)
	}
	copy(f[:], raw)
	return nil
}

// PluginInstalled is the account's PluginInstalled(plugin, manifestHash, dependencies).
type PluginInstalled struct {
	Account      Address             `json:"account"`
	Plugin       Address             `json:"plugin"`
	ManifestHash common.Hash         `json:"manifest_hash"`
	Dependencies []FunctionReference `json:"dependencies"`
}

// PluginUninstalled is the account's PluginUninstalled(plugin, onUninstallSucceeded).
type PluginUninstalled struct {
	Account              Address `json:"account"`
	Plugin               Address `json:"plugin"`
	OnUninstallSucceeded bool    `json:"on_uninstall_succeeded"`
}

// OwnerUpdated is the Multi Owner plugin's OwnerUpdated(account, addedOwners, removedOwners).
type OwnerUpdated struct {
	Account       Address   `json:"account"`
	AddedOwners   []Address `json:"added_owners"`
	RemovedOwners []Address `json:"removed_owners"`
}

// UserOperationEvent is the EntryPoint v0.6 UserOperationEvent.
type UserOperationEvent struct {
	UserOpHash    common.Hash `json:"user_op_hash"`
	Sender        Address     `json:"sender"`
	Paymaster     Address     `json:"paymaster"`
	Nonce         U256        `json:"nonce"`
	Success       bool        `json:"success"`
	ActualGasCost U256        `json:"actual_gas_cost"`
	ActualGasUsed U256        `json:"actual_gas_used"`
}

func (SessionKeyAdded) Kind() Kind    { return KindSessionKeyAdded }
func (SessionKeyRemoved) Kind() Kind  { return KindSessionKeyRemoved }
func (SessionKeyRotated) Kind() Kind  { return KindSessionKeyRotated }
func (PermissionsUpdated) Kind() Kind { return KindPermissionsUpdated }
func (PluginInstalled) Kind() Kind    { return KindPluginInstalled }
func (PluginUninstalled) Kind() Kind  { return KindPluginUninstalled }
func (OwnerUpdated) Kind() Kind       { return KindOwnerUpdated }
func (UserOperationEvent) Kind() Kind { return KindUserOperation }

func (p SessionKeyAdded) AccountOf() Address    { return p.Account }
func (p SessionKeyRemoved) AccountOf() Address  { return p.Account }
func (p SessionKeyRotated) AccountOf() Address  { return p.Account }
func (p PermissionsUpdated) AccountOf() Address { return p.Account }
func (p PluginInstalled) AccountOf() Address    { return p.Account }
func (p PluginUninstalled) AccountOf() Address  { return p.Account }
func (p OwnerUpdated) AccountOf() Address       { return p.Account }
func (p UserOperationEvent) AccountOf() Address { return p.Sender }

// IsPluginEvent reports whether k is emitted by the Session Key Plugin.
func (k Kind) IsPluginEvent() bool {
	switch k {
	case KindSessionKeyAdded, KindSessionKeyRemoved, KindSessionKeyRotated, KindPermissionsUpdated:
		return true
	}
	return false
}
