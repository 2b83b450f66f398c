package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/keywarden/keywarden/pkg/events"
)

// UpdateRecord is one element of a PermissionsUpdated event, as permission_updates holds it.
type UpdateRecord struct {
	// Position of the event; ParentHash and TxIndex are not kept in permission_updates.
	events.Position
	Plugin     events.Address
	Account    events.Address
	SessionKey events.Address
	// Index is the element's position in the event's updates.
	Index    uint32
	Update   events.Update
	Verified bool
}

// PermissionUpdates returns the updates of the PermissionsUpdated events f selects, in chain
// order and then update order. f.Kinds and f.Committed are ignored.
func (s *Store) PermissionUpdates(ctx context.Context, f EventFilter) ([]UpdateRecord, error) {
	w := &where{}
	w.add("chain_id = ?", f.ChainID)
	if f.FromBlock > 0 {
		w.add("block_number >= ?", f.FromBlock)
	}
	if f.ToBlock != nil {
		w.add("block_number <= ?", *f.ToBlock)
	}
	w.in("account", addrList(f.Accounts))
	w.in("session_key", addrList(f.SessionKeys))
	if !f.Plugin.IsZero() {
		w.add("plugin = ?", f.Plugin.Hex())
	}
	if !f.IncludeRemoved {
		w.addPost("removed = 0")
	}
	if f.VerifiedOnly {
		w.addPost("verified = 1")
	}
	q, args := rowsQuery(tblUpdates, w, false, f.ChainID,
		" ORDER BY block_number, log_index, block_hash, update_index"+limitSQL(f.Limit))
	out, err := selectRows(ctx, s, q, args, fromUpdateRow)
	if err != nil {
		return nil, fmt.Errorf("read permission updates of chain %d: %w", f.ChainID, err)
	}
	return out, nil
}

// fromUpdateRow rebuilds the typed update from its columns (not from raw), so that a column
// the writer forgot shows up as a difference.
func fromUpdateRow(r updateRow) (UpdateRecord, error) {
	var errs []error
	addr := func(col, s string) events.Address {
		a, err := parseAddr(col, s)
		if err != nil {
			errs = append(errs, err)
		}
		return a
	}
	u256 := func(col, s string) events.U256 {
		u, err := parseU256(col, s)
		if err != nil {
			errs = append(errs, err)
		}
		return u
	}
	bh, err := parseHash("block_hash", r.BlockHash)
	if err != nil {
		errs = append(errs, err)
	}
	th, err := parseHash("tx_hash", r.TxHash)
	if err != nil {
		errs = append(errs, err)
	}
	rec := UpdateRecord{
		Position: events.Position{ChainID: r.ChainID, BlockNumber: r.BlockNumber, BlockHash: bh, BlockTime: r.BlockTime,
			TxHash: th, LogIndex: r.LogIndex, Removed: r.Removed != 0},
		Plugin: addr("plugin", r.Plugin), Account: addr("account", r.Account), SessionKey: addr("session_key", r.SessionKey),
		Index: r.UpdateIndex, Verified: r.Verified != 0,
	}
	switch events.UpdateKind(r.Kind) {
	case events.UpdSetAccessListType:
		rec.Update = events.SetAccessListType{Type: events.AccessControlType(r.AccessControlType)}
	case events.UpdUpdateAccessListAddressEntry:
		rec.Update = events.UpdateAccessListAddressEntry{Target: addr("target", r.Target), IsOnList: r.IsOnList != 0,
			CheckSelectors: r.CheckSelectors != 0}
	case events.UpdUpdateAccessListFunctionEntry:
		var sel events.Selector
		if err := sel.UnmarshalText([]byte(r.FunctionSelector)); err != nil {
			errs = append(errs, fmt.Errorf("column function_selector: %w", err))
		}
		rec.Update = events.UpdateAccessListFunctionEntry{Target: addr("target", r.Target), Function: sel, IsOnList: r.IsOnList != 0}
	case events.UpdUpdateTimeRange:
		rec.Update = events.UpdateTimeRange{ValidAfter: r.ValidAfter, ValidUntil: r.ValidUntil}
	case events.UpdSetNativeTokenSpendLimit:
		rec.Update = events.SetNativeTokenSpendLimit{Limit: u256("spend_limit", r.SpendLimit), RefreshInterval: r.RefreshInterval}
	case events.UpdSetERC20SpendLimit:
		rec.Update = events.SetERC20SpendLimit{Token: addr("token", r.Token), Limit: u256("spend_limit", r.SpendLimit),
			RefreshInterval: r.RefreshInterval}
	case events.UpdSetGasSpendLimit:
		rec.Update = events.SetGasSpendLimit{Limit: u256("spend_limit", r.SpendLimit), RefreshInterval: r.RefreshInterval}
	case events.UpdSetRequiredPaymaster:
		rec.Update = events.SetRequiredPaymaster{Paymaster: addr("paymaster", r.Paymaster)}
	case events.UpdUnknown:
		raw, err := hexutil.Decode(r.Raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("column raw: %w", err))
		}
		rec.Update = events.UnknownUpdate{Raw: raw, Reason: r.UnknownReason}
	default:
		errs = append(errs, fmt.Errorf("column kind: unknown update kind %q", r.Kind))
	}
	if len(errs) > 0 {
		return UpdateRecord{}, fmt.Errorf("decode permission_updates row %d:%s:%d/%d: %w", r.ChainID, r.BlockHash, r.LogIndex,
			r.UpdateIndex, errors.Join(errs...))
	}
	return rec, nil
}
