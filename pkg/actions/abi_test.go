package actions

import (
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// The selectors of docs/session-key-plugin.md, computed there with viem.
func TestSelectorsMatchReference(t *testing.T) {
	cases := []struct {
		a      abi.ABI
		method string
		want   string
	}{
		{accountABI, "executeWithSessionKey", "0x31d99c2c"},
		{accountABI, "addSessionKey", "0x9aa74d23"},
		{accountABI, "removeSessionKey", "0x64b2bd25"},
		{accountABI, "rotateSessionKey", "0x85cb6e95"},
		{accountABI, "updateKeyPermissions", "0xbb319893"},
		{accountABI, "installPlugin", "0xc5f0e8d1"},
		{accountABI, "uninstallPlugin", "0xc1a221f3"},
		{accountABI, "getInstalledPlugins", "0x3a0cac56"},
		{accountABI, "getExecutionFunctionConfig", "0x8d112184"},
		{accountABI, "execute", "0xb61d27f6"},
		{accountABI, "executeBatch", "0x34fcd5be"},
		{accountABI, "updateOwners", "0x39562247"},
		{pluginABI, "sessionKeysOf", "0x36d0b31a"},
		{pluginABI, "isSessionKeyOf", "0x2237570a"},
		{pluginABI, "findPredecessor", "0x0b45f4b4"},
		{pluginABI, "getAccessControlType", "0xb7967b71"},
		{pluginABI, "getAccessControlEntry", "0xcfbb14ad"},
		{pluginABI, "isSelectorOnAccessControlList", "0xe8a932df"},
		{pluginABI, "getKeyTimeRange", "0x98e2c27a"},
		{pluginABI, "getNativeTokenSpendLimitInfo", "0xbc3b9246"},
		{pluginABI, "getGasSpendLimit", "0xa1b9d5f4"},
		{pluginABI, "getERC20SpendLimitInfo", "0x2d106419"},
		{pluginABI, "getRequiredPaymaster", "0xe5282cbd"},
		{pluginABI, "pluginManifest", "0xc7763130"},
		{pluginABI, "resetSessionKeyGasLimitTimestamp", "0x684d07c5"},
		{multiOwnerABI, "ownersOf", "0x0c976227"},
		{multiOwnerABI, "isOwnerOf", "0xf582bceb"},
		{entryPointABI, "getNonce", "0x35567e1a"},
		{entryPointABI, "handleOps", "0x1fad948c"},
		{entryPointABI, "getUserOpHash", "0xa6193531"},
	}
	for _, c := range cases {
		m, ok := c.a.Methods[c.method]
		if !ok {
			t.Errorf("%s: missing", c.method)
			continue
		}
		if got := hexutil.Encode(m.ID); got != c.want {
			t.Errorf("%s (%s): selector %s, want %s", c.method, m.Sig, got, c.want)
		}
	}
	if got := hexutil.Encode(topicUserOperationEvent[:]); got != "0x49628fd1471006c1482da88028e9ce4dbb080b815c9b0344d39e5a8e6ec1419f" {
		t.Errorf("UserOperationEvent topic %s", got)
	}
	if got := hexutil.Encode(topicUserOperationRevertReason[:]); got != "0x1c4fada7374c0a9ee8841fc38afe82932dc0f8e69012e927f061a8bae611a201" {
		t.Errorf("UserOperationRevertReason topic %s", got)
	}
	if got := hexutil.Encode(failedOpSel[:]); got != "0x220266b6" {
		t.Errorf("FailedOp selector %s", got)
	}
}
