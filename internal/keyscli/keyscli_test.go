package keyscli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/keywarden/keywarden/internal/keyscli"
	"github.com/keywarden/keywarden/pkg/actions"
	"github.com/keywarden/keywarden/pkg/devchain"
)

type cli struct {
	t      *testing.T
	common []string
}

func (c cli) run(args ...string) (string, string, int) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	full := append([]string{args[0]}, append(append([]string{}, c.common...), args[1:]...)...)
	code := keyscli.Run(context.Background(), full, &out, &errOut)
	return out.String(), errOut.String(), code
}

func (c cli) ok(args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("keys %v: exit %d: %s", args, code, errOut)
	}
	return out
}

func TestKeysCommandsOnTheDevChain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	chain, err := devchain.Start(ctx, devchain.Options{BlockTime: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("start dev chain: %v", err)
	}
	defer chain.Close()
	ownerKey := chain.Keys[1]
	owner := crypto.PubkeyToAddress(ownerKey.PublicKey)
	account, err := chain.CreateAccount(ctx, []common.Address{owner})
	if err != nil {
		t.Fatal(err)
	}
	// Install the plugin with no keys, through the library.
	keyFile := filepath.Join(t.TempDir(), "owner.key")
	if err := os.WriteFile(keyFile, []byte(common.Bytes2Hex(crypto.FromECDSA(ownerKey))), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := chain.InstallSessionKeyPlugin(ctx, ownerKey, account, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	c := cli{t: t, common: []string{"--rpc", chain.HTTPURL, "--account", account.Hex(),
		"--plugin", chain.Addresses.SessionKeyPlugin.Hex(), "--multi-owner", chain.Addresses.MultiOwnerPlugin.Hex(),
		"--entry-point", chain.Addresses.EntryPoint.Hex()}}
	w := func(args ...string) []string {
		return append(args, "--bundler", chain.BundlerURL, "--signer", "file:"+keyFile)
	}
	k1 := crypto.PubkeyToAddress(mustKey(t).PublicKey)
	k2 := crypto.PubkeyToAddress(mustKey(t).PublicKey)

	c.ok(w("add", "--key", k1.Hex(), "--tag", "ops", "--access", "allow-all", "--native-limit", "1000", "--expires-in", "1h")...)
	c.ok(w("add", "--key", k2.Hex())...)
	var list struct {
		PluginInstalled bool `json:"plugin_installed"`
		Keys            []struct {
			Key         string `json:"session_key"`
			Predecessor string `json:"predecessor"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(c.ok("list")), &list); err != nil {
		t.Fatal(err)
	}
	if !list.PluginInstalled || len(list.Keys) != 2 || list.Keys[0].Key != k2.Hex() || list.Keys[1].Predecessor != actions.PredecessorOf(k2).String() {
		t.Fatalf("list: %+v", list)
	}
	show := c.ok("show", "--key", k1.Hex())
	if !strings.Contains(show, `"access_control_type": 2`) || !strings.Contains(show, `"limit": "1000"`) {
		t.Fatalf("show: %s", show)
	}

	// A dry run prints the signed op and its hash and sends nothing.
	var dry struct {
		DryRun     bool                  `json:"dry_run"`
		UserOpHash common.Hash           `json:"user_op_hash"`
		UserOp     actions.UserOperation `json:"user_op"`
	}
	if err := json.Unmarshal([]byte(c.ok(w("remove", "--key", k1.Hex(), "--dry-run")...)), &dry); err != nil {
		t.Fatal(err)
	}
	if !dry.DryRun || dry.UserOpHash != dry.UserOp.Hash(chain.Addresses.EntryPoint, chain.ChainID) || len(dry.UserOp.Signature) != 65 {
		t.Fatalf("dry run: %+v", dry)
	}
	if got, _ := actions.RecoverSigner(dry.UserOpHash, dry.UserOp.Signature); got != owner {
		t.Fatalf("dry run signed by %s", got)
	}
	if keys, _ := chain.SessionKeysOf(ctx, account); len(keys) != 2 {
		t.Fatalf("dry run sent something: %v", keys)
	}

	c.ok(w("update", "--key", k1.Hex(), "--access", "allowlist", "--target", chain.Addresses.TestTarget.Hex())...)
	c.ok(w("rotate", "--key", k2.Hex(), "--new", k1.Hex()[:2]+strings.Repeat("0", 39)+"7")...)
	c.ok(w("remove", "--key", k1.Hex())...)
	if keys, _ := chain.SessionKeysOf(ctx, account); len(keys) != 1 {
		t.Fatalf("after remove: %v", keys)
	}
	c.ok(w("revoke-all")...)
	if keys, _ := chain.SessionKeysOf(ctx, account); len(keys) != 0 {
		t.Fatalf("after revoke-all: %v", keys)
	}

	// Failures exit 1 with one line; usage errors exit 2; the key never shows.
	_, errOut, code := c.run(w("remove", "--key", k1.Hex())...)
	if code != 1 || !strings.Contains(errOut, "session key not found") {
		t.Fatalf("remove missing key: %d %s", code, errOut)
	}
	_, errOut, code = c.run("add", "--key", k1.Hex(), "--bundler", chain.BundlerURL, "--signer", common.Bytes2Hex(crypto.FromECDSA(ownerKey)))
	if code != 1 || strings.Contains(errOut, common.Bytes2Hex(crypto.FromECDSA(ownerKey))) {
		t.Fatalf("raw key as --signer: %d %s", code, errOut)
	}
	if _, _, code := c.run("explode"); code != 2 {
		t.Fatalf("unknown command exit %d", code)
	}
}

func mustKey(t *testing.T) *ecdsaKey {
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
