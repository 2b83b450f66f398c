package events

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

var update = flag.Bool("update", false, "rewrite testdata/golden")

func checkGolden(t *testing.T, name string, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatalf("marshal %s: %v", name, err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return b
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test ./pkg/events -update): %v", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("%s differs from golden:\n got: %s\nwant: %s", path, b, want)
	}
	return b
}

var (
	tAccount = HexToAddress("0x1111111111111111111111111111111111111111")
	tKey1    = HexToAddress("0xaAaAaAaaAaAaAaaAaAAAAAAAAaaaAaAaAaaAaaAa")
	tKey2    = HexToAddress("0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB")
	tTarget  = HexToAddress("0x2222222222222222222222222222222222222222")
	tToken   = HexToAddress("0xdAC17F958D2ee523a2206206994597C13D831ec7")
	tPM      = HexToAddress("0x3333333333333333333333333333333333333333")
	tTag     = common.HexToHash("0x7461670000000000000000000000000000000000000000000000000000000000")
	tPos     = Position{ChainID: 8453, BlockNumber: 12_345_678, BlockHash: common.HexToHash("0xb1"),
		ParentHash: common.HexToHash("0xb0"), BlockTime: 1_700_000_000, TxHash: common.HexToHash("0x7e"),
		TxIndex: 3, LogIndex: 1<<32 - 1}
)

func everyUpdate() []Update {
	return []Update{
		SetAccessListType{Type: AccessDenylist},
		UpdateAccessListAddressEntry{Target: tTarget, IsOnList: true, CheckSelectors: true},
		UpdateAccessListFunctionEntry{Target: tTarget, Function: Selector{0xa9, 0x05, 0x9c, 0xbb}, IsOnList: true},
		UpdateTimeRange{ValidAfter: 1_700_000_000, ValidUntil: MaxUint48},
		SetNativeTokenSpendLimit{Limit: MaxU256, RefreshInterval: 0},
		SetERC20SpendLimit{Token: tToken, Limit: U256From64(1_000_000), RefreshInterval: 86400},
		SetGasSpendLimit{Limit: U256From64(5e17), RefreshInterval: 3600},
		SetRequiredPaymaster{Paymaster: tPM},
		UnknownUpdate{Raw: []byte{0xde, 0xad, 0xbe, 0xef, 0x01}, Reason: "unknown selector"},
	}
}

func everyPayload() []Payload {
	return []Payload{
		SessionKeyAdded{Account: tAccount, SessionKey: tKey1, Tag: tTag},
		SessionKeyRemoved{Account: tAccount, SessionKey: tKey1},
		SessionKeyRotated{Account: tAccount, OldSessionKey: tKey1, NewSessionKey: tKey2},
		PermissionsUpdated{Account: tAccount, SessionKey: tKey1, Updates: everyUpdate()[:8]},
		PluginInstalled{Account: tAccount, Plugin: SessionKeyPluginV101, ManifestHash: common.HexToHash("0x833a"),
			Dependencies: []FunctionReference{{0xce, 20: 0}, {0xce, 20: 1}}},
		PluginUninstalled{Account: tAccount, Plugin: SessionKeyPluginV101, OnUninstallSucceeded: true},
		OwnerUpdated{Account: tAccount, AddedOwners: []Address{tKey1, tKey2}, RemovedOwners: []Address{}},
		UserOperationEvent{UserOpHash: common.HexToHash("0x55"), Sender: tAccount, Paymaster: ZeroAddress,
			Nonce: MaxU256, Success: true, ActualGasCost: U256From64(123456789), ActualGasUsed: U256From64(98765)},
	}
}

func TestEventWireGolden(t *testing.T) {
	kinds := map[Kind]bool{}
	for _, p := range everyPayload() {
		kinds[p.Kind()] = true
		ev := Event{Schema: SchemaVersion, Kind: p.Kind(), Position: tPos, Emitter: SessionKeyPluginV101, Verified: true, Payload: p}
		b := checkGolden(t, "event_"+string(p.Kind()), ev)
		var back Event
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", p.Kind(), err)
		}
		if !reflect.DeepEqual(back, ev) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", p.Kind(), back, ev)
		}
		if !strings.Contains(string(b), `"schema": 1`) || !strings.Contains(string(b), `"kind": "`+string(p.Kind())+`"`) {
			t.Errorf("%s: envelope lacks schema or kind", p.Kind())
		}
	}
	for _, k := range Kinds {
		if !kinds[k] {
			t.Errorf("no golden for kind %s", k)
		}
	}
	// Kind and Schema are filled from the payload when the producer left them empty.
	b, _ := json.Marshal(Event{Payload: SessionKeyRemoved{}})
	var back Event
	if err := json.Unmarshal(b, &back); err != nil || back.Kind != KindSessionKeyRemoved || back.Schema != SchemaVersion {
		t.Errorf("envelope defaults: %s %v", b, err)
	}
}

func TestUpdateWireGolden(t *testing.T) {
	for _, u := range everyUpdate() {
		b, err := MarshalUpdate(u)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: not JSON: %s", u.UpdateKind(), b)
		}
		checkGolden(t, "update_"+string(u.UpdateKind()), v)
		back, err := UnmarshalUpdate(b)
		if err != nil || !reflect.DeepEqual(back, u) {
			t.Errorf("%s: round trip %+v, %v", u.UpdateKind(), back, err)
		}
	}
}

func testKeyState() KeyState {
	p := DefaultPermissions()
	if err := p.ApplyAll(everyUpdate()[:8], 1_700_000_000); err != nil {
		panic(err)
	}
	return KeyState{Schema: SchemaVersion, ChainID: 8453, Plugin: SessionKeyPluginV101, Account: tAccount, SessionKey: tKey2,
		Status: StatusActive, Tag: tTag, Verified: true, RotatedFrom: tKey1, Permissions: p, AddedBlock: 100, AddedTime: 1_690_000_000,
		UpdatedBlock: 200, UpdatedTime: 1_700_000_000, LastEventID: tPos.ID()}
}

func TestKeyStateWireGolden(t *testing.T) {
	k := testKeyState()
	b := checkGolden(t, "key_state", k)
	var back KeyState
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&back); err != nil || !reflect.DeepEqual(back, k) {
		t.Errorf("round trip: %v\n got %+v\nwant %+v", err, back, k)
	}
	fresh := KeyState{Permissions: DefaultPermissions()}
	b, _ = json.Marshal(fresh)
	var fb KeyState
	if err := json.Unmarshal(b, &fb); err != nil || !reflect.DeepEqual(fb, fresh) {
		t.Errorf("default permissions do not round-trip: %s", b)
	}
}

func TestDecodeFailureWireGolden(t *testing.T) {
	f := DecodeFailure{Schema: SchemaVersion, Position: tPos, Emitter: SessionKeyPluginV101,
		Topics: []common.Hash{TopicPermissionsUpdated, common.BytesToHash(tAccount[:])}, Data: []byte{0, 0, 0, 0x20},
		Reason: "topic_count", Error: "decode topics: topic_count: PermissionsUpdated has 3 topics, log has 2"}
	b := checkGolden(t, "decode_failure", f)
	var back DecodeFailure
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, f) {
		t.Errorf("round trip: %v %+v", err, back)
	}
	if f.ID() != "8453:"+tPos.BlockHash.Hex()+":4294967295" {
		t.Errorf("ID = %s", f.ID())
	}
}

func TestEventWireRejects(t *testing.T) {
	ev := Event{Position: tPos, Emitter: SessionKeyPluginV101, Payload: everyPayload()[3]}
	good, _ := json.Marshal(ev)
	s := string(good)
	for name, bad := range map[string]string{
		"schema 2":           strings.Replace(s, `"schema":1`, `"schema":2`, 1),
		"no schema":          strings.Replace(s, `"schema":1,`, ``, 1),
		"unknown kind":       strings.Replace(s, `"kind":"permissions_updated"`, `"kind":"nope"`, 1),
		"unknown envelope":   strings.Replace(s, `"removed":false`, `"removed":false,"extra":1`, 1),
		"unknown data field": strings.Replace(s, `"account":`, `"extra":1,"account":`, 1),
		"bad checksum":       strings.Replace(s, tKey1.Hex(), "0xA"+tKey1.Hex()[3:], 1),
		"unknown update":     strings.Replace(s, `"type":"set_access_list_type"`, `"type":"nope"`, 1),
		"negative limit":     strings.Replace(s, `"limit":"1000000"`, `"limit":"-1"`, 1),
		"limit 2^256":        strings.Replace(s, `"limit":"1000000"`, `"limit":"115792089237316195423570985008687907853269984665640564039457584007913129639936"`, 1),
		"update extra field": strings.Replace(s, `"type":"set_required_paymaster",`, `"type":"set_required_paymaster","x":1,`, 1),
	} {
		if bad == s {
			t.Fatalf("%s: replacement did not apply", name)
		}
		var e Event
		if err := json.Unmarshal([]byte(bad), &e); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
