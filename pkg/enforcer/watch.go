package enforcer

import (
	"container/heap"
	"strconv"
	"sync"
	"time"

	"github.com/keywarden/keywarden/pkg/events"
)

// expiryWatch keeps the active keys that have an expiry in a heap ordered by the moment the
// expiry lead reaches them, so each tick looks only at keys that are due.
type expiryWatch struct {
	lead time.Duration
	mu   sync.Mutex
	h    dueHeap
	byID map[string]*dueItem
	wake chan struct{}
}

type dueItem struct {
	id    string
	due   time.Time
	key   events.KeyState
	index int
}

type dueHeap []*dueItem

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *dueHeap) Push(x any)        { it := x.(*dueItem); it.index = len(*h); *h = append(*h, it) }
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	it.index = -1
	return it
}
func newExpiryWatch(lead time.Duration) *expiryWatch {
	return &expiryWatch{lead: lead, byID: map[string]*dueItem{}, wake: make(chan struct{}, 1)}
}

func watchID(k events.KeyState) string {
	return strconv.FormatUint(k.ChainID, 10) + ":" + k.Plugin.Hex() + ":" + k.Account.Hex() + ":" + k.SessionKey.Hex()
}

// update adds, moves or drops k (keys without expiry or no longer active are dropped).
func (w *expiryWatch) update(k events.KeyState) {
	if w.lead <= 0 {
		return
	}
	id := watchID(k)
	w.mu.Lock()
	defer w.mu.Unlock()
	it, ok := w.byID[id]
	if k.Status != events.StatusActive || k.Permissions.ValidUntil == 0 {
		if ok {
			heap.Remove(&w.h, it.index)
			delete(w.byID, id)
		}
		return
	}
	due := time.Unix(int64(k.Permissions.ValidUntil), 0).Add(-w.lead)
	if ok {
		it.due, it.key = due, k.Clone()
		heap.Fix(&w.h, it.index)
	} else {
		it = &dueItem{id: id, due: due, key: k.Clone()}
		heap.Push(&w.h, it)
		w.byID[id] = it
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// due pops every key due at now.
func (w *expiryWatch) due(now time.Time) []events.KeyState {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []events.KeyState
	for w.h.Len() > 0 && !w.h[0].due.After(now) {
		it := heap.Pop(&w.h).(*dueItem)
		delete(w.byID, it.id)
		out = append(out, it.key)
	}
	return out
}

// retry puts k back, due at t.
func (w *expiryWatch) retry(k events.KeyState, t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	id := watchID(k)
	if _, ok := w.byID[id]; ok {
		return
	}
	it := &dueItem{id: id, due: t, key: k}
	heap.Push(&w.h, it)
	w.byID[id] = it
}

// nextIn is the time until the next key is due (an hour when none is).
func (w *expiryWatch) nextIn(now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.h.Len() == 0 {
		return time.Hour
	}
	d := w.h[0].due.Sub(now)
	if d < 0 {
		return 0
	}
	return d
}

// size is the number of watched keys.
func (w *expiryWatch) size() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.h.Len()
}
