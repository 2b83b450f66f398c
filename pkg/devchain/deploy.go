package devchain

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
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

func (c *Chain) deploy(ctx context.Context) error {
	c.abis = &abis{}
	ep, err := entryPointArtifact()
	if err != nil {
		return err
	}
	c.abis.entryPoint = ep.abi
	if c.Addresses.EntryPoint, err = c.deployContract(ctx, "EntryPoint", ep); err != nil {
		return err
	}
	return nil
}

func (c *Chain) startBundler(ctx context.Context) error { return nil }
