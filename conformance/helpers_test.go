package conformance_test

import (
	"fmt"
	"testing"
)

// mismatches collects differences so that one run reports all of them (the first maxShown in full).
type mismatches struct {
	t     testing.TB
	n     int
	shown int
}

const maxShown = 40

func newMismatches(t testing.TB) *mismatches { return &mismatches{t: t} }

func (m *mismatches) addf(format string, args ...any) {
	m.t.Helper()
	m.n++
	if m.shown < maxShown {
		m.shown++
		m.t.Errorf(format, args...)
	}
}

// eq records a mismatch when got != want (compared by their %v text form, which is exact for
// every type used here: addresses, hashes, U256, numbers, bools, selectors).
func (m *mismatches) eq(where, field string, got, want any) {
	m.t.Helper()
	if g, w := fmt.Sprint(got), fmt.Sprint(want); g != w {
		m.addf("%s: %s = %s, SDK says %s", where, field, g, w)
	}
}

func (m *mismatches) done(what string, total int) {
	m.t.Helper()
	if m.n > maxShown {
		m.t.Errorf("... and %d more", m.n-maxShown)
	}
	m.t.Logf("%s: %d vectors, %d mismatches", what, total, m.n)
}
