package events

import "sort"

// All returns the last known state of every key the fold has seen (active, removed or rotated
// away), ordered by address. The indexer uses it to find keys that a reorg made disappear.
func (a *AccountKeys) All() []KeyState {
	out := make([]KeyState, 0, len(a.keys))
	for _, k := range a.keys {
		out = append(out, k.Clone())
	}
	sort.Slice(out, func(i, j int) bool { return lessAddr(out[i].SessionKey, out[j].SessionKey) })
	return out
}
