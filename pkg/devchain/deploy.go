package devchain

import (
	"context"
	"crypto/ecdsa"
	"fmt"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/keywarden/keywarden/contracts"
	"github.com/keywarden/keywarden/pkg/devchain/bundler"
)

func (c *Chain) deployContract(ctx context.Context, name string, a artifact, args ...any) (common.Address, error) {
	ctor, err := a.abi.Pack("", args...)
	if err != nil {
		return common.Address{}, fmt.Errorf("deploy %s: encode constructor: %w", name, err)
	}
	rcpt, err := c.Transact(ctx, TxRequest{From: c.deployer, Data: append(append([]byte{}, a.bytecode...), ctor...), Gas: c.gasCap})
	if err != nil {
		return common.Address{}, fmt.Errorf("deploy %s: %w", name, err)
	}
	return rcpt.ContractAddress, nil
}

// deploy deploys the EntryPoint, the plugins, the factory (which deploys the account
// implementation) and the test token and target, in that order, from the first funded key.
func (c *Chain) deploy(ctx context.Context) error {
	arts := map[string]artifact{}
	for _, n := range append([]string{"EntryPoint"}, contracts.Names...) {
		a, err := loadArtifact(n)
		if err != nil {
			return err
		}
		arts[n] = a
	}
	c.abis = &abis{
		entryPoint: arts["EntryPoint"].abi, multiOwner: arts["MultiOwnerPlugin"].abi, plugin: arts["SessionKeyPlugin"].abi,
		account: arts["ModularAccount"].abi, factory: arts["ModularAccountFactory"].abi,
		erc20: arts["TestERC20"].abi, target: arts["TestTarget"].abi,
	}
	a := &c.Addresses
	var err error
	steps := []struct {
		name string
		dst  *common.Address
		args func() []any
	}{
		{"EntryPoint", &a.EntryPoint, func() []any { return nil }},
		{"MultiOwnerPlugin", &a.MultiOwnerPlugin, func() []any { return nil }},
		{"SessionKeyPlugin", &a.SessionKeyPlugin, func() []any { return nil }},
		{"ModularAccountFactory", &a.Factory, func() []any { return []any{a.EntryPoint, a.MultiOwnerPlugin} }},
		{"TestERC20", &a.TestERC20, func() []any { return []any{"Keywarden Test Token", "KWT"} }},
		{"TestTarget", &a.TestTarget, func() []any { return nil }},
	}
	for _, s := range steps {
		if *s.dst, err = c.deployContract(ctx, s.name, arts[s.name], s.args()...); err != nil {
			return err
		}
	}
	impl, err := c.call(ctx, c.abis.factory, a.Factory, "IMPL")
	if err != nil {
		return err
	}
	a.AccountImplementation = impl[0].(common.Address)
	return nil
}

// call runs a view function and returns its unpacked outputs.
func (c *Chain) call(ctx context.Context, x abiLike, to common.Address, method string, args ...any) ([]any, error) {
	data, err := pack(x, method, args...)
	if err != nil {
		return nil, err
	}
	out, err := c.client.CallContract(ctx, ethereum.CallMsg{To: &to, Data: data}, nil)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", method, c.explain(err))
	}
	vals, err := x.Unpack(method, out)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", method, err)
	}
	return vals, nil
}

// Beneficiary is the bundler's beneficiary key (the last funded key).
func (c *Chain) Beneficiary() *ecdsa.PrivateKey { return c.Keys[len(c.Keys)-1] }

func (c *Chain) startBundler(ctx context.Context) error {
	ben := c.Beneficiary()
	b, err := bundler.Start(ctx, bundler.Options{
		Chain: c.client, ChainID: c.ChainID, EntryPoint: c.Addresses.EntryPoint, EntryPointABI: c.abis.entryPoint,
		Beneficiary: Address(ben), Logger: c.log, TxGasCap: c.gasCap,
		Submit: func(ctx context.Context, to common.Address, data []byte, gas uint64) (*types.Receipt, error) {
			tx, err := c.Send(ctx, TxRequest{From: ben, To: &to, Data: data, Gas: gas})
			if err != nil {
				return nil, err
			}
			return c.Mined(ctx, tx)
		},
	})
	if err != nil {
		return err
	}
	c.bundler = b
	c.BundlerURL = b.URL()
	return nil
}
