package conformance_test

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/keywarden/keywarden/internal/sdkvectors"
	"github.com/keywarden/keywarden/pkg/decoder"
	"github.com/keywarden/keywarden/pkg/events"
)

const (
	minPermissionVectors = 300
	minLogVectors        = 200
)

// sdkOrder is the list SessionKeyPermissionsBuilder.encode() emits for c: setAccessListType always
// first (ALLOWLIST when never set), then address entries, function entries, the time range, the
// native limit, the ERC-20 limits, the gas limit and the paymaster; unset optional items are left out.
func sdkOrder(c sdkvectors.BuilderConfig) []events.Update {
	typ := events.AccessAllowlist
	if c.AccessListType != nil {
		typ = *c.AccessListType
	}
	out := []events.Update{events.SetAccessListType{Type: typ}}
	for _, e := range c.AddressEntries {
		out = append(out, e)
	}
	for _, e := range c.FunctionEntries {
		out = append(out, e)
	}
	if c.TimeRange != nil {
		out = append(out, *c.TimeRange)
	}
	if c.NativeLimit != nil {
		out = append(out, *c.NativeLimit)
	}
	for _, e := range c.ERC20Limits {
		out = append(out, e)
	}
	if c.GasLimit != nil {
		out = append(out, *c.GasLimit)
	}
	if c.Paymaster != nil {
		out = append(out, events.SetRequiredPaymaster{Paymaster: *c.Paymaster})
	}
	return out
}

// TestPermissionEncodings decodes every SessionKeyPermissionsBuilder output and compares it with
// the builder's inputs, with viem's decoding of each element, and (re-encoded) with the bytes.
func TestPermissionEncodings(t *testing.T) {
	v := sdkvectors.Load(t)
	if n := len(v.Permissions); n < minPermissionVectors {
		t.Fatalf("%d permission vectors, want at least %d", n, minPermissionVectors)
	}
	m := newMismatches(t)
	elements := 0
	for _, p := range v.Permissions {
		elements += len(p.Encoded)
		checkUpdates(m, p.ID, p.Encoded, p.Elements, sdkOrder(p.Config()))
	}
	m.done(fmt.Sprintf("permissions (%d encoded updates)", elements), len(v.Permissions))
}

// checkUpdates decodes encoded and compares the result with want (when not nil), with the SDK's
// per-element decoding, and re-encodes it to the same bytes.
func checkUpdates(m *mismatches, where string, encoded []hexutil.Bytes, elems []sdkvectors.Element, want []events.Update) []events.Update {
	m.t.Helper()
	raw := make([][]byte, len(encoded))
	for i, e := range encoded {
		raw[i] = e
	}
	got, err := decoder.DecodeUpdates(raw)
	if err != nil {
		m.addf("%s: DecodeUpdates: %v", where, err)
		return nil
	}
	if len(got) != len(encoded) {
		m.addf("%s: %d updates decoded from %d elements", where, len(got), len(encoded))
		return got
	}
	if want != nil {
		if len(want) != len(got) {
			m.addf("%s: %d updates decoded, the builder's inputs make %d", where, len(got), len(want))
		} else {
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					m.addf("%s: update %d = %#v, builder input %#v", where, i, got[i], want[i])
				}
			}
		}
	}
	if len(elems) != len(got) {
		m.addf("%s: %d elements described by the SDK, %d decoded", where, len(elems), len(got))
	} else {
		for i, u := range got {
			checkElement(m, where+"/"+strconv.Itoa(i), u, elems[i])
		}
	}
	re := events.EncodeUpdates(got)
	for i := range re {
		if !bytes.Equal(re[i], encoded[i]) {
			m.addf("%s: EncodeUpdates element %d = %x, SDK bytes %x", where, i, re[i], []byte(encoded[i]))
		}
	}
	return got
}

// checkElement compares one decoded update with viem's decoding of it under the SDK's update ABI.
func checkElement(m *mismatches, where string, u events.Update, e sdkvectors.Element) {
	m.t.Helper()
	m.eq(where, "selector", u.Selector(), e.Selector)
	arg := func(name string) string {
		v, ok := e.Args[name]
		if !ok {
			m.addf("%s: the SDK's %s has no argument %q", where, e.Name, name)
		}
		return fmt.Sprint(v)
	}
	switch x := u.(type) {
	case events.SetAccessListType:
		m.eq(where, "name", "setAccessListType", e.Name)
		m.eq(where, "contractAccessControlType", uint8(x.Type), arg("contractAccessControlType"))
	case events.UpdateAccessListAddressEntry:
		m.eq(where, "name", "updateAccessListAddressEntry", e.Name)
		m.eq(where, "contractAddress", x.Target, arg("contractAddress"))
		m.eq(where, "isOnList", x.IsOnList, arg("isOnList"))
		m.eq(where, "checkSelectors", x.CheckSelectors, arg("checkSelectors"))
	case events.UpdateAccessListFunctionEntry:
		m.eq(where, "name", "updateAccessListFunctionEntry", e.Name)
		m.eq(where, "contractAddress", x.Target, arg("contractAddress"))
		m.eq(where, "selector", x.Function, arg("selector"))
		m.eq(where, "isOnList", x.IsOnList, arg("isOnList"))
	case events.UpdateTimeRange:
		m.eq(where, "name", "updateTimeRange", e.Name)
		m.eq(where, "validAfter", x.ValidAfter, arg("validAfter"))
		m.eq(where, "validUntil", x.ValidUntil, arg("validUntil"))
	case events.SetNativeTokenSpendLimit:
		m.eq(where, "name", "setNativeTokenSpendLimit", e.Name)
		m.eq(where, "spendLimit", x.Limit, arg("spendLimit"))
		m.eq(where, "refreshInterval", x.RefreshInterval, arg("refreshInterval"))
	case events.SetERC20SpendLimit:
		m.eq(where, "name", "setERC20SpendLimit", e.Name)
		m.eq(where, "token", x.Token, arg("token"))
		m.eq(where, "spendLimit", x.Limit, arg("spendLimit"))
		m.eq(where, "refreshInterval", x.RefreshInterval, arg("refreshInterval"))
	case events.SetGasSpendLimit:
		m.eq(where, "name", "setGasSpendLimit", e.Name)
		m.eq(where, "spendLimit", x.Limit, arg("spendLimit"))
		m.eq(where, "refreshInterval", x.RefreshInterval, arg("refreshInterval"))
	case events.SetRequiredPaymaster:
		m.eq(where, "name", "setRequiredPaymaster", e.Name)
		m.eq(where, "requiredPaymaster", x.Paymaster, arg("requiredPaymaster"))
	default:
		m.addf("%s: decoded as %T, the SDK says %s", where, u, e.Name)
	}
}
