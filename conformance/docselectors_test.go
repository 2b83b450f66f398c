package conformance_test

import (
	"testing"

	"github.com/keywarden/keywarden/internal/sdkvectors"
)

// docFunctions are the function selectors the shared reference doc (session-key-plugin.md and
// -details.md) states, by canonical signature, with the SDK ABI expected to declare them.
var docFunctions = []struct{ sig, sel, abi string }{
	{"executeWithSessionKey((address,uint256,bytes)[],address)", "0x31d99c2c", "SessionKeyPluginExecutionFunctionAbi"},
	{"addSessionKey(address,bytes32,bytes[])", "0x9aa74d23", "SessionKeyPluginExecutionFunctionAbi"},
	{"removeSessionKey(address,bytes32)", "0x64b2bd25", "SessionKeyPluginExecutionFunctionAbi"},
	{"rotateSessionKey(address,bytes32,address)", "0x85cb6e95", "SessionKeyPluginExecutionFunctionAbi"},
	{"updateKeyPermissions(address,bytes[])", "0xbb319893", "SessionKeyPluginExecutionFunctionAbi"},
	{"resetSessionKeyGasLimitTimestamp(address,address)", "0x684d07c5", "SessionKeyPluginAbi"},
	{"sessionKeysOf(address)", "0x36d0b31a", "SessionKeyPluginAbi"},
	{"isSessionKeyOf(address,address)", "0x2237570a", "SessionKeyPluginAbi"},
	{"findPredecessor(address,address)", "0x0b45f4b4", "SessionKeyPluginAbi"},
	{"getAccessControlType(address,address)", "0xb7967b71", "SessionKeyPluginAbi"},
	{"getAccessControlEntry(address,address,address)", "0xcfbb14ad", "SessionKeyPluginAbi"},
	{"isSelectorOnAccessControlList(address,address,address,bytes4)", "0xe8a932df", "SessionKeyPluginAbi"},
	{"getKeyTimeRange(address,address)", "0x98e2c27a", "SessionKeyPluginAbi"},
	{"getNativeTokenSpendLimitInfo(address,address)", "0xbc3b9246", "SessionKeyPluginAbi"},
	{"getGasSpendLimit(address,address)", "0xa1b9d5f4", "SessionKeyPluginAbi"},
	{"getERC20SpendLimitInfo(address,address,address)", "0x2d106419", "SessionKeyPluginAbi"},
	{"getRequiredPaymaster(address,address)", "0xe5282cbd", "SessionKeyPluginAbi"},
	{"onInstall(bytes)", "0x6d61fe70", "SessionKeyPluginAbi"},
	{"onUninstall(bytes)", "0x8a91b0e3", "SessionKeyPluginAbi"},
	{"pluginManifest()", "0xc7763130", "SessionKeyPluginAbi"},
	{"pluginMetadata()", "0x118a5389", "SessionKeyPluginAbi"},
	{"supportsInterface(bytes4)", "0x01ffc9a7", "SessionKeyPluginAbi"},
	{"installPlugin(address,bytes32,bytes,bytes21[])", "0xc5f0e8d1", "IPluginManagerAbi"},
	{"uninstallPlugin(address,bytes,bytes)", "0xc1a221f3", "IPluginManagerAbi"},
	{"getInstalledPlugins()", "0x3a0cac56", "IAccountLoupeAbi"},
	{"getExecutionFunctionConfig(bytes4)", "0x8d112184", "IAccountLoupeAbi"},
	{"execute(address,uint256,bytes)", "0xb61d27f6", "IStandardExecutorAbi"},
	{"executeBatch((address,uint256,bytes)[])", "0x34fcd5be", "IStandardExecutorAbi"},
	{"ownersOf(address)", "0x0c976227", "MultiOwnerPluginAbi"},
	{"isOwnerOf(address,address)", "0xf582bceb", "MultiOwnerPluginAbi"},
	{"updateOwners(address[],address[])", "0x39562247", "MultiOwnerPluginAbi"},
	{"createAccount(uint256,address[])", "0x73876732", "MultiOwnerModularAccountFactoryAbi"},
	{"getAddress(uint256,address[])", "0xe189e379", "MultiOwnerModularAccountFactoryAbi"},
	{"getNonce(address,uint192)", "0x35567e1a", "EntryPointAbi_v6"},
	{"handleOps((address,uint256,bytes,bytes,uint256,uint256,uint256,uint256,uint256,bytes,bytes)[],address)", "0x1fad948c", "EntryPointAbi_v6"},
	{"getUserOpHash((address,uint256,bytes,bytes,uint256,uint256,uint256,uint256,uint256,bytes,bytes))", "0xa6193531", "EntryPointAbi_v6"},
	{"validateUserOp((address,uint256,bytes,bytes,uint256,uint256,uint256,uint256,uint256,bytes,bytes),bytes32,uint256)", "0x3a871cdd", "UpgradeableModularAccountAbi"},
}

// docEvents are the other event topics the reference doc states.
var docEvents = []struct{ sig, topic, abi string }{
	{"UserOperationRevertReason(bytes32,address,uint256,bytes)", "0x1c4fada7374c0a9ee8841fc38afe82932dc0f8e69012e927f061a8bae611a201", "EntryPointAbi_v6"},
	{"AccountDeployed(bytes32,address,address,address)", "0xd51a9c61267aa6196961883ecf5ff2da6619c37dac0fa92122513fb32c032d2d", "EntryPointAbi_v6"},
	{"BeforeExecution()", "0xbb47ee3e183a558b1a2ff0874b079f3fc5478b7454eacf2bfc5af2ff5878f972", "EntryPointAbi_v6"},
	{"SignatureAggregatorChanged(address)", "0x575ff3acadd5ab348fe1855e217e0f3678f8d767d7494c9f9fefbee2e17cca4d", "EntryPointAbi_v6"},
	{"ModularAccountInitialized(address)", "0x9f08b8dca66d3393166c297eebdbe382963a15cce40f3a2f4bf32378553fe65a", "UpgradeableModularAccountAbi"},
	{"Upgraded(address)", "0xbc7cd75a20ee27fd9adebab32041f755214dbc6bffa90cc0225b39da2e5c2d3b", "UpgradeableModularAccountAbi"},
}

// TestDocSelectorsMatchSDK checks the selectors and topics the reference doc states (which the
// other packages copy) against the SDK's ABIs.
func TestDocSelectorsMatchSDK(t *testing.T) {
	v := sdkvectors.Load(t)
	for _, d := range docFunctions {
		found := false
		for _, f := range v.ABI.Functions {
			if f.ABI == d.abi && f.Signature == d.sig {
				found = true
				if f.Selector.String() != d.sel {
					t.Errorf("%s: doc says %s, %s says %s", d.sig, d.sel, d.abi, f.Selector)
				}
			}
		}
		if !found {
			t.Errorf("%s: %s does not declare it", d.sig, d.abi)
		}
	}
	for _, d := range docEvents {
		found := false
		for _, e := range v.ABI.Events {
			if e.ABI == d.abi && e.Signature == d.sig {
				found = true
				if e.Topic.Hex() != d.topic {
					t.Errorf("%s: doc says %s, %s says %s", d.sig, d.topic, d.abi, e.Topic)
				}
			}
		}
		if !found {
			t.Errorf("%s: %s does not declare it", d.sig, d.abi)
		}
	}
}
