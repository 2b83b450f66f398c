package sdkvectors_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/keywarden/keywarden/internal/sdkvectors"
	"github.com/keywarden/keywarden/pkg/events"
)

func TestLoadCoversEveryBuilderMethodAndEdge(t *testing.T) {
	v := sdkvectors.Load(t)
	if len(v.Permissions) < 300 || len(v.Logs) < 200 || len(v.Actions.UserOpHashes) < 50 {
		t.Fatalf("counts: %d permissions, %d logs, %d user op hashes", len(v.Permissions), len(v.Logs), len(v.Actions.UserOpHashes))
	}
	methods := map[string]int{}
	var maxLimit, zeroLimit, maxTime, noInterval bool
	for _, p := range v.Permissions {
		for _, c := range p.Calls {
			methods[c.Method]++
			a := c.Args
			maxLimit = maxLimit || (a.SpendLimit != nil && a.SpendLimit.IsMax())
			zeroLimit = zeroLimit || (a.SpendLimit != nil && a.SpendLimit.IsZero())
			maxTime = maxTime || (a.ValidUntil != nil && *a.ValidUntil == events.MaxUint48)
			noInterval = noInterval || (a.SpendLimit != nil && a.RefreshInterval == nil)
		}
	}
	for _, m := range []string{sdkvectors.MethodSetContractAccessControlType, sdkvectors.MethodAddContractAddressAccessEntry,
		sdkvectors.MethodAddContractFunctionAccessEntry, sdkvectors.MethodSetTimeRange, sdkvectors.MethodSetNativeTokenSpendLimit,
		sdkvectors.MethodAddErc20TokenSpendLimit, sdkvectors.MethodSetGasSpendLimit, sdkvectors.MethodSetRequiredPaymaster} {
		if methods[m] == 0 {
			t.Errorf("no vector calls %s", m)
		}
	}
	if !maxLimit || !zeroLimit || !maxTime || !noInterval {
		t.Errorf("edge values missing: max limit %v, zero limit %v, max uint48 time %v, omitted interval %v",
			maxLimit, zeroLimit, maxTime, noInterval)
	}
	fns := map[string]int{}
	for _, c := range v.Actions.Calls {
		fns[c.Function]++
	}
	for _, f := range []string{sdkvectors.FnAddSessionKey, sdkvectors.FnRemoveSessionKey, sdkvectors.FnRotateSessionKey,
		sdkvectors.FnUpdateKeyPermissions, sdkvectors.FnExecuteWithSessionKey} {
		if fns[f] == 0 {
			t.Errorf("no %s call vector", f)
		}
	}
	if len(v.Actions.Installs) == 0 {
		t.Error("no install vector")
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	def := sdkvectors.Load(t) // skips or fails with the `make deps` message when node is missing
	ctx := context.Background()
	a, err := sdkvectors.Generate(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sdkvectors.Generate(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Error("two runs with seed 7 differ")
	}
	if reflect.DeepEqual(a.Permissions, def.Permissions) {
		t.Errorf("seeds 7 and %s give the same permissions", def.Seed)
	}
}

func TestGenerateWithoutNodeSaysMakeDeps(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := sdkvectors.Generate(context.Background(), 1)
	if !errors.Is(err, sdkvectors.ErrMissingDeps) {
		t.Fatalf("Generate without node: %v, want ErrMissingDeps", err)
	}
	t.Log(err)
}
