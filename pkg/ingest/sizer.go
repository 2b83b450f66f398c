package ingest

import "sync"

// sizer is the adaptive eth_getLogs span shared by the concurrent range fetches: it narrows
// at once on a provider cap (to the provider's hint, else by half) and widens again, doubling,
// after growAfter successes at full size.
type sizer struct {
	mu        sync.Mutex
	size, max uint64
	ok        int
	growAfter int
	report    func(uint64)
}

func newSizer(initial, max uint64, report func(uint64)) *sizer {
	z := &sizer{size: initial, max: max, growAfter: 8, report: report}
	report(initial)
	return z
}

func (z *sizer) get() uint64 {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.size
}

// capped records that a span of requested blocks hit a cap and returns the span to use.
func (z *sizer) capped(requested uint64, hint RangeHint) uint64 {
	n := hint.Size()
	if n == 0 || n >= requested {
		n = requested / 2
	}
	if n < 1 {
		n = 1
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	z.ok = 0
	if n < z.size {
		z.size = n
		z.report(n)
	}
	return min(n, z.size)
}

// success records a span of requested blocks answered in full.
func (z *sizer) success(requested uint64) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if requested < z.size || z.size >= z.max {
		return
	}
	z.ok++
	if z.ok >= z.growAfter {
		z.ok = 0
		z.size = min(z.size*2, z.max)
		z.report(z.size)
	}
}
