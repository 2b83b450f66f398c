package bus

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrLockHeld is returned by Acquire when another owner holds an unexpired lock on the key.
	ErrLockHeld = errors.New("lock held by another owner")
	// ErrLockLost is returned by Refresh and Release when the lock was taken over or removed.
	ErrLockLost = errors.New("lock lost")
	// ErrNotFound is returned when a key-value entry does not exist.
	ErrNotFound = errors.New("not found")
	// ErrRevisionMismatch is returned by a compare-and-set whose expected revision is stale.
	ErrRevisionMismatch = errors.New("revision mismatch")
	// ErrPermanent marks a handler error that no redelivery can fix: the message is dead-lettered
	// at once. Wrap it: fmt.Errorf("evaluate policy: %w", bus.ErrPermanent).
	ErrPermanent = errors.New("permanent failure")
	// ErrInvalidMessage marks a message that is not in the wire form keywarden publishes.
	ErrInvalidMessage = errors.New("invalid message")
)

// PublishError reports the messages of a batch that were not stored. The batch as a whole failed:
// the caller must not move its checkpoint, and may retry the whole batch (stored messages
// deduplicate).
type PublishError struct {
	Total  int
	Failed []FailedMsg
}

// FailedMsg is one message that was not stored, and why.
type FailedMsg struct {
	Subject string
	MsgID   string
	Err     error
}

func (e *PublishError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "publish batch: %d of %d messages not stored", len(e.Failed), e.Total)
	if len(e.Failed) > 0 {
		f := e.Failed[0]
		fmt.Fprintf(&b, " (first: %s id %s: %v)", f.Subject, f.MsgID, f.Err)
	}
	return b.String()
}

// Unwrap returns the individual errors, so errors.Is sees through a PublishError.
func (e *PublishError) Unwrap() []error {
	errs := make([]error, 0, len(e.Failed))
	for _, f := range e.Failed {
		errs = append(errs, f.Err)
	}
	return errs
}
