package conformance_test

import (
	"fmt"
	"testing"

	"github.com/keywarden/keywarden/internal/sdkvectors"
	"github.com/keywarden/keywarden/pkg/decoder"
	"github.com/keywarden/keywarden/pkg/events"
)

// kindOf maps the SDK's event names to keywarden's kinds.
var kindOf = map[string]events.Kind{
	"SessionKeyAdded":    events.KindSessionKeyAdded,
	"SessionKeyRemoved":  events.KindSessionKeyRemoved,
	"SessionKeyRotated":  events.KindSessionKeyRotated,
	"PermissionsUpdated": events.KindPermissionsUpdated,
	"PluginInstalled":    events.KindPluginInstalled,
	"PluginUninstalled":  events.KindPluginUninstalled,
	"OwnerUpdated":       events.KindOwnerUpdated,
	"UserOperationEvent": events.KindUserOperation,
}

// TestLogs decodes every SDK-encoded log and compares the event with the arguments it was
// encoded from, and its position with the log's.
func TestLogs(t *testing.T) {
	v := sdkvectors.Load(t)
	if n := len(v.Logs); n < minLogVectors {
		t.Fatalf("%d log vectors, want at least %d", n, minLogVectors)
	}
	perms := map[string]sdkvectors.Permission{}
	for _, p := range v.Permissions {
		perms[p.ID] = p
	}
	m := newMismatches(t)
	seen := map[events.Kind]int{}
	for _, l := range v.Logs {
		want, ok := kindOf[l.Event]
		if !ok {
			t.Fatalf("%s: vector for unknown event %q", l.ID, l.Event)
		}
		pos := l.Position
		ev, err := decoder.Decode(l.TypesLog(), decoder.Meta{ChainID: pos.ChainID, BlockTime: pos.BlockTime, ParentHash: pos.ParentHash})
		if err != nil {
			m.addf("%s (%s): Decode: %v", l.ID, l.Event, err)
			continue
		}
		seen[ev.Kind]++
		where := l.ID + " (" + l.Event + ")"
		m.eq(where, "kind", ev.Kind, want)
		m.eq(where, "schema", ev.Schema, events.SchemaVersion)
		m.eq(where, "emitter", ev.Emitter, l.Address)
		m.eq(where, "verified", ev.Verified, false)
		m.eq(where, "position", fmt.Sprintf("%+v", ev.Position), fmt.Sprintf("%+v", events.Position{
			ChainID: pos.ChainID, BlockNumber: pos.BlockNumber, BlockHash: pos.BlockHash, ParentHash: pos.ParentHash,
			BlockTime: pos.BlockTime, TxHash: pos.TxHash, TxIndex: uint64(pos.TxIndex), LogIndex: uint64(pos.LogIndex),
			Removed: pos.Removed,
		}))
		checkPayload(m, where, ev.Payload, l, perms)
	}
	for _, k := range events.Kinds {
		if seen[k] == 0 {
			t.Errorf("no %s vector decoded", k)
		}
	}
	m.done(fmt.Sprintf("logs %v", seen), len(v.Logs))
}

func checkPayload(m *mismatches, where string, p events.Payload, l sdkvectors.Log, perms map[string]sdkvectors.Permission) {
	m.t.Helper()
	a := l.Args
	switch x := p.(type) {
	case events.SessionKeyAdded:
		m.eq(where, "account", x.Account, a.Account)
		m.eq(where, "sessionKey", x.SessionKey, a.SessionKey)
		m.eq(where, "tag", x.Tag, a.Tag)
	case events.SessionKeyRemoved:
		m.eq(where, "account", x.Account, a.Account)
		m.eq(where, "sessionKey", x.SessionKey, a.SessionKey)
	case events.SessionKeyRotated:
		m.eq(where, "account", x.Account, a.Account)
		m.eq(where, "oldSessionKey", x.OldSessionKey, a.OldSessionKey)
		m.eq(where, "newSessionKey", x.NewSessionKey, a.NewSessionKey)
	case events.PermissionsUpdated:
		m.eq(where, "account", x.Account, a.Account)
		m.eq(where, "sessionKey", x.SessionKey, a.SessionKey)
		var want []events.Update
		if l.PermissionsID != nil {
			p, ok := perms[*l.PermissionsID]
			if !ok {
				m.addf("%s: names unknown permissions vector %s", where, *l.PermissionsID)
			}
			want = sdkOrder(p.Config())
		}
		// The decoded updates must equal what the same bytes decode to on their own, the builder's
		// inputs (when the list came from one builder) and the SDK's per-element decoding.
		direct := checkUpdates(m, where, a.Updates, l.Elements, want)
		if len(direct) != len(x.Updates) {
			m.addf("%s: event carries %d updates, its bytes[] has %d", where, len(x.Updates), len(direct))
			return
		}
		for i := range direct {
			if fmt.Sprintf("%#v", x.Updates[i]) != fmt.Sprintf("%#v", direct[i]) {
				m.addf("%s: update %d = %#v, DecodeUpdates says %#v", where, i, x.Updates[i], direct[i])
			}
		}
	case events.PluginInstalled:
		m.eq(where, "account", x.Account, a.Account)
		m.eq(where, "plugin", x.Plugin, a.Plugin)
		m.eq(where, "manifestHash", x.ManifestHash, a.ManifestHash)
		m.eq(where, "dependencies", x.Dependencies, a.Dependencies)
	case events.PluginUninstalled:
		m.eq(where, "account", x.Account, a.Account)
		m.eq(where, "plugin", x.Plugin, a.Plugin)
		m.eq(where, "onUninstallSucceeded", x.OnUninstallSucceeded, a.OnUninstallSucceeded)
	case events.OwnerUpdated:
		m.eq(where, "account", x.Account, a.Account)
		m.eq(where, "addedOwners", x.AddedOwners, a.AddedOwners)
		m.eq(where, "removedOwners", x.RemovedOwners, a.RemovedOwners)
	case events.UserOperationEvent:
		m.eq(where, "userOpHash", x.UserOpHash, a.UserOpHash)
		m.eq(where, "sender", x.Sender, a.Sender)
		m.eq(where, "paymaster", x.Paymaster, a.Paymaster)
		m.eq(where, "nonce", x.Nonce, a.Nonce)
		m.eq(where, "success", x.Success, a.Success)
		m.eq(where, "actualGasCost", x.ActualGasCost, a.ActualGasCost)
		m.eq(where, "actualGasUsed", x.ActualGasUsed, a.ActualGasUsed)
	default:
		m.addf("%s: payload of type %T", where, p)
	}
}
