package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/pkg/events"
)

// One bad policy per error message, as a reader of the error would meet it.
func TestLoadErrors(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"unknown key", "policies:\n  - id: a\n    severity: low\n    action: alert\n    condtion: 'true'\n", "field condtion not found"},
		{"missing id", "policies:\n  - severity: low\n    action: alert\n    condition: 'true'\n", "policy #1: id is required"},
		{"bad severity", "policies:\n  - id: a\n    severity: urgent\n    action: alert\n    condition: 'true'\n", `severity "urgent"`},
		{"bad action", "policies:\n  - id: a\n    severity: low\n    action: nuke\n    condition: 'true'\n", `action "nuke"`},
		{"no condition", "policies:\n  - id: a\n    severity: low\n    action: alert\n", "a condition or a rule is required"},
		{"both", "policies:\n  - id: a\n    severity: low\n    action: alert\n    condition: 'true'\n    rule: {type: no_allow_all}\n", "either condition or rule"},
		{"cel syntax", "policies:\n  - id: a\n    severity: low\n    action: alert\n    condition: 'key.native.limited &&'\n", "policy a: condition: ERROR: <input>:1:"},
		{"cel unknown field", "policies:\n  - id: a\n    severity: low\n    action: alert\n    condition: 'key.colour == \"red\"'\n", "colour"},
		{"not bool", "policies:\n  - id: a\n    severity: low\n    action: alert\n    condition: 'key.chain_id'\n", "must be a bool"},
		{"unknown rule", "policies:\n  - id: a\n    severity: low\n    action: alert\n    rule: {type: be_safe}\n", `rule type "be_safe"`},
		{"unknown param", "policies:\n  - id: a\n    severity: low\n    action: alert\n    rule: {type: max_lifetime, max: 1h, maxx: 2h}\n", "unknown parameter(s): maxx"},
		{"bad amount", "policies:\n  - id: a\n    severity: low\n    action: alert\n    rule: {type: spend_cap, token: native, max: 1 dogecoin}\n", `unknown unit "dogecoin"`},
		{"restrict unsupported", "policies:\n  - id: a\n    severity: low\n    action: restrict\n    rule: {type: expiry_horizon, lead: 1h}\n", "cannot restrict a key"},
		{"restrict list missing", "policies:\n  - id: a\n    severity: low\n    action: restrict\n    condition: 'true'\n", "needs a restrict list"},
		{"restrict unknown update", "policies:\n  - id: a\n    severity: low\n    action: restrict\n    condition: 'true'\n    restrict: [{type: drop_table}]\n", `unknown update type "drop_table"`},
		{"rotation loop", "policies:\n  - id: a\n    severity: low\n    action: rotate\n    rule: {type: expiry_horizon, lead: 48h}\n    new_key_lifetime: 24h\n", "must be longer than the expiry lead"},
		{"bad scope address", "policies:\n  - id: a\n    severity: low\n    action: alert\n    condition: 'true'\n    scope: {accounts: [0x12]}\n", "scope account"},
		{"duplicate id", "policies:\n  - {id: a, severity: low, action: alert, condition: 'true'}\n  - {id: a, severity: low, action: alert, condition: 'true'}\n", "policy a: duplicate id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml))
			if err == nil {
				t.Fatalf("loaded; want error containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, c.want)
			}
		})
	}
}

func TestLoadReportsEveryError(t *testing.T) {
	_, err := Parse([]byte(`policies:
  - {id: a, severity: bad, action: alert, condition: 'true'}
  - {id: b, severity: low, action: alert, condition: 'nope('}
  - {id: c, severity: low, action: zap, condition: 'true'}
`))
	if err == nil {
		t.Fatal("loaded")
	}
	for _, want := range []string{"policy a:", "policy b:", "policy c:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestDefaultPoliciesLoad(t *testing.T) {
	set, err := LoadFile("../../policies/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Policies) < 6 {
		t.Fatalf("%d policies", len(set.Policies))
	}
	if set.ExpiryLead() != 24*time.Hour {
		t.Fatalf("expiry lead %s", set.ExpiryLead())
	}
}

func TestParseAmount(t *testing.T) {
	for in, want := range map[string]string{
		"1 ether": "1000000000000000000", "0.5 ETH": "500000000000000000", "30 gwei": "30000000000", "7": "7",
		"115792089237316195423570985008687907853269984665640564039457584007913129639935": events.MaxU256.String(),
	} {
		got, err := ParseAmount(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseAmount(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"1.5", "-1", "abc wei", "0.1 gwei wei", "115792089237316195423570985008687907853269984665640564039457584007913129639936"} {
		if _, err := ParseAmount(bad); err == nil {
			t.Errorf("ParseAmount(%q) accepted", bad)
		}
	}
}

func TestSelectorsAndAccess(t *testing.T) {
	approve, err := ParseSelector("approve(address,uint256)")
	if err != nil || approve.String() != "0x095ea7b3" {
		t.Fatalf("approve selector %s %v", approve, err)
	}
	tok := events.HexToAddress("0x00000000000000000000000000000000000070c1")
	p := events.DefaultPermissions()
	if CanCall(p, tok, approve) || CanCallSelectorSomewhere(p, approve) || CanCallTarget(p, tok) {
		t.Fatal("a fresh key can call nothing")
	}
	must := func(u events.Update) {
		if err := p.Apply(u, 0); err != nil {
			t.Fatal(err)
		}
	}
	must(events.UpdateAccessListAddressEntry{Target: tok, IsOnList: true, CheckSelectors: true})
	if CanCallTarget(p, tok) {
		t.Fatal("selector-checked target with no selectors is unreachable")
	}
	must(events.UpdateAccessListFunctionEntry{Target: tok, Function: approve, IsOnList: true})
	if !CanCall(p, tok, approve) || !CanCallSelectorSomewhere(p, approve) {
		t.Fatal("approve listed")
	}
	must(events.SetAccessListType{Type: events.AccessDenylist}) // the same entries now deny approve on tok
	if CanCall(p, tok, approve) || !CanCall(p, tok, events.Selector{1, 2, 3, 4}) {
		t.Fatal("denylist with selector entries denies only listed selectors")
	}
}

func BenchmarkEvaluateDefault(b *testing.B) {
	set, err := LoadFile("../../policies/default.yaml")
	if err != nil {
		b.Fatal(err)
	}
	k := events.KeyState{ChainID: 1, Status: events.StatusActive, Verified: true, Permissions: events.DefaultPermissions(),
		AddedTime: 1780000000}
	_ = k.Permissions.ApplyAll([]events.Update{events.SetAccessListType{Type: events.AccessAllowAll},
		events.SetNativeTokenSpendLimit{Limit: events.MaxU256}}, 1780000000)
	in := Input{Key: k, Now: time.Unix(1780272000, 0), ActiveKeys: 3}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := set.Evaluate(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(set.Policies))/b.Elapsed().Seconds(), "policy-evals/s")
}
