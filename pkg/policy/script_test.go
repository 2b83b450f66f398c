package policy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/keywarden/keywarden/pkg/events"
)

// The scripts under testdata/scripts are written for security engineers: each describes a key
// in plain fields and the verdicts expected from a policy file. The runner builds the key by
// applying real permission updates to a fresh key, so the fold is exercised too.

type script struct {
	Policies       string       `yaml:"policies"`        // path relative to the script
	PoliciesInline *File        `yaml:"policies_inline"` // or inline policies
	Now            time.Time    `yaml:"now"`
	Cases          []scriptCase `yaml:"cases"`
}

type scriptCase struct {
	Name   string            `yaml:"name"`
	Key    keySpec           `yaml:"key"`
	Event  string            `yaml:"event"` // an event kind, or empty for the expiry watch
	Expect []expectedVerdict `yaml:"expect"`
}

type keySpec struct {
	Account       string       `yaml:"account"`
	Address       string       `yaml:"address"`
	Tag           string       `yaml:"tag"`
	Unverified    bool         `yaml:"unverified"`
	Status        string       `yaml:"status"`
	Access        string       `yaml:"access"`
	Targets       []targetSpec `yaml:"targets"`
	ValidAfter    string       `yaml:"valid_after"`
	ValidUntil    string       `yaml:"valid_until"`  // "none", an RFC 3339 time, or "+24h"/"-1h" from now
	Added         string       `yaml:"added"`        // as valid_until
	NativeLimit   string       `yaml:"native_limit"` // "unlimited" or an amount; default: the plugin's 0
	NativeRefresh string       `yaml:"native_refresh"`
	GasLimit      string       `yaml:"gas_limit"`
	ERC20         []erc20Spec  `yaml:"erc20"`
	Paymaster     string       `yaml:"paymaster"`
	ActiveKeys    int          `yaml:"active_keys"`
}

type targetSpec struct {
	Target         string   `yaml:"target"`
	CheckSelectors bool     `yaml:"check_selectors"`
	Selectors      []string `yaml:"selectors"`
	Off            bool     `yaml:"off"` // put on the list of a denylist key
}

type erc20Spec struct {
	Token   string `yaml:"token"`
	Limit   string `yaml:"limit"`
	Refresh string `yaml:"refresh"`
}

type expectedVerdict struct {
	Policy   string           `yaml:"policy"`
	Action   string           `yaml:"action"`
	Severity string           `yaml:"severity"`
	Restrict []map[string]any `yaml:"restrict"`
}

func (s script) at(v string) (uint64, error) {
	switch {
	case v == "" || v == "none":
		return 0, nil
	case strings.HasPrefix(v, "+") || strings.HasPrefix(v, "-"):
		d, err := parseDuration(strings.TrimPrefix(strings.TrimPrefix(v, "+"), "-"))
		if err != nil {
			return 0, err
		}
		if v[0] == '-' {
			d = -d
		}
		return uint64(s.Now.Add(d).Unix()), nil
	default:
		t, err := time.Parse(time.RFC3339, v)
		return uint64(t.Unix()), err
	}
}

func (s script) buildKey(k keySpec) (events.KeyState, error) {
	addr := func(v, def string) events.Address {
		if v == "" {
			v = def
		}
		a, _ := parseAddressLoose(v)
		return a
	}
	tag, err := ParseTag(k.Tag)
	if err != nil {
		return events.KeyState{}, err
	}
	added, err := s.at(k.Added)
	if err != nil {
		return events.KeyState{}, err
	}
	if k.Added == "" {
		added = uint64(s.Now.Add(-time.Hour).Unix())
	}
	st := events.KeyState{Schema: events.SchemaVersion, ChainID: 1, Plugin: events.SessionKeyPluginV101,
		Account:    addr(k.Account, "0x000000000000000000000000000000000000a11c"),
		SessionKey: addr(k.Address, "0x000000000000000000000000000000000000bee5"),
		Status:     events.StatusActive, Tag: tag, Verified: !k.Unverified, Permissions: events.DefaultPermissions(),
		AddedTime: added, UpdatedTime: added}
	if k.Status != "" {
		st.Status = events.KeyStatus(k.Status)
	}
	var ups []events.Update
	switch k.Access {
	case "", "allowlist":
	case "denylist":
		ups = append(ups, events.SetAccessListType{Type: events.AccessDenylist})
	case "allow_all":
		ups = append(ups, events.SetAccessListType{Type: events.AccessAllowAll})
	default:
		return st, fmt.Errorf("access %q", k.Access)
	}
	for _, t := range k.Targets {
		a := addr(t.Target, "")
		ups = append(ups, events.UpdateAccessListAddressEntry{Target: a, IsOnList: true, CheckSelectors: t.CheckSelectors})
		for _, s := range t.Selectors {
			sel, err := ParseSelector(s)
			if err != nil {
				return st, err
			}
			ups = append(ups, events.UpdateAccessListFunctionEntry{Target: a, Function: sel, IsOnList: true})
		}
	}
	after, err := s.at(k.ValidAfter)
	if err != nil {
		return st, err
	}
	until, err := s.at(k.ValidUntil)
	if err != nil {
		return st, err
	}
	if after != 0 || until != 0 {
		ups = append(ups, events.UpdateTimeRange{ValidAfter: after, ValidUntil: until})
	}
	limit := func(v string) (events.U256, error) {
		if v == "unlimited" {
			return events.MaxU256, nil
		}
		return ParseAmount(v)
	}
	if k.NativeLimit != "" {
		l, err := limit(k.NativeLimit)
		if err != nil {
			return st, err
		}
		r, _ := parseDuration(orZero(k.NativeRefresh))
		ups = append(ups, events.SetNativeTokenSpendLimit{Limit: l, RefreshInterval: uint64(r / time.Second)})
	}
	if k.GasLimit != "" {
		l, err := limit(k.GasLimit)
		if err != nil {
			return st, err
		}
		ups = append(ups, events.SetGasSpendLimit{Limit: l})
	}
	for _, e := range k.ERC20 {
		l, err := limit(e.Limit)
		if err != nil {
			return st, err
		}
		r, _ := parseDuration(orZero(e.Refresh))
		ups = append(ups, events.SetERC20SpendLimit{Token: addr(e.Token, ""), Limit: l, RefreshInterval: uint64(r / time.Second)})
	}
	if k.Paymaster != "" {
		ups = append(ups, events.SetRequiredPaymaster{Paymaster: addr(k.Paymaster, "")})
	}
	if err := st.Permissions.ApplyAll(ups, added); err != nil {
		return st, err
	}
	return st, nil
}

func orZero(s string) string {
	if s == "" {
		return "0s"
	}
	return s
}

func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/scripts/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var sc script
			dec := yaml.NewDecoder(strings.NewReader(string(raw)))
			dec.KnownFields(true)
			if err := dec.Decode(&sc); err != nil {
				t.Fatalf("script: %v", err)
			}
			var set *Set
			if sc.PoliciesInline != nil {
				set, err = Compile(*sc.PoliciesInline)
			} else {
				set, err = LoadFile(filepath.Join(filepath.Dir(file), sc.Policies))
			}
			if err != nil {
				t.Fatalf("policies: %v", err)
			}
			if len(sc.Cases) == 0 {
				t.Fatal("script has no cases")
			}
			for _, c := range sc.Cases {
				t.Run(c.Name, func(t *testing.T) {
					key, err := sc.buildKey(c.Key)
					if err != nil {
						t.Fatalf("key: %v", err)
					}
					in := Input{Key: key, Now: sc.Now, ActiveKeys: c.Key.ActiveKeys}
					if c.Event != "" {
						in.Event = &events.Event{Kind: events.Kind(c.Event), Position: events.Position{ChainID: 1, BlockNumber: 100,
							BlockTime: uint64(sc.Now.Unix())}}
					}
					got, err := set.Evaluate(in)
					if err != nil {
						t.Fatalf("evaluate: %v", err)
					}
					checkVerdicts(t, got, c.Expect)
				})
			}
		})
	}
}

func checkVerdicts(t *testing.T, got []events.Verdict, want []expectedVerdict) {
	t.Helper()
	gotIDs := make([]string, len(got))
	for i, v := range got {
		gotIDs[i] = v.PolicyID + "/" + string(v.Action)
	}
	wantIDs := make([]string, len(want))
	for i, w := range want {
		wantIDs[i] = w.Policy + "/" + w.Action
	}
	sort.Strings(gotIDs)
	sort.Strings(wantIDs)
	if strings.Join(gotIDs, ",") != strings.Join(wantIDs, ",") {
		t.Fatalf("verdicts:\n got  %v\n want %v", gotIDs, wantIDs)
	}
	byID := map[string]events.Verdict{}
	for _, v := range got {
		byID[v.PolicyID] = v
	}
	for _, w := range want {
		v := byID[w.Policy]
		if w.Severity != "" && string(v.Severity) != w.Severity {
			t.Errorf("%s: severity %s, want %s", w.Policy, v.Severity, w.Severity)
		}
		if w.Restrict == nil {
			continue
		}
		wantUps, err := parseRestrict(w.Restrict)
		if err != nil {
			t.Fatalf("%s: expected restrict: %v", w.Policy, err)
		}
		gotJSON, _ := json.Marshal(encodeAll(v.Restrict))
		wantJSON, _ := json.Marshal(encodeAll(wantUps))
		if string(gotJSON) != string(wantJSON) {
			t.Errorf("%s: restrict\n got  %s\n want %s", w.Policy, gotJSON, wantJSON)
		}
	}
}

func encodeAll(us []events.Update) []string {
	out := make([]string, len(us))
	for i, u := range us {
		b, _ := events.MarshalUpdate(u)
		out[i] = string(b)
	}
	return out
}
