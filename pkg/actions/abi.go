package actions

import (
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
)

// The ABIs below are the parts of the account, the plugins and the EntryPoint v0.6 that this
// package calls. They are written from the function signatures in
// docs/session-key-plugin.md; abi_test.go checks every selector against that table.

const pluginABIJSON = `[
{"type":"function","name":"sessionKeysOf","stateMutability":"view","inputs":[{"name":"account","type":"address"}],"outputs":[{"name":"","type":"address[]"}]},
{"type":"function","name":"isSessionKeyOf","stateMutability":"view","inputs":[{"name":"account","type":"address"},{"name":"sessionKey","type":"address"}],"outputs":[{"name":"","type":"bool"}]},
{"type":"function","name":"findPredecessor","stateMutability":"view","inputs":[{"name":"account","type":"address"},{"name":"sessionKey","type":"address"}],"outputs":[{"name":"","type":"bytes32"}]},
{"type":"function","name":"getAccessControlType","stateMutability":"view","inputs":[{"name":"account","type":"address"},{"name":"sessionKey","type":"address"}],"outputs":[{"name":"","type":"uint8"}]},
{"type":"function","name":"getAccessControlEntry","stateMutability":"view","inputs":[{"name":"account","type":"address"},{"name":"sessionKey","type":"address"},{"name":"targetAddress","type":"address"}],"outputs":[{"name":"isOnList","type":"bool"},{"name":"checkSelectors","type":"bool"}]},
{"type":"function","name":"isSelectorOnAccessControlList","stateMutability":"view","inputs":[{"name":"account","type":"address"},{"name":"sessionKey","type":"address"},{"name":"targetAddress","type":"address"},{"name":"selector","type":"bytes4"}],"outputs":[{"name":"","type":"bool"}]},
{"type":"function","name":"getKeyTimeRange","stateMutability":"view","inputs":[{"name":"account","type":"address"},{"name":"sessionKey","type":"address"}],"outputs":[{"name":"validAfter","type":"uint48"},{"name":"validUntil","type":"uint48"}]},
{"type":"function","name":"getNativeTokenSpendLimitInfo","stateMutability":"view","inputs":[{"name":"account","type":"address"},{"name":"sessionKey","type":"address"}],"outputs":[{"name":"info","type":"tuple","components":[{"name":"hasLimit","type":"bool"},{"name":"limit","type":"uint256"},{"name":"limitUsed","type":"uint256"},{"name":"refreshInterval","type":"uint48"},{"name":"lastUsedTime","type":"uint48"}]}]},
{"type":"function","name":"getGasSpendLimit","stateMutability":"view","inputs":[{"name":"account","type":"address"},{"name":"sessionKey","type":"address"}],"outputs":[{"name":"info","type":"tuple","components":[{"name":"hasLimit","type":"bool"},{"name":"limit","type":"uint256"},{"name":"limitUsed","type":"uint256"},{"name":"refreshInterval","type":"uint48"},{"name":"lastUsedTime","type":"uint48"}]},{"name":"shouldReset","type":"bool"}]},
{"type":"function","name":"getERC20SpendLimitInfo","stateMutability":"view","inputs":[{"name":"account","type":"address"},{"name":"sessionKey","type":"address"},{"name":"token","type":"address"}],"outputs":[{"name":"info","type":"tuple","components":[{"name":"hasLimit","type":"bool"},{"name":"limit","type":"uint256"},{"name":"limitUsed","type":"uint256"},{"name":"refreshInterval","type":"uint48"},{"name":"lastUsedTime","type":"uint48"}]}]},
{"type":"function","name":"getRequiredPaymaster","stateMutability":"view","inputs":[{"name":"account","type":"address"},{"name":"sessionKey","type":"address"}],"outputs":[{"name":"","type":"address"}]},
{"type":"function","name":"pluginManifest","stateMutability":"pure","inputs":[],"outputs":[]},
{"type":"function","name":"resetSessionKeyGasLimitTimestamp","stateMutability":"nonpayable","inputs":[{"name":"account","type":"address"},{"name":"sessionKey","type":"address"}],"outputs":[]}
]`

// accountABIJSON covers the account's own functions and the plugin's execution functions,
// which the account routes to the plugin (call them on the account's address).
const accountABIJSON = `[
{"type":"function","name":"execute","stateMutability":"payable","inputs":[{"name":"target","type":"address"},{"name":"value","type":"uint256"},{"name":"data","type":"bytes"}],"outputs":[{"name":"","type":"bytes"}]},
{"type":"function","name":"executeBatch","stateMutability":"payable","inputs":[{"name":"calls","type":"tuple[]","components":[{"name":"target","type":"address"},{"name":"value","type":"uint256"},{"name":"data","type":"bytes"}]}],"outputs":[{"name":"","type":"bytes[]"}]},
{"type":"function","name":"installPlugin","stateMutability":"nonpayable","inputs":[{"name":"plugin","type":"address"},{"name":"manifestHash","type":"bytes32"},{"name":"pluginInstallData","type":"bytes"},{"name":"dependencies","type":"bytes21[]"}],"outputs":[]},
{"type":"function","name":"uninstallPlugin","stateMutability":"nonpayable","inputs":[{"name":"plugin","type":"address"},{"name":"config","type":"bytes"},{"name":"pluginUninstallData","type":"bytes"}],"outputs":[]},
{"type":"function","name":"getInstalledPlugins","stateMutability":"view","inputs":[],"outputs":[{"name":"","type":"address[]"}]},
{"type":"function","name":"getExecutionFunctionConfig","stateMutability":"view","inputs":[{"name":"selector","type":"bytes4"}],"outputs":[{"name":"config","type":"tuple","components":[{"name":"plugin","type":"address"},{"name":"userOpValidationFunction","type":"bytes21"},{"name":"runtimeValidationFunction","type":"bytes21"}]}]},
{"type":"function","name":"updateOwners","stateMutability":"nonpayable","inputs":[{"name":"ownersToAdd","type":"address[]"},{"name":"ownersToRemove","type":"address[]"}],"outputs":[]},
{"type":"function","name":"executeWithSessionKey","stateMutability":"nonpayable","inputs":[{"name":"calls","type":"tuple[]","components":[{"name":"target","type":"address"},{"name":"value","type":"uint256"},{"name":"data","type":"bytes"}]},{"name":"sessionKey","type":"address"}],"outputs":[{"name":"","type":"bytes[]"}]},
{"type":"function","name":"addSessionKey","stateMutability":"nonpayable","inputs":[{"name":"sessionKey","type":"address"},{"name":"tag","type":"bytes32"},{"name":"permissionUpdates","type":"bytes[]"}],"outputs":[]},
{"type":"function","name":"removeSessionKey","stateMutability":"nonpayable","inputs":[{"name":"sessionKey","type":"address"},{"name":"predecessor","type":"bytes32"}],"outputs":[]},
{"type":"function","name":"rotateSessionKey","stateMutability":"nonpayable","inputs":[{"name":"oldSessionKey","type":"address"},{"name":"predecessor","type":"bytes32"},{"name":"newSessionKey","type":"address"}],"outputs":[]},
{"type":"function","name":"updateKeyPermissions","stateMutability":"nonpayable","inputs":[{"name":"sessionKey","type":"address"},{"name":"updates","type":"bytes[]"}],"outputs":[]}
]`

const multiOwnerABIJSON = `[
{"type":"function","name":"ownersOf","stateMutability":"view","inputs":[{"name":"account","type":"address"}],"outputs":[{"name":"","type":"address[]"}]},
{"type":"function","name":"isOwnerOf","stateMutability":"view","inputs":[{"name":"account","type":"address"},{"name":"owner","type":"address"}],"outputs":[{"name":"","type":"bool"}]}
]`

const userOpTuple = `{"name":"op","type":"tuple","components":[
{"name":"sender","type":"address"},{"name":"nonce","type":"uint256"},{"name":"initCode","type":"bytes"},{"name":"callData","type":"bytes"},
{"name":"callGasLimit","type":"uint256"},{"name":"verificationGasLimit","type":"uint256"},{"name":"preVerificationGas","type":"uint256"},
{"name":"maxFeePerGas","type":"uint256"},{"name":"maxPriorityFeePerGas","type":"uint256"},{"name":"paymasterAndData","type":"bytes"},{"name":"signature","type":"bytes"}]}`

var entryPointABIJSON = `[
{"type":"function","name":"getNonce","stateMutability":"view","inputs":[{"name":"sender","type":"address"},{"name":"key","type":"uint192"}],"outputs":[{"name":"nonce","type":"uint256"}]},
{"type":"function","name":"getUserOpHash","stateMutability":"view","inputs":[` + userOpTuple + `],"outputs":[{"name":"","type":"bytes32"}]},
{"type":"function","name":"handleOps","stateMutability":"nonpayable","inputs":[{"name":"ops","type":"tuple[]","components":[
{"name":"sender","type":"address"},{"name":"nonce","type":"uint256"},{"name":"initCode","type":"bytes"},{"name":"callData","type":"bytes"},
{"name":"callGasLimit","type":"uint256"},{"name":"verificationGasLimit","type":"uint256"},{"name":"preVerificationGas","type":"uint256"},
{"name":"maxFeePerGas","type":"uint256"},{"name":"maxPriorityFeePerGas","type":"uint256"},{"name":"paymasterAndData","type":"bytes"},{"name":"signature","type":"bytes"}]},{"name":"beneficiary","type":"address"}],"outputs":[]},
{"type":"function","name":"balanceOf","stateMutability":"view","inputs":[{"name":"account","type":"address"}],"outputs":[{"name":"","type":"uint256"}]},
{"type":"function","name":"depositTo","stateMutability":"payable","inputs":[{"name":"account","type":"address"}],"outputs":[]},
{"type":"error","name":"FailedOp","inputs":[{"name":"opIndex","type":"uint256"},{"name":"reason","type":"string"}]},
{"type":"event","name":"UserOperationEvent","anonymous":false,"inputs":[{"name":"userOpHash","type":"bytes32","indexed":true},{"name":"sender","type":"address","indexed":true},{"name":"paymaster","type":"address","indexed":true},{"name":"nonce","type":"uint256","indexed":false},{"name":"success","type":"bool","indexed":false},{"name":"actualGasCost","type":"uint256","indexed":false},{"name":"actualGasUsed","type":"uint256","indexed":false}]},
{"type":"event","name":"UserOperationRevertReason","anonymous":false,"inputs":[{"name":"userOpHash","type":"bytes32","indexed":true},{"name":"sender","type":"address","indexed":true},{"name":"nonce","type":"uint256","indexed":false},{"name":"revertReason","type":"bytes","indexed":false}]}
]`

var (
	pluginABI     = mustABI("session key plugin", pluginABIJSON)
	accountABI    = mustABI("account", accountABIJSON)
	multiOwnerABI = mustABI("multi owner plugin", multiOwnerABIJSON)
	entryPointABI = mustABI("entry point", entryPointABIJSON)
)

// mustABI parses a constant of this file; a failure is a programming error caught by every test.
func mustABI(name, js string) abi.ABI {
	a, err := abi.JSON(strings.NewReader(js))
	if err != nil {
		panic(fmt.Sprintf("parse %s ABI: %v", name, err))
	}
	return a
}
