package decoder

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/keywarden/keywarden/pkg/events"
)

// The reference: go-ethereum's generic abi package, used to cross-check the decoder (tests and
// fuzzing) and as the baseline of the benchmark.
const refABIJSON = `[
 {"type":"event","name":"SessionKeyAdded","inputs":[
  {"name":"account","type":"address","indexed":true},{"name":"sessionKey","type":"address","indexed":true},
  {"name":"tag","type":"bytes32","indexed":true}]},
 {"type":"event","name":"SessionKeyRemoved","inputs":[
  {"name":"account","type":"address","indexed":true},{"name":"sessionKey","type":"address","indexed":true}]},
 {"type":"event","name":"SessionKeyRotated","inputs":[
  {"name":"account","type":"address","indexed":true},{"name":"oldSessionKey","type":"address","indexed":true},
  {"name":"newSessionKey","type":"address","indexed":true}]},
 {"type":"event","name":"PermissionsUpdated","inputs":[
  {"name":"account","type":"address","indexed":true},{"name":"sessionKey","type":"address","indexed":true},
  {"name":"updates","type":"bytes[]","indexed":false}]},
 {"type":"event","name":"PluginInstalled","inputs":[
  {"name":"plugin","type":"address","indexed":true},{"name":"manifestHash","type":"bytes32","indexed":false},
  {"name":"dependencies","type":"bytes21[]","indexed":false}]},
 {"type":"event","name":"PluginUninstalled","inputs":[
  {"name":"plugin","type":"address","indexed":true},{"name":"onUninstallSucceeded","type":"bool","indexed":true}]},
 {"type":"event","name":"OwnerUpdated","inputs":[
  {"name":"account","type":"address","indexed":true},{"name":"addedOwners","type":"address[]","indexed":false},
  {"name":"removedOwners","type":"address[]","indexed":false}]},
 {"type":"event","name":"UserOperationEvent","inputs":[
  {"name":"userOpHash","type":"bytes32","indexed":true},{"name":"sender","type":"address","indexed":true},
  {"name":"paymaster","type":"address","indexed":true},{"name":"nonce","type":"uint256","indexed":false},
  {"name":"success","type":"bool","indexed":false},{"name":"actualGasCost","type":"uint256","indexed":false},
  {"name":"actualGasUsed","type":"uint256","indexed":false}]},
 {"type":"function","name":"setAccessListType","inputs":[{"name":"contractAccessControlType","type":"uint8"}]},
 {"type":"function","name":"updateAccessListAddressEntry","inputs":[
  {"name":"contractAddress","type":"address"},{"name":"isOnList","type":"bool"},{"name":"checkSelectors","type":"bool"}]},
 {"type":"function","name":"updateAccessListFunctionEntry","inputs":[
  {"name":"contractAddress","type":"address"},{"name":"selector","type":"bytes4"},{"name":"isOnList","type":"bool"}]},
 {"type":"function","name":"updateTimeRange","inputs":[{"name":"validAfter","type":"uint48"},{"name":"validUntil","type":"uint48"}]},
 {"type":"function","name":"setNativeTokenSpendLimit","inputs":[{"name":"spendLimit","type":"uint256"},{"name":"refreshInterval","type":"uint48"}]},
 {"type":"function","name":"setERC20SpendLimit","inputs":[
  {"name":"token","type":"address"},{"name":"spendLimit","type":"uint256"},{"name":"refreshInterval","type":"uint48"}]},
 {"type":"function","name":"setGasSpendLimit","inputs":[{"name":"spendLimit","type":"uint256"},{"name":"refreshInterval","type":"uint48"}]},
 {"type":"function","name":"setRequiredPaymaster","inputs":[{"name":"requiredPaymaster","type":"address"}]}
]`

type abiRef struct {
	abi     abi.ABI
	indexed map[common.Hash]abi.Arguments
}

func newABIRef() *abiRef {
	a, err := abi.JSON(strings.NewReader(refABIJSON))
	if err != nil {
		panic(err)
	}
	r := &abiRef{abi: a, indexed: map[common.Hash]abi.Arguments{}}
	for _, ev := range a.Events {
		var ix abi.Arguments
		for _, in := range ev.Inputs {
			if in.Indexed {
				ix = append(ix, in)
			}
		}
		r.indexed[ev.ID] = ix
	}
	return r
}

// decodeMaps is the benchmark baseline: the event into a map (UnpackIntoMap + ParseTopicsIntoMap),
// and for PermissionsUpdated each update's arguments by its method's inputs.
func (r *abiRef) decodeMaps(lg types.Log) (string, map[string]any, [][]any, error) {
	if len(lg.Topics) == 0 {
		return "", nil, nil, ErrNotOurs
	}
	ev, err := r.abi.EventByID(lg.Topics[0])
	if err != nil {
		return "", nil, nil, ErrNotOurs
	}
	m := map[string]any{}
	if len(ev.Inputs.NonIndexed()) > 0 {
		if err := r.abi.UnpackIntoMap(m, ev.Name, lg.Data); err != nil {
			return "", nil, nil, err
		}
	}
	if err := abi.ParseTopicsIntoMap(m, r.indexed[ev.ID], lg.Topics[1:]); err != nil {
		return "", nil, nil, err
	}
	var ups [][]any
	if ev.Name == "PermissionsUpdated" {
		for _, el := range m["updates"].([][]byte) {
			if len(el) < 4 {
				return "", nil, nil, fmt.Errorf("short update")
			}
			meth, err := r.abi.MethodById(el[:4])
			if err != nil {
				return "", nil, nil, err
			}
			vals, err := meth.Inputs.Unpack(el[4:])
			if err != nil {
				return "", nil, nil, err
			}
			ups = append(ups, append([]any{meth.Name}, vals...))
		}
	}
	return ev.Name, m, ups, nil
}

// payload converts what go-ethereum decoded into the events types, for field-by-field comparison.
func (r *abiRef) payload(lg types.Log) (events.Payload, error) {
	name, m, ups, err := r.decodeMaps(lg)
	if err != nil {
		return nil, err
	}
	addr := func(k string) events.Address { return events.AddressFrom(m[k].(common.Address)) }
	addrs := func(k string) []events.Address {
		out := []events.Address{}
		for _, a := range m[k].([]common.Address) {
			out = append(out, events.AddressFrom(a))
		}
		return out
	}
	switch name {
	case "SessionKeyAdded":
		return events.SessionKeyAdded{Account: addr("account"), SessionKey: addr("sessionKey"), Tag: m["tag"].([32]byte)}, nil
	case "SessionKeyRemoved":
		return events.SessionKeyRemoved{Account: addr("account"), SessionKey: addr("sessionKey")}, nil
	case "SessionKeyRotated":
		return events.SessionKeyRotated{Account: addr("account"), OldSessionKey: addr("oldSessionKey"), NewSessionKey: addr("newSessionKey")}, nil
	case "PermissionsUpdated":
		p := events.PermissionsUpdated{Account: addr("account"), SessionKey: addr("sessionKey"), Updates: []events.Update{}}
		for _, u := range ups {
			cu, err := refUpdate(u)
			if err != nil {
				return nil, err
			}
			p.Updates = append(p.Updates, cu)
		}
		return p, nil
	case "PluginInstalled":
		p := events.PluginInstalled{Account: events.AddressFrom(lg.Address), Plugin: addr("plugin"),
			ManifestHash: m["manifestHash"].([32]byte), Dependencies: []events.FunctionReference{}}
		for _, d := range m["dependencies"].([][21]byte) {
			p.Dependencies = append(p.Dependencies, events.FunctionReference(d))
		}
		return p, nil
	case "PluginUninstalled":
		return events.PluginUninstalled{Account: events.AddressFrom(lg.Address), Plugin: addr("plugin"),
			OnUninstallSucceeded: m["onUninstallSucceeded"].(bool)}, nil
	case "OwnerUpdated":
		return events.OwnerUpdated{Account: addr("account"), AddedOwners: addrs("addedOwners"), RemovedOwners: addrs("removedOwners")}, nil
	case "UserOperationEvent":
		return events.UserOperationEvent{UserOpHash: m["userOpHash"].([32]byte), Sender: addr("sender"), Paymaster: addr("paymaster"),
			Nonce: mustU256(m["nonce"]), Success: m["success"].(bool), ActualGasCost: mustU256(m["actualGasCost"]),
			ActualGasUsed: mustU256(m["actualGasUsed"])}, nil
	}
	return nil, fmt.Errorf("unexpected event %s", name)
}

func mustU256(v any) events.U256 {
	u, err := events.U256FromBig(v.(*big.Int))
	if err != nil {
		panic(err)
	}
	return u
}

func u48(v any) uint64 { return v.(*big.Int).Uint64() }

func refUpdate(u []any) (events.Update, error) {
	a := func(i int) events.Address { return events.AddressFrom(u[i].(common.Address)) }
	switch u[0] {
	case "setAccessListType":
		return events.SetAccessListType{Type: events.AccessControlType(u[1].(uint8))}, nil
	case "updateAccessListAddressEntry":
		return events.UpdateAccessListAddressEntry{Target: a(1), IsOnList: u[2].(bool), CheckSelectors: u[3].(bool)}, nil
	case "updateAccessListFunctionEntry":
		return events.UpdateAccessListFunctionEntry{Target: a(1), Function: u[2].([4]byte), IsOnList: u[3].(bool)}, nil
	case "updateTimeRange":
		return events.UpdateTimeRange{ValidAfter: u48(u[1]), ValidUntil: u48(u[2])}, nil
	case "setNativeTokenSpendLimit":
		return events.SetNativeTokenSpendLimit{Limit: mustU256(u[1]), RefreshInterval: u48(u[2])}, nil
	case "setERC20SpendLimit":
		return events.SetERC20SpendLimit{Token: a(1), Limit: mustU256(u[2]), RefreshInterval: u48(u[3])}, nil
	case "setGasSpendLimit":
		return events.SetGasSpendLimit{Limit: mustU256(u[1]), RefreshInterval: u48(u[2])}, nil
	case "setRequiredPaymaster":
		return events.SetRequiredPaymaster{Paymaster: a(1)}, nil
	}
	return nil, fmt.Errorf("unexpected update %v", u[0])
}
