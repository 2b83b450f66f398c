package conformance_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/keywarden/keywarden/internal/sdkvectors"
	"github.com/keywarden/keywarden/pkg/events"
)

// A topic constant, the signature constant beside it, and the SDK ABI that must declare it.
type topicCase struct {
	name  string // Go name of the topic variable
	topic common.Hash
	sig   string
	abi   string
}

// A selector constant of a permission update.
type selectorCase struct {
	name string
	sel  events.Selector
	sig  string
	abi  string
}

var topicCases = []topicCase{
	{"TopicSessionKeyAdded", events.TopicSessionKeyAdded, events.SigSessionKeyAdded, "SessionKeyPluginAbi"},
	{"TopicSessionKeyRemoved", events.TopicSessionKeyRemoved, events.SigSessionKeyRemoved, "SessionKeyPluginAbi"},
	{"TopicSessionKeyRotated", events.TopicSessionKeyRotated, events.SigSessionKeyRotated, "SessionKeyPluginAbi"},
	{"TopicPermissionsUpdated", events.TopicPermissionsUpdated, events.SigPermissionsUpdated, "SessionKeyPluginAbi"},
	{"TopicPluginInstalled", events.TopicPluginInstalled, events.SigPluginInstalled, "UpgradeableModularAccountAbi"},
	{"TopicPluginUninstalled", events.TopicPluginUninstalled, events.SigPluginUninstalled, "UpgradeableModularAccountAbi"},
	{"TopicOwnerUpdated", events.TopicOwnerUpdated, events.SigOwnerUpdated, "MultiOwnerPluginAbi"},
	{"TopicUserOperationEvent", events.TopicUserOperationEvent, events.SigUserOperationEvent, "EntryPointAbi_v6"},
}

var selectorCases = []selectorCase{
	{"SelSetAccessListType", events.SelSetAccessListType, events.SigSetAccessListType, "SessionKeyPermissionsUpdatesAbi"},
	{"SelUpdateAccessListAddressEntry", events.SelUpdateAccessListAddressEntry, events.SigUpdateAccessListAddressEntry, "SessionKeyPermissionsUpdatesAbi"},
	{"SelUpdateAccessListFunctionEntry", events.SelUpdateAccessListFunctionEntry, events.SigUpdateAccessListFunctionEntry, "SessionKeyPermissionsUpdatesAbi"},
	{"SelUpdateTimeRange", events.SelUpdateTimeRange, events.SigUpdateTimeRange, "SessionKeyPermissionsUpdatesAbi"},
	{"SelSetNativeTokenSpendLimit", events.SelSetNativeTokenSpendLimit, events.SigSetNativeTokenSpendLimit, "SessionKeyPermissionsUpdatesAbi"},
	{"SelSetERC20SpendLimit", events.SelSetERC20SpendLimit, events.SigSetERC20SpendLimit, "SessionKeyPermissionsUpdatesAbi"},
	{"SelSetGasSpendLimit", events.SelSetGasSpendLimit, events.SigSetGasSpendLimit, "SessionKeyPermissionsUpdatesAbi"},
	{"SelSetRequiredPaymaster", events.SelSetRequiredPaymaster, events.SigSetRequiredPaymaster, "SessionKeyPermissionsUpdatesAbi"},
}

// TestTopicsMatchSDK checks each event topic and signature constant of pkg/events against the SDK ABI
// that declares the event.
func TestTopicsMatchSDK(t *testing.T) {
	v := sdkvectors.Load(t)
	for _, c := range topicCases {
		found := false
		for _, e := range v.ABI.Events {
			if e.ABI != c.abi || e.Signature != c.sig {
				continue
			}
			found = true
			if e.Topic != c.topic {
				t.Errorf("events.%s = %s, %s says %s for %s", c.name, c.topic, c.abi, e.Topic, c.sig)
			}
		}
		if !found {
			t.Errorf("events.%s: %s declares no event %s", c.name, c.abi, c.sig)
		}
		// Wherever else the SDK declares the same event (IPluginManagerAbi), the topic is the same.
		for _, e := range v.ABI.Events {
			if e.Signature == c.sig && e.Topic != c.topic {
				t.Errorf("events.%s = %s, %s says %s", c.name, c.topic, e.ABI, e.Topic)
			}
		}
	}
}

// TestSelectorsMatchSDK checks each permission-update selector and signature constant against the
// builder's own ABI, and that the builder's ABI has no update pkg/events does not know.
func TestSelectorsMatchSDK(t *testing.T) {
	v := sdkvectors.Load(t)
	known := map[string]bool{}
	for _, c := range selectorCases {
		known[c.sig] = true
		found := false
		for _, f := range v.ABI.Functions {
			if f.ABI != c.abi || f.Signature != c.sig {
				continue
			}
			found = true
			if f.Selector != c.sel {
				t.Errorf("events.%s = %s, %s says %s for %s", c.name, c.sel, c.abi, f.Selector, c.sig)
			}
		}
		if !found {
			t.Errorf("events.%s: %s declares no function %s", c.name, c.abi, c.sig)
		}
	}
	for _, f := range v.ABI.Functions {
		if f.ABI == "SessionKeyPermissionsUpdatesAbi" && !known[f.Signature] {
			t.Errorf("the SDK's builder ABI has update %s (%s) that pkg/events has no constant for", f.Signature, f.Selector)
		}
	}
}

// TestAddressesMatchSDK checks the deployment addresses of pkg/events against the SDK's tables.
func TestAddressesMatchSDK(t *testing.T) {
	v := sdkvectors.Load(t)
	a := v.ABI.Addresses
	check := func(name string, got events.Address, table map[string]events.Address) {
		t.Helper()
		if len(table) == 0 {
			t.Errorf("%s: the SDK lists no addresses", name)
		}
		for chain, want := range table {
			if got != want {
				t.Errorf("events.%s = %s, the SDK uses %s on chain %s", name, got, want, chain)
			}
		}
	}
	check("SessionKeyPluginV101", events.SessionKeyPluginV101, a.SessionKeyPlugin)
	check("MultiOwnerPlugin", events.MultiOwnerPlugin, a.MultiOwnerPlugin)
	check("MultiOwnerFactory", events.MultiOwnerFactory, a.MultiOwnerFactory)
	if events.EntryPointV06 != a.EntryPointV06 {
		t.Errorf("events.EntryPointV06 = %s, the SDK's default is %s", events.EntryPointV06, a.EntryPointV06)
	}
	for _, id := range events.KnownChains {
		if _, ok := a.SessionKeyPlugin[strconv.FormatUint(id, 10)]; !ok {
			t.Errorf("events.KnownChains has %d, which the SDK does not list", id)
		}
	}
	var sdkOnly []string
	for id := range a.SessionKeyPlugin {
		n, _ := strconv.ParseUint(id, 10, 64)
		found := false
		for _, k := range events.KnownChains {
			found = found || k == n
		}
		if !found {
			sdkOnly = append(sdkOnly, id)
		}
	}
	sort.Strings(sdkOnly)
	t.Logf("chains the SDK lists beyond events.KnownChains (not in the vendor's deployment docs): %v", sdkOnly)
}

// TestChainConstantsCovered parses pkg/events/chain.go so that a topic, selector or signature
// constant added there without a conformance check fails here.
func TestChainConstantsCovered(t *testing.T) {
	_, self, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(self), "..", "pkg", "events", "chain.go")
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	covered := map[string]bool{}
	for _, c := range topicCases {
		covered[c.name] = true
		covered["Sig"+strings.TrimPrefix(c.name, "Topic")] = true
	}
	for _, c := range selectorCases {
		covered[c.name] = true
		covered["Sig"+strings.TrimPrefix(c.name, "Sel")] = true
	}
	for _, n := range []string{"SessionKeyPluginV101", "MultiOwnerPlugin", "MultiOwnerFactory", "EntryPointV06", "KnownChains"} {
		covered[n] = true
	}
	for _, decl := range f.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, spec := range g.Specs {
			vs, ok := spec.(*ast.ValueSpec)
			if !ok {
				continue
			}
			for _, id := range vs.Names {
				n := id.Name
				if !(strings.HasPrefix(n, "Topic") || strings.HasPrefix(n, "Sel") || strings.HasPrefix(n, "Sig")) {
					continue
				}
				if !covered[n] {
					t.Errorf("pkg/events/chain.go: %s has no check against the SDK in conformance/abi_test.go", n)
				}
			}
		}
	}
}
