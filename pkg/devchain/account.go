package devchain

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"sync/atomic"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/keywarden/keywarden/pkg/events"
)

// Call is one call of executeBatch or executeWithSessionKey.
type Call struct {
	Target common.Address
	Value  *big.Int
	Data   []byte
}

func (c Call) norm() Call {
	if c.Value == nil {
		c.Value = new(big.Int)
	}
	if c.Data == nil {
		c.Data = []byte{}
	}
	return c
}

func normCalls(cs []Call) []Call {
	out := make([]Call, len(cs))
	for i, c := range cs {
		out[i] = c.norm()
	}
	return out
}

// SortOwners returns the owners strictly ascending, as the factory requires.
func SortOwners(owners []common.Address) []common.Address {
	out := append([]common.Address{}, owners...)
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i][:], out[j][:]) < 0 })
	return out
}

var saltCounter atomic.Uint64

// AccountFunding is what CreateAccount sends to each new account, so that it can pay for
// its user operations.
var AccountFunding = new(big.Int).Mul(big.NewInt(1e18), big.NewInt(100))

// InitCode returns factory ‖ createAccount(salt, owners) for a user op's initCode.
func (c *Chain) InitCode(salt *big.Int, owners []common.Address) ([]byte, error) {
	data, err := pack(c.abis.factory, "createAccount", salt, SortOwners(owners))
	if err != nil {
		return nil, err
	}
	return append(c.Addresses.Factory.Bytes(), data...), nil
}

// AccountAddress returns the counterfactual address of (salt, owners).
func (c *Chain) AccountAddress(ctx context.Context, salt *big.Int, owners []common.Address) (common.Address, error) {
	out, err := c.call(ctx, c.abis.factory, c.Addresses.Factory, "getAddress", salt, SortOwners(owners))
	if err != nil {
		return common.Address{}, err
	}
	return out[0].(common.Address), nil
}

// CreateAccount deploys an account owned by owners through the factory (a plain
// transaction from the deployer key, with a fresh salt) and funds it with AccountFunding.
func (c *Chain) CreateAccount(ctx context.Context, owners []common.Address) (common.Address, error) {
	salt := new(big.Int).SetUint64(saltCounter.Add(1))
	addr, err := c.AccountAddress(ctx, salt, owners)
	if err != nil {
		return common.Address{}, fmt.Errorf("create account: %w", err)
	}
	data, err := pack(c.abis.factory, "createAccount", salt, SortOwners(owners))
	if err != nil {
		return common.Address{}, err
	}
	if _, err := c.Send(ctx, TxRequest{From: c.deployer, To: &addr, Value: AccountFunding, Gas: 21_000}); err != nil {
		return common.Address{}, fmt.Errorf("create account: fund: %w", err)
	}
	if _, err := c.Transact(ctx, TxRequest{From: c.deployer, To: &c.Addresses.Factory, Data: data}); err != nil {
		return common.Address{}, fmt.Errorf("create account: %w", err)
	}
	return addr, nil
}

// Fund sends value wei from the deployer to addr and waits until it is mined.
func (c *Chain) Fund(ctx context.Context, addr common.Address, value *big.Int) error {
	if _, err := c.Transact(ctx, TxRequest{From: c.deployer, To: &addr, Value: value, Gas: 21_000}); err != nil {
		return fmt.Errorf("fund %s: %w", addr.Hex(), err)
	}
	return nil
}

// Tag makes a bytes32 tag from a short string (left-aligned, zero-padded, truncated at 32).
func Tag(s string) [32]byte {
	var t [32]byte
	copy(t[:], s)
	return t
}

func encodeUpdates(us []events.Update) [][]byte {
	out := make([][]byte, 0, len(us))
	for _, u := range us {
		out = append(out, u.Encode())
	}
	return out
}

// SessionKeyManifestHash returns keccak256(abi.encode(pluginManifest())) of the deployed
// Session Key Plugin, the value installPlugin checks.
func (c *Chain) SessionKeyManifestHash(ctx context.Context) (common.Hash, error) {
	data, _ := pack(c.abis.plugin, "pluginManifest")
	out, err := c.client.CallContract(ctx, ethereum.CallMsg{To: &c.Addresses.SessionKeyPlugin, Data: data}, nil)
	if err != nil {
		return common.Hash{}, fmt.Errorf("read plugin manifest: %w", c.explain(err))
	}
	// The return data of a function returning one dynamic tuple is exactly abi.encode(tuple).
	return crypto.Keccak256Hash(out), nil
}

// InstallSessionKeyPluginCall returns the account calldata
// installPlugin(sessionKeyPlugin, manifestHash, abi.encode(keys, tags, perms), [multiOwner‖0, multiOwner‖1]).
func (c *Chain) InstallSessionKeyPluginCall(ctx context.Context, keys []common.Address, tags [][32]byte, perms [][]events.Update) ([]byte, error) {
	if len(tags) == 0 && len(keys) > 0 {
		tags = make([][32]byte, len(keys))
	}
	if len(perms) == 0 && len(keys) > 0 {
		perms = make([][]events.Update, len(keys))
	}
	if len(tags) != len(keys) || len(perms) != len(keys) {
		return nil, errors.New("install session key plugin: keys, tags and perms differ in length")
	}
	mh, err := c.SessionKeyManifestHash(ctx)
	if err != nil {
		return nil, err
	}
	encPerms := make([][][]byte, len(perms))
	for i, p := range perms {
		encPerms[i] = encodeUpdates(p)
	}
	installData, err := installArgs.Pack(keys, tags, encPerms)
	if err != nil {
		return nil, fmt.Errorf("encode install data: %w", err)
	}
	var dep0, dep1 [21]byte
	copy(dep0[:], c.Addresses.MultiOwnerPlugin[:])
	copy(dep1[:], c.Addresses.MultiOwnerPlugin[:])
	dep1[20] = 1
	return pack(c.abis.account, "installPlugin", c.Addresses.SessionKeyPlugin, mh, installData, [][21]byte{dep0, dep1})
}

// AddSessionKeyCall is the account calldata addSessionKey(key, tag, updates).
func (c *Chain) AddSessionKeyCall(key common.Address, tag [32]byte, perms []events.Update) ([]byte, error) {
	return pack(c.abis.plugin, "addSessionKey", key, tag, encodeUpdates(perms))
}

// RemoveSessionKeyCall is the account calldata removeSessionKey(key, predecessor).
func (c *Chain) RemoveSessionKeyCall(key common.Address, predecessor [32]byte) ([]byte, error) {
	return pack(c.abis.plugin, "removeSessionKey", key, predecessor)
}

// RotateSessionKeyCall is the account calldata rotateSessionKey(old, predecessor, new).
func (c *Chain) RotateSessionKeyCall(oldKey common.Address, predecessor [32]byte, newKey common.Address) ([]byte, error) {
	return pack(c.abis.plugin, "rotateSessionKey", oldKey, predecessor, newKey)
}

// UpdatePermissionsCall is the account calldata updateKeyPermissions(key, updates).
func (c *Chain) UpdatePermissionsCall(key common.Address, perms []events.Update) ([]byte, error) {
	return pack(c.abis.plugin, "updateKeyPermissions", key, encodeUpdates(perms))
}

// ExecuteWithSessionKeyCall is the account calldata executeWithSessionKey(calls, key).
func (c *Chain) ExecuteWithSessionKeyCall(calls []Call, key common.Address) ([]byte, error) {
	return pack(c.abis.plugin, "executeWithSessionKey", normCalls(calls), key)
}

// ExecuteBatchCall is the account calldata executeBatch(calls).
func (c *Chain) ExecuteBatchCall(calls []Call) ([]byte, error) {
	return pack(c.abis.account, "executeBatch", normCalls(calls))
}

// Predecessor returns findPredecessor(account, key) from the plugin.
func (c *Chain) Predecessor(ctx context.Context, account, key common.Address) ([32]byte, error) {
	out, err := c.call(ctx, c.abis.plugin, c.Addresses.SessionKeyPlugin, "findPredecessor", account, key)
	if err != nil {
		return [32]byte{}, err
	}
	return out[0].([32]byte), nil
}

// SessionKeysOf returns sessionKeysOf(account), newest first.
func (c *Chain) SessionKeysOf(ctx context.Context, account common.Address) ([]common.Address, error) {
	out, err := c.call(ctx, c.abis.plugin, c.Addresses.SessionKeyPlugin, "sessionKeysOf", account)
	if err != nil {
		return nil, err
	}
	return out[0].([]common.Address), nil
}

// InstalledPlugins returns getInstalledPlugins() of account.
func (c *Chain) InstalledPlugins(ctx context.Context, account common.Address) ([]common.Address, error) {
	out, err := c.call(ctx, c.abis.account, account, "getInstalledPlugins")
	if err != nil {
		return nil, err
	}
	return out[0].([]common.Address), nil
}

// ownerTx sends data to account from owner as a direct (runtime-validated) transaction.
func (c *Chain) ownerTx(ctx context.Context, owner *ecdsa.PrivateKey, account common.Address, data []byte, err error) (*types.Receipt, error) {
	if err != nil {
		return nil, err
	}
	return c.Transact(ctx, TxRequest{From: owner, To: &account, Data: data})
}

// InstallSessionKeyPlugin installs the Session Key Plugin on account with initial keys, by a
// direct transaction from an owner.
func (c *Chain) InstallSessionKeyPlugin(ctx context.Context, owner *ecdsa.PrivateKey, account common.Address, keys []common.Address, tags [][32]byte, perms [][]events.Update) (*types.Receipt, error) {
	data, err := c.InstallSessionKeyPluginCall(ctx, keys, tags, perms)
	r, err := c.ownerTx(ctx, owner, account, data, err)
	if err != nil {
		return r, fmt.Errorf("install session key plugin: %w", err)
	}
	return r, nil
}

// AddKey adds a session key with a tag and initial permissions (owner transaction).
func (c *Chain) AddKey(ctx context.Context, owner *ecdsa.PrivateKey, account, key common.Address, tag [32]byte, perms []events.Update) (*types.Receipt, error) {
	data, err := c.AddSessionKeyCall(key, tag, perms)
	r, err := c.ownerTx(ctx, owner, account, data, err)
	if err != nil {
		return r, fmt.Errorf("add session key: %w", err)
	}
	return r, nil
}

// RemoveKey removes a session key, reading its predecessor first (owner transaction).
func (c *Chain) RemoveKey(ctx context.Context, owner *ecdsa.PrivateKey, account, key common.Address) (*types.Receipt, error) {
	pred, err := c.Predecessor(ctx, account, key)
	if err != nil {
		return nil, fmt.Errorf("remove session key: %w", err)
	}
	data, err := c.RemoveSessionKeyCall(key, pred)
	r, err := c.ownerTx(ctx, owner, account, data, err)
	if err != nil {
		return r, fmt.Errorf("remove session key: %w", err)
	}
	return r, nil
}

// RotateKey replaces oldKey by newKey, reading the predecessor first (owner transaction).
func (c *Chain) RotateKey(ctx context.Context, owner *ecdsa.PrivateKey, account, oldKey, newKey common.Address) (*types.Receipt, error) {
	pred, err := c.Predecessor(ctx, account, oldKey)
	if err != nil {
		return nil, fmt.Errorf("rotate session key: %w", err)
	}
	data, err := c.RotateSessionKeyCall(oldKey, pred, newKey)
	r, err := c.ownerTx(ctx, owner, account, data, err)
	if err != nil {
		return r, fmt.Errorf("rotate session key: %w", err)
	}
	return r, nil
}

// UpdatePermissions applies permission updates to a key (owner transaction).
func (c *Chain) UpdatePermissions(ctx context.Context, owner *ecdsa.PrivateKey, account, key common.Address, perms []events.Update) (*types.Receipt, error) {
	data, err := c.UpdatePermissionsCall(key, perms)
	r, err := c.ownerTx(ctx, owner, account, data, err)
	if err != nil {
		return r, fmt.Errorf("update key permissions: %w", err)
	}
	return r, nil
}
