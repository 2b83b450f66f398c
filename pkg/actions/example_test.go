package actions_test

import (
	"context"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/keywarden/keywarden/pkg/actions"
	"github.com/keywarden/keywarden/pkg/devchain"
)

// The seed flow of the vendor's docs, on the local dev chain through its bundler: check the
// installed plugins, install the Session Key Plugin with one key (a native spend limit and a
// one-hour time range), add a tagged key, update its permissions, rotate it, remove it, and
// execute with a session key once within and once outside its permissions.
func Example_seedFlow() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	chain, err := devchain.Start(ctx, devchain.Options{BlockTime: 50 * time.Millisecond})
	if err != nil {
		fmt.Println("start dev chain:", err)
		return
	}
	defer chain.Close()
	node, _ := ethclient.DialContext(ctx, chain.HTTPURL)
	defer node.Close()

	// The dev chain's contracts live at their own addresses; on a real chain leave
	// Addresses empty to use the canonical deployments.
	addrs := actions.Addresses{SessionKeyPlugin: chain.Addresses.SessionKeyPlugin,
		MultiOwner: chain.Addresses.MultiOwnerPlugin, EntryPoint: chain.Addresses.EntryPoint}
	bundler, _ := actions.DialBundler(ctx, chain.BundlerURL, addrs.EntryPoint, chain.ChainID)
	defer bundler.Close()
	client, _ := actions.NewClient(actions.Options{Node: node, Submitter: bundler, ChainID: chain.ChainID, Addresses: addrs})

	owner := actions.NewKeySigner(chain.Keys[1]) // or actions.LoadSigner(actions.SignerSpec{Source: "env:OWNER_KEY"})
	account, _ := chain.CreateAccount(ctx, []common.Address{owner.Address()})
	acct := client.Account(account, owner)

	installed, _ := client.HasSessionKeyPlugin(ctx, account)
	fmt.Println("plugin installed:", installed)

	sessionKey := exampleKey("session key")
	now := uint64(time.Now().Unix())
	perms, _ := actions.NewPermissions().
		AllowAll().
		NativeLimit(big.NewInt(1_000_000), 0).
		TimeRange(0, now+3600).
		Encode()
	res, err := acct.InstallSessionKeyPlugin(ctx, actions.InstallOptions{
		Keys: []actions.InitialKey{{Key: sessionKey.Address(), Tag: common.Hash{}, Updates: perms}},
	})
	if err != nil {
		fmt.Println("install:", err)
		return
	}
	fmt.Println("install succeeded:", res.Receipt.Success)

	tagged := exampleKey("tagged key")
	if _, err := acct.AddSessionKey(ctx, tagged.Address(), crypto.Keccak256Hash([]byte("my-app")), nil); err != nil {
		fmt.Println("add:", err)
		return
	}
	keys, _ := client.SessionKeys(ctx, account)
	fmt.Println("keys after add:", len(keys), "newest is the tagged key:", keys[0] == tagged.Address())

	update, _ := actions.NewPermissions().TimeRange(0, now+600).Encode()
	if _, err := acct.UpdateKeyPermissions(ctx, tagged.Address(), update); err != nil {
		fmt.Println("update:", err)
		return
	}
	_, until, _ := client.KeyTimeRange(ctx, account, tagged.Address())
	fmt.Println("tagged key expires in 10 minutes:", until == now+600)

	rotated := exampleKey("rotated key")
	if _, err := acct.RotateSessionKey(ctx, tagged.Address(), rotated.Address()); err != nil {
		fmt.Println("rotate:", err)
		return
	}
	_, until, _ = client.KeyTimeRange(ctx, account, rotated.Address())
	fmt.Println("rotation kept the time range:", until == now+600)

	if _, err := acct.RemoveSessionKey(ctx, rotated.Address()); err != nil {
		fmt.Println("remove:", err)
		return
	}
	keys, _ = client.SessionKeys(ctx, account)
	fmt.Println("keys after remove:", len(keys))

	asKey := client.Account(account, sessionKey)
	target := chain.Addresses.TestTarget
	res, err = asKey.ExecuteWithSessionKey(ctx, []actions.Call{{Target: target, Value: big.NewInt(1000)}})
	fmt.Println("execute within the limit:", err == nil && res.Receipt.Success)
	_, err = asKey.ExecuteWithSessionKey(ctx, []actions.Call{{Target: target, Value: big.NewInt(2_000_000)}})
	fmt.Println("execute over the limit refused with AA23:", actions.IsAA(err, actions.AAValidationReverted))

	// Output:
	// plugin installed: false
	// install succeeded: true
	// keys after add: 2 newest is the tagged key: true
	// tagged key expires in 10 minutes: true
	// rotation kept the time range: true
	// keys after remove: 1
	// execute within the limit: true
	// execute over the limit refused with AA23: true
}

// exampleKey derives a deterministic throwaway key for the example.
func exampleKey(name string) *actions.KeySigner {
	k, _ := crypto.ToECDSA(crypto.Keccak256([]byte("keywarden example " + name)))
	return actions.NewKeySigner(k)
}
