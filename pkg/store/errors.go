package store

import "errors"

var (
	// ErrNotFound is wrapped by readers of a single row (Checkpoint) when there is none.
	ErrNotFound = errors.New("not found")
	// ErrClosed is returned by calls on a closed Store.
	ErrClosed = errors.New("store closed")
)
