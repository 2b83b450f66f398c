package actions

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/keywarden/keywarden/pkg/events"
)

// Call is one call of executeWithSessionKey or executeBatch: (address target, uint256 value,
// bytes data). A nil Value is 0.
type Call struct {
	Target common.Address
	Value  *big.Int
	Data   []byte
}

// Predecessor is the bytes32 predecessor of a key in the plugin's key list, as
// findPredecessor returns it: the sentinel 0x…01 for the head of the list, otherwise the
// previous key's address left-aligned (bytes32(bytes20(prev))).
type Predecessor [32]byte

// SentinelPredecessor is the predecessor of the first key of the list.
var SentinelPredecessor = Predecessor{31: 1}

// PredecessorOf returns the left-aligned predecessor value for prev.
func PredecessorOf(prev common.Address) Predecessor {
	var p Predecessor
	copy(p[:20], prev[:])
	return p
}

// String returns the 0x-prefixed hex form.
func (p Predecessor) String() string { return common.Hash(p).Hex() }

// ComputePredecessor returns the predecessor of key in keys, a key list ordered as
// sessionKeysOf returns it (newest first). It is the off-chain twin of findPredecessor.
func ComputePredecessor(keys []common.Address, key common.Address) (Predecessor, error) {
	for i, k := range keys {
		if k == key {
			if i == 0 {
				return SentinelPredecessor, nil
			}
			return PredecessorOf(keys[i-1]), nil
		}
	}
	return Predecessor{}, fmt.Errorf("compute predecessor of %s: %w", key.Hex(), ErrKeyNotFound)
}

// Selectors of the calls this package builds (call them on the account's address).
var (
	SelExecute               = selectorOf(accountABI, "execute")
	SelExecuteBatch          = selectorOf(accountABI, "executeBatch")
	SelInstallPlugin         = selectorOf(accountABI, "installPlugin")
	SelUninstallPlugin       = selectorOf(accountABI, "uninstallPlugin")
	SelUpdateOwners          = selectorOf(accountABI, "updateOwners")
	SelExecuteWithSessionKey = selectorOf(accountABI, "executeWithSessionKey")
	SelAddSessionKey         = selectorOf(accountABI, "addSessionKey")
	SelRemoveSessionKey      = selectorOf(accountABI, "removeSessionKey")
	SelRotateSessionKey      = selectorOf(accountABI, "rotateSessionKey")
	SelUpdateKeyPermissions  = selectorOf(accountABI, "updateKeyPermissions")
)

func selectorOf(a abi.ABI, name string) events.Selector {
	var s events.Selector
	copy(s[:], a.Methods[name].ID)
	return s
}

// pack encodes a call whose argument types are fixed by the Go signature of the caller; a
// failure is a programming error in this package, never a property of the input.
func pack(a abi.ABI, name string, args ...any) []byte {
	b, err := a.Pack(name, args...)
	if err != nil {
		panic(fmt.Sprintf("pack %s: %v", name, err))
	}
	return b
}

type abiCall struct {
	Target common.Address
	Value  *big.Int
	Data   []byte
}

func toABICalls(calls []Call) []abiCall {
	out := make([]abiCall, len(calls))
	for i, c := range calls {
		v := c.Value
		if v == nil {
			v = new(big.Int)
		}
		d := c.Data
		if d == nil {
			d = []byte{}
		}
		out[i] = abiCall{Target: c.Target, Value: v, Data: d}
	}
	return out
}

func nonNilUpdates(us [][]byte) [][]byte {
	if us == nil {
		return [][]byte{}
	}
	return us
}

// EncodeAddSessionKey returns addSessionKey(key, tag, updates).
func EncodeAddSessionKey(key common.Address, tag common.Hash, updates [][]byte) []byte {
	return pack(accountABI, "addSessionKey", key, [32]byte(tag), nonNilUpdates(updates))
}

// EncodeRemoveSessionKey returns removeSessionKey(key, predecessor).
func EncodeRemoveSessionKey(key common.Address, pred Predecessor) []byte {
	return pack(accountABI, "removeSessionKey", key, [32]byte(pred))
}

// EncodeRotateSessionKey returns rotateSessionKey(oldKey, predecessor, newKey).
func EncodeRotateSessionKey(oldKey common.Address, pred Predecessor, newKey common.Address) []byte {
	return pack(accountABI, "rotateSessionKey", oldKey, [32]byte(pred), newKey)
}

// EncodeUpdateKeyPermissions returns updateKeyPermissions(key, updates).
func EncodeUpdateKeyPermissions(key common.Address, updates [][]byte) []byte {
	return pack(accountABI, "updateKeyPermissions", key, nonNilUpdates(updates))
}

// EncodeExecuteWithSessionKey returns executeWithSessionKey(calls, key).
func EncodeExecuteWithSessionKey(calls []Call, key common.Address) []byte {
	return pack(accountABI, "executeWithSessionKey", toABICalls(calls), key)
}

// EncodeExecute returns the account's execute(target, value, data).
func EncodeExecute(c Call) []byte {
	ac := toABICalls([]Call{c})[0]
	return pack(accountABI, "execute", ac.Target, ac.Value, ac.Data)
}

// EncodeExecuteBatch returns the account's executeBatch(calls).
func EncodeExecuteBatch(calls []Call) []byte {
	return pack(accountABI, "executeBatch", toABICalls(calls))
}

// EncodeUpdateOwners returns the account's updateOwners(toAdd, toRemove) (Multi Owner plugin).
func EncodeUpdateOwners(toAdd, toRemove []common.Address) []byte {
	if toAdd == nil {
		toAdd = []common.Address{}
	}
	if toRemove == nil {
		toRemove = []common.Address{}
	}
	return pack(accountABI, "updateOwners", toAdd, toRemove)
}

// FunctionReference is a plugin address followed by a one-byte function id (bytes21).
type FunctionReference [21]byte

// FunctionRef builds a FunctionReference.
func FunctionRef(plugin common.Address, functionID uint8) FunctionReference {
	var f FunctionReference
	copy(f[:20], plugin[:])
	f[20] = functionID
	return f
}

// SessionKeyPluginDependencies returns the Session Key Plugin's install dependencies as the SDK
// builds them: the Multi Owner plugin's runtime validation (id 0), then its user-op
// validation (id 1).
func SessionKeyPluginDependencies(multiOwner common.Address) []FunctionReference {
	return []FunctionReference{FunctionRef(multiOwner, 0), FunctionRef(multiOwner, 1)}
}

// InitialKey is one key installed together with the plugin.
type InitialKey struct {
	Key common.Address
	Tag common.Hash
	// Updates are the encoded permission updates (see PermissionsBuilder.Encode).
	Updates [][]byte
}

var installDataArgs = mustArguments("address[]", "bytes32[]", "bytes[][]")

func mustArguments(types ...string) abi.Arguments {
	args := make(abi.Arguments, len(types))
	for i, t := range types {
		ty, err := abi.NewType(t, "", nil)
		if err != nil {
			panic(fmt.Sprintf("abi type %s: %v", t, err))
		}
		args[i] = abi.Argument{Type: ty}
	}
	return args
}

// EncodeSessionKeyPluginInstallData returns abi.encode(address[] keys, bytes32[] tags,
// bytes[][] permissions), the plugin's onInstall data.
func EncodeSessionKeyPluginInstallData(keys []InitialKey) []byte {
	addrs := make([]common.Address, len(keys))
	tags := make([][32]byte, len(keys))
	perms := make([][][]byte, len(keys))
	for i, k := range keys {
		addrs[i], tags[i], perms[i] = k.Key, [32]byte(k.Tag), nonNilUpdates(k.Updates)
	}
	b, err := installDataArgs.Pack(addrs, tags, perms)
	if err != nil {
		panic(fmt.Sprintf("pack install data: %v", err))
	}
	return b
}

// EncodeInstallPlugin returns the account's installPlugin(plugin, manifestHash, installData,
// dependencies).
func EncodeInstallPlugin(plugin common.Address, manifestHash common.Hash, installData []byte, deps []FunctionReference) []byte {
	d := make([][21]byte, len(deps))
	for i, f := range deps {
		d[i] = f
	}
	if installData == nil {
		installData = []byte{}
	}
	return pack(accountABI, "installPlugin", plugin, [32]byte(manifestHash), installData, d)
}

// EncodeUninstallPlugin returns the account's uninstallPlugin(plugin, config, uninstallData).
// An empty config makes the account re-read the plugin's manifest.
func EncodeUninstallPlugin(plugin common.Address, config, uninstallData []byte) []byte {
	if config == nil {
		config = []byte{}
	}
	if uninstallData == nil {
		uninstallData = []byte{}
	}
	return pack(accountABI, "uninstallPlugin", plugin, config, uninstallData)
}

// ManifestHash is keccak256 of the ABI-encoded manifest: the hash of pluginManifest()'s raw
// return data, which is how the SDK computes it.
func ManifestHash(pluginManifestReturnData []byte) common.Hash {
	return crypto.Keccak256Hash(pluginManifestReturnData)
}
