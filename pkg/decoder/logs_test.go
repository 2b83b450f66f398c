package decoder

import (
	"encoding/binary"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/keywarden/keywarden/pkg/events"
)

// Hand-built logs: an independent word-by-word encoder, cross-checked against go-ethereum's
// abi in TestSamplesAgreeWithABI.

func wordU64(x uint64) []byte {
	w := make([]byte, 32)
	binary.BigEndian.PutUint64(w[24:], x)
	return w
}

func wordAddr(a events.Address) []byte { return common.LeftPadBytes(a[:], 32) }

func topicAddr(a events.Address) common.Hash { return common.BytesToHash(a[:]) }

func topicBool(b bool) common.Hash {
	var h common.Hash
	if b {
		h[31] = 1
	}
	return h
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// encodeBytesArray is the canonical ABI encoding of a single bytes[] argument.
func encodeBytesArray(elems [][]byte) []byte {
	out := cat(wordU64(32), wordU64(uint64(len(elems))))
	next := 32 * len(elems)
	for _, e := range elems {
		out = append(out, wordU64(uint64(next))...)
		next += 32 + (len(e)+31)/32*32
	}
	for _, e := range elems {
		out = append(out, wordU64(uint64(len(e)))...)
		out = append(out, e...)
		out = append(out, make([]byte, (32-len(e)%32)%32)...)
	}
	return out
}

func encodeAddressArray(as []events.Address) []byte {
	out := wordU64(uint64(len(as)))
	for _, a := range as {
		out = append(out, wordAddr(a)...)
	}
	return out
}

func encodeOwners(added, removed []events.Address) []byte {
	a := encodeAddressArray(added)
	return cat(wordU64(64), wordU64(uint64(64+len(a))), a, encodeAddressArray(removed))
}

func encodePluginInstalled(manifest common.Hash, deps []events.FunctionReference) []byte {
	out := cat(manifest[:], wordU64(64), wordU64(uint64(len(deps))))
	for _, d := range deps {
		out = append(out, common.RightPadBytes(d[:], 32)...)
	}
	return out
}

func u256Word(u events.U256) []byte { b := u.Bytes32(); return b[:] }

func encodeUserOp(nonce events.U256, success bool, cost, used events.U256) []byte {
	s := wordU64(0)
	if success {
		s = wordU64(1)
	}
	return cat(u256Word(nonce), s, u256Word(cost), u256Word(used))
}

var (
	acct      = events.HexToAddress("0x1111111111111111111111111111111111111111")
	keyA      = events.HexToAddress("0x00000000000000000000000000000000000000aa")
	keyB      = events.HexToAddress("0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB")
	target    = events.HexToAddress("0x2222222222222222222222222222222222222222")
	token     = events.HexToAddress("0xdAC17F958D2ee523a2206206994597C13D831ec7")
	paymaster = events.HexToAddress("0x3333333333333333333333333333333333333333")
	maxU48    = uint64(events.MaxUint48)
	tag       = common.HexToHash("0x7461672d6f6e6500000000000000000000000000000000000000000000000000")
	blockHash = common.HexToHash("0xb10cb10cb10cb10cb10cb10cb10cb10cb10cb10cb10cb10cb10cb10cb10cb10c")
	txHash    = common.HexToHash("0x7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e")
	meta      = Meta{ChainID: 31337, BlockTime: 1_700_000_000,
		ParentHash: common.HexToHash("0xa0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0")}
)

// allUpdates has every update kind with edge values (max uint256, max uint48, zero address).
func allUpdates() []events.Update {
	return []events.Update{
		events.SetAccessListType{Type: events.AccessAllowAll},
		events.UpdateAccessListAddressEntry{Target: target, IsOnList: true, CheckSelectors: true},
		events.UpdateAccessListFunctionEntry{Target: target, Function: events.Selector{0xa9, 0x05, 0x9c, 0xbb}, IsOnList: true},
		events.UpdateTimeRange{ValidAfter: 0, ValidUntil: maxU48},
		events.SetNativeTokenSpendLimit{Limit: events.MaxU256, RefreshInterval: 0},
		events.SetERC20SpendLimit{Token: token, Limit: events.U256From64(1_000_000), RefreshInterval: 86400},
		events.SetGasSpendLimit{Limit: events.U256From64(5e17), RefreshInterval: maxU48},
		events.SetRequiredPaymaster{Paymaster: paymaster},
	}
}

func mkLog(emitter events.Address, topics []common.Hash, data []byte) types.Log {
	return types.Log{Address: emitter.Common(), Topics: topics, Data: data, BlockNumber: 19_000_000,
		BlockHash: blockHash, TxHash: txHash, TxIndex: 7, Index: 42}
}

type sample struct {
	name string
	lg   types.Log
}

// samples are well-formed logs of every kind (the golden, benchmark and fuzz-seed set).
func samples() []sample {
	plugin := events.SessionKeyPluginV101
	big := events.U256FromBytes(common.FromHex("0x8000000000000000000000000000000000000000000000000000000000000001"))
	nearMax := mkLog(plugin, []common.Hash{events.TopicSessionKeyRemoved, topicAddr(acct), topicAddr(keyA)}, nil)
	nearMax.Index = 1<<32 - 1
	nearMax.TxIndex = 1<<32 - 2
	nearMax.BlockNumber = 1<<63 + 5
	nearMax.Removed = true
	return []sample{
		{"session_key_added", mkLog(plugin, []common.Hash{events.TopicSessionKeyAdded, topicAddr(acct), topicAddr(keyA), tag}, nil)},
		{"session_key_removed", mkLog(plugin, []common.Hash{events.TopicSessionKeyRemoved, topicAddr(acct), topicAddr(keyA)}, nil)},
		{"session_key_removed_log_index_2^32-1", nearMax},
		{"session_key_rotated", mkLog(plugin, []common.Hash{events.TopicSessionKeyRotated, topicAddr(acct), topicAddr(keyA), topicAddr(keyB)}, nil)},
		{"permissions_updated_all_kinds", mkLog(plugin, []common.Hash{events.TopicPermissionsUpdated, topicAddr(acct), topicAddr(keyA)},
			encodeBytesArray(events.EncodeUpdates(allUpdates())))},
		{"permissions_updated_empty", mkLog(plugin, []common.Hash{events.TopicPermissionsUpdated, topicAddr(acct), topicAddr(keyA)},
			encodeBytesArray(nil))},
		{"permissions_updated_sdk_unrestricted", mkLog(events.SessionKeyPluginV100, []common.Hash{events.TopicPermissionsUpdated, topicAddr(acct), topicAddr(keyB)},
			encodeBytesArray(events.EncodeUpdates([]events.Update{
				events.SetAccessListType{Type: events.AccessAllowAll},
				events.SetNativeTokenSpendLimit{Limit: events.MaxU256},
				events.SetERC20SpendLimit{Token: token, Limit: events.MaxU256, RefreshInterval: maxU48},
				events.SetGasSpendLimit{Limit: big, RefreshInterval: 1},
				events.UpdateTimeRange{ValidAfter: maxU48, ValidUntil: 0},
				events.SetRequiredPaymaster{},
			})))},
		{"plugin_installed", mkLog(acct, []common.Hash{events.TopicPluginInstalled, topicAddr(plugin)},
			encodePluginInstalled(common.HexToHash("0x833a1f0442e68769684efcd91c9fbd90948637d3d3bae76a4c7fd65f58e2947b"),
				[]events.FunctionReference{fref(events.MultiOwnerPlugin, 0), fref(events.MultiOwnerPlugin, 1)}))},
		{"plugin_installed_no_dependencies", mkLog(acct, []common.Hash{events.TopicPluginInstalled, topicAddr(events.MultiOwnerPlugin)},
			encodePluginInstalled(common.Hash{}, nil))},
		{"plugin_uninstalled", mkLog(acct, []common.Hash{events.TopicPluginUninstalled, topicAddr(plugin), topicBool(true)}, nil)},
		{"plugin_uninstalled_forced", mkLog(acct, []common.Hash{events.TopicPluginUninstalled, topicAddr(plugin), topicBool(false)}, nil)},
		{"owner_updated", mkLog(events.MultiOwnerPlugin, []common.Hash{events.TopicOwnerUpdated, topicAddr(acct)},
			encodeOwners([]events.Address{keyA, keyB, target}, []events.Address{paymaster}))},
		{"owner_updated_empty", mkLog(events.MultiOwnerPlugin, []common.Hash{events.TopicOwnerUpdated, topicAddr(acct)},
			encodeOwners(nil, nil))},
		{"user_operation", mkLog(events.EntryPointV06, []common.Hash{events.TopicUserOperationEvent,
			common.HexToHash("0x5555555555555555555555555555555555555555555555555555555555555555"), topicAddr(acct), topicAddr(events.ZeroAddress)},
			encodeUserOp(events.U256FromBytes(common.FromHex("0x000000000000000000000000bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb0000000000000003")),
				true, events.U256From64(123456789012345), events.U256From64(98765)))},
		{"user_operation_max_values", mkLog(events.EntryPointV06, []common.Hash{events.TopicUserOperationEvent,
			common.Hash{}, topicAddr(acct), topicAddr(paymaster)},
			encodeUserOp(events.MaxU256, false, events.MaxU256, events.MaxU256))},
	}
}

func fref(a events.Address, id byte) events.FunctionReference {
	var f events.FunctionReference
	copy(f[:], a[:])
	f[20] = id
	return f
}
