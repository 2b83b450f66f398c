package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"gopkg.in/yaml.v3"

	"github.com/keywarden/keywarden/pkg/events"
)

// File is the YAML form of a policy file.
type File struct {
	Policies []Spec `yaml:"policies"`
}

// Spec is one policy as written in YAML. Exactly one of Condition and Rule is set.
type Spec struct {
	ID          string          `yaml:"id"`
	Description string          `yaml:"description"`
	Severity    events.Severity `yaml:"severity"`
	Disabled    bool            `yaml:"disabled"`
	Scope       Scope           `yaml:"scope"`
	// Condition is a CEL expression; true means the key breaches the policy.
	Condition string `yaml:"condition"`
	// Rule is a ready-made rule (see rules.go).
	Rule   *RuleSpec         `yaml:"rule"`
	Action events.ActionKind `yaml:"action"`
	// Restrict lists the updates of a restrict action for a custom condition, in the events
	// wire form (type plus fields), e.g. {type: set_native_token_spend_limit, limit: "0", refresh_interval: 0}.
	Restrict []map[string]any `yaml:"restrict"`
	// Fallback is what a rotate does when the key's agent supplies no new key in time
	// (default: remove).
	Fallback events.ActionKind `yaml:"fallback"`
	// NewKeyLifetime is the time range given to a rotated key (default 24h).
	NewKeyLifetime Duration `yaml:"new_key_lifetime"`
}

// Scope limits where a policy applies; an empty list means "all".
type Scope struct {
	Chains   []uint64 `yaml:"chains"`
	Accounts []string `yaml:"accounts"`
	Tags     []string `yaml:"tags"` // bytes32 hex, or a short text that is right-padded like Solidity's bytes32("text")
	Plugins  []string `yaml:"plugins"`
}

// RuleSpec names a ready-made rule and its parameters.
type RuleSpec struct {
	Type   string         `yaml:"type"`
	Params map[string]any `yaml:",inline"`
}

// Duration is a time.Duration written as "24h", "30m", "7d" in YAML.
type Duration time.Duration

// UnmarshalYAML accepts Go durations plus a "d" suffix for days.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "d") {
		var days float64
		if _, err := fmt.Sscanf(strings.TrimSuffix(s, "d"), "%g", &days); err != nil || days < 0 {
			return 0, fmt.Errorf("parse duration %q", s)
		}
		return time.Duration(days * float64(24*time.Hour)), nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("parse duration %q: want e.g. 90s, 24h or 7d", s)
	}
	return v, nil
}

// Policy is a compiled policy.
type Policy struct {
	Spec
	scope          compiledScope
	program        cel.Program
	expr           string
	restrict       restrictFunc
	expiryLead     time.Duration
	newKeyLifetime time.Duration
}

// Expr is the CEL expression the policy evaluates (a rule's expansion for ready-made rules).
func (p *Policy) Expr() string { return p.expr }

// ExpiryLead is how long before a key's valid_until the policy starts to match, for policies
// built on the expiry_horizon rule (0 otherwise). The enforcer's expiry watch schedules on it.
func (p *Policy) ExpiryLead() time.Duration { return p.expiryLead }

// NewKeyLifetime is the time range a rotation gives the new key.
func (p *Policy) NewKeyLifetime() time.Duration { return p.newKeyLifetime }

type compiledScope struct {
	chains   map[uint64]bool
	accounts map[events.Address]bool
	tags     map[[32]byte]bool
	plugins  map[events.Address]bool
}

func (s compiledScope) matches(k events.KeyState) bool {
	if len(s.chains) > 0 && !s.chains[k.ChainID] {
		return false
	}
	if len(s.accounts) > 0 && !s.accounts[k.Account] {
		return false
	}
	if len(s.tags) > 0 && !s.tags[k.Tag] {
		return false
	}
	if len(s.plugins) > 0 && !s.plugins[k.Plugin] {
		return false
	}
	return true
}

// Set is a loaded, compiled set of policies.
type Set struct {
	Policies []*Policy
}

// LoadFile reads and compiles a policy file.
func LoadFile(path string) (*Set, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load policies: %w", err)
	}
	s, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("load policies %s: %w", path, err)
	}
	return s, nil
}

// Parse decodes YAML strictly (unknown keys are errors) and compiles every policy. All errors
// are returned together (errors.Join), each naming the policy.
func Parse(b []byte) (*Set, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decode policy yaml: %w", err)
	}
	return Compile(f)
}

// Compile compiles specs. Every error is reported, joined.
func Compile(f File) (*Set, error) {
	env, err := newEnv()
	if err != nil {
		return nil, fmt.Errorf("build CEL environment: %w", err)
	}
	var errs []error
	seen := map[string]bool{}
	set := &Set{}
	for i, spec := range f.Policies {
		name := spec.ID
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		if seen[spec.ID] {
			errs = append(errs, fmt.Errorf("policy %s: duplicate id", name))
		}
		seen[spec.ID] = true
		p, perrs := compileOne(env, spec)
		for _, e := range perrs {
			errs = append(errs, fmt.Errorf("policy %s: %w", name, e))
		}
		if len(perrs) == 0 && !spec.Disabled {
			set.Policies = append(set.Policies, p)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return set, nil
}

func compileOne(env *cel.Env, spec Spec) (*Policy, []error) {
	var errs []error
	p := &Policy{Spec: spec, newKeyLifetime: 24 * time.Hour}
	if spec.NewKeyLifetime > 0 {
		p.newKeyLifetime = time.Duration(spec.NewKeyLifetime)
	}
	if spec.ID == "" {
		errs = append(errs, errors.New("id is required"))
	}
	if spec.Severity.Rank() < 0 {
		errs = append(errs, fmt.Errorf("severity %q: want info, low, medium, high or critical", spec.Severity))
	}
	if !spec.Action.Valid() {
		errs = append(errs, fmt.Errorf("action %q: want alert, remove, rotate or restrict", spec.Action))
	}
	if spec.Fallback != "" && spec.Fallback != events.ActionRemove && spec.Fallback != events.ActionAlert {
		errs = append(errs, fmt.Errorf("fallback %q: want remove or alert", spec.Fallback))
	}
	if spec.Fallback != "" && spec.Action != events.ActionRotate {
		errs = append(errs, errors.New("fallback applies only to action rotate"))
	}
	sc, scErrs := compileScope(spec.Scope)
	errs = append(errs, scErrs...)
	p.scope = sc

	switch {
	case spec.Condition != "" && spec.Rule != nil:
		errs = append(errs, errors.New("set either condition or rule, not both"))
	case spec.Condition == "" && spec.Rule == nil:
		errs = append(errs, errors.New("a condition or a rule is required"))
	case spec.Rule != nil:
		r, err := expandRule(*spec.Rule)
		if err != nil {
			errs = append(errs, err)
			break
		}
		p.expr, p.restrict, p.expiryLead = r.expr, r.restrict, r.expiryLead
		if spec.Action == events.ActionRestrict && r.restrict == nil {
			errs = append(errs, fmt.Errorf("rule %s cannot restrict a key: use alert, remove or rotate", spec.Rule.Type))
		}
		if len(spec.Restrict) > 0 {
			errs = append(errs, errors.New("restrict updates are computed by the rule: remove the restrict list"))
		}
	default:
		p.expr = spec.Condition
		if spec.Action == events.ActionRestrict {
			ups, err := parseRestrict(spec.Restrict)
			if err != nil {
				errs = append(errs, err)
			} else if len(ups) == 0 {
				errs = append(errs, errors.New("action restrict with a custom condition needs a restrict list"))
			} else {
				p.restrict = func(Key, Input) []events.Update { return ups }
			}
		} else if len(spec.Restrict) > 0 {
			errs = append(errs, errors.New("a restrict list needs action restrict"))
		}
	}
	if spec.Action == events.ActionRotate && p.expiryLead > 0 && p.newKeyLifetime <= p.expiryLead {
		errs = append(errs, fmt.Errorf("new_key_lifetime %s must be longer than the expiry lead %s, or every rotated key is due again at once",
			p.newKeyLifetime, p.expiryLead))
	}
	if p.expr != "" {
		ast, iss := env.Compile(p.expr)
		if iss.Err() != nil {
			errs = append(errs, fmt.Errorf("condition: %w", iss.Err()))
		} else if ast.OutputType() != cel.BoolType {
			errs = append(errs, fmt.Errorf("condition must be a bool, it is %s", ast.OutputType()))
		} else {
			prg, err := env.Program(ast, cel.CostLimit(1_000_000), cel.EvalOptions(cel.OptOptimize))
			if err != nil {
				errs = append(errs, fmt.Errorf("condition: %w", err))
			}
			p.program = prg
		}
	}
	return p, errs
}

func compileScope(s Scope) (compiledScope, []error) {
	var errs []error
	c := compiledScope{chains: map[uint64]bool{}, accounts: map[events.Address]bool{}, tags: map[[32]byte]bool{},
		plugins: map[events.Address]bool{}}
	for _, id := range s.Chains {
		c.chains[id] = true
	}
	for _, a := range s.Accounts {
		addr, err := parseAddressLoose(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("scope account: %w", err))
		}
		c.accounts[addr] = true
	}
	for _, a := range s.Plugins {
		addr, err := parseAddressLoose(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("scope plugin: %w", err))
		}
		c.plugins[addr] = true
	}
	for _, t := range s.Tags {
		tag, err := ParseTag(t)
		if err != nil {
			errs = append(errs, fmt.Errorf("scope tag: %w", err))
		}
		c.tags[tag] = true
	}
	return c, errs
}

// ParseTag reads a bytes32 tag: 0x and 64 hex digits, or a text of at most 32 bytes that is
// right-padded with zeros (Solidity's bytes32("text"), viem's stringToHex(text, {size: 32})).
func ParseTag(s string) ([32]byte, error) {
	var out [32]byte
	if strings.HasPrefix(s, "0x") && len(s) == 66 {
		if _, err := fmt.Sscanf(s[2:], "%x", &out); err != nil {
			return out, fmt.Errorf("parse tag %q: %w", s, err)
		}
		return out, nil
	}
	if len(s) > 32 {
		return out, fmt.Errorf("parse tag %q: text longer than 32 bytes", s)
	}
	copy(out[:], s)
	return out, nil
}

func parseRestrict(list []map[string]any) ([]events.Update, error) {
	var out []events.Update
	for i, m := range list {
		b, err := json.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("restrict %d: %w", i, err)
		}
		u, err := events.UnmarshalUpdate(b)
		if err != nil {
			return nil, fmt.Errorf("restrict %d: %w", i, err)
		}
		if _, unknown := u.(events.UnknownUpdate); unknown {
			return nil, fmt.Errorf("restrict %d: unknown updates cannot be sent", i)
		}
		out = append(out, u)
	}
	return out, nil
}
