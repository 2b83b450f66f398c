package decoder

import (
	"errors"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/keywarden/keywarden/pkg/events"
)

// setWord returns a copy of data with the 32-byte word at pos replaced by w (right-aligned).
func setWord(data []byte, pos int, w []byte) []byte {
	out := append([]byte{}, data...)
	copy(out[pos:pos+32], common.LeftPadBytes(w, 32))
	return out
}

func setByte(data []byte, pos int, b byte) []byte {
	out := append([]byte{}, data...)
	out[pos] = b
	return out
}

var ones32 = common.FromHex("0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")

func permLog(data []byte) types.Log {
	return mkLog(events.SessionKeyPluginV101, []common.Hash{events.TopicPermissionsUpdated, topicAddr(acct), topicAddr(keyA)}, data)
}

func updLog(elems ...[]byte) types.Log { return permLog(encodeBytesArray(elems)) }

func dirtyTopic(a events.Address) common.Hash { h := topicAddr(a); h[0] = 1; return h }

// failCase is one malformed log and where the decoder must say it failed.
type failCase struct {
	name   string
	lg     types.Log
	reason Reason
	field  string // substring of Error.Field
	offset int
	index  int
}

func failCases() []failCase {
	plugin := events.SessionKeyPluginV101
	one := encodeBytesArray([][]byte{events.SetAccessListType{Type: 1}.Encode()})
	// one: [0]=0x20 head, [32]=1 length, [64]=0x20 element offset, [96]=0x24 element length,
	// [128..132) selector, [132..164) argument, [164..192) padding.
	two := encodeBytesArray([][]byte{events.SetAccessListType{}.Encode(), events.SetRequiredPaymaster{}.Encode()})
	// two: heads at 64 and 96 (0x40, 0xa0); element 0 length at 128, body 160; element 1 length at 224, body 256.
	owners := encodeOwners([]events.Address{keyA}, []events.Address{keyB})
	// owners: [0]=0x40, [32]=0x80, [64]=1, [96]=keyA, [128]=1, [160]=keyB.
	installed := encodePluginInstalled(common.Hash{1}, []events.FunctionReference{fref(events.MultiOwnerPlugin, 1)})
	userOp := encodeUserOp(events.U256From64(1), true, events.U256From64(2), events.U256From64(3))
	upTopics := []common.Hash{events.TopicUserOperationEvent, {}, topicAddr(acct), topicAddr(paymaster)}
	add := func(topics ...common.Hash) types.Log {
		return mkLog(plugin, append([]common.Hash{events.TopicSessionKeyAdded}, topics...), nil)
	}
	elem := func(b []byte) types.Log { return updLog(b) }
	tr := events.UpdateTimeRange{ValidAfter: 1, ValidUntil: 2}.Encode()
	addrEntry := events.UpdateAccessListAddressEntry{Target: target, IsOnList: true}.Encode()
	fnEntry := events.UpdateAccessListFunctionEntry{Target: target, Function: events.Selector{1, 2, 3, 4}}.Encode()

	return []failCase{
		// topic_count
		{"added_missing_tag", add(topicAddr(acct), topicAddr(keyA)), ReasonTopicCount, "topics", -1, -1},
		{"added_extra_topic", add(topicAddr(acct), topicAddr(keyA), tag, tag), ReasonTopicCount, "topics", -1, -1},
		{"permissions_extra_topic", mkLog(plugin, []common.Hash{events.TopicPermissionsUpdated, topicAddr(acct), topicAddr(keyA), {}}, one), ReasonTopicCount, "topics", -1, -1},
		{"user_operation_no_paymaster_topic", mkLog(events.EntryPointV06, upTopics[:3], userOp), ReasonTopicCount, "topics", -1, -1},
		{"uninstalled_topic0_only", mkLog(acct, []common.Hash{events.TopicPluginUninstalled}, nil), ReasonTopicCount, "topics", -1, -1},
		// bad_padding
		{"added_dirty_account_topic", add(dirtyTopic(acct), topicAddr(keyA), tag), ReasonBadPadding, "account", -1, -1},
		{"rotated_dirty_new_key_topic", mkLog(plugin, []common.Hash{events.TopicSessionKeyRotated, topicAddr(acct), topicAddr(keyA), dirtyTopic(keyB)}, nil), ReasonBadPadding, "newSessionKey", -1, -1},
		{"uninstalled_dirty_bool_topic", mkLog(acct, []common.Hash{events.TopicPluginUninstalled, topicAddr(plugin), common.HexToHash("0x0100000000000000000000000000000000000000000000000000000000000001")}, nil), ReasonBadPadding, "onUninstallSucceeded", -1, -1},
		{"update_dirty_address", elem(setByte(addrEntry, 4, 0xff)), ReasonBadPadding, "updates[0].contractAddress", 132, 0},
		{"update_dirty_bool", elem(setByte(addrEntry, 4+32, 0x01)), ReasonBadPadding, "updates[0].isOnList", 164, 0},
		{"update_dirty_bytes4", elem(setByte(fnEntry, 4+32+4, 0x01)), ReasonBadPadding, "updates[0].selector", 164, 0},
		{"element_dirty_tail_padding", permLog(setByte(one, 170, 1)), ReasonBadPadding, "updates[0].padding", 164, 0},
		{"owner_dirty_address", mkLog(events.MultiOwnerPlugin, []common.Hash{events.TopicOwnerUpdated, topicAddr(acct)}, setByte(owners, 160, 1)), ReasonBadPadding, "removedOwners[0]", 160, -1},
		{"dependency_dirty_padding", mkLog(acct, []common.Hash{events.TopicPluginInstalled, topicAddr(plugin)}, setByte(installed, 96+21, 1)), ReasonBadPadding, "dependencies[0]", 96, -1},
		// value_out_of_range
		{"update_bool_is_2", elem(setByte(addrEntry, 4+95, 2)), ReasonValueOutOfRange, "updates[0].checkSelectors", 196, 0},
		{"user_op_success_is_2", mkLog(events.EntryPointV06, upTopics, setWord(userOp, 32, []byte{2})), ReasonValueOutOfRange, "success", 32, -1},
		{"uninstalled_bool_topic_is_2", mkLog(acct, []common.Hash{events.TopicPluginUninstalled, topicAddr(plugin), common.BigToHash(common.Big2)}, nil), ReasonValueOutOfRange, "onUninstallSucceeded", -1, -1},
		{"uint48_is_2^48", elem(setWord(tr, 4, common.FromHex("0x01000000000000"))), ReasonValueOutOfRange, "updates[0].validAfter", 132, 0},
		{"uint48_high_word_bits", elem(setByte(tr, 4+32, 0x80)), ReasonValueOutOfRange, "updates[0].validUntil", 164, 0},
		{"access_type_3", elem(setWord(events.SetAccessListType{}.Encode(), 4, []byte{3})), ReasonValueOutOfRange, "updates[0].contractAccessControlType", 132, 0},
		{"uint8_is_256", elem(setWord(events.SetAccessListType{}.Encode(), 4, []byte{1, 0})), ReasonValueOutOfRange, "updates[0].contractAccessControlType", 132, 0},
		{"interval_is_2^256-1", elem(setWord(events.SetGasSpendLimit{}.Encode(), 36, ones32)), ReasonValueOutOfRange, "updates[0].refreshInterval", 164, 0},
		// short_data
		{"permissions_no_data", permLog(nil), ReasonShortData, "updates", 0, -1},
		{"permissions_head_only", permLog(one[:32]), ReasonShortData, "updates.length", 32, -1},
		{"permissions_cut_in_padding", permLog(one[:170]), ReasonShortData, "updates[0].padding", 164, 0},
		{"update_element_short", elem(tr[:4+63]), ReasonShortData, "updates[0].args", 128 + 67, 0},
		{"user_op_127_bytes", mkLog(events.EntryPointV06, upTopics, userOp[:127]), ReasonShortData, "actualGasUsed", 96, -1},
		{"installed_no_data", mkLog(acct, []common.Hash{events.TopicPluginInstalled, topicAddr(plugin)}, nil), ReasonShortData, "manifestHash", 0, -1},
		{"owners_cut", mkLog(events.MultiOwnerPlugin, []common.Hash{events.TopicOwnerUpdated, topicAddr(acct)}, owners[:64]), ReasonShortData, "addedOwners.length", 64, -1},
		// bad_offset
		{"head_offset_0x40", permLog(setWord(one, 0, []byte{0x40})), ReasonBadOffset, "updates", 0, -1},
		{"head_offset_max", permLog(setWord(one, 0, ones32)), ReasonBadOffset, "updates", 0, -1},
		{"element_offset_misaligned", permLog(setWord(one, 64, []byte{0x21})), ReasonBadOffset, "updates[0].offset", 64, 0},
		{"element_offset_out_of_range", permLog(setWord(one, 64, []byte{0x10, 0})), ReasonBadOffset, "updates[0].offset", 64, 0},
		{"element_offset_2^256-1", permLog(setWord(one, 64, ones32)), ReasonBadOffset, "updates[0].offset", 64, 0},
		{"element_offsets_overlap", permLog(setWord(two, 96, []byte{0x40})), ReasonBadOffset, "updates[1].offset", 96, 1},
		{"owners_second_offset", mkLog(events.MultiOwnerPlugin, []common.Hash{events.TopicOwnerUpdated, topicAddr(acct)}, setWord(owners, 32, []byte{0xa0})), ReasonBadOffset, "removedOwners", 32, -1},
		{"installed_offset", mkLog(acct, []common.Hash{events.TopicPluginInstalled, topicAddr(plugin)}, setWord(installed, 32, []byte{0x60})), ReasonBadOffset, "dependencies", 32, -1},
		// bad_length
		{"array_length_2^256-1", permLog(setWord(one, 32, ones32)), ReasonBadLength, "updates.length", 32, -1},
		{"array_length_2^63", permLog(setWord(one, 32, common.FromHex("0x8000000000000000"))), ReasonBadLength, "updates.length", 32, -1},
		{"array_length_one_too_many", permLog(setWord(one, 32, []byte{5})), ReasonBadLength, "updates.length", 32, -1},
		{"element_length_2^256-1", permLog(setWord(one, 96, ones32)), ReasonBadLength, "updates[0].length", 96, 0},
		{"element_length_past_end", permLog(setWord(one, 96, []byte{0x41})), ReasonBadLength, "updates[0].length", 96, 0},
		{"owners_length_huge", mkLog(events.MultiOwnerPlugin, []common.Hash{events.TopicOwnerUpdated, topicAddr(acct)}, setWord(owners, 128, ones32)), ReasonBadLength, "removedOwners.length", 128, -1},
		{"dependencies_length_huge", mkLog(acct, []common.Hash{events.TopicPluginInstalled, topicAddr(plugin)}, setWord(installed, 64, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})), ReasonBadLength, "dependencies.length", 64, -1},
		// trailing_data
		{"permissions_extra_word", permLog(append(append([]byte{}, one...), make([]byte, 32)...)), ReasonTrailingData, "updates", 192, -1},
		{"permissions_extra_byte", permLog(append(append([]byte{}, one...), 0)), ReasonTrailingData, "updates", 192, -1},
		{"added_with_data", mkLog(plugin, []common.Hash{events.TopicSessionKeyAdded, topicAddr(acct), topicAddr(keyA), tag}, []byte{0}), ReasonTrailingData, "data", 0, -1},
		{"user_op_129_bytes", mkLog(events.EntryPointV06, upTopics, append(append([]byte{}, userOp...), 0)), ReasonTrailingData, "data", 128, -1},
		{"owners_extra_word", mkLog(events.MultiOwnerPlugin, []common.Hash{events.TopicOwnerUpdated, topicAddr(acct)}, append(append([]byte{}, owners...), make([]byte, 32)...)), ReasonTrailingData, "removedOwners", 192, -1},
		{"installed_extra_word", mkLog(acct, []common.Hash{events.TopicPluginInstalled, topicAddr(plugin)}, append(append([]byte{}, installed...), make([]byte, 32)...)), ReasonTrailingData, "dependencies", 128, -1},
		// unknown_update_selector
		{"unknown_selector", updLog(events.SetAccessListType{}.Encode(), common.FromHex("0xdeadbeef")), ReasonUnknownUpdateSelector, "updates[1].selector", 256, 1},
		{"element_3_bytes", updLog([]byte{0x8f, 0x29, 0x20}), ReasonUnknownUpdateSelector, "updates[0].selector", 128, 0},
		{"element_empty", updLog(nil), ReasonUnknownUpdateSelector, "updates[0].selector", 128, 0},
	}
}

func TestDecodeErrors(t *testing.T) {
	seen := map[Reason]bool{}
	for _, c := range failCases() {
		t.Run(c.name, func(t *testing.T) {
			ev, err := Decode(c.lg, meta)
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("Decode = %+v, %v; want *Error", ev, err)
			}
			seen[de.Reason] = true
			if de.Reason != c.reason || !strings.Contains(de.Field, c.field) || de.Offset != c.offset || de.Index != c.index {
				t.Errorf("got %s (reason %s field %q offset %d index %d), want reason %s field %q offset %d index %d",
					de, de.Reason, de.Field, de.Offset, de.Index, c.reason, c.field, c.offset, c.index)
			}
			if errors.Is(err, ErrNotOurs) {
				t.Error("malformed log classed as not ours")
			}
			if f := Failure(c.lg, meta, err); f.Reason != string(c.reason) {
				t.Errorf("Failure.Reason = %q", f.Reason)
			}
		})
	}
	for _, r := range []Reason{ReasonTopicCount, ReasonShortData, ReasonBadOffset, ReasonBadLength, ReasonTrailingData,
		ReasonBadPadding, ReasonValueOutOfRange, ReasonUnknownUpdateSelector} {
		if !seen[r] {
			t.Errorf("no case for reason %s", r)
		}
	}
}

func TestDecodeUpdateErrors(t *testing.T) {
	cases := []struct {
		name   string
		elems  [][]byte
		reason Reason
		offset int
		index  int
	}{
		{"empty", [][]byte{nil}, ReasonUnknownUpdateSelector, 0, 0},
		{"unknown", [][]byte{events.SetAccessListType{}.Encode(), {1, 2, 3, 4}}, ReasonUnknownUpdateSelector, 0, 1},
		{"short", [][]byte{events.SetGasSpendLimit{}.Encode()[:40]}, ReasonShortData, 40, 0},
		{"access_type_2^256-1", [][]byte{setWord(events.SetAccessListType{}.Encode(), 4, ones32)}, ReasonValueOutOfRange, 4, 0},
		{"dirty_token", [][]byte{setByte(events.SetERC20SpendLimit{}.Encode(), 15, 1)}, ReasonBadPadding, 4, 0},
	}
	for _, c := range cases {
		_, err := DecodeUpdates(c.elems)
		var de *Error
		if !errors.As(err, &de) || de.Reason != c.reason || de.Offset != c.offset || de.Index != c.index {
			t.Errorf("%s: got %v, want %s at offset %d index %d", c.name, err, c.reason, c.offset, c.index)
		}
		if len(c.elems) == 1 {
			_, err := DecodeUpdate(c.elems[0])
			if !errors.As(err, &de) || de.Index != -1 || de.Reason != c.reason {
				t.Errorf("%s: DecodeUpdate: %v", c.name, err)
			}
		}
	}
}

// Malformed logs are recorded: their failure records are golden too.
func TestFailureGolden(t *testing.T) {
	for _, name := range []string{"head_offset_max", "element_length_2^256-1", "unknown_selector", "added_extra_topic", "uint48_is_2^48"} {
		for _, c := range failCases() {
			if c.name != name {
				continue
			}
			_, err := Decode(c.lg, meta)
			f := Failure(c.lg, meta, err)
			checkGolden(t, "failure_"+name, golden{Address: c.lg.Address, Topics: c.lg.Topics, Data: c.lg.Data, Failure: &f})
		}
	}
}
