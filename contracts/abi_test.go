package contracts_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/keywarden/keywarden/contracts"
	"github.com/keywarden/keywarden/internal/sdkvectors"
	"github.com/keywarden/keywarden/pkg/events"
)

func mustABI(t *testing.T, name string) abi.ABI {
	t.Helper()
	a, code, err := contracts.Artifact(name)
	if err != nil {
		t.Fatalf("Artifact(%s): %v", name, err)
	}
	if len(code) == 0 {
		t.Fatalf("Artifact(%s): empty bytecode", name)
	}
	return a
}

func TestArtifactsLoad(t *testing.T) {
	for _, name := range contracts.Names {
		mustABI(t, name)
		code, err := contracts.DeployedBytecode(name)
		if err != nil || len(code) == 0 {
			t.Fatalf("DeployedBytecode(%s) = %d bytes, %v", name, len(code), err)
		}
		if len(code) > 24576 {
			t.Errorf("%s runtime code is %d bytes, over the EIP-170 limit", name, len(code))
		}
	}
	if _, _, err := contracts.Artifact("Nope"); err == nil {
		t.Fatal("Artifact(Nope) succeeded")
	}
}

// eventBySig finds the event of `a` whose canonical signature is sig.
func eventBySig(a abi.ABI, sig string) (abi.Event, bool) {
	for _, e := range a.Events {
		if e.Sig == sig {
			return e, true
		}
	}
	return abi.Event{}, false
}

func methodBySig(a abi.ABI, sig string) (abi.Method, bool) {
	for _, m := range a.Methods {
		if m.Sig == sig {
			return m, true
		}
	}
	return abi.Method{}, false
}

func errorBySig(a abi.ABI, sig string) bool {
	for _, e := range a.Errors {
		if e.Sig == sig {
			return true
		}
	}
	return false
}

// TestEventTopicsMatchChainConstants compares our events with pkg/events/chain.go: signature, topic and which
// arguments are indexed (the decoders depend on it).
func TestEventTopicsMatchChainConstants(t *testing.T) {
	cases := []struct {
		contract string
		sig      string
		topic    common.Hash
		indexed  []bool
	}{
		{contracts.SessionKeyPlugin, events.SigSessionKeyAdded, events.TopicSessionKeyAdded, []bool{true, true, true}},
		{contracts.SessionKeyPlugin, events.SigSessionKeyRemoved, events.TopicSessionKeyRemoved, []bool{true, true}},
		{contracts.SessionKeyPlugin, events.SigSessionKeyRotated, events.TopicSessionKeyRotated, []bool{true, true, true}},
		{contracts.SessionKeyPlugin, events.SigPermissionsUpdated, events.TopicPermissionsUpdated, []bool{true, true, false}},
		{contracts.ModularAccount, events.SigPluginInstalled, events.TopicPluginInstalled, []bool{true, false, false}},
		{contracts.ModularAccount, events.SigPluginUninstalled, events.TopicPluginUninstalled, []bool{true, true}},
		{contracts.MultiOwnerPlugin, events.SigOwnerUpdated, events.TopicOwnerUpdated, []bool{true, false, false}},
	}
	for _, c := range cases {
		a := mustABI(t, c.contract)
		ev, ok := eventBySig(a, c.sig)
		if !ok {
			t.Errorf("%s has no event %s", c.contract, c.sig)
			continue
		}
		if ev.ID != c.topic {
			t.Errorf("%s %s: topic %s, chain.go says %s", c.contract, c.sig, ev.ID, c.topic)
		}
		if crypto.Keccak256Hash([]byte(c.sig)) != c.topic {
			t.Errorf("chain.go topic of %s is not keccak of its signature", c.sig)
		}
		for i, in := range ev.Inputs {
			if in.Indexed != c.indexed[i] {
				t.Errorf("%s %s: argument %d indexed=%v, want %v", c.contract, c.sig, i, in.Indexed, c.indexed[i])
			}
		}
	}
}

// TestPermissionUpdateSelectors checks the update selectors of chain.go (which the plugin dispatches on).
func TestPermissionUpdateSelectors(t *testing.T) {
	for sig, sel := range map[string]events.Selector{
		events.SigSetAccessListType:             events.SelSetAccessListType,
		events.SigUpdateAccessListAddressEntry:  events.SelUpdateAccessListAddressEntry,
		events.SigUpdateAccessListFunctionEntry: events.SelUpdateAccessListFunctionEntry,
		events.SigUpdateTimeRange:               events.SelUpdateTimeRange,
		events.SigSetNativeTokenSpendLimit:      events.SelSetNativeTokenSpendLimit,
		events.SigSetERC20SpendLimit:            events.SelSetERC20SpendLimit,
		events.SigSetGasSpendLimit:              events.SelSetGasSpendLimit,
		events.SigSetRequiredPaymaster:          events.SelSetRequiredPaymaster,
	} {
		if got := crypto.Keccak256([]byte(sig))[:4]; string(got) != string(sel[:]) {
			t.Errorf("%s: keccak selector %x, chain.go %x", sig, got, sel)
		}
	}
}

// docSelectors are the selector tables of /work/shared/docs/session-key-plugin.md (and -details.md §6).
var docSelectors = []struct {
	contract string
	sig      string
	selector string
}{
	{contracts.SessionKeyPlugin, "executeWithSessionKey((address,uint256,bytes)[],address)", "31d99c2c"},
	{contracts.SessionKeyPlugin, "addSessionKey(address,bytes32,bytes[])", "9aa74d23"},
	{contracts.SessionKeyPlugin, "removeSessionKey(address,bytes32)", "64b2bd25"},
	{contracts.SessionKeyPlugin, "rotateSessionKey(address,bytes32,address)", "85cb6e95"},
	{contracts.SessionKeyPlugin, "updateKeyPermissions(address,bytes[])", "bb319893"},
	{contracts.SessionKeyPlugin, "resetSessionKeyGasLimitTimestamp(address,address)", "684d07c5"},
	{contracts.SessionKeyPlugin, "sessionKeysOf(address)", "36d0b31a"},
	{contracts.SessionKeyPlugin, "isSessionKeyOf(address,address)", "2237570a"},
	{contracts.SessionKeyPlugin, "findPredecessor(address,address)", "0b45f4b4"},
	{contracts.SessionKeyPlugin, "getAccessControlType(address,address)", "b7967b71"},
	{contracts.SessionKeyPlugin, "getAccessControlEntry(address,address,address)", "cfbb14ad"},
	{contracts.SessionKeyPlugin, "isSelectorOnAccessControlList(address,address,address,bytes4)", "e8a932df"},
	{contracts.SessionKeyPlugin, "getKeyTimeRange(address,address)", "98e2c27a"},
	{contracts.SessionKeyPlugin, "getNativeTokenSpendLimitInfo(address,address)", "bc3b9246"},
	{contracts.SessionKeyPlugin, "getGasSpendLimit(address,address)", "a1b9d5f4"},
	{contracts.SessionKeyPlugin, "getERC20SpendLimitInfo(address,address,address)", "2d106419"},
	{contracts.SessionKeyPlugin, "getRequiredPaymaster(address,address)", "e5282cbd"},
	{contracts.MultiOwnerPlugin, "ownersOf(address)", "0c976227"},
	{contracts.MultiOwnerPlugin, "isOwnerOf(address,address)", "f582bceb"},
	{contracts.MultiOwnerPlugin, "updateOwners(address[],address[])", "39562247"},
	{contracts.ModularAccount, "installPlugin(address,bytes32,bytes,bytes21[])", "c5f0e8d1"},
	{contracts.ModularAccount, "uninstallPlugin(address,bytes,bytes)", "c1a221f3"},
	{contracts.ModularAccount, "getInstalledPlugins()", "3a0cac56"},
	{contracts.ModularAccount, "execute(address,uint256,bytes)", "b61d27f6"},
	{contracts.ModularAccount, "executeBatch((address,uint256,bytes)[])", "34fcd5be"},
	{contracts.ModularAccount, "validateUserOp((address,uint256,bytes,bytes,uint256,uint256,uint256,uint256,uint256,bytes,bytes),bytes32,uint256)", "3a871cdd"},
	{contracts.ModularAccount, "getExecutionFunctionConfig(bytes4)", "8d112184"},
	{contracts.ModularAccountFactory, "createAccount(uint256,address[])", "73876732"},
	{contracts.ModularAccountFactory, "getAddress(uint256,address[])", "e189e379"},
}

func TestFunctionSelectorsMatchDocs(t *testing.T) {
	for _, d := range docSelectors {
		m, ok := methodBySig(mustABI(t, d.contract), d.sig)
		if !ok {
			t.Errorf("%s has no function %s", d.contract, d.sig)
			continue
		}
		if got := fmt.Sprintf("%x", m.ID); got != d.selector {
			t.Errorf("%s %s: selector %s, docs say %s", d.contract, d.sig, got, d.selector)
		}
	}
}

// TestEntryPointSelectors checks the EntryPoint functions keywarden calls, when the artifact is present.
func TestEntryPointSelectors(t *testing.T) {
	a, _, err := contracts.EntryPoint()
	if err != nil {
		skipOrFail(t, err)
	}
	for sig, sel := range map[string]string{
		"handleOps((address,uint256,bytes,bytes,uint256,uint256,uint256,uint256,uint256,bytes,bytes)[],address)": "1fad948c",
		"getUserOpHash((address,uint256,bytes,bytes,uint256,uint256,uint256,uint256,uint256,bytes,bytes))":       "a6193531",
		"getNonce(address,uint192)": "35567e1a",
	} {
		m, ok := methodBySig(a, sig)
		if !ok || fmt.Sprintf("%x", m.ID) != sel {
			t.Errorf("EntryPoint %s: found=%v selector %x, want %s", sig, ok, m.ID, sel)
		}
	}
	for sig, topic := range map[string]string{
		events.SigUserOperationEvent:                               events.TopicUserOperationEvent.Hex(),
		"UserOperationRevertReason(bytes32,address,uint256,bytes)": "0x1c4fada7374c0a9ee8841fc38afe82932dc0f8e69012e927f061a8bae611a201",
		"AccountDeployed(bytes32,address,address,address)":         "0xd51a9c61267aa6196961883ecf5ff2da6619c37dac0fa92122513fb32c032d2d",
	} {
		ev, ok := eventBySig(a, sig)
		if !ok || ev.ID.Hex() != topic {
			t.Errorf("EntryPoint %s: found=%v topic %s, want %s", sig, ok, ev.ID.Hex(), topic)
		}
	}
}

// sdkErrors are the custom errors of the vendor SDK's SessionKeyPluginAbi and MultiOwnerPluginAbi
// (@account-kit/smart-contracts 4.88.5), plus PermissionsCheckFailed which v1.0.1 adds.
var sdkErrors = map[string][]string{
	contracts.SessionKeyPlugin: {
		"AlreadyInitialized()", "ERC20SpendLimitExceeded(address,address,address)", "InvalidAction()",
		"InvalidPermissionsUpdate(bytes4)", "InvalidSessionKey(address)", "InvalidSignature(address)",
		"InvalidToken(address)", "LengthMismatch()", "NativeTokenSpendLimitExceeded(address,address)",
		"NotContractCaller(address)", "NotImplemented(bytes4,uint8)", "NotInitialized()",
		"SessionKeyNotFound(address)", "PermissionsCheckFailed()",
	},
	contracts.MultiOwnerPlugin: {
		"AlreadyInitialized()", "EmptyOwnersNotAllowed()", "InvalidAction()", "InvalidOwner(address)",
		"NotAuthorized()", "NotContractCaller(address)", "NotImplemented(bytes4,uint8)", "NotInitialized()",
		"OwnerDoesNotExist(address)",
	},
	contracts.ModularAccount: {
		"AlwaysDenyRule()", "PluginCallDenied(address)", "RuntimeValidationFunctionReverted(address,uint8,bytes)",
		"RuntimeValidationFunctionMissing(bytes4)", "PluginInstallCallbackFailed(address,bytes)",
		"PluginUninstallCallbackFailed(address,bytes)", "InvalidPluginManifest()", "UnrecognizedFunction(bytes4)",
		"UserOpNotFromEntryPoint()", "ExecFromPluginExternalNotPermitted(address,address,uint256,bytes)",
		"PluginNotInstalled(address)", "PluginAlreadyInstalled(address)", "MissingPluginDependency(address)",
		"PluginDependencyViolation(address)", "InvalidDependenciesProvided()", "UserOpValidationFunctionMissing(bytes4)",
	},
	contracts.ModularAccountFactory: {"InvalidOwner()", "OwnersArrayEmpty()", "OwnersLimitExceeded()"},
}

func TestCustomErrors(t *testing.T) {
	for contract, sigs := range sdkErrors {
		a := mustABI(t, contract)
		for _, sig := range sigs {
			if !errorBySig(a, sig) {
				t.Errorf("%s lacks error %s", contract, sig)
			}
		}
	}
}

// sdkABIToOurs maps the SDK's exported ABI constants to the stand-in that must provide them.
var sdkABIToOurs = map[string]string{
	"SessionKeyPluginAbi":                  contracts.SessionKeyPlugin,
	"SessionKeyPluginExecutionFunctionAbi": contracts.SessionKeyPlugin,
	"MultiOwnerPluginAbi":                  contracts.MultiOwnerPlugin,
	"IPluginAbi":                           contracts.SessionKeyPlugin,
	"IPluginManagerAbi":                    contracts.ModularAccount,
	"IAccountLoupeAbi":                     contracts.ModularAccount,
	"IStandardExecutorAbi":                 contracts.ModularAccount,
	"UpgradeableModularAccountAbi":         contracts.ModularAccount,
	"MultiOwnerModularAccountFactoryAbi":   contracts.ModularAccountFactory,
}

// sdkNotProvided lists SDK ABI members the stand-ins deliberately leave out: upgrades, the factory's
// ownership and staking, and events of callback failures the v1 account never emits.
var sdkNotProvided = map[string]bool{
	"UpgradeableModularAccountAbi upgradeToAndCall(address,bytes)":                 true,
	"UpgradeableModularAccountAbi proxiableUUID()":                                 true,
	"UpgradeableModularAccountAbi Upgraded(address)":                               true,
	"MultiOwnerModularAccountFactoryAbi acceptOwnership()":                         true,
	"MultiOwnerModularAccountFactoryAbi addStake(uint32,uint256)":                  true,
	"MultiOwnerModularAccountFactoryAbi owner()":                                   true,
	"MultiOwnerModularAccountFactoryAbi pendingOwner()":                            true,
	"MultiOwnerModularAccountFactoryAbi renounceOwnership()":                       true,
	"MultiOwnerModularAccountFactoryAbi transferOwnership(address)":                true,
	"MultiOwnerModularAccountFactoryAbi unlockStake()":                             true,
	"MultiOwnerModularAccountFactoryAbi withdraw(address,address,uint256)":         true,
	"MultiOwnerModularAccountFactoryAbi withdrawStake(address)":                    true,
	"MultiOwnerModularAccountFactoryAbi OwnershipTransferStarted(address,address)": true,
	"MultiOwnerModularAccountFactoryAbi OwnershipTransferred(address,address)":     true,
	"IPluginManagerAbi PluginIgnoredHookUnapplyCallbackFailure(address,address)":   true,
	"IPluginManagerAbi PluginIgnoredUninstallCallbackFailure(address)":             true,
}

// TestABIMatchesSDK: every function and event of the SDK's ABIs exists in the matching stand-in with the
// same selector or topic (computed by viem in the SDK vectors), except the few listed in sdkNotProvided.
func TestABIMatchesSDK(t *testing.T) {
	v := sdkvectors.Load(t)
	seen := map[string]int{}
	for _, f := range v.ABI.Functions {
		ours, ok := sdkABIToOurs[f.ABI]
		if !ok || sdkNotProvided[f.ABI+" "+f.Signature] {
			continue
		}
		seen[f.ABI]++
		m, found := methodBySig(mustABI(t, ours), f.Signature)
		if !found {
			t.Errorf("%s: %s has no function %s", f.ABI, ours, f.Signature)
			continue
		}
		if string(m.ID) != string(f.Selector[:]) {
			t.Errorf("%s %s: selector %x, SDK %x", f.ABI, f.Signature, m.ID, f.Selector)
		}
	}
	for _, e := range v.ABI.Events {
		ours, ok := sdkABIToOurs[e.ABI]
		if !ok || sdkNotProvided[e.ABI+" "+e.Signature] {
			continue
		}
		seen[e.ABI]++
		ev, found := eventBySig(mustABI(t, ours), e.Signature)
		if !found {
			t.Errorf("%s: %s has no event %s", e.ABI, ours, e.Signature)
			continue
		}
		if ev.ID != e.Topic {
			t.Errorf("%s %s: topic %s, SDK %s", e.ABI, e.Signature, ev.ID, e.Topic)
		}
	}
	for name := range sdkABIToOurs {
		if seen[name] == 0 {
			t.Errorf("SDK vectors carry nothing of %s", name)
		}
	}
	if t.Failed() {
		var names []string
		for n := range seen {
			names = append(names, n)
		}
		t.Logf("compared: %s", strings.Join(names, ", "))
	}
}
