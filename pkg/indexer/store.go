package indexer

import (
	"context"

	"github.com/keywarden/keywarden/pkg/events"
	"github.com/keywarden/keywarden/pkg/ingest"
	"github.com/keywarden/keywarden/pkg/store"
)

// Store is what the sink needs from storage. StoreAdapter implements it over *store.Store.
type Store interface {
	// WriteBatch stores every row of b; writing the same batch again is harmless.
	WriteBatch(ctx context.Context, b store.Batch) error
	// SetCheckpoint records the last block whose rows and messages are durable.
	SetCheckpoint(ctx context.Context, chainID uint64, ref ingest.BlockRef) error
	ingest.Checkpoints
	// AccountEvents returns the surviving (not retracted) events of the accounts on the chain
	// with block number <= maxBlock, in chain order.
	AccountEvents(ctx context.Context, chainID uint64, accounts []events.Address, maxBlock uint64) ([]events.Event, error)
	// EventsFrom returns the latest row of every event stored at or above block from
	// (retracted or not), in chain order.
	EventsFrom(ctx context.Context, chainID uint64, from uint64) ([]events.Event, error)
	// FailuresFrom returns the decode failures stored at or above block from, not retracted.
	FailuresFrom(ctx context.Context, chainID uint64, from uint64) ([]events.DecodeFailure, error)
}
