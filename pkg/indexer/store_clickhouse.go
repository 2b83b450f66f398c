package indexer

import (
	"context"
	"errors"

	"github.com/rs/zerolog"
)

// OpenClickHouse opens the ClickHouse store of cfg and runs the migrations.
func OpenClickHouse(ctx context.Context, cfg ClickHouseConfig, log zerolog.Logger) (Store, func() error, error) {
	return nil, nil, errors.New("open clickhouse: pkg/store not available yet")
}
