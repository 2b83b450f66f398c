package events

import (
	"errors"
	"fmt"
)

// ErrInconsistentEvent marks an event that cannot follow the state folded so far (a duplicate
// add, a removal of an unknown key). It happens when indexing starts after a key's history
// began; callers record it and re-read the key from the chain.
var ErrInconsistentEvent = errors.New("event inconsistent with folded state")

// AccountKeys folds the Session Key Plugin events of one (chain, plugin, account) into the
// state of each key, and keeps the active keys in the order sessionKeysOf returns them
// (newest first; a rotated key moves to the head).
type AccountKeys struct {
	ChainID   uint64
	Plugin    Address
	Account   Address
	Installed bool
	keys      map[Address]*KeyState
	order     []Address
}

// NewAccountKeys returns an empty fold.
func NewAccountKeys(chainID uint64, plugin, account Address) *AccountKeys {
	return &AccountKeys{ChainID: chainID, Plugin: plugin, Account: account, keys: map[Address]*KeyState{}}
}

// Active returns the active keys, newest first, as sessionKeysOf orders them.
func (a *AccountKeys) Active() []KeyState {
	out := make([]KeyState, 0, len(a.order))
	for _, k := range a.order {
		out = append(out, a.keys[k].Clone())
	}
	return out
}

// Key returns the last known state of key (active or not).
func (a *AccountKeys) Key(key Address) (KeyState, bool) {
	k, ok := a.keys[key]
	if !ok {
		return KeyState{}, false
	}
	return k.Clone(), true
}

// Predecessor returns the bytes32 predecessor of an active key as findPredecessor does: the
// sentinel 0x…01 for the head, else the previous key left-aligned.
func (a *AccountKeys) Predecessor(key Address) ([32]byte, error) {
	var out [32]byte
	for i, k := range a.order {
		if k == key {
			if i == 0 {
				out[31] = 1
			} else {
				copy(out[:20], a.order[i-1][:])
			}
			return out, nil
		}
	}
	return out, fmt.Errorf("predecessor of %s: not an active key", key)
}

// Restore sets the fold from stored key states (for example read back from storage at start).
// order lists the active keys newest first; keys not in states are ignored.
func (a *AccountKeys) Restore(installed bool, states []KeyState, order []Address) {
	a.Installed = installed
	a.keys = make(map[Address]*KeyState, len(states))
	for i := range states {
		s := states[i].Clone()
		a.keys[s.SessionKey] = &s
	}
	a.order = a.order[:0]
	for _, k := range order {
		if s, ok := a.keys[k]; ok && s.Status == StatusActive {
			a.order = append(a.order, k)
		}
	}
}

func (a *AccountKeys) unlink(key Address) bool {
	for i, k := range a.order {
		if k == key {
			a.order = append(a.order[:i], a.order[i+1:]...)
			return true
		}
	}
	return false
}

func (a *AccountKeys) pushHead(key Address) {
	a.order = append(a.order, ZeroAddress)
	copy(a.order[1:], a.order)
	a.order[0] = key
}

func (a *AccountKeys) active(key Address) (*KeyState, bool) {
	k, ok := a.keys[key]
	return k, ok && k.Status == StatusActive
}

// Apply folds one event in chain order and returns the key states it changed. Events of
// other accounts or plugins, and kinds that do not touch keys, change nothing. Retracted
// events (Removed) must not be applied: a reorg is handled by refolding what survives.
func (a *AccountKeys) Apply(e Event) ([]KeyState, error) {
	if e.Removed {
		return nil, fmt.Errorf("apply %s: retracted event", e.ID())
	}
	if e.Payload == nil || e.Account() != a.Account {
		return nil, nil
	}
	if e.Payload.Kind().IsPluginEvent() && e.Emitter != a.Plugin { // the payload, not e.Kind: it may be unset
		return nil, nil
	}
	switch p := e.Payload.(type) {
	case SessionKeyAdded:
		if _, ok := a.active(p.SessionKey); ok || p.SessionKey.IsZero() {
			return nil, fmt.Errorf("apply %s: add of key %s: %w", e.ID(), p.SessionKey, ErrInconsistentEvent)
		}
		k := &KeyState{Schema: SchemaVersion, ChainID: a.ChainID, Plugin: a.Plugin, Account: a.Account,
			SessionKey: p.SessionKey, Status: StatusActive, Tag: p.Tag, Verified: a.Installed,
			Permissions: DefaultPermissions(), AddedBlock: e.BlockNumber, AddedTime: e.BlockTime}
		k.touch(e)
		a.keys[p.SessionKey] = k
		a.pushHead(p.SessionKey)
		return []KeyState{k.Clone()}, nil
	case SessionKeyRemoved:
		k, ok := a.active(p.SessionKey)
		if !ok {
			return nil, fmt.Errorf("apply %s: removal of key %s: %w", e.ID(), p.SessionKey, ErrInconsistentEvent)
		}
		a.unlink(p.SessionKey)
		k.Status = StatusRemoved
		k.touch(e)
		return []KeyState{k.Clone()}, nil
	case SessionKeyRotated:
		old, ok := a.active(p.OldSessionKey)
		if !ok {
			return nil, fmt.Errorf("apply %s: rotation of key %s: %w", e.ID(), p.OldSessionKey, ErrInconsistentEvent)
		}
		if p.OldSessionKey == p.NewSessionKey {
			// Allowed on chain: the key moves to the head, nothing else changes.
			a.unlink(p.OldSessionKey)
			a.pushHead(p.NewSessionKey)
			old.touch(e)
			return []KeyState{old.Clone()}, nil
		}
		if _, dup := a.active(p.NewSessionKey); dup || p.NewSessionKey.IsZero() {
			return nil, fmt.Errorf("apply %s: rotation into key %s: %w", e.ID(), p.NewSessionKey, ErrInconsistentEvent)
		}
		nk := old.Clone()
		nk.SessionKey = p.NewSessionKey
		nk.RotatedFrom = p.OldSessionKey
		nk.RotatedTo = ZeroAddress
		nk.touch(e)
		old.Status = StatusRotatedAway
		old.RotatedTo = p.NewSessionKey
		old.touch(e)
		a.keys[p.NewSessionKey] = &nk
		a.unlink(p.OldSessionKey)
		a.pushHead(p.NewSessionKey)
		return []KeyState{old.Clone(), nk.Clone()}, nil
	case PermissionsUpdated:
		k, ok := a.active(p.SessionKey)
		if !ok {
			return nil, fmt.Errorf("apply %s: permissions of key %s: %w", e.ID(), p.SessionKey, ErrInconsistentEvent)
		}
		if err := k.Permissions.ApplyAll(p.Updates, e.BlockTime); err != nil {
			return nil, fmt.Errorf("apply %s: %w", e.ID(), err)
		}
		k.touch(e)
		return []KeyState{k.Clone()}, nil
	case PluginInstalled:
		if p.Plugin != a.Plugin {
			return nil, nil
		}
		a.Installed = true
		return a.setVerified(true, e), nil
	case PluginUninstalled:
		if p.Plugin != a.Plugin {
			return nil, nil
		}
		a.Installed = false
		// A successful uninstall emitted SessionKeyRemoved for every key first. A forced uninstall
		// whose callback failed leaves keys in plugin storage that the account no longer routes to.
		return a.setVerified(false, e), nil
	}
	return nil, nil
}

func (a *AccountKeys) setVerified(v bool, e Event) []KeyState {
	var changed []KeyState
	for _, key := range a.order {
		k := a.keys[key]
		if k.Verified != v {
			k.Verified = v
			k.touch(e)
			changed = append(changed, k.Clone())
		}
	}
	return changed
}
