package actions_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/keywarden/keywarden/pkg/actions"
)

const testKeyHex = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"

func TestKeySignerNeverPrintsTheKey(t *testing.T) {
	s, err := actions.KeySignerFromHex("0x" + testKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	holder := struct {
		Signer *actions.KeySigner
		Name   string
	}{s, "x"}
	var logBuf strings.Builder
	log := zerolog.New(&logBuf)
	log.Info().Interface("signer", s).Interface("holder", holder).Msg("loaded")
	js, _ := json.Marshal(holder)
	outputs := []string{
		fmt.Sprint(s), fmt.Sprintf("%v", s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), fmt.Sprintf("%s", s),
		fmt.Sprintf("%x", s), fmt.Sprintf("%X", s), fmt.Sprintf("%q", s), fmt.Sprintf("%d", s),
		fmt.Sprintf("%v", *s), fmt.Sprintf("%+v", *s), fmt.Sprintf("%#v", *s),
		fmt.Sprintf("%v", holder), fmt.Sprintf("%+v", holder), fmt.Sprintf("%#v", holder),
		string(js), logBuf.String(),
	}
	// The key in decimal too (a *big.Int leak prints D in base 10).
	d := new(bigInt).SetBytes(common.FromHex(testKeyHex))
	secrets := []string{testKeyHex, strings.ToUpper(testKeyHex), d.String(), d.Text(16)}
	for _, out := range outputs {
		for _, sec := range secrets {
			if strings.Contains(strings.ToLower(out), strings.ToLower(sec)) {
				t.Fatalf("output leaks the key: %s", out)
			}
		}
		if !strings.Contains(out, s.Address().Hex()) && !strings.Contains(out, "KeySigner") {
			t.Errorf("output does not identify the signer: %s", out)
		}
	}
}

func TestKeyLoadErrorsNeverCarryTheKey(t *testing.T) {
	bad := []string{
		testKeyHex[:63] + "g",          // one bad character
		testKeyHex + "00",              // too long
		"0x" + strings.Repeat("0", 64), // zero scalar
		"0x" + strings.Repeat("f", 64), // above the curve order
	}
	for _, b := range bad {
		_, err := actions.KeySignerFromHex(b)
		if !errors.Is(err, actions.ErrBadKey) {
			t.Errorf("%d chars: err %v, want ErrBadKey", len(b), err)
			continue
		}
		if strings.Contains(err.Error(), b) || strings.Contains(err.Error(), testKeyHex[:20]) || strings.Contains(err.Error(), "'g'") {
			t.Errorf("error leaks input: %v", err)
		}
	}
	t.Setenv("KW_TEST_BAD_KEY", testKeyHex[:63]+"z")
	if _, err := actions.KeySignerFromEnv("KW_TEST_BAD_KEY"); err == nil || strings.Contains(err.Error(), testKeyHex[:20]) {
		t.Errorf("env load: %v", err)
	}
}

func TestSignerSources(t *testing.T) {
	want := crypto.PubkeyToAddress(mustKey(t).PublicKey)
	dir := t.TempDir()

	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("0x"+testKeyHex+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KW_TEST_KEY", testKeyHex)

	// An encrypted keystore JSON, written with go-ethereum's keystore (light scrypt for speed).
	id, _ := uuid.NewRandom()
	ks, err := keystore.EncryptKey(&keystore.Key{Id: id, Address: want, PrivateKey: mustKey(t)}, "pw", keystore.LightScryptN, keystore.LightScryptP)
	if err != nil {
		t.Fatal(err)
	}
	ksFile := filepath.Join(dir, "keystore.json")
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(ksFile, ks, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pwFile, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KW_TEST_PW", "pw")

	for _, spec := range []actions.SignerSpec{
		{Source: "file:" + keyFile},
		{Source: "env:KW_TEST_KEY"},
		{Source: "keystore:" + ksFile, PasswordFile: pwFile},
		{Source: "keystore:" + ksFile, PasswordEnv: "KW_TEST_PW"},
	} {
		s, err := actions.LoadSigner(spec)
		if err != nil {
			t.Errorf("%s: %v", spec.Source, err)
			continue
		}
		if s.Address() != want {
			t.Errorf("%s: address %s, want %s", spec.Source, s.Address(), want)
		}
	}
	if _, err := actions.LoadSigner(actions.SignerSpec{Source: "keystore:" + ksFile, PasswordEnv: "KW_TEST_NOPE"}); err == nil {
		t.Error("keystore without password loaded")
	}
	t.Setenv("KW_TEST_WRONG", "wrong")
	_, err = actions.LoadSigner(actions.SignerSpec{Source: "keystore:" + ksFile, PasswordEnv: "KW_TEST_WRONG"})
	if err == nil || strings.Contains(err.Error(), "wrong") && strings.Contains(err.Error(), "pw") {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := actions.LoadSigner(actions.SignerSpec{Source: "plain:" + testKeyHex}); err == nil || strings.Contains(err.Error(), testKeyHex) {
		t.Errorf("unknown source: %v", err)
	}
}

func mustKey(t *testing.T) *ecdsaKey {
	t.Helper()
	k, err := crypto.HexToECDSA(testKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignHashIsPersonalSignWithV27(t *testing.T) {
	s, _ := actions.KeySignerFromHex(testKeyHex)
	hash := crypto.Keccak256Hash([]byte("op"))
	sig, err := s.SignHash(context.Background(), hash)
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) != 65 || (sig[64] != 27 && sig[64] != 28) {
		t.Fatalf("signature %x: want 65 bytes with v 27/28", sig)
	}
	// Recover from the EIP-191 digest by hand.
	digest := crypto.Keccak256(append([]byte("\x19Ethereum Signed Message:\n32"), hash[:]...))
	raw := append([]byte{}, sig...)
	raw[64] -= 27
	pub, err := crypto.SigToPub(digest, raw)
	if err != nil || crypto.PubkeyToAddress(*pub) != s.Address() {
		t.Fatalf("recovered %v, %v", pub, err)
	}
	got, err := actions.RecoverSigner(hash, sig)
	if err != nil || got != s.Address() {
		t.Fatalf("RecoverSigner: %s %v", got, err)
	}
	// Low s.
	n := crypto.S256().Params().N
	if new(bigInt).SetBytes(sig[32:64]).Cmp(new(bigInt).Rsh(n, 1)) > 0 {
		t.Fatal("high s")
	}
	_ = common.Hash{}
	_ = hex.EncodeToString
}
