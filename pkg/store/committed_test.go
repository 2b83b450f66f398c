package store

import (
	"context"
	"reflect"
	"testing"

	"github.com/keywarden/keywarden/pkg/events"
)

// Committed reads see the state as of the last checkpoint: a batch written after it (a crash
// before SetCheckpoint) stays invisible until the next checkpoint covers it.
func TestCommittedReadsStopAtCheckpoint(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	e1, e2, e3 := added(1, 0, key1), added(2, 0, key2), added(3, 0, target)
	k := fullKeyState()
	acct := Account{ChainID: chain, Account: account, InstalledPlugins: []events.Address{plugin}, Owners: []events.Address{}}

	// Nothing is committed before the first checkpoint.
	if err := s.WriteBatch(ctx, Batch{Events: []events.Event{e1, e2}, KeyStates: []events.KeyState{k}, Accounts: []Account{acct}}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountEvents(ctx, EventFilter{ChainID: chain, Committed: true}); err != nil || n != 0 {
		t.Fatalf("committed events before any checkpoint = %d, %v", n, err)
	}
	if err := s.SetCheckpoint(ctx, Checkpoint{ChainID: chain, Number: 2, Hash: hashN(2)}); err != nil {
		t.Fatal(err)
	}

	// The batch after the checkpoint: a retraction, a new event, a key removed, the plugin gone.
	r2 := e2
	r2.Removed = true
	k2 := k.Clone()
	k2.Status = events.StatusRemoved
	acct2 := acct
	acct2.InstalledPlugins = []events.Address{}
	if err := s.WriteBatch(ctx, Batch{Events: []events.Event{r2, e3}, KeyStates: []events.KeyState{k2}, Accounts: []Account{acct2}}); err != nil {
		t.Fatal(err)
	}

	check := func(committed bool, wantEvents []events.Event, wantStatus events.KeyStatus, wantInstalled int) {
		t.Helper()
		got, err := s.Events(ctx, EventFilter{ChainID: chain, Committed: committed})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, wantEvents) {
			t.Errorf("committed=%v: events %v, want %v", committed, ids(got), ids(wantEvents))
		}
		if n, err := s.CountEvents(ctx, EventFilter{ChainID: chain, Committed: committed}); err != nil || n != uint64(len(wantEvents)) {
			t.Errorf("committed=%v: CountEvents = %d, %v", committed, n, err)
		}
		keys, err := s.KeyStates(ctx, KeyFilter{ChainID: chain, Committed: committed})
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 1 || keys[0].Status != wantStatus {
			t.Errorf("committed=%v: keys %+v, want status %s", committed, keys, wantStatus)
		}
		want := k
		if wantStatus != k.Status {
			want = k2
		}
		if len(keys) == 1 && !reflect.DeepEqual(keys[0], want) {
			t.Errorf("committed=%v: key state differs from what was written:\n got %+v\nwant %+v", committed, keys[0], want)
		}
		accts, err := s.Accounts(ctx, AccountFilter{ChainID: chain, Plugin: plugin, Committed: committed})
		if err != nil {
			t.Fatal(err)
		}
		if len(accts) != wantInstalled {
			t.Errorf("committed=%v: accounts with the plugin = %+v", committed, accts)
		}
	}
	check(true, []events.Event{e1, e2}, events.StatusActive, 1)
	check(false, []events.Event{e1, e3}, events.StatusRemoved, 0)

	if err := s.SetCheckpoint(ctx, Checkpoint{ChainID: chain, Number: 3, Hash: hashN(3)}); err != nil {
		t.Fatal(err)
	}
	check(true, []events.Event{e1, e3}, events.StatusRemoved, 0)
}

func ids(es []events.Event) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.ID())
	}
	return out
}
