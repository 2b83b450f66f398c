package contracts_test

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/keywarden/keywarden/pkg/events"
)

// TestOperationGas logs the gas of the common owner operations on the simulated chain (figures for planning
// load generation; nothing is asserted beyond success).
func TestOperationGas(t *testing.T) {
	e := newEnv(t)
	owners := []common.Address{common.HexToAddress("0x01"), common.HexToAddress("0x02")}
	r := e.send(e.deployer, e.d.Factory, e.pack(e.factory, "createAccount", big.NewInt(9), owners), nil)
	e.requireOK(r, "createAccount")
	t.Logf("createAccount (2 owners)          %9d", r.GasUsed)

	k1 := common.HexToAddress("0xc1")
	r = e.install([]common.Address{k1}, []common.Hash{{}}, [][][]byte{{}})
	t.Logf("installPlugin (1 key, no updates) %9d", r.GasUsed)

	k2 := common.HexToAddress("0xc2")
	r = e.send(e.owner, e.account, e.pack(e.skp, "addSessionKey", k2, [32]byte{}, [][]byte{}), nil)
	e.requireOK(r, "add")
	t.Logf("addSessionKey (no updates)        %9d", r.GasUsed)

	ups := [][]byte{
		update(t, events.SetAccessListType{Type: events.AccessAllowAll}),
		update(t, events.SetNativeTokenSpendLimit{Limit: events.U256From64(1e18), RefreshInterval: 86400}),
		update(t, events.UpdateTimeRange{ValidUntil: 4_000_000_000}),
	}
	k3 := common.HexToAddress("0xc3")
	r = e.send(e.owner, e.account, e.pack(e.skp, "addSessionKey", k3, [32]byte{}, ups), nil)
	e.requireOK(r, "add with updates")
	t.Logf("addSessionKey (3 updates)         %9d", r.GasUsed)

	r = e.send(e.owner, e.account, e.pack(e.skp, "updateKeyPermissions", k3, ups[2:]), nil)
	e.requireOK(r, "update")
	t.Logf("updateKeyPermissions (1 update)   %9d", r.GasUsed)

	k4 := common.HexToAddress("0xc4")
	r = e.send(e.owner, e.account, e.pack(e.skp, "rotateSessionKey", k3, e.pred(k3), k4), nil)
	e.requireOK(r, "rotate")
	t.Logf("rotateSessionKey                  %9d", r.GasUsed)

	r = e.send(e.owner, e.account, e.pack(e.skp, "removeSessionKey", k2, e.pred(k2)), nil)
	e.requireOK(r, "remove")
	t.Logf("removeSessionKey                  %9d", r.GasUsed)
}
