package store

import (
	"reflect"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/keywarden/keywarden/pkg/events"
)

// fullKeyState sets every field of a KeyState to a value other than its zero value.
func fullKeyState() events.KeyState {
	return events.KeyState{
		Schema: events.SchemaVersion, ChainID: chain, Plugin: plugin, Account: account, SessionKey: key2,
		Status: events.StatusActive, Tag: common.HexToHash("0x7a9"), Verified: true,
		RotatedFrom: key1, RotatedTo: target,
		Permissions: events.Permissions{
			AccessControlType: events.AccessDenylist,
			AccessList: []events.AccessEntry{{Target: target, IsOnList: true, CheckSelectors: true},
				{Target: token, IsOnList: true, CheckSelectors: false}},
			FunctionList: []events.FunctionEntry{{Target: target, Selector: events.Selector{0xa9, 0x05, 0x9c, 0xbb}, IsOnList: true}},
			ValidAfter:   1, ValidUntil: 2,
			NativeLimit: events.SpendLimit{HasLimit: true, Limit: events.U256From64(7), RefreshInterval: 60, LastUsedTime: 99},
			ERC20Limits: []events.TokenLimit{{Token: token, SpendLimit: events.SpendLimit{HasLimit: true,
				Limit: events.MaxU256, RefreshInterval: 86400, LastUsedTime: 5}},
				{Token: target, SpendLimit: events.SpendLimit{HasLimit: false, Limit: events.U256From64(3), RefreshInterval: 10, LastUsedTime: 11}}},
			GasLimit:          events.SpendLimit{HasLimit: true, Limit: events.U256From64(1e18), RefreshInterval: 3600, LastUsedTime: 4},
			RequiredPaymaster: token,
		},
		AddedBlock: 11, AddedTime: 1_700_000_132, UpdatedBlock: 12, UpdatedTime: 1_700_000_144,
		LastEventID: pos(12, 0).ID(),
	}
}

// assertNoZeroField fails for any field (recursively, slices element-wise) left at its zero
// value, so that a field added to KeyState later cannot be missed by the round-trip tests.
func assertNoZeroField(t *testing.T, path string, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(events.U256{}) {
			if v.IsZero() {
				t.Errorf("%s is zero", path)
			}
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			assertNoZeroField(t, path+"."+v.Type().Field(i).Name, v.Field(i))
		}
	case reflect.Slice:
		if v.Len() == 0 {
			t.Errorf("%s is empty", path)
		}
		for i := 0; i < v.Len(); i++ {
			assertNoZeroField(t, path, v.Index(i))
		}
	case reflect.Bool:
		// false is a legitimate value: covered because the fixture sets both somewhere.
	default:
		if v.IsZero() {
			t.Errorf("%s is zero", path)
		}
	}
}

func TestKeyStateMappingIsComplete(t *testing.T) {
	k := fullKeyState()
	assertNoZeroField(t, "KeyState", reflect.ValueOf(k))
	got, err := fromKeyStateRow(toKeyStateRow(k, 1))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, k) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, k)
	}
	def := events.KeyState{Permissions: events.DefaultPermissions()}
	got, err = fromKeyStateRow(toKeyStateRow(def, 1))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, def) {
		t.Fatalf("default round trip differs:\n got %+v\nwant %+v", got, def)
	}
}

func TestRowStructsMatchTables(t *testing.T) {
	for _, tbl := range versionedTables {
		seen := map[string]bool{}
		for _, c := range tbl.columns {
			if c == "" || seen[c] {
				t.Errorf("%s: empty or duplicate column %q", tbl.name, c)
			}
			seen[c] = true
		}
	}
}

func TestFromKeyStateRowRejectsBadRows(t *testing.T) {
	r := toKeyStateRow(fullKeyState(), 1)
	r.AccessIsOnList = r.AccessIsOnList[:1]
	if _, err := fromKeyStateRow(r); err == nil {
		t.Error("parallel arrays of different lengths accepted")
	}
	r = toKeyStateRow(fullKeyState(), 1)
	r.NativeLimit = "-1"
	if _, err := fromKeyStateRow(r); err == nil {
		t.Error("negative limit accepted")
	}
	r = toKeyStateRow(fullKeyState(), 1)
	r.Account = "0xnope"
	if _, err := fromKeyStateRow(r); err == nil {
		t.Error("bad address accepted")
	}
}
