package indexer

import (
	"context"

	"github.com/keywarden/keywarden/pkg/events"
	"github.com/keywarden/keywarden/pkg/ingest"
)

// Write is everything one Apply or Rollback makes durable in storage, in one batch. Rows are
// versioned: a row with a higher Version replaces the row with the same identity.
type Write struct {
	ChainID uint64
	// Version orders this write after every earlier one of the chain.
	Version uint64
	// Events are new events, or retractions (Removed set) of stored ones.
	Events []events.Event
	// KeyStates are the final state of every key this write changed.
	KeyStates []events.KeyState
	// Accounts are the final state of every account this write changed.
	Accounts []AccountState
	// Blocks are block refs to keep for reorg detection; RetractedBlocks left the chain.
	Blocks          []ingest.BlockRef
	RetractedBlocks []ingest.BlockRef
	// Failures are logs that did not decode.
	Failures []events.DecodeFailure
}

// Empty reports whether the write carries no row.
func (w Write) Empty() bool {
	return len(w.Events) == 0 && len(w.KeyStates) == 0 && len(w.Accounts) == 0 && len(w.Blocks) == 0 &&
		len(w.RetractedBlocks) == 0 && len(w.Failures) == 0
}

// Store is what the sink needs from storage. StoreAdapter implements it over pkg/store.
type Store interface {
	// Write stores w atomically enough that a retry of the same w is harmless.
	Write(ctx context.Context, w Write) error
	// SetCheckpoint records the last block whose rows and messages are durable.
	SetCheckpoint(ctx context.Context, chainID uint64, ref ingest.BlockRef) error
	ingest.Checkpoints
	// AccountEvents returns the surviving (not retracted) events of the accounts on the chain
	// with block number <= maxBlock, in chain order.
	AccountEvents(ctx context.Context, chainID uint64, accounts []events.Address, maxBlock uint64) ([]events.Event, error)
	// EventsFrom returns the latest row of every event stored at or above block from
	// (retracted or not), in chain order.
	EventsFrom(ctx context.Context, chainID uint64, from uint64) ([]events.Event, error)
}
