package decoder

import (
	"strconv"

	"github.com/keywarden/keywarden/pkg/events"
)

// updateWords is the number of 32-byte argument words of each update kind.
func updateWords(sel events.Selector) (int, bool) {
	switch sel {
	case events.SelSetAccessListType, events.SelSetRequiredPaymaster:
		return 1, true
	case events.SelUpdateTimeRange, events.SelSetNativeTokenSpendLimit, events.SelSetGasSpendLimit:
		return 2, true
	case events.SelUpdateAccessListAddressEntry, events.SelUpdateAccessListFunctionEntry, events.SelSetERC20SpendLimit:
		return 3, true
	}
	return 0, false
}

// DecodeUpdate decodes one element of PermissionsUpdated's updates: a selector followed by
// exactly the argument words of its kind. Errors are *Error with Index -1 and offsets within b.
func DecodeUpdate(b []byte) (events.Update, error) {
	u, err := decodeUpdate(b, 0)
	if err != nil {
		return nil, err
	}
	return u, nil
}

// DecodeUpdates decodes each element in order. Errors are *Error whose Index is the element's.
func DecodeUpdates(elems [][]byte) ([]events.Update, error) {
	out := make([]events.Update, len(elems))
	for i, b := range elems {
		u, err := decodeUpdate(b, 0)
		if err != nil {
			return nil, inUpdate(err, i)
		}
		out[i] = u
	}
	return out, nil
}

func inUpdate(e *Error, i int) *Error {
	e.Index = i
	e.Field = "updates[" + strconv.Itoa(i) + "]." + e.Field
	return e
}

// decodeUpdate decodes b; base is b's offset in the log data (for error positions).
func decodeUpdate(b []byte, base int) (events.Update, *Error) {
	if len(b) < 4 {
		return nil, newErr(ReasonUnknownUpdateSelector, "selector", base, "element of %d bytes has no selector", len(b))
	}
	sel := events.SelectorOf(b)
	n, ok := updateWords(sel)
	if !ok {
		return nil, newErr(ReasonUnknownUpdateSelector, "selector", base, "selector %s", sel)
	}
	want := 4 + 32*n
	if len(b) < want {
		return nil, newErr(ReasonShortData, "args", base+len(b), "%s takes %d bytes, element has %d", sel, want, len(b))
	}
	if len(b) > want {
		// The plugin decodes an element with abi.decode, which ignores bytes after the
		// arguments: the update takes effect on chain, so it must here too.
		u, err := decodeUpdate(b[:want], base)
		if err != nil {
			return nil, err
		}
		return events.Padded{Update: u, Raw: append([]byte(nil), b...)}, nil
	}
	r := reader{data: b[4:], base: base + 4}
	var err *Error
	switch sel {
	case events.SelSetAccessListType:
		var t uint64
		if t, err = r.uint(0, 8, "contractAccessControlType"); err == nil {
			if !events.AccessControlType(t).Valid() {
				return nil, newErr(ReasonValueOutOfRange, "contractAccessControlType", r.base, "access control type %d", t)
			}
			return events.SetAccessListType{Type: events.AccessControlType(t)}, nil
		}
	case events.SelUpdateAccessListAddressEntry:
		var u events.UpdateAccessListAddressEntry
		if u.Target, err = r.address(0, "contractAddress"); err != nil {
			break
		}
		if u.IsOnList, err = r.boolean(32, "isOnList"); err != nil {
			break
		}
		if u.CheckSelectors, err = r.boolean(64, "checkSelectors"); err != nil {
			break
		}
		return u, nil
	case events.SelUpdateAccessListFunctionEntry:
		var u events.UpdateAccessListFunctionEntry
		if u.Target, err = r.address(0, "contractAddress"); err != nil {
			break
		}
		if err = r.fixedBytes(32, u.Function[:], "selector"); err != nil {
			break
		}
		if u.IsOnList, err = r.boolean(64, "isOnList"); err != nil {
			break
		}
		return u, nil
	case events.SelUpdateTimeRange:
		var u events.UpdateTimeRange
		if u.ValidAfter, err = r.uint(0, 48, "validAfter"); err != nil {
			break
		}
		if u.ValidUntil, err = r.uint(32, 48, "validUntil"); err != nil {
			break
		}
		return u, nil
	case events.SelSetNativeTokenSpendLimit:
		var u events.SetNativeTokenSpendLimit
		u.Limit, _ = r.u256(0, "spendLimit")
		if u.RefreshInterval, err = r.uint(32, 48, "refreshInterval"); err != nil {
			break
		}
		return u, nil
	case events.SelSetERC20SpendLimit:
		var u events.SetERC20SpendLimit
		if u.Token, err = r.address(0, "token"); err != nil {
			break
		}
		u.Limit, _ = r.u256(32, "spendLimit")
		if u.RefreshInterval, err = r.uint(64, 48, "refreshInterval"); err != nil {
			break
		}
		return u, nil
	case events.SelSetGasSpendLimit:
		var u events.SetGasSpendLimit
		u.Limit, _ = r.u256(0, "spendLimit")
		if u.RefreshInterval, err = r.uint(32, 48, "refreshInterval"); err != nil {
			break
		}
		return u, nil
	case events.SelSetRequiredPaymaster:
		var u events.SetRequiredPaymaster
		if u.Paymaster, err = r.address(0, "requiredPaymaster"); err != nil {
			break
		}
		return u, nil
	}
	return nil, err
}

// decodeUpdatesData decodes data that is the canonical ABI encoding of a single bytes[]
// argument (PermissionsUpdated's data). Elements are decoded in place, without copies.
func decodeUpdatesData(data []byte) ([]events.Update, *Error) {
	r := reader{data: data}
	if err := r.offset(0, 32, "updates"); err != nil {
		return nil, err
	}
	n, err := r.length(32, 32, "updates.length")
	if err != nil {
		return nil, err
	}
	const heads = 64 // element offsets count from here, the first word after the length
	out := make([]events.Update, n)
	next := 32 * n // canonical position of the next element, relative to heads
	for i := 0; i < n; i++ {
		if err := r.offset(heads+32*i, next, "offset"); err != nil {
			return nil, inUpdate(err, i)
		}
		at := heads + next
		l, err := r.length(at, 1, "length")
		if err != nil {
			return nil, inUpdate(err, i)
		}
		body := at + 32
		padded := (l + 31) &^ 31
		if padded > len(data)-body {
			return nil, inUpdate(newErr(ReasonShortData, "padding", body+l, "element padding missing"), i)
		}
		if !isZero(data[body+l : body+padded]) {
			return nil, inUpdate(newErr(ReasonBadPadding, "padding", body+l, "non-zero bytes after the element"), i)
		}
		u, uerr := decodeUpdate(data[body:body+l], body)
		if uerr != nil {
			return nil, inUpdate(uerr, i)
		}
		out[i] = u
		next += 32 + padded
	}
	if err := r.end(heads+next, "updates"); err != nil {
		return nil, err
	}
	return out, nil
}
