package actions

import (
	"bytes"
	"sort"

	"github.com/keywarden/keywarden/pkg/events"
)

// The fold keeps its lists sorted by address bytes (then selector); ReadPermissions matches it.

func sortAccess(l []events.AccessEntry) {
	sort.Slice(l, func(i, j int) bool { return bytes.Compare(l[i].Target[:], l[j].Target[:]) < 0 })
}

func sortFunctions(l []events.FunctionEntry) {
	sort.Slice(l, func(i, j int) bool {
		if c := bytes.Compare(l[i].Target[:], l[j].Target[:]); c != 0 {
			return c < 0
		}
		return bytes.Compare(l[i].Selector[:], l[j].Selector[:]) < 0
	})
}

func sortTokens(l []events.TokenLimit) {
	sort.Slice(l, func(i, j int) bool { return bytes.Compare(l[i].Token[:], l[j].Token[:]) < 0 })
}
