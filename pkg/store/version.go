package store

import (
	"sync"
	"time"
)

// versionClock issues row versions. A version is the wall clock in nanoseconds, bumped to one
// above the last version seen when the clock has not moved (or moved back). The store seeds
// it with the highest version already stored, so a restart on a machine whose clock stepped
// back still writes versions above every existing row.
type versionClock struct {
	mu   sync.Mutex
	last uint64
	now  func() time.Time
}

// next returns a version above every version issued or observed.
func (c *versionClock) next() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := uint64(c.now().UnixNano())
	if v <= c.last {
		v = c.last + 1
	}
	c.last = v
	return v
}

// observe makes later versions exceed v.
func (c *versionClock) observe(v uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v > c.last {
		c.last = v
	}
}
