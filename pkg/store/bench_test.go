package store

import (
	"context"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/keywarden/keywarden/internal/testenv"
	"github.com/keywarden/keywarden/pkg/events"
)

// BenchmarkWriteBatch writes batches of 500 events (a quarter of them PermissionsUpdated with
// 4 updates each) plus 500 key states, and reports events/s.
func BenchmarkWriteBatch(b *testing.B) {
	ch := testenv.ClickHouse(b)
	s, err := Open(context.Background(), Options{Addrs: []string{ch.Addr}, Database: ch.Database})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	const perBatch = 500
	st := fullKeyState()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var batch Batch
		for j := 0; j < perBatch; j++ {
			block := uint64(i*perBatch + j)
			var e events.Event
			if j%4 == 0 {
				e = ev(pos(block, 0), events.PermissionsUpdated{Account: account, SessionKey: key1, Updates: []events.Update{
					events.SetAccessListType{Type: events.AccessAllowAll},
					events.UpdateTimeRange{ValidUntil: block},
					events.SetNativeTokenSpendLimit{Limit: events.U256From64(block)},
					events.SetERC20SpendLimit{Token: token, Limit: events.MaxU256},
				}})
			} else {
				e = added(block, 0, key1)
			}
			batch.Events = append(batch.Events, e)
			k := st
			k.SessionKey = events.AddressFrom(common.BytesToAddress(hashN(block).Bytes()))
			batch.KeyStates = append(batch.KeyStates, k)
		}
		if err := s.WriteBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "events/s")
}
