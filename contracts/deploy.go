package contracts

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Backend is what Deploy needs from a chain client (ethclient.Client and simulated.Client satisfy it).
type Backend interface {
	bind.ContractBackend
	bind.DeployBackend
}

// DeployOptions tunes Deploy.
type DeployOptions struct {
	// Mine, when set, is called after each transaction is sent (e.g. a simulated backend's Commit).
	Mine func()
	// WithTestContracts also deploys a TestTarget and a TestERC20 ("Test Token", "TST").
	WithTestContracts bool
}

// Deployment is the address set Deploy produced and the gas each contract creation used.
type Deployment struct {
	EntryPoint            common.Address
	MultiOwnerPlugin      common.Address
	SessionKeyPlugin      common.Address
	Factory               common.Address
	AccountImplementation common.Address // created by the factory's constructor
	TestTarget            common.Address // zero unless WithTestContracts
	TestERC20             common.Address // zero unless WithTestContracts
	// GasUsed maps "EntryPoint" and the Name constants to the receipt's gas used.
	GasUsed map[string]uint64
}

// Deploy creates, in dependency order, the EntryPoint v0.6.0, the Multi Owner plugin, the Session Key Plugin
// and the factory (whose constructor creates the account implementation and reads the Multi Owner manifest
// hash), sending from `auth`.
func Deploy(ctx context.Context, b Backend, auth *bind.TransactOpts, opts DeployOptions) (*Deployment, error) {
	d := &Deployment{GasUsed: map[string]uint64{}}
	epABI, epCode, err := EntryPoint()
	if err != nil {
		return nil, err
	}
	if d.EntryPoint, err = deployOne(ctx, b, auth, opts, d, "EntryPoint", epABI, epCode); err != nil {
		return nil, err
	}
	if d.MultiOwnerPlugin, err = deployNamed(ctx, b, auth, opts, d, MultiOwnerPlugin); err != nil {
		return nil, err
	}
	if d.SessionKeyPlugin, err = deployNamed(ctx, b, auth, opts, d, SessionKeyPlugin); err != nil {
		return nil, err
	}
	if d.Factory, err = deployNamed(ctx, b, auth, opts, d, ModularAccountFactory, d.EntryPoint, d.MultiOwnerPlugin); err != nil {
		return nil, err
	}
	factoryABI, err := ABI(ModularAccountFactory)
	if err != nil {
		return nil, err
	}
	out, err := bind.NewBoundContract(d.Factory, factoryABI, b, b, b).CallRaw(&bind.CallOpts{Context: ctx}, factoryABI.Methods["IMPL"].ID)
	if err != nil {
		return nil, fmt.Errorf("read factory implementation: %w", err)
	}
	d.AccountImplementation = common.BytesToAddress(out)
	if opts.WithTestContracts {
		if d.TestTarget, err = deployNamed(ctx, b, auth, opts, d, TestTarget); err != nil {
			return nil, err
		}
		if d.TestERC20, err = deployNamed(ctx, b, auth, opts, d, TestERC20, "Test Token", "TST"); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func deployNamed(ctx context.Context, b Backend, auth *bind.TransactOpts, opts DeployOptions, d *Deployment, name string, args ...any) (common.Address, error) {
	a, code, err := Artifact(name)
	if err != nil {
		return common.Address{}, err
	}
	return deployOne(ctx, b, auth, opts, d, name, a, code, args...)
}

func deployOne(ctx context.Context, b Backend, auth *bind.TransactOpts, opts DeployOptions, d *Deployment, name string, a abi.ABI, code []byte, args ...any) (common.Address, error) {
	ctor, err := a.Pack("", args...)
	if err != nil {
		return common.Address{}, fmt.Errorf("deploy %s: encode constructor: %w", name, err)
	}
	txOpts := *auth
	txOpts.Context = ctx
	addr, tx, err := bind.DeployContract(&txOpts, code, b, ctor)
	if err != nil {
		return common.Address{}, fmt.Errorf("deploy %s: %w", name, err)
	}
	if opts.Mine != nil {
		opts.Mine()
	}
	rcpt, err := bind.WaitMined(ctx, b, tx.Hash())
	if err != nil {
		return common.Address{}, fmt.Errorf("deploy %s: wait: %w", name, err)
	}
	if rcpt.Status != types.ReceiptStatusSuccessful {
		return common.Address{}, fmt.Errorf("deploy %s: creation reverted (gas used %d)", name, rcpt.GasUsed)
	}
	d.GasUsed[name] = rcpt.GasUsed
	return addr, nil
}
