package enforcer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keywarden/keywarden/pkg/events"
)

func TestWebhookSignsAndRetries(t *testing.T) {
	secret := []byte("topsecret")
	var calls atomic.Int32
	got := make(chan Notification, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "busy", http.StatusBadGateway) // the first attempt fails
			return
		}
		body, _ := io.ReadAll(r.Body)
		if !Verify(secret, r.Header.Get(TimestampHeader), body, r.Header.Get(SignatureHeader)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var n Notification
		_ = json.Unmarshal(body, &n)
		got <- n
	}))
	defer srv.Close()
	wh := NewWebhook(srv.URL, secret)
	wh.Backoff = time.Millisecond
	if err := wh.Notify(context.Background(), Notification{Kind: "verdict", Message: "key 0xabc breaches no-allow-all"}); err != nil {
		t.Fatal(err)
	}
	n := <-got
	if n.Kind != "verdict" || calls.Load() != 2 {
		t.Fatalf("notification %+v after %d calls", n, calls.Load())
	}
	for _, s := range []string{wh.String(), fmt.Sprintf("%v", wh), fmt.Sprintf("%+v", *wh)} {
		if strings.Contains(s, "topsecret") {
			t.Fatalf("webhook prints its secret: %s", s)
		}
	}
	if Verify(secret, "1", []byte("{}"), Sign([]byte("other"), "1", []byte("{}"))) {
		t.Fatal("a signature under another secret verified")
	}
}

func TestExpiryWatchOrdersByDue(t *testing.T) {
	w := newExpiryWatch(time.Hour)
	key := func(b byte, until uint64) events.KeyState {
		k := events.KeyState{ChainID: 1, Status: events.StatusActive, Permissions: events.DefaultPermissions()}
		k.SessionKey[19] = b
		k.Permissions.ValidUntil = until
		return k
	}
	w.update(key(1, 10_000))
	w.update(key(2, 5_000))
	w.update(key(3, 0)) // no expiry: not watched
	w.update(key(4, 20_000))
	if w.size() != 3 {
		t.Fatalf("size %d", w.size())
	}
	w.update(key(4, 3_000)) // the range moved earlier
	now := time.Unix(5_000-3600, 0)
	due := w.due(now)
	if len(due) != 2 || due[0].SessionKey[19] != 4 || due[1].SessionKey[19] != 2 {
		t.Fatalf("due %v", due)
	}
	removed := key(1, 10_000)
	removed.Status = events.StatusRemoved
	w.update(removed)
	if w.size() != 0 || w.nextIn(now) != time.Hour {
		t.Fatalf("size %d", w.size())
	}
}

func TestTriggerPosition(t *testing.T) {
	k := events.KeyState{ChainID: 5, UpdatedBlock: 42, LastEventID: "5:0x00000000000000000000000000000000000000000000000000000000000000ab:7"}
	p := triggerPosition(k)
	if p.BlockNumber != 42 || p.LogIndex != 7 || p.BlockHash[31] != 0xab || p.ID() != k.LastEventID {
		t.Fatalf("%+v", p)
	}
}
