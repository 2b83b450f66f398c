package actions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/keywarden/keywarden/pkg/events"
)

// ContractCaller is the one node capability reads need (ethclient.Client has it).
type ContractCaller interface {
	CallContract(ctx context.Context, call ethereum.CallMsg, blockNumber *big.Int) ([]byte, error)
}

// Addresses are the contracts a client talks to. Zero fields take the canonical deployments
// of pkg/events (Session Key Plugin v1.0.1, Multi Owner plugin, EntryPoint v0.6).
type Addresses struct {
	SessionKeyPlugin common.Address
	MultiOwner       common.Address
	EntryPoint       common.Address
}

func (a Addresses) withDefaults() Addresses {
	if a.SessionKeyPlugin == (common.Address{}) {
		a.SessionKeyPlugin = events.SessionKeyPluginV101.Common()
	}
	if a.MultiOwner == (common.Address{}) {
		a.MultiOwner = events.MultiOwnerPlugin.Common()
	}
	if a.EntryPoint == (common.Address{}) {
		a.EntryPoint = events.EntryPointV06.Common()
	}
	return a
}

// Reader reads the plugin's, the account's, the Multi Owner plugin's and the EntryPoint's
// views at the latest block.
type Reader struct {
	caller ContractCaller
	addrs  Addresses
}

// NewReader returns a Reader over caller.
func NewReader(caller ContractCaller, addrs Addresses) *Reader {
	return &Reader{caller: caller, addrs: addrs.withDefaults()}
}

// Addresses returns the contracts the reader uses.
func (r *Reader) Addresses() Addresses { return r.addrs }

// Custom errors of the plugin that mean "this key is not on the account".
var (
	errSessionKeyNotFound = []byte{0x78, 0x6c, 0x53, 0x86} // SessionKeyNotFound(address)
	errInvalidSessionKey  = []byte{0xd3, 0xd0, 0xf6, 0x59} // InvalidSessionKey(address)
)

// RevertData extracts the revert data a node attached to a failed eth_call or eth_estimateGas.
func RevertData(err error) ([]byte, bool) {
	var de interface{ ErrorData() interface{} }
	if !errors.As(err, &de) {
		return nil, false
	}
	switch d := de.ErrorData().(type) {
	case string:
		b, derr := hexutil.Decode(d)
		return b, derr == nil
	case []byte:
		return d, true
	}
	return nil, false
}

func (r *Reader) call(ctx context.Context, a abi.ABI, to common.Address, method string, args ...any) ([]any, error) {
	data := pack(a, method, args...)
	out, err := r.caller.CallContract(ctx, ethereum.CallMsg{To: &to, Data: data}, nil)
	if err != nil {
		if rd, ok := RevertData(err); ok && len(rd) >= 4 &&
			(bytes.Equal(rd[:4], errSessionKeyNotFound) || bytes.Equal(rd[:4], errInvalidSessionKey)) {
			return nil, fmt.Errorf("call %s: %w", method, ErrKeyNotFound)
		}
		return nil, fmt.Errorf("call %s: %w", method, err)
	}
	vals, err := a.Unpack(method, out)
	if err != nil {
		return nil, fmt.Errorf("decode %s result: %w", method, err)
	}
	return vals, nil
}

func one[T any](vals []any, err error) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	v, ok := vals[0].(T)
	if !ok {
		return zero, fmt.Errorf("decode result: got %T, want %T", vals[0], zero)
	}
	return v, nil
}

// InstalledPlugins returns the account's installed plugins, newest first.
func (r *Reader) InstalledPlugins(ctx context.Context, account common.Address) ([]common.Address, error) {
	return one[[]common.Address](r.call(ctx, accountABI, account, "getInstalledPlugins"))
}

// ExecutionConfig is what the account's getExecutionFunctionConfig returns for a selector.
type ExecutionConfig struct {
	Plugin                    common.Address
	UserOpValidationFunction  FunctionReference
	RuntimeValidationFunction FunctionReference
}

// ExecutionFunctionConfig returns which plugin the account routes selector to, and with
// which validation functions.
func (r *Reader) ExecutionFunctionConfig(ctx context.Context, account common.Address, selector events.Selector) (ExecutionConfig, error) {
	vals, err := r.call(ctx, accountABI, account, "getExecutionFunctionConfig", [4]byte(selector))
	if err != nil {
		return ExecutionConfig{}, err
	}
	raw := *abi.ConvertType(vals[0], new(struct {
		Plugin                    common.Address
		UserOpValidationFunction  [21]byte
		RuntimeValidationFunction [21]byte
	})).(*struct {
		Plugin                    common.Address
		UserOpValidationFunction  [21]byte
		RuntimeValidationFunction [21]byte
	})
	return ExecutionConfig{Plugin: raw.Plugin, UserOpValidationFunction: raw.UserOpValidationFunction,
		RuntimeValidationFunction: raw.RuntimeValidationFunction}, nil
}

// HasSessionKeyPlugin reports whether the account lists the reader's Session Key Plugin.
func (r *Reader) HasSessionKeyPlugin(ctx context.Context, account common.Address) (bool, error) {
	ps, err := r.InstalledPlugins(ctx, account)
	if err != nil {
		return false, err
	}
	for _, p := range ps {
		if p == r.addrs.SessionKeyPlugin {
			return true, nil
		}
	}
	return false, nil
}

// SessionKeys returns the account's session keys, newest first (sessionKeysOf).
func (r *Reader) SessionKeys(ctx context.Context, account common.Address) ([]common.Address, error) {
	return one[[]common.Address](r.call(ctx, pluginABI, r.addrs.SessionKeyPlugin, "sessionKeysOf", account))
}

// IsSessionKey reports whether key is on the account's list.
func (r *Reader) IsSessionKey(ctx context.Context, account, key common.Address) (bool, error) {
	return one[bool](r.call(ctx, pluginABI, r.addrs.SessionKeyPlugin, "isSessionKeyOf", account, key))
}

// Predecessor returns findPredecessor(account, key); ErrKeyNotFound when key is not on the list.
func (r *Reader) Predecessor(ctx context.Context, account, key common.Address) (Predecessor, error) {
	p, err := one[[32]byte](r.call(ctx, pluginABI, r.addrs.SessionKeyPlugin, "findPredecessor", account, key))
	return Predecessor(p), err
}

// AccessControlType returns the key's access list mode.
func (r *Reader) AccessControlType(ctx context.Context, account, key common.Address) (events.AccessControlType, error) {
	t, err := one[uint8](r.call(ctx, pluginABI, r.addrs.SessionKeyPlugin, "getAccessControlType", account, key))
	return events.AccessControlType(t), err
}

// AccessControlEntry returns (isOnList, checkSelectors) of target.
func (r *Reader) AccessControlEntry(ctx context.Context, account, key, target common.Address) (events.AccessEntry, error) {
	vals, err := r.call(ctx, pluginABI, r.addrs.SessionKeyPlugin, "getAccessControlEntry", account, key, target)
	if err != nil {
		return events.AccessEntry{}, err
	}
	on, _ := vals[0].(bool)
	cs, _ := vals[1].(bool)
	return events.AccessEntry{Target: events.AddressFrom(target), IsOnList: on, CheckSelectors: cs}, nil
}

// IsSelectorOnList reports whether (target, selector) is on the key's function list.
func (r *Reader) IsSelectorOnList(ctx context.Context, account, key, target common.Address, sel events.Selector) (bool, error) {
	return one[bool](r.call(ctx, pluginABI, r.addrs.SessionKeyPlugin, "isSelectorOnAccessControlList", account, key, target, [4]byte(sel)))
}

// KeyTimeRange returns (validAfter, validUntil) in unix seconds; 0 is unbounded.
func (r *Reader) KeyTimeRange(ctx context.Context, account, key common.Address) (validAfter, validUntil uint64, err error) {
	vals, err := r.call(ctx, pluginABI, r.addrs.SessionKeyPlugin, "getKeyTimeRange", account, key)
	if err != nil {
		return 0, 0, err
	}
	return bigU64(vals[0]), bigU64(vals[1]), nil
}

func bigU64(v any) uint64 {
	if b, ok := v.(*big.Int); ok && b.IsUint64() {
		return b.Uint64()
	}
	return 0
}

// SpendLimitInfo is the plugin's SpendLimitInfo, with the amount used.
type SpendLimitInfo struct {
	events.SpendLimit
	LimitUsed events.U256
}

type rawSpendLimit struct {
	HasLimit        bool     `json:"hasLimit"`
	Limit           *big.Int `json:"limit"`
	LimitUsed       *big.Int `json:"limitUsed"`
	RefreshInterval *big.Int `json:"refreshInterval"`
	LastUsedTime    *big.Int `json:"lastUsedTime"`
}

func spendLimitOf(v any) (SpendLimitInfo, error) {
	raw := *abi.ConvertType(v, new(rawSpendLimit)).(*rawSpendLimit)
	lim, err := events.U256FromBig(raw.Limit)
	if err != nil {
		return SpendLimitInfo{}, fmt.Errorf("decode spend limit: %w", err)
	}
	used, err := events.U256FromBig(raw.LimitUsed)
	if err != nil {
		return SpendLimitInfo{}, fmt.Errorf("decode spend limit: %w", err)
	}
	return SpendLimitInfo{SpendLimit: events.SpendLimit{HasLimit: raw.HasLimit, Limit: lim,
		RefreshInterval: bigU64(raw.RefreshInterval), LastUsedTime: bigU64(raw.LastUsedTime)}, LimitUsed: used}, nil
}

// NativeSpendLimit returns getNativeTokenSpendLimitInfo (zeros when there is no limit).
func (r *Reader) NativeSpendLimit(ctx context.Context, account, key common.Address) (SpendLimitInfo, error) {
	vals, err := r.call(ctx, pluginABI, r.addrs.SessionKeyPlugin, "getNativeTokenSpendLimitInfo", account, key)
	if err != nil {
		return SpendLimitInfo{}, err
	}
	return spendLimitOf(vals[0])
}

// GasSpendLimit returns getGasSpendLimit: the limit and whether the key is waiting for
// resetSessionKeyGasLimitTimestamp.
func (r *Reader) GasSpendLimit(ctx context.Context, account, key common.Address) (SpendLimitInfo, bool, error) {
	vals, err := r.call(ctx, pluginABI, r.addrs.SessionKeyPlugin, "getGasSpendLimit", account, key)
	if err != nil {
		return SpendLimitInfo{}, false, err
	}
	info, err := spendLimitOf(vals[0])
	reset, _ := vals[1].(bool)
	return info, reset, err
}

// ERC20SpendLimit returns getERC20SpendLimitInfo for token (stored fields, unfiltered).
func (r *Reader) ERC20SpendLimit(ctx context.Context, account, key, token common.Address) (SpendLimitInfo, error) {
	vals, err := r.call(ctx, pluginABI, r.addrs.SessionKeyPlugin, "getERC20SpendLimitInfo", account, key, token)
	if err != nil {
		return SpendLimitInfo{}, err
	}
	return spendLimitOf(vals[0])
}

// RequiredPaymaster returns the required paymaster; zero when there is no rule.
func (r *Reader) RequiredPaymaster(ctx context.Context, account, key common.Address) (common.Address, error) {
	return one[common.Address](r.call(ctx, pluginABI, r.addrs.SessionKeyPlugin, "getRequiredPaymaster", account, key))
}

// Nonce returns the EntryPoint's getNonce(sender, key): key in the high 192 bits, sequence in
// the low 64. A nil key is 0.
func (r *Reader) Nonce(ctx context.Context, sender common.Address, key *big.Int) (*big.Int, error) {
	if key == nil {
		key = new(big.Int)
	}
	return one[*big.Int](r.call(ctx, entryPointABI, r.addrs.EntryPoint, "getNonce", sender, key))
}

// EntryPointDeposit returns the sender's deposit at the EntryPoint.
func (r *Reader) EntryPointDeposit(ctx context.Context, sender common.Address) (*big.Int, error) {
	return one[*big.Int](r.call(ctx, entryPointABI, r.addrs.EntryPoint, "balanceOf", sender))
}

// OwnersOf returns the account's owners (Multi Owner plugin).
func (r *Reader) OwnersOf(ctx context.Context, account common.Address) ([]common.Address, error) {
	return one[[]common.Address](r.call(ctx, multiOwnerABI, r.addrs.MultiOwner, "ownersOf", account))
}

// IsOwnerOf reports whether owner is one of the account's owners.
func (r *Reader) IsOwnerOf(ctx context.Context, account, owner common.Address) (bool, error) {
	return one[bool](r.call(ctx, multiOwnerABI, r.addrs.MultiOwner, "isOwnerOf", account, owner))
}

// ManifestHash reads plugin.pluginManifest() and hashes its ABI encoding, as the SDK does.
func (r *Reader) ManifestHash(ctx context.Context, plugin common.Address) (common.Hash, error) {
	data := pack(pluginABI, "pluginManifest")
	out, err := r.caller.CallContract(ctx, ethereum.CallMsg{To: &plugin, Data: data}, nil)
	if err != nil {
		return common.Hash{}, fmt.Errorf("call pluginManifest: %w", err)
	}
	if len(out) == 0 {
		return common.Hash{}, fmt.Errorf("call pluginManifest on %s: empty result", plugin.Hex())
	}
	return ManifestHash(out), nil
}

// FunctionRefQuery names a (target, selector) pair for ReadPermissions.
type FunctionRefQuery struct {
	Target   common.Address
	Selector events.Selector
}

// PermissionsQuery lists what ReadPermissions asks about: the plugin cannot enumerate a key's
// access list or its ERC-20 limits, so the caller names the targets, functions and tokens.
type PermissionsQuery struct {
	Targets   []common.Address
	Functions []FunctionRefQuery
	Tokens    []common.Address
}

// ReadPermissions reads a key's permissions from the plugin's views into the form of the
// indexer's fold, restricted to the named targets, functions and tokens. Compare it with
// ViewOf(folded): the views report zeros for a disabled native or gas limit, and cannot show
// usage counters beyond LastUsedTime.
func (r *Reader) ReadPermissions(ctx context.Context, account, key common.Address, q PermissionsQuery) (events.Permissions, error) {
	p := events.DefaultPermissions()
	t, err := r.AccessControlType(ctx, account, key)
	if err != nil {
		return p, fmt.Errorf("read permissions of %s: %w", key.Hex(), err)
	}
	p.AccessControlType = t
	for _, target := range dedupe(q.Targets) {
		e, err := r.AccessControlEntry(ctx, account, key, target)
		if err != nil {
			return p, fmt.Errorf("read permissions of %s: %w", key.Hex(), err)
		}
		if e.IsOnList || e.CheckSelectors {
			p.AccessList = append(p.AccessList, e)
		}
	}
	sortAccess(p.AccessList)
	seen := map[FunctionRefQuery]bool{}
	for _, f := range q.Functions {
		if seen[f] {
			continue
		}
		seen[f] = true
		on, err := r.IsSelectorOnList(ctx, account, key, f.Target, f.Selector)
		if err != nil {
			return p, fmt.Errorf("read permissions of %s: %w", key.Hex(), err)
		}
		if on {
			p.FunctionList = append(p.FunctionList, events.FunctionEntry{Target: events.AddressFrom(f.Target), Selector: f.Selector, IsOnList: true})
		}
	}
	sortFunctions(p.FunctionList)
	if p.ValidAfter, p.ValidUntil, err = r.KeyTimeRange(ctx, account, key); err != nil {
		return p, fmt.Errorf("read permissions of %s: %w", key.Hex(), err)
	}
	native, err := r.NativeSpendLimit(ctx, account, key)
	if err != nil {
		return p, fmt.Errorf("read permissions of %s: %w", key.Hex(), err)
	}
	p.NativeLimit = native.SpendLimit
	for _, tok := range dedupe(q.Tokens) {
		l, err := r.ERC20SpendLimit(ctx, account, key, tok)
		if err != nil {
			return p, fmt.Errorf("read permissions of %s: %w", key.Hex(), err)
		}
		if l.HasLimit || !l.Limit.IsZero() || l.RefreshInterval != 0 || l.LastUsedTime != 0 {
			p.ERC20Limits = append(p.ERC20Limits, events.TokenLimit{Token: events.AddressFrom(tok), SpendLimit: l.SpendLimit})
		}
	}
	sortTokens(p.ERC20Limits)
	gas, _, err := r.GasSpendLimit(ctx, account, key)
	if err != nil {
		return p, fmt.Errorf("read permissions of %s: %w", key.Hex(), err)
	}
	p.GasLimit = gas.SpendLimit
	if p.RequiredPaymaster, err = func() (events.Address, error) {
		a, err := r.RequiredPaymaster(ctx, account, key)
		return events.AddressFrom(a), err
	}(); err != nil {
		return p, fmt.Errorf("read permissions of %s: %w", key.Hex(), err)
	}
	return p, nil
}

// ViewOf returns what the plugin's views show of folded permissions p, restricted to q: the
// native and gas limits as their getters report them (zeros when disabled) and only the
// named targets, functions and tokens. ReadPermissions(q) of the same key equals ViewOf(p, q).
func ViewOf(p events.Permissions, q PermissionsQuery) events.Permissions {
	v := p.Clone()
	v.NativeLimit = p.NativeView()
	v.GasLimit = p.GasView()
	targets := map[events.Address]bool{}
	for _, t := range q.Targets {
		targets[events.AddressFrom(t)] = true
	}
	funcs := map[FunctionRefQuery]bool{}
	for _, f := range q.Functions {
		funcs[f] = true
	}
	tokens := map[events.Address]bool{}
	for _, t := range q.Tokens {
		tokens[events.AddressFrom(t)] = true
	}
	v.AccessList = v.AccessList[:0]
	for _, e := range p.AccessList {
		if targets[e.Target] {
			v.AccessList = append(v.AccessList, e)
		}
	}
	v.FunctionList = v.FunctionList[:0]
	for _, f := range p.FunctionList {
		if funcs[FunctionRefQuery{Target: f.Target.Common(), Selector: f.Selector}] {
			v.FunctionList = append(v.FunctionList, f)
		}
	}
	v.ERC20Limits = v.ERC20Limits[:0]
	for _, t := range p.ERC20Limits {
		zero := !t.HasLimit && t.Limit.IsZero() && t.RefreshInterval == 0 && t.LastUsedTime == 0
		if tokens[t.Token] && !zero {
			v.ERC20Limits = append(v.ERC20Limits, t)
		}
	}
	return v
}

func dedupe(as []common.Address) []common.Address {
	seen := map[common.Address]bool{}
	var out []common.Address
	for _, a := range as {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}
