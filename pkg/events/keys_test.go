package events

import (
	"errors"
	"reflect"
	"testing"

	"math/big"

	"github.com/ethereum/go-ethereum/common"
)

// keyFold drives an AccountKeys with events in chain order, one block per event.
type keyFold struct {
	t     *testing.T
	a     *AccountKeys
	block uint64
}

func newKeyFold(t *testing.T) *keyFold {
	return &keyFold{t: t, a: NewAccountKeys(8453, SessionKeyPluginV101, tAccount), block: 100}
}

func (f *keyFold) event(emitter Address, p Payload) Event {
	f.block++
	return Event{Schema: SchemaVersion, Kind: p.Kind(), Emitter: emitter, Payload: p,
		Position: Position{ChainID: 8453, BlockNumber: f.block, BlockHash: common.BigToHash(new(big.Int).SetUint64(f.block)),
			BlockTime: now + f.block*12, LogIndex: 0}}
}

func (f *keyFold) apply(emitter Address, p Payload) []KeyState {
	f.t.Helper()
	changed, err := f.a.Apply(f.event(emitter, p))
	if err != nil {
		f.t.Fatalf("apply %T: %v", p, err)
	}
	return changed
}

func (f *keyFold) plugin(p Payload) []KeyState { f.t.Helper(); return f.apply(SessionKeyPluginV101, p) }

func (f *keyFold) order() []Address {
	var out []Address
	for _, k := range f.a.Active() {
		out = append(out, k.SessionKey)
	}
	return out
}

func (f *keyFold) key(k Address) KeyState {
	f.t.Helper()
	s, ok := f.a.Key(k)
	if !ok {
		f.t.Fatalf("no state for %s", k)
	}
	return s
}

var (
	kA = HexToAddress("0x000000000000000000000000000000000000000a")
	kB = HexToAddress("0x000000000000000000000000000000000000000b")
	kC = HexToAddress("0x000000000000000000000000000000000000000c")
	kD = HexToAddress("0x000000000000000000000000000000000000000d")
)

func sentinel() [32]byte { var s [32]byte; s[31] = 1; return s }
func leftAligned(a Address) [32]byte {
	var s [32]byte
	copy(s[:], a[:])
	return s
}

func TestAccountKeysAddOrderAndPredecessor(t *testing.T) {
	f := newKeyFold(t)
	changed := f.plugin(SessionKeyAdded{Account: tAccount, SessionKey: kA, Tag: tTag})
	if len(changed) != 1 {
		t.Fatalf("changed = %d", len(changed))
	}
	a := changed[0]
	if a.Status != StatusActive || a.Tag != tTag || a.Verified || !reflect.DeepEqual(a.Permissions, DefaultPermissions()) ||
		a.AddedBlock != 101 || a.UpdatedBlock != 101 || a.ChainID != 8453 || a.Plugin != SessionKeyPluginV101 || a.Account != tAccount {
		t.Errorf("new key state: %+v", a)
	}
	f.plugin(SessionKeyAdded{Account: tAccount, SessionKey: kB})
	f.plugin(SessionKeyAdded{Account: tAccount, SessionKey: kC})
	// sessionKeysOf: newest first.
	if got := f.order(); !reflect.DeepEqual(got, []Address{kC, kB, kA}) {
		t.Fatalf("order = %v", got)
	}
	// findPredecessor: sentinel for the head, else the previous key left-aligned.
	for key, want := range map[Address][32]byte{kC: sentinel(), kB: leftAligned(kC), kA: leftAligned(kB)} {
		got, err := f.a.Predecessor(key)
		if err != nil || got != want {
			t.Errorf("Predecessor(%s) = %x, %v; want %x", key, got, err, want)
		}
	}
	if _, err := f.a.Predecessor(kD); err == nil {
		t.Error("predecessor of an unknown key")
	}
}

func TestAccountKeysPermissionsUseBlockTime(t *testing.T) {
	f := newKeyFold(t)
	f.plugin(SessionKeyAdded{Account: tAccount, SessionKey: kA})
	ev := f.event(SessionKeyPluginV101, PermissionsUpdated{Account: tAccount, SessionKey: kA, Updates: []Update{
		SetNativeTokenSpendLimit{Limit: U256From64(10), RefreshInterval: 3600},
		SetGasSpendLimit{Limit: U256From64(10)},
	}})
	changed, err := f.a.Apply(ev)
	if err != nil || len(changed) != 1 {
		t.Fatal(err)
	}
	p := changed[0].Permissions
	if p.NativeLimit != limit(true, U256From64(10), 3600, ev.BlockTime) || p.GasLimit != limit(true, U256From64(10), 0, 0) {
		t.Errorf("lastUsed must be the block time when the interval is non-zero: %+v %+v", p.NativeLimit, p.GasLimit)
	}
	if changed[0].LastEventID != ev.ID() || changed[0].UpdatedTime != ev.BlockTime {
		t.Errorf("touch: %+v", changed[0])
	}
	// An empty update list (updateKeyPermissions with []) is legal and changes nothing but the touch.
	f.plugin(PermissionsUpdated{Account: tAccount, SessionKey: kA, Updates: []Update{}})
	if !reflect.DeepEqual(f.key(kA).Permissions, p) {
		t.Error("empty updates changed permissions")
	}
}

func TestAccountKeysRemovalAndReAdd(t *testing.T) {
	f := newKeyFold(t)
	f.plugin(SessionKeyAdded{Account: tAccount, SessionKey: kA, Tag: tTag})
	f.plugin(SessionKeyAdded{Account: tAccount, SessionKey: kB})
	f.plugin(PermissionsUpdated{Account: tAccount, SessionKey: kA, Updates: []Update{SetAccessListType{Type: AccessAllowAll}, UpdateTimeRange{ValidUntil: 5}}})
	changed := f.plugin(SessionKeyRemoved{Account: tAccount, SessionKey: kA})
	if len(changed) != 1 || changed[0].Status != StatusRemoved {
		t.Fatalf("removal: %+v", changed)
	}
	if got := f.order(); !reflect.DeepEqual(got, []Address{kB}) {
		t.Errorf("order after removal = %v", got)
	}
	if _, err := f.a.Predecessor(kA); err == nil {
		t.Error("a removed key has no predecessor")
	}
	if s := f.key(kA); s.Status != StatusRemoved || s.Permissions.AccessControlType != AccessAllowAll {
		t.Errorf("the removed key's last state is kept for history: %+v", s)
	}
	// Re-adding the same address starts from the defaults (a new key id on chain), at the head.
	f.plugin(SessionKeyAdded{Account: tAccount, SessionKey: kA})
	s := f.key(kA)
	if s.Status != StatusActive || !reflect.DeepEqual(s.Permissions, DefaultPermissions()) || s.Tag != (common.Hash{}) || s.AddedBlock != f.block {
		t.Errorf("re-added key: %+v", s)
	}
	if got := f.order(); !reflect.DeepEqual(got, []Address{kA, kB}) {
		t.Errorf("order after re-add = %v", got)
	}
}

func TestAccountKeysRotation(t *testing.T) {
	f := newKeyFold(t)
	f.plugin(SessionKeyAdded{Account: tAccount, SessionKey: kA, Tag: tTag})
	f.plugin(SessionKeyAdded{Account: tAccount, SessionKey: kB})
	f.plugin(SessionKeyAdded{Account: tAccount, SessionKey: kC})
	f.plugin(PermissionsUpdated{Account: tAccount, SessionKey: kA, Updates: []Update{
		SetAccessListType{Type: AccessAllowAll}, UpdateTimeRange{ValidAfter: 1, ValidUntil: 2},
		SetNativeTokenSpendLimit{Limit: U256From64(7), RefreshInterval: 60}}})
	before := f.key(kA)
	// order is C, B, A; rotating A (the tail) into D puts D at the head.
	changed := f.plugin(SessionKeyRotated{Account: tAccount, OldSessionKey: kA, NewSessionKey: kD})
	if len(changed) != 2 {
		t.Fatalf("changed = %+v", changed)
	}
	if got := f.order(); !reflect.DeepEqual(got, []Address{kD, kC, kB}) {
		t.Errorf("order after rotation = %v", got)
	}
	d, a := f.key(kD), f.key(kA)
	if !reflect.DeepEqual(d.Permissions, before.Permissions) || d.Status != StatusActive || d.RotatedFrom != kA || d.Tag != tTag {
		t.Errorf("the new key carries the permissions (time range included) and the tag: %+v", d)
	}
	if a.Status != StatusRotatedAway || a.RotatedTo != kD {
		t.Errorf("old key: %+v", a)
	}
	if p, _ := f.a.Predecessor(kB); p != leftAligned(kC) {
		t.Errorf("predecessor after rotation = %x", p)
	}
	// The old address added again later starts from the defaults.
	f.plugin(SessionKeyAdded{Account: tAccount, SessionKey: kA})
	if s := f.key(kA); !reflect.DeepEqual(s.Permissions, DefaultPermissions()) || s.RotatedTo != ZeroAddress || s.Status != StatusActive {
		t.Errorf("re-added rotated-away key: %+v", s)
	}
}

func TestAccountKeysRotateIntoItself(t *testing.T) {
	f := newKeyFold(t)
	f.plugin(SessionKeyAdded{Account: tAccount, SessionKey: kA})
	f.plugin(SessionKeyAdded{Account: tAccount, SessionKey: kB})
	f.plugin(PermissionsUpdated{Account: tAccount, SessionKey: kA, Updates: []Update{SetAccessListType{Type: AccessDenylist}}})
	before := f.key(kA)
	changed := f.plugin(SessionKeyRotated{Account: tAccount, OldSessionKey: kA, NewSessionKey: kA})
	if len(changed) != 1 {
		t.Fatalf("changed = %+v", changed)
	}
	after := f.key(kA)
	if !reflect.DeepEqual(after.Permissions, before.Permissions) || after.Status != StatusActive || after.RotatedFrom != ZeroAddress {
		t.Errorf("rotate into itself changed the key: %+v", after)
	}
	if got := f.order(); !reflect.DeepEqual(got, []Address{kA, kB}) {
		t.Errorf("rotating into itself moves the key to the head: %v", got)
	}
}

func TestAccountKeysVerifiedByInstall(t *testing.T) {
	f := newKeyFold(t)
	// Plugin install: the plugin's SessionKeyAdded logs come before the account's PluginInstalled.
	f.plugin(SessionKeyAdded{Account: tAccount, SessionKey: kA})
	f.plugin(SessionKeyAdded{Account: tAccount, SessionKey: kB})
	if f.key(kA).Verified || f.a.Installed {
		t.Fatal("keys are unverified before PluginInstalled")
	}
	// Another plugin's install, or an install on another account, changes nothing.
	if ch := f.apply(tAccount, PluginInstalled{Account: tAccount, Plugin: MultiOwnerPlugin}); ch != nil || f.a.Installed {
		t.Errorf("other plugin install: %+v", ch)
	}
	if ch := f.apply(tKey1, PluginInstalled{Account: tKey1, Plugin: SessionKeyPluginV101}); ch != nil || f.a.Installed {
		t.Errorf("other account's install: %+v", ch)
	}
	changed := f.apply(tAccount, PluginInstalled{Account: tAccount, Plugin: SessionKeyPluginV101})
	if len(changed) != 2 || !changed[0].Verified || !changed[1].Verified || !f.a.Installed {
		t.Fatalf("install flips Verified: %+v", changed)
	}
	f.plugin(SessionKeyAdded{Account: tAccount, SessionKey: kC})
	if !f.key(kC).Verified {
		t.Error("keys added after install are verified")
	}
	// A forced uninstall (no SessionKeyRemoved) unverifies what is left.
	changed = f.apply(tAccount, PluginUninstalled{Account: tAccount, Plugin: SessionKeyPluginV101})
	if len(changed) != 3 || changed[0].Verified || f.a.Installed {
		t.Errorf("uninstall: %+v", changed)
	}
}

func TestAccountKeysIgnoresOthers(t *testing.T) {
	f := newKeyFold(t)
	f.plugin(SessionKeyAdded{Account: tAccount, SessionKey: kA})
	// Other account.
	if ch := f.plugin(SessionKeyRemoved{Account: tKey1, SessionKey: kA}); ch != nil {
		t.Error("event of another account applied")
	}
	// The same event from another emitter (not our plugin), with and without Kind set.
	if ch := f.apply(SessionKeyPluginV100, SessionKeyRemoved{Account: tAccount, SessionKey: kA}); ch != nil {
		t.Error("event of the other plugin version applied")
	}
	ev := f.event(tTarget, SessionKeyRemoved{Account: tAccount, SessionKey: kA})
	ev.Kind = ""
	if ch, err := f.a.Apply(ev); ch != nil || err != nil {
		t.Errorf("event from a foreign emitter without Kind applied: %v %v", ch, err)
	}
	// Kinds that do not touch keys.
	if ch := f.apply(tAccount, OwnerUpdated{Account: tAccount}); ch != nil {
		t.Error("OwnerUpdated changed keys")
	}
	if ch := f.apply(EntryPointV06, UserOperationEvent{Sender: tAccount}); ch != nil {
		t.Error("UserOperationEvent changed keys")
	}
	if got := f.order(); !reflect.DeepEqual(got, []Address{kA}) {
		t.Errorf("order = %v", got)
	}
}

func TestAccountKeysInconsistentAndRejected(t *testing.T) {
	f := newKeyFold(t)
	f.plugin(SessionKeyAdded{Account: tAccount, SessionKey: kA})
	f.plugin(SessionKeyAdded{Account: tAccount, SessionKey: kB})
	snapshot := func() ([]KeyState, KeyState) { return f.a.Active(), f.key(kA) }
	act0, a0 := snapshot()
	for name, p := range map[string]Payload{
		"duplicate add":          SessionKeyAdded{Account: tAccount, SessionKey: kA},
		"add zero":               SessionKeyAdded{Account: tAccount},
		"remove unknown":         SessionKeyRemoved{Account: tAccount, SessionKey: kC},
		"rotate unknown":         SessionKeyRotated{Account: tAccount, OldSessionKey: kC, NewSessionKey: kD},
		"rotate into active key": SessionKeyRotated{Account: tAccount, OldSessionKey: kA, NewSessionKey: kB},
		"rotate into zero":       SessionKeyRotated{Account: tAccount, OldSessionKey: kA},
		"permissions of unknown": PermissionsUpdated{Account: tAccount, SessionKey: kC},
	} {
		_, err := f.a.Apply(f.event(SessionKeyPluginV101, p))
		if !errors.Is(err, ErrInconsistentEvent) {
			t.Errorf("%s: err = %v", name, err)
		}
		if act, a := snapshot(); !reflect.DeepEqual(act, act0) || !reflect.DeepEqual(a, a0) {
			t.Errorf("%s changed the state", name)
		}
	}
	_, err := f.a.Apply(f.event(SessionKeyPluginV101, PermissionsUpdated{Account: tAccount, SessionKey: kA,
		Updates: []Update{SetAccessListType{Type: AccessAllowAll}, SetAccessListType{Type: 7}}}))
	if !errors.Is(err, ErrRejectedUpdate) {
		t.Errorf("rejected update: err = %v", err)
	}
	if act, a := snapshot(); !reflect.DeepEqual(act, act0) || !reflect.DeepEqual(a, a0) {
		t.Error("rejected update changed the state")
	}
	ev := f.event(SessionKeyPluginV101, SessionKeyRemoved{Account: tAccount, SessionKey: kA})
	ev.Removed = true
	if _, err := f.a.Apply(ev); err == nil {
		t.Error("a retracted event must not be applied")
	}
}

func TestAccountKeysRestore(t *testing.T) {
	f := newKeyFold(t)
	f.plugin(SessionKeyAdded{Account: tAccount, SessionKey: kA})
	f.plugin(SessionKeyAdded{Account: tAccount, SessionKey: kB})
	f.plugin(SessionKeyRemoved{Account: tAccount, SessionKey: kA})
	f.apply(tAccount, PluginInstalled{Account: tAccount, Plugin: SessionKeyPluginV101})
	states := []KeyState{f.key(kA), f.key(kB)}
	r := NewAccountKeys(8453, SessionKeyPluginV101, tAccount)
	r.Restore(true, states, []Address{kA, kB, kC})
	if !reflect.DeepEqual(r.Active(), f.a.Active()) || !r.Installed {
		t.Errorf("restored active = %+v", r.Active())
	}
	// The restored fold continues like the original.
	ev := f.event(SessionKeyPluginV101, SessionKeyAdded{Account: tAccount, SessionKey: kA})
	c1, e1 := f.a.Apply(ev)
	c2, e2 := r.Apply(ev)
	if e1 != nil || e2 != nil || !reflect.DeepEqual(c1, c2) {
		t.Errorf("restored fold diverges: %v %v", e1, e2)
	}
}
