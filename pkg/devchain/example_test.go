package devchain_test

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/keywarden/keywarden/pkg/devchain"
	"github.com/keywarden/keywarden/pkg/events"
)

// A chain with an account, the Session Key Plugin and one key, then a reorg that removes the
// key's event.
func Example() {
	ctx := context.Background()
	chain, err := devchain.Start(ctx, devchain.Options{})
	if err != nil {
		panic(err)
	}
	defer chain.Close()
	owner := chain.Keys[1]
	account, _ := chain.CreateAccount(ctx, []common.Address{devchain.Address(owner)})
	sessionKey, _ := crypto.GenerateKey()
	perms := []events.Update{events.UpdateAccessListAddressEntry{Target: events.Address(chain.Addresses.TestTarget), IsOnList: true}}
	if _, err := chain.InstallSessionKeyPlugin(ctx, owner, account, nil, nil, nil); err != nil {
		panic(err)
	}
	if _, err := chain.AddKey(ctx, owner, account, devchain.Address(sessionKey), devchain.Tag("bot"), perms); err != nil {
		panic(err)
	}
	keys, _ := chain.SessionKeysOf(ctx, account)
	fmt.Println("keys before the reorg:", len(keys))

	// A session-key user operation through the local bundler.
	res, err := chain.ExecuteWithSessionKey(ctx, account, sessionKey, []devchain.Call{{Target: chain.Addresses.TestTarget}})
	if err != nil {
		panic(err)
	}
	fmt.Println("user op succeeded:", res.Receipt.Success)

	// Replace the last 2 blocks (the AddKey block and the bundle of the op) with empty ones.
	if _, err := chain.Reorg(ctx, devchain.ReorgOptions{Depth: 2}); err != nil {
		panic(err)
	}
	keys, _ = chain.SessionKeysOf(ctx, account)
	fmt.Println("keys after the reorg:", len(keys))
	// Output:
	// keys before the reorg: 1
	// user op succeeded: true
	// keys after the reorg: 0
}
