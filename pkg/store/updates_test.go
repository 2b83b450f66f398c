package store

import (
	"context"
	"reflect"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/keywarden/keywarden/pkg/events"
)

// Every update kind comes back from its own columns equal to what was written, and raw holds
// the exact encoding.
func TestPermissionUpdatesRoundTrip(t *testing.T) {
	s, ch := openStore(t)
	ctx := context.Background()
	b := sampleBatch()
	e := b.Events[2]
	want := e.Payload.(events.PermissionsUpdated).Updates
	if err := s.WriteBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	got, err := s.PermissionUpdates(ctx, EventFilter{ChainID: chain, SessionKeys: []events.Address{key1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d updates, want %d", len(got), len(want))
	}
	for i, rec := range got {
		if !reflect.DeepEqual(rec.Update, want[i]) {
			t.Errorf("update %d = %#v, want %#v", i, rec.Update, want[i])
		}
		if rec.Index != uint32(i) || rec.Account != account || rec.SessionKey != key1 || rec.Plugin != plugin ||
			rec.BlockHash != e.BlockHash || rec.LogIndex != e.LogIndex || rec.TxHash != e.TxHash || !rec.Verified {
			t.Errorf("update %d record = %+v", i, rec)
		}
	}
	rows, err := ch.Conn.Query(ctx, "SELECT update_index, raw, selector FROM permission_updates FINAL ORDER BY update_index")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			i        uint32
			raw, sel string
		)
		if err := rows.Scan(&i, &raw, &sel); err != nil {
			t.Fatal(err)
		}
		if raw != hexutil.Encode(want[i].Encode()) || sel != want[i].Selector().String() {
			t.Errorf("update %d: raw %s selector %s", i, raw, sel)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	r := e
	r.Removed = true
	if err := s.WriteBatch(ctx, Batch{Events: []events.Event{r}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.PermissionUpdates(ctx, EventFilter{ChainID: chain}); len(got) != 0 {
		t.Fatalf("%d updates visible after the retraction", len(got))
	}
	all, err := s.PermissionUpdates(ctx, EventFilter{ChainID: chain, IncludeRemoved: true})
	if err != nil || len(all) != len(want) || !all[0].Removed {
		t.Fatalf("with removed: %d, %v", len(all), err)
	}
}
