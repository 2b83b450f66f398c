package actions

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
)

// Account acts on one Modular Account with one signer: an owner for the management calls,
// a session key for ExecuteWithSessionKey. Every write is one user operation whose callData
// is the call itself, sent to the account without an execute wrapper, as the SDK does.
type Account struct {
	c      *Client
	addr   common.Address
	signer Signer
	// DryRun builds and signs but does not send: Results carry the op and its hash only.
	DryRun bool
	// NonceKey for the account's ops (nil: 0; ExecuteWithSessionKey picks the key's own
	// nonce key when the key has a gas limit).
	NonceKey *big.Int
	// InitCode deploys the account with the first op (counterfactual accounts).
	InitCode []byte
}

// Account returns a handle on account signed by signer.
func (c *Client) Account(account common.Address, signer Signer) *Account {
	return &Account{c: c, addr: account, signer: signer}
}

// Address is the account's address.
func (a *Account) Address() common.Address { return a.addr }

// Submit sends callData as a user operation of the account (or prepares it on DryRun).
func (a *Account) Submit(ctx context.Context, callData []byte) (*Result, error) {
	return a.submit(ctx, callData, a.NonceKey)
}

func (a *Account) submit(ctx context.Context, callData []byte, nonceKey *big.Int) (*Result, error) {
	req := OpRequest{Sender: a.addr, CallData: callData, InitCode: a.InitCode, NonceKey: nonceKey}
	if a.DryRun {
		return a.c.Prepare(ctx, req, a.signer)
	}
	return a.c.Do(ctx, req, a.signer)
}

// InstallOptions configures InstallSessionKeyPlugin.
type InstallOptions struct {
	Keys []InitialKey
	// ManifestHash, when nil, is read from the plugin's pluginManifest() and hashed.
	ManifestHash *common.Hash
	// Dependencies default to SessionKeyPluginDependencies(the Multi Owner plugin).
	Dependencies []FunctionReference
}

// InstallSessionKeyPluginCallData returns the installPlugin callData the SDK's
// installSessionKeyPlugin sends.
func (c *Client) InstallSessionKeyPluginCallData(ctx context.Context, opts InstallOptions) ([]byte, error) {
	plugin := c.opts.Addresses.SessionKeyPlugin
	var mh common.Hash
	if opts.ManifestHash != nil {
		mh = *opts.ManifestHash
	} else {
		h, err := c.ManifestHash(ctx, plugin)
		if err != nil {
			return nil, fmt.Errorf("install session key plugin: %w", err)
		}
		mh = h
	}
	deps := opts.Dependencies
	if deps == nil {
		deps = SessionKeyPluginDependencies(c.opts.Addresses.MultiOwner)
	}
	return EncodeInstallPlugin(plugin, mh, EncodeSessionKeyPluginInstallData(opts.Keys), deps), nil
}

// InstallSessionKeyPlugin installs the Session Key Plugin with initial keys.
func (a *Account) InstallSessionKeyPlugin(ctx context.Context, opts InstallOptions) (*Result, error) {
	data, err := a.c.InstallSessionKeyPluginCallData(ctx, opts)
	if err != nil {
		return nil, err
	}
	return a.Submit(ctx, data)
}

// AddSessionKey adds key with tag and initial permission updates (PermissionsBuilder.Encode).
func (a *Account) AddSessionKey(ctx context.Context, key common.Address, tag common.Hash, updates [][]byte) (*Result, error) {
	return a.Submit(ctx, EncodeAddSessionKey(key, tag, updates))
}

// RemoveSessionKey removes key; its predecessor is read with findPredecessor right before
// building the op (ErrKeyNotFound when the key is not on the account).
func (a *Account) RemoveSessionKey(ctx context.Context, key common.Address) (*Result, error) {
	pred, err := a.c.Predecessor(ctx, a.addr, key)
	if err != nil {
		return nil, fmt.Errorf("remove session key %s: %w", key.Hex(), err)
	}
	return a.Submit(ctx, EncodeRemoveSessionKey(key, pred))
}

// RotateSessionKey moves oldKey's registration and permissions to newKey (predecessor read
// right before building).
func (a *Account) RotateSessionKey(ctx context.Context, oldKey, newKey common.Address) (*Result, error) {
	pred, err := a.c.Predecessor(ctx, a.addr, oldKey)
	if err != nil {
		return nil, fmt.Errorf("rotate session key %s: %w", oldKey.Hex(), err)
	}
	return a.Submit(ctx, EncodeRotateSessionKey(oldKey, pred, newKey))
}

// UpdateKeyPermissions applies updates to key's permissions.
func (a *Account) UpdateKeyPermissions(ctx context.Context, key common.Address, updates [][]byte) (*Result, error) {
	return a.Submit(ctx, EncodeUpdateKeyPermissions(key, updates))
}

// ExecuteWithSessionKey runs calls as the session key that is the account's signer. When the
// key has a gas spend limit, the op uses the key's address as its nonce key, as the plugin
// requires.
func (a *Account) ExecuteWithSessionKey(ctx context.Context, calls []Call) (*Result, error) {
	key := a.signer.Address()
	nonceKey := a.NonceKey
	if nonceKey == nil {
		gas, _, err := a.c.GasSpendLimit(ctx, a.addr, key)
		if err == nil && gas.HasLimit {
			nonceKey = NonceKeyFor(key)
		}
	}
	return a.submit(ctx, EncodeExecuteWithSessionKey(calls, key), nonceKey)
}

// BatchStep is one plugin call of Batch: exactly one of the fields is set.
type BatchStep struct {
	Add    *AddStep
	Remove *common.Address
	Rotate *RotateStep
	Update *UpdateStep
}

// AddStep adds a key.
type AddStep struct {
	Key     common.Address
	Tag     common.Hash
	Updates [][]byte
}

// RotateStep rotates a key.
type RotateStep struct{ Old, New common.Address }

// UpdateStep updates a key's permissions.
type UpdateStep struct {
	Key     common.Address
	Updates [][]byte
}

// BatchCalls returns the self-calls of Batch, with each predecessor computed from keys (the
// account's list, newest first, before the batch) as updated by the steps before it.
func BatchCalls(account common.Address, keys []common.Address, steps []BatchStep) ([]Call, error) {
	list := append([]common.Address{}, keys...)
	unlink := func(k common.Address) {
		for i, x := range list {
			if x == k {
				list = append(list[:i], list[i+1:]...)
				return
			}
		}
	}
	calls := make([]Call, 0, len(steps))
	for i, s := range steps {
		var data []byte
		switch {
		case s.Add != nil:
			data = EncodeAddSessionKey(s.Add.Key, s.Add.Tag, s.Add.Updates)
			list = append([]common.Address{s.Add.Key}, list...)
		case s.Remove != nil:
			pred, err := ComputePredecessor(list, *s.Remove)
			if err != nil {
				return nil, fmt.Errorf("batch step %d: %w", i, err)
			}
			data = EncodeRemoveSessionKey(*s.Remove, pred)
			unlink(*s.Remove)
		case s.Rotate != nil:
			pred, err := ComputePredecessor(list, s.Rotate.Old)
			if err != nil {
				return nil, fmt.Errorf("batch step %d: %w", i, err)
			}
			data = EncodeRotateSessionKey(s.Rotate.Old, pred, s.Rotate.New)
			unlink(s.Rotate.Old)
			list = append([]common.Address{s.Rotate.New}, list...)
		case s.Update != nil:
			data = EncodeUpdateKeyPermissions(s.Update.Key, s.Update.Updates)
		default:
			return nil, fmt.Errorf("batch step %d: no call set", i)
		}
		calls = append(calls, Call{Target: account, Data: data})
	}
	return calls, nil
}

// Batch sends several plugin calls in one owner op: executeBatch of self-calls on the account
// (the account is not a plugin, so it may call itself, and the plugin's management functions
// then pass runtime validation as "self"). Predecessors are computed from sessionKeysOf read
// right before building, replayed step by step. If any step reverts, the whole batch does.
func (a *Account) Batch(ctx context.Context, steps []BatchStep) (*Result, error) {
	keys, err := a.c.SessionKeys(ctx, a.addr)
	if err != nil {
		return nil, fmt.Errorf("batch: %w", err)
	}
	calls, err := BatchCalls(a.addr, keys, steps)
	if err != nil {
		return nil, fmt.Errorf("batch: %w", err)
	}
	return a.Submit(ctx, EncodeExecuteBatch(calls))
}

// RevokeAll removes every session key of the account in one batched op. With no keys it
// sends nothing and returns an error wrapping ErrKeyNotFound.
func (a *Account) RevokeAll(ctx context.Context) (*Result, error) {
	keys, err := a.c.SessionKeys(ctx, a.addr)
	if err != nil {
		return nil, fmt.Errorf("revoke all: %w", err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("revoke all: account %s has no session keys: %w", a.addr.Hex(), ErrKeyNotFound)
	}
	steps := make([]BatchStep, len(keys))
	for i := range keys {
		k := keys[i]
		steps[i] = BatchStep{Remove: &k}
	}
	calls, err := BatchCalls(a.addr, keys, steps)
	if err != nil {
		return nil, fmt.Errorf("revoke all: %w", err)
	}
	return a.Submit(ctx, EncodeExecuteBatch(calls))
}
