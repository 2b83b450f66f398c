package decoder

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrNotOurs is returned for a log whose topic0 is not one keywarden decodes (or that has no
// topics). The caller ignores such a log and does not record it.
var ErrNotOurs = errors.New("decode log: topic0 is not a watched event")

// Reason is a stable, machine-readable class of decoding failure (used as a metric label and
// stored in events.DecodeFailure.Reason).
type Reason string

// The failure classes.
const (
	// ReasonTopicCount: the log has more or fewer topics than the event declares.
	ReasonTopicCount Reason = "topic_count"
	// ReasonShortData: the data (or an update element) ends before a field it must hold.
	ReasonShortData Reason = "short_data"
	// ReasonBadOffset: an offset word is not the one canonical ABI encoding puts there
	// (out of range, misaligned, overlapping or leaving a gap).
	ReasonBadOffset Reason = "bad_offset"
	// ReasonBadLength: a length word claims more than the remaining data holds.
	ReasonBadLength Reason = "bad_length"
	// ReasonTrailingData: bytes follow the end of the ABI payload (or of an update element).
	ReasonTrailingData Reason = "trailing_data"
	// ReasonBadPadding: non-zero bytes where an address, bool, bytesN or bytes tail must be zero-padded.
	ReasonBadPadding Reason = "bad_padding"
	// ReasonValueOutOfRange: a value outside its type: bool not 0/1, uint48 above 2^48-1,
	// uint8 above 255, an access control type above 2.
	ReasonValueOutOfRange Reason = "value_out_of_range"
	// ReasonUnknownUpdateSelector: a permission update whose selector is none of the eight
	// (or an element shorter than a selector).
	ReasonUnknownUpdateSelector Reason = "unknown_update_selector"
	// ReasonNotOurs is the class Failure records for ErrNotOurs (callers normally do not record those).
	ReasonNotOurs Reason = "not_ours"
	// ReasonInternal is the class Failure records for an error that is not an *Error.
	ReasonInternal Reason = "internal"
)

// Error is a decoding failure with where it happened.
type Error struct {
	Reason Reason
	// Field names what was being read, as in the ABI ("sessionKey", "updates[2].limit", "topics").
	Field string
	// Offset is the byte offset in the log's data (in the element for DecodeUpdate), or -1
	// when the failure is in the topics.
	Offset int
	// Index is the position of the permission update in updates, or -1.
	Index int
	// Err is the detail, if any.
	Err error
}

func (e *Error) Error() string {
	s := "decode " + e.Field + ": " + string(e.Reason)
	if e.Offset >= 0 {
		s += " at offset " + strconv.Itoa(e.Offset)
	}
	if e.Index >= 0 {
		s += " in update " + strconv.Itoa(e.Index)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the detail.
func (e *Error) Unwrap() error { return e.Err }

// ReasonOf classifies any error Decode or DecodeUpdates returns.
func ReasonOf(err error) Reason {
	var de *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &de):
		return de.Reason
	case errors.Is(err, ErrNotOurs):
		return ReasonNotOurs
	}
	return ReasonInternal
}

func newErr(r Reason, field string, off int, format string, args ...any) *Error {
	e := &Error{Reason: r, Field: field, Offset: off, Index: -1}
	if format != "" {
		e.Err = fmt.Errorf(format, args...)
	}
	return e
}
