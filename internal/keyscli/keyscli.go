package keyscli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/rs/zerolog"

	"github.com/keywarden/keywarden/pkg/actions"
	"github.com/keywarden/keywarden/pkg/events"
)

const usage = `usage: enforcer keys <command> [flags]

commands:
  list        list the account's session keys, newest first, with their predecessors
  show        show one key's permissions (--key; --target/--function/--token to inspect entries)
  add         add a key (--key, --tag, permission flags)
  remove      remove a key (--key)
  rotate      rotate a key (--key old, --new new)
  update      update a key's permissions (--key, permission flags)
  revoke-all  remove every key of the account in one user operation

common flags (run "enforcer keys <command> -h" for all):
  --rpc URL  --bundler URL | --direct-from SOURCE  --account ADDR  --signer SOURCE  --dry-run
  a SOURCE is env:NAME, file:PATH or keystore:PATH (with --password-file or --password-env)
`

// Run runs one keys command and returns the process exit code (0 ok, 1 failure, 2 usage).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd := &command{name: args[0], out: stdout, errOut: stderr}
	fs := cmd.flags()
	if fs == nil {
		fmt.Fprintf(stderr, "enforcer keys: unknown command %q\n%s", args[0], usage)
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "enforcer keys %s: unexpected arguments %q\n", cmd.name, fs.Args())
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, cmd.timeout)
	defer cancel()
	if err := cmd.run(ctx); err != nil {
		msg := err.Error()
		if h, ok := actions.UserOpHashOf(err); ok {
			msg += " [user_op_hash " + h.Hex() + "]"
		}
		fmt.Fprintf(stderr, "enforcer keys %s: %s\n", cmd.name, msg)
		return 1
	}
	return 0
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

type command struct {
	name        string
	out, errOut io.Writer

	rpcURL, bundlerURL, directFrom          string
	account, key, newKey, tag               string
	signer, passwordFile, passwordEnv       string
	plugin, multiOwner, entryPoint          string
	dryRun                                  bool
	timeout                                 time.Duration
	nonceKey                                string
	access, validAfter, validUntil, expires string
	nativeLimit, gasLimit, paymaster        string
	targets, functions, erc20               multi
	// show
	showTargets, showFunctions, showTokens multi
}

func (c *command) flags() *flag.FlagSet {
	switch c.name {
	case "list", "show", "add", "remove", "rotate", "update", "revoke-all":
	default:
		return nil
	}
	fs := flag.NewFlagSet("enforcer keys "+c.name, flag.ContinueOnError)
	fs.SetOutput(c.errOut)
	fs.StringVar(&c.rpcURL, "rpc", "", "node JSON-RPC URL (required)")
	fs.StringVar(&c.account, "account", "", "the Modular Account address (required)")
	fs.StringVar(&c.plugin, "plugin", "", "Session Key Plugin address (default: v1.0.1 canonical)")
	fs.StringVar(&c.multiOwner, "multi-owner", "", "Multi Owner plugin address (default: canonical)")
	fs.StringVar(&c.entryPoint, "entry-point", "", "EntryPoint v0.6 address (default: canonical)")
	fs.DurationVar(&c.timeout, "timeout", 2*time.Minute, "deadline for the whole command, including the receipt")
	switch c.name {
	case "list":
		return fs
	case "show":
		fs.StringVar(&c.key, "key", "", "session key address (required)")
		fs.Var(&c.showTargets, "target", "contract whose access entry to show (repeatable)")
		fs.Var(&c.showFunctions, "function", "ADDR:0xSELECTOR whose function entry to show (repeatable)")
		fs.Var(&c.showTokens, "token", "ERC-20 token whose limit to show (repeatable)")
		return fs
	}
	fs.StringVar(&c.bundlerURL, "bundler", "", "bundler JSON-RPC URL")
	fs.StringVar(&c.directFrom, "direct-from", "", "send handleOps directly from this funded EOA (SOURCE) instead of a bundler")
	fs.StringVar(&c.signer, "signer", "", "owner key SOURCE: env:NAME, file:PATH or keystore:PATH")
	fs.StringVar(&c.passwordFile, "password-file", "", "keystore password file")
	fs.StringVar(&c.passwordEnv, "password-env", "", "environment variable holding the keystore password")
	fs.BoolVar(&c.dryRun, "dry-run", false, "print the user operation JSON and its hash; send nothing")
	fs.StringVar(&c.nonceKey, "nonce-key", "", "2-D nonce key (default 0)")
	switch c.name {
	case "remove", "update", "add":
		fs.StringVar(&c.key, "key", "", "session key address (required)")
	case "rotate":
		fs.StringVar(&c.key, "key", "", "the key to rotate (required)")
		fs.StringVar(&c.newKey, "new", "", "the new key address (required)")
	}
	if c.name == "add" {
		fs.StringVar(&c.tag, "tag", "", "tag: 0x + 64 hex digits, or text (hashed with keccak256)")
	}
	if c.name == "add" || c.name == "update" {
		fs.StringVar(&c.access, "access", "", "access list mode: allowlist, denylist or allow-all")
		fs.Var(&c.targets, "target", "ADDR[:on|off][:check-selectors] access entry (repeatable)")
		fs.Var(&c.functions, "function", "ADDR:0xSELECTOR[:on|off] function entry (repeatable)")
		fs.StringVar(&c.validAfter, "valid-after", "", "unix seconds (0: now-unbounded)")
		fs.StringVar(&c.validUntil, "valid-until", "", "unix seconds (0: no expiry)")
		fs.StringVar(&c.expires, "expires-in", "", "duration from now, sets --valid-until (e.g. 1h)")
		fs.StringVar(&c.nativeLimit, "native-limit", "", "WEI[:INTERVAL_SECONDS] or none")
		fs.Var(&c.erc20, "erc20-limit", "TOKEN:WEI[:INTERVAL_SECONDS] or TOKEN:none (repeatable)")
		fs.StringVar(&c.gasLimit, "gas-limit", "", "WEI[:INTERVAL_SECONDS] or none")
		fs.StringVar(&c.paymaster, "paymaster", "", "required paymaster (0x0 removes the rule)")
	}
	return fs
}

func parseAddr(what, s string) (common.Address, error) {
	a, err := events.ParseAddress(s)
	if err != nil {
		return common.Address{}, fmt.Errorf("--%s: %w", what, err)
	}
	return a.Common(), nil
}

func (c *command) addresses() (actions.Addresses, error) {
	var a actions.Addresses
	var err error
	for _, f := range []struct {
		name, v string
		dst     *common.Address
	}{{"plugin", c.plugin, &a.SessionKeyPlugin}, {"multi-owner", c.multiOwner, &a.MultiOwner}, {"entry-point", c.entryPoint, &a.EntryPoint}} {
		if f.v != "" {
			if *f.dst, err = parseAddr(f.name, f.v); err != nil {
				return a, err
			}
		}
	}
	return a, nil
}

func (c *command) run(ctx context.Context) error {
	if c.rpcURL == "" || c.account == "" {
		return errors.New("--rpc and --account are required")
	}
	account, err := parseAddr("account", c.account)
	if err != nil {
		return err
	}
	addrs, err := c.addresses()
	if err != nil {
		return err
	}
	node, err := ethclient.DialContext(ctx, c.rpcURL)
	if err != nil {
		return fmt.Errorf("dial node: %w", err)
	}
	defer node.Close()
	reader := actions.NewReader(node, addrs)
	switch c.name {
	case "list":
		return c.list(ctx, reader, account)
	case "show":
		return c.show(ctx, reader, account)
	}
	return c.write(ctx, node, addrs, account)
}

func (c *command) list(ctx context.Context, r *actions.Reader, account common.Address) error {
	keys, err := r.SessionKeys(ctx, account)
	if err != nil {
		return err
	}
	installed, err := r.HasSessionKeyPlugin(ctx, account)
	if err != nil {
		return err
	}
	type row struct {
		Key         string `json:"session_key"`
		Predecessor string `json:"predecessor"`
		ValidAfter  uint64 `json:"valid_after"`
		ValidUntil  uint64 `json:"valid_until"`
	}
	out := struct {
		Account         string `json:"account"`
		PluginInstalled bool   `json:"plugin_installed"`
		Keys            []row  `json:"keys"`
	}{Account: account.Hex(), PluginInstalled: installed, Keys: []row{}}
	for _, k := range keys {
		pred, _ := actions.ComputePredecessor(keys, k)
		after, until, err := r.KeyTimeRange(ctx, account, k)
		if err != nil {
			return err
		}
		out.Keys = append(out.Keys, row{Key: k.Hex(), Predecessor: pred.String(), ValidAfter: after, ValidUntil: until})
	}
	return c.printJSON(out)
}

func (c *command) show(ctx context.Context, r *actions.Reader, account common.Address) error {
	key, err := parseAddr("key", c.key)
	if err != nil {
		return err
	}
	var q actions.PermissionsQuery
	for _, t := range c.showTargets {
		a, err := parseAddr("target", t)
		if err != nil {
			return err
		}
		q.Targets = append(q.Targets, a)
	}
	for _, f := range c.showFunctions {
		t, sel, _, err := parseFunction(f)
		if err != nil {
			return err
		}
		q.Functions = append(q.Functions, actions.FunctionRefQuery{Target: t, Selector: sel})
	}
	for _, t := range c.showTokens {
		a, err := parseAddr("token", t)
		if err != nil {
			return err
		}
		q.Tokens = append(q.Tokens, a)
	}
	ok, err := r.IsSessionKey(ctx, account, key)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("key %s is not a session key of %s: %w", key.Hex(), account.Hex(), actions.ErrKeyNotFound)
	}
	p, err := r.ReadPermissions(ctx, account, key, q)
	if err != nil {
		return err
	}
	pred, err := r.Predecessor(ctx, account, key)
	if err != nil {
		return err
	}
	native, err := r.NativeSpendLimit(ctx, account, key)
	if err != nil {
		return err
	}
	gas, reset, err := r.GasSpendLimit(ctx, account, key)
	if err != nil {
		return err
	}
	return c.printJSON(struct {
		Account       string             `json:"account"`
		Key           string             `json:"session_key"`
		Predecessor   string             `json:"predecessor"`
		Permissions   events.Permissions `json:"permissions"`
		NativeUsed    events.U256        `json:"native_used"`
		GasUsed       events.U256        `json:"gas_used"`
		GasNeedsReset bool               `json:"gas_needs_reset"`
	}{account.Hex(), key.Hex(), pred.String(), p, native.LimitUsed, gas.LimitUsed, reset})
}

func parseFunction(s string) (common.Address, events.Selector, bool, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return common.Address{}, events.Selector{}, false, fmt.Errorf("--function %q: want ADDR:0xSELECTOR[:on|off]", s)
	}
	a, err := parseAddr("function", parts[0])
	if err != nil {
		return common.Address{}, events.Selector{}, false, err
	}
	var sel events.Selector
	if err := sel.UnmarshalText([]byte(parts[1])); err != nil {
		return common.Address{}, events.Selector{}, false, fmt.Errorf("--function: %w", err)
	}
	on := true
	if len(parts) == 3 {
		switch parts[2] {
		case "on":
		case "off":
			on = false
		default:
			return common.Address{}, events.Selector{}, false, fmt.Errorf("--function %q: last part must be on or off", s)
		}
	}
	return a, sel, on, nil
}

func parseLimit(what, s string) (*big.Int, uint64, error) {
	if s == "none" {
		return actions.NoLimit(), 0, nil
	}
	amount, interval, _ := strings.Cut(s, ":")
	v, ok := new(big.Int).SetString(amount, 10)
	if !ok || v.Sign() < 0 {
		return nil, 0, fmt.Errorf("--%s %q: want WEI[:INTERVAL] in decimal, or none", what, s)
	}
	var iv uint64
	if interval != "" {
		var err error
		if iv, err = strconv.ParseUint(interval, 10, 64); err != nil {
			return nil, 0, fmt.Errorf("--%s %q: bad interval", what, s)
		}
	}
	return v, iv, nil
}

func parseUnix(what, s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("--%s %q: want unix seconds", what, s)
	}
	return v, nil
}

// permissions builds the updates of the permission flags; it reports whether any was given.
func (c *command) permissions() ([][]byte, bool, error) {
	b := actions.NewPermissions()
	given := false
	var errs []error
	switch c.access {
	case "":
	case "allowlist":
		b.AccessControlType(events.AccessAllowlist)
	case "denylist":
		b.AccessControlType(events.AccessDenylist)
	case "allow-all":
		b.AccessControlType(events.AccessAllowAll)
	default:
		errs = append(errs, fmt.Errorf("--access %q: want allowlist, denylist or allow-all", c.access))
	}
	given = given || c.access != ""
	for _, t := range c.targets {
		parts := strings.Split(t, ":")
		a, err := parseAddr("target", parts[0])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		on, check := true, false
		for _, p := range parts[1:] {
			switch p {
			case "on":
			case "off":
				on = false
			case "check-selectors":
				check = true
			default:
				errs = append(errs, fmt.Errorf("--target %q: unknown part %q", t, p))
			}
		}
		b.AddressEntry(a, on, check)
		given = true
	}
	for _, f := range c.functions {
		a, sel, on, err := parseFunction(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.FunctionEntry(a, sel, on)
		given = true
	}
	if c.validAfter != "" || c.validUntil != "" || c.expires != "" {
		var after, until uint64
		var err error
		if c.validAfter != "" {
			if after, err = parseUnix("valid-after", c.validAfter); err != nil {
				errs = append(errs, err)
			}
		}
		if c.validUntil != "" {
			if until, err = parseUnix("valid-until", c.validUntil); err != nil {
				errs = append(errs, err)
			}
		}
		if c.expires != "" {
			d, err := time.ParseDuration(c.expires)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Errorf("--expires-in %q: want a positive duration", c.expires))
			} else {
				until = uint64(time.Now().Add(d).Unix())
			}
		}
		b.TimeRange(after, until)
		given = true
	}
	if c.nativeLimit != "" {
		v, iv, err := parseLimit("native-limit", c.nativeLimit)
		if err != nil {
			errs = append(errs, err)
		} else {
			b.NativeLimit(v, iv)
		}
		given = true
	}
	for _, e := range c.erc20 {
		tok, rest, ok := strings.Cut(e, ":")
		if !ok {
			errs = append(errs, fmt.Errorf("--erc20-limit %q: want TOKEN:WEI[:INTERVAL]", e))
			continue
		}
		a, err := parseAddr("erc20-limit", tok)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		v, iv, err := parseLimit("erc20-limit", rest)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.ERC20Limit(a, v, iv)
		given = true
	}
	if c.gasLimit != "" {
		v, iv, err := parseLimit("gas-limit", c.gasLimit)
		if err != nil {
			errs = append(errs, err)
		} else {
			b.GasLimit(v, iv)
		}
		given = true
	}
	if c.paymaster != "" {
		pm := common.HexToAddress(c.paymaster)
		if c.paymaster != "0x0" {
			a, err := parseAddr("paymaster", c.paymaster)
			if err != nil {
				errs = append(errs, err)
			}
			pm = a
		}
		b.RequiredPaymaster(pm)
		given = true
	}
	if len(errs) > 0 {
		return nil, given, errors.Join(errs...)
	}
	enc, err := b.Encode()
	return enc, given, err
}

func parseTag(s string) common.Hash {
	if strings.HasPrefix(s, "0x") && len(s) == 66 {
		if b, err := hexutil.Decode(s); err == nil {
			return common.BytesToHash(b)
		}
	}
	if s == "" {
		return common.Hash{}
	}
	return crypto.Keccak256Hash([]byte(s))
}

func (c *command) write(ctx context.Context, node *ethclient.Client, addrs actions.Addresses, account common.Address) error {
	chainID, err := node.ChainID(ctx)
	if err != nil {
		return fmt.Errorf("read chain id: %w", err)
	}
	full := actions.NewReader(node, addrs).Addresses()
	var signer actions.Signer
	if c.signer != "" {
		s, err := actions.LoadSigner(actions.SignerSpec{Source: c.signer, PasswordFile: c.passwordFile, PasswordEnv: c.passwordEnv})
		if err != nil {
			return err
		}
		signer = s
	} else if !c.dryRun {
		return errors.New("--signer is required (or use --dry-run)")
	}
	var sub actions.Submitter
	switch {
	case c.bundlerURL != "" && c.directFrom != "":
		return errors.New("use --bundler or --direct-from, not both")
	case c.bundlerURL != "":
		bc, err := actions.DialBundler(ctx, c.bundlerURL, full.EntryPoint, chainID)
		if err != nil {
			return err
		}
		defer bc.Close()
		sub = bc
	case c.directFrom != "":
		from, err := actions.LoadSigner(actions.SignerSpec{Source: c.directFrom, PasswordFile: c.passwordFile, PasswordEnv: c.passwordEnv})
		if err != nil {
			return err
		}
		if sub, err = actions.NewDirectSubmitter(actions.DirectOptions{Node: node, From: from, ChainID: chainID, EntryPoint: full.EntryPoint}); err != nil {
			return err
		}
	default:
		return errors.New("--bundler or --direct-from is required")
	}
	client, err := actions.NewClient(actions.Options{Node: node, Submitter: sub, ChainID: chainID, Addresses: addrs, Logger: zerolog.Nop()})
	if err != nil {
		return err
	}
	if signer == nil {
		signer = unsigned{}
	}
	acct := client.Account(account, signer)
	acct.DryRun = c.dryRun
	if c.nonceKey != "" {
		k, ok := new(big.Int).SetString(c.nonceKey, 0)
		if !ok || k.Sign() < 0 || k.BitLen() > 192 {
			return fmt.Errorf("--nonce-key %q: want a number below 2^192", c.nonceKey)
		}
		acct.NonceKey = k
	}
	var res *actions.Result
	switch c.name {
	case "add", "update":
		key, err := parseAddr("key", c.key)
		if err != nil {
			return err
		}
		updates, given, err := c.permissions()
		if err != nil {
			return err
		}
		if c.name == "add" {
			if !given {
				updates = nil // a fresh key: allowlist with nothing on it
			}
			res, err = acct.AddSessionKey(ctx, key, parseTag(c.tag), updates)
		} else {
			if !given {
				return errors.New("update needs at least one permission flag")
			}
			res, err = acct.UpdateKeyPermissions(ctx, key, updates)
		}
		if err != nil {
			return c.failed(res, err)
		}
	case "remove":
		key, err := parseAddr("key", c.key)
		if err != nil {
			return err
		}
		if res, err = acct.RemoveSessionKey(ctx, key); err != nil {
			return c.failed(res, err)
		}
	case "rotate":
		key, err := parseAddr("key", c.key)
		if err != nil {
			return err
		}
		nk, err := parseAddr("new", c.newKey)
		if err != nil {
			return err
		}
		if res, err = acct.RotateSessionKey(ctx, key, nk); err != nil {
			return c.failed(res, err)
		}
	case "revoke-all":
		if res, err = acct.RevokeAll(ctx); err != nil {
			return c.failed(res, err)
		}
	}
	return c.report(res)
}

// unsigned lets --dry-run without --signer print an unsigned op.
type unsigned struct{}

func (unsigned) Address() common.Address { return common.Address{} }
func (unsigned) SignHash(context.Context, common.Hash) ([]byte, error) {
	return []byte{}, nil
}

func (c *command) failed(res *actions.Result, err error) error {
	if res != nil && res.Receipt != nil {
		_ = c.report(res)
	}
	return err
}

func (c *command) report(res *actions.Result) error {
	out := struct {
		DryRun     bool                   `json:"dry_run"`
		UserOpHash string                 `json:"user_op_hash"`
		UserOp     *actions.UserOperation `json:"user_op,omitempty"`
		Success    *bool                  `json:"success,omitempty"`
		TxHash     string                 `json:"tx_hash,omitempty"`
		Block      uint64                 `json:"block_number,omitempty"`
	}{DryRun: !res.Sent, UserOpHash: res.UserOpHash.Hex()}
	if !res.Sent {
		out.UserOp = res.Op
	}
	if r := res.Receipt; r != nil {
		out.Success, out.TxHash, out.Block = &r.Success, r.TxHash.Hex(), r.BlockNumber
	}
	return c.printJSON(out)
}

func (c *command) printJSON(v any) error {
	enc := json.NewEncoder(c.out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
