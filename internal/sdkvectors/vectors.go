package sdkvectors

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/keywarden/keywarden/pkg/events"
)

// Schema is the version of the generator's JSON that this package reads.
const Schema = 1

// Vectors is everything conformance/gen.mjs prints for one seed. conformance/README.md documents
// each field.
type Vectors struct {
	Schema      int               `json:"schema"`
	Seed        string            `json:"seed"`
	Versions    map[string]string `json:"versions"`
	ABI         ABI               `json:"abi"`
	Permissions []Permission      `json:"permissions"`
	Logs        []Log             `json:"logs"`
	Actions     Actions           `json:"actions"`
}

// ABI lists the SDK ABIs' events and functions with the topic or selector viem computes.
type ABI struct {
	Events    []ABIEvent    `json:"events"`
	Functions []ABIFunction `json:"functions"`
	Addresses ABIAddresses  `json:"addresses"`
}

// ABIEvent is one event of one SDK ABI (ABI names the exported constant, e.g. SessionKeyPluginAbi).
type ABIEvent struct {
	ABI       string      `json:"abi"`
	Name      string      `json:"name"`
	Signature string      `json:"signature"` // canonical, e.g. "SessionKeyRemoved(address,address)"
	Topic     common.Hash `json:"topic"`
}

// ABIFunction is one function of one SDK ABI.
type ABIFunction struct {
	ABI       string          `json:"abi"`
	Name      string          `json:"name"`
	Signature string          `json:"signature"`
	Selector  events.Selector `json:"selector"`
}

// ABIAddresses are the SDK's deployment addresses, keyed by decimal chain id.
type ABIAddresses struct {
	SessionKeyPlugin map[string]events.Address `json:"session_key_plugin"`
	MultiOwnerPlugin map[string]events.Address `json:"multi_owner_plugin"`
	// MultiOwnerFactory is getDefaultMultiOwnerModularAccountFactoryAddress per chain.
	MultiOwnerFactory map[string]events.Address `json:"multi_owner_factory"`
	EntryPointV06     events.Address            `json:"entry_point_v06"`
}

// Topic returns the topic of the event with that canonical signature, from any ABI.
func (a ABI) Topic(signature string) (common.Hash, bool) {
	for _, e := range a.Events {
		if e.Signature == signature {
			return e.Topic, true
		}
	}
	return common.Hash{}, false
}

// Selector returns the selector of the function with that canonical signature, from any ABI.
func (a ABI) Selector(signature string) (events.Selector, bool) {
	for _, f := range a.Functions {
		if f.Signature == signature {
			return f.Selector, true
		}
	}
	return events.Selector{}, false
}

// Permission is one SessionKeyPermissionsBuilder configuration: the builder methods called, in
// order, and what encode() returned.
type Permission struct {
	ID      string          `json:"id"`
	Calls   []BuilderCall   `json:"calls"`
	Encoded []hexutil.Bytes `json:"encoded"`
	// Elements is each encoded element decoded by viem with the builder's own ABI.
	Elements []Element `json:"elements"`
}

// Builder methods, as the SDK names them.
const (
	MethodSetContractAccessControlType   = "setContractAccessControlType"
	MethodAddContractAddressAccessEntry  = "addContractAddressAccessEntry"
	MethodAddContractFunctionAccessEntry = "addContractFunctionAccessEntry"
	MethodSetTimeRange                   = "setTimeRange"
	MethodSetNativeTokenSpendLimit       = "setNativeTokenSpendLimit"
	MethodAddErc20TokenSpendLimit        = "addErc20TokenSpendLimit"
	MethodSetGasSpendLimit               = "setGasSpendLimit"
	MethodSetRequiredPaymaster           = "setRequiredPaymaster"
)

// BuilderCall is one builder method call. Args holds the fields that method takes (SDK names).
type BuilderCall struct {
	Method string      `json:"method"`
	Args   BuilderArgs `json:"args"`
}

// BuilderArgs is the union of the builder methods' arguments, under the SDK's field names.
type BuilderArgs struct {
	Type            *uint8           `json:"type,omitempty"`            // setContractAccessControlType
	ContractAddress *events.Address  `json:"contractAddress,omitempty"` // address and function entries
	IsOnList        *bool            `json:"isOnList,omitempty"`
	CheckSelectors  *bool            `json:"checkSelectors,omitempty"`
	MethodSelector  *events.Selector `json:"methodSelector,omitempty"`
	ValidFrom       *uint64          `json:"validFrom,omitempty"` // setTimeRange (sent as validAfter)
	ValidUntil      *uint64          `json:"validUntil,omitempty"`
	TokenAddress    *events.Address  `json:"tokenAddress,omitempty"` // addErc20TokenSpendLimit
	SpendLimit      *events.U256     `json:"spendLimit,omitempty"`   // native, ERC-20 and gas limits
	// RefreshInterval is nil when the call left it out (the builder then sends 0).
	RefreshInterval *uint64         `json:"refreshInterval"`
	Paymaster       *events.Address `json:"paymaster,omitempty"` // setRequiredPaymaster
}

// Element is one encoded permission update as viem decodes it with the SDK's
// SessionKeyPermissionsUpdatesAbi: the function name, its selector and its arguments by ABI name
// (numbers as decimal strings, addresses checksummed, bools as JSON bools, bytes4 as hex).
type Element struct {
	Name     string          `json:"name"`
	Selector events.Selector `json:"selector"`
	Args     map[string]any  `json:"args"`
}

// Log is one event log encoded with viem from an SDK ABI, with its arguments and a chain position.
type Log struct {
	ID        string         `json:"id"`
	Event     string         `json:"event"`     // event name, e.g. "PermissionsUpdated"
	Signature string         `json:"signature"` // canonical signature
	Address   events.Address `json:"address"`   // the emitter
	Topics    []common.Hash  `json:"topics"`
	Data      hexutil.Bytes  `json:"data"`
	Args      LogArgs        `json:"args"`
	Position  LogPosition    `json:"position"`
	// PermissionsID names the Permission whose encode() output a PermissionsUpdated log carries;
	// empty for the other logs and for PermissionsUpdated logs with an empty or mixed list.
	PermissionsID *string `json:"permissions_id,omitempty"`
	// Elements decodes each of a PermissionsUpdated log's updates (see Element).
	Elements []Element `json:"elements,omitempty"`
}

// LogArgs is the union of the events' arguments under the ABIs' names. Account is set for every
// event but UserOperationEvent; for the account's own events (PluginInstalled/Uninstalled) it is
// the emitter.
type LogArgs struct {
	Account              events.Address             `json:"account"`
	SessionKey           events.Address             `json:"sessionKey"`
	Tag                  common.Hash                `json:"tag"`
	OldSessionKey        events.Address             `json:"oldSessionKey"`
	NewSessionKey        events.Address             `json:"newSessionKey"`
	Updates              []hexutil.Bytes            `json:"updates"`
	Plugin               events.Address             `json:"plugin"`
	ManifestHash         common.Hash                `json:"manifestHash"`
	Dependencies         []events.FunctionReference `json:"dependencies"`
	OnUninstallSucceeded bool                       `json:"onUninstallSucceeded"`
	AddedOwners          []events.Address           `json:"addedOwners"`
	RemovedOwners        []events.Address           `json:"removedOwners"`
	UserOpHash           common.Hash                `json:"userOpHash"`
	Sender               events.Address             `json:"sender"`
	Paymaster            events.Address             `json:"paymaster"`
	Nonce                events.U256                `json:"nonce"`
	Success              bool                       `json:"success"`
	ActualGasCost        events.U256                `json:"actualGasCost"`
	ActualGasUsed        events.U256                `json:"actualGasUsed"`
}

// LogPosition is the chain position the generator gave the log (random, with edge values).
type LogPosition struct {
	ChainID     uint64      `json:"chain_id"`
	BlockNumber uint64      `json:"block_number"`
	BlockHash   common.Hash `json:"block_hash"`
	ParentHash  common.Hash `json:"parent_hash"`
	BlockTime   uint64      `json:"block_time"`
	TxHash      common.Hash `json:"tx_hash"`
	TxIndex     uint        `json:"tx_index"`
	LogIndex    uint        `json:"log_index"`
	Removed     bool        `json:"removed"`
}

// TypesLog returns the log as go-ethereum carries it.
func (l Log) TypesLog() types.Log {
	return types.Log{
		Address:     l.Address.Common(),
		Topics:      append([]common.Hash(nil), l.Topics...),
		Data:        append([]byte(nil), l.Data...),
		BlockNumber: l.Position.BlockNumber,
		TxHash:      l.Position.TxHash,
		TxIndex:     l.Position.TxIndex,
		BlockHash:   l.Position.BlockHash,
		Index:       l.Position.LogIndex,
		Removed:     l.Position.Removed,
	}
}

// Actions are the SDK's session-key actions' outputs.
type Actions struct {
	Calls        []Call       `json:"calls"`
	Installs     []Install    `json:"installs"`
	UserOpHashes []UserOpHash `json:"user_op_hashes"`
}

// Functions of Call, as the SDK names them.
const (
	FnAddSessionKey         = "addSessionKey"
	FnRemoveSessionKey      = "removeSessionKey"
	FnRotateSessionKey      = "rotateSessionKey"
	FnUpdateKeyPermissions  = "updateKeyPermissions"
	FnExecuteWithSessionKey = "executeWithSessionKey"
)

// Call is the user-op callData the SDK's sessionKeyPluginActions build for one plugin function
// (sent to the account as is, no execute wrapper).
type Call struct {
	Function string        `json:"function"`
	Args     CallArgs      `json:"args"`
	CallData hexutil.Bytes `json:"call_data"`
}

// CallArgs is the union of the plugin functions' arguments, under the ABI's names:
// addSessionKey(sessionKey, tag, permissionUpdates); removeSessionKey(sessionKey, predecessor);
// rotateSessionKey(oldSessionKey, predecessor, newSessionKey); updateKeyPermissions(sessionKey,
// updates); executeWithSessionKey(calls, sessionKey).
type CallArgs struct {
	SessionKey        events.Address  `json:"sessionKey"`
	Tag               common.Hash     `json:"tag"`
	PermissionUpdates []hexutil.Bytes `json:"permissionUpdates"`
	Predecessor       common.Hash     `json:"predecessor"`
	OldSessionKey     events.Address  `json:"oldSessionKey"`
	NewSessionKey     events.Address  `json:"newSessionKey"`
	Updates           []hexutil.Bytes `json:"updates"`
	Calls             []ExecCall      `json:"calls"`
}

// ExecCall is one (target, value, data) of executeWithSessionKey.
type ExecCall struct {
	Target events.Address `json:"target"`
	Value  events.U256    `json:"value"`
	Data   hexutil.Bytes  `json:"data"`
}

// Install is the installPlugin callData the SDK's installSessionKeyPlugin sends for one chain.
// ManifestHash is an input (the SDK hashes the manifest it reads from the plugin).
type Install struct {
	ChainID           uint64                     `json:"chain_id"`
	Plugin            events.Address             `json:"plugin"`
	ManifestHash      common.Hash                `json:"manifest_hash"`
	Keys              []events.Address           `json:"keys"`
	Tags              []common.Hash              `json:"tags"`
	Permissions       [][]hexutil.Bytes          `json:"permissions"`
	PluginInstallData hexutil.Bytes              `json:"plugin_install_data"`
	Dependencies      []events.FunctionReference `json:"dependencies"`
	CallData          hexutil.Bytes              `json:"call_data"`
}

// UserOpHash is an EntryPoint v0.6 user operation and its hash for one chain and entry point, as
// @aa-sdk/core computes it (the generator checks that viem's getUserOperationHash agrees).
type UserOpHash struct {
	ChainID    uint64         `json:"chain_id"`
	EntryPoint events.Address `json:"entry_point"`
	Op         UserOp         `json:"op"`
	Hash       common.Hash    `json:"hash"`
}

// UserOp is a v0.6 user operation with the SDK's field names.
type UserOp struct {
	Sender               events.Address `json:"sender"`
	Nonce                events.U256    `json:"nonce"`
	InitCode             hexutil.Bytes  `json:"initCode"`
	CallData             hexutil.Bytes  `json:"callData"`
	CallGasLimit         events.U256    `json:"callGasLimit"`
	VerificationGasLimit events.U256    `json:"verificationGasLimit"`
	PreVerificationGas   events.U256    `json:"preVerificationGas"`
	MaxFeePerGas         events.U256    `json:"maxFeePerGas"`
	MaxPriorityFeePerGas events.U256    `json:"maxPriorityFeePerGas"`
	PaymasterAndData     hexutil.Bytes  `json:"paymasterAndData"`
	Signature            hexutil.Bytes  `json:"signature"`
}
