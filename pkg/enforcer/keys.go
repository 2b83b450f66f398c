package enforcer

import (
	"context"
	"fmt"

	"github.com/keywarden/keywarden/pkg/events"
	"github.com/keywarden/keywarden/pkg/store"
)

// StoreKeys reads the active keys with an expiry from ClickHouse, to seed the expiry watch.
type StoreKeys struct {
	Store  *store.Store
	Chains []uint64
}

var _ KeySource = StoreKeys{}

// ExpiringKeys returns every active key of the chains that has a valid_until.
func (s StoreKeys) ExpiringKeys(ctx context.Context) ([]events.KeyState, error) {
	var out []events.KeyState
	for _, id := range s.Chains {
		ks, err := s.Store.KeyStates(ctx, store.KeyFilter{ChainID: id, Statuses: []events.KeyStatus{events.StatusActive}})
		if err != nil {
			return nil, fmt.Errorf("read key states of chain %d: %w", id, err)
		}
		for _, k := range ks {
			if k.Permissions.ValidUntil != 0 {
				out = append(out, k)
			}
		}
	}
	return out, nil
}
