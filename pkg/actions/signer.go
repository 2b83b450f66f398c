package actions

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Signer signs user operation hashes. SignHash returns the 65-byte signature r ‖ s ‖ v
// (v = 27 or 28, low s) of the EIP-191 personal-sign digest of hash, which is what the Multi
// Owner plugin (owner operations) and the Session Key Plugin (session-key operations) recover.
// A remote signer implements it with personal_sign over the 32 raw bytes.
type Signer interface {
	Address() common.Address
	SignHash(ctx context.Context, hash common.Hash) ([]byte, error)
}

// OpSigner is a Signer that looks at the operation before it signs (Guard does). The client
// calls SignUserOp instead of SignHash when its signer implements it.
type OpSigner interface {
	Signer
	SignUserOp(ctx context.Context, op *UserOperation, hash common.Hash) ([]byte, error)
}

// ErrBadKey is returned when key material cannot be parsed. Its message never includes
// the material.
var ErrBadKey = errors.New("invalid private key")

// KeySigner signs with a private key held in memory. Its text, Go-syntax and JSON forms show
// only the address: the key never reaches logs, errors or %v output.
type KeySigner struct {
	key  *ecdsa.PrivateKey
	addr common.Address
}

var _ Signer = (*KeySigner)(nil)

// NewKeySigner wraps key.
func NewKeySigner(key *ecdsa.PrivateKey) *KeySigner {
	return &KeySigner{key: key, addr: crypto.PubkeyToAddress(key.PublicKey)}
}

// KeySignerFromHex parses a hex private key (64 hex digits, optional 0x, surrounding white space
// ignored).
func KeySignerFromHex(s string) (*KeySigner, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(s) != 64 {
		return nil, fmt.Errorf("parse private key: want 64 hex digits: %w", ErrBadKey)
	}
	raw, err := hex.DecodeString(s)
	if err != nil {
		// hex's error quotes the offending character: do not wrap it.
		return nil, fmt.Errorf("parse private key: not hex: %w", ErrBadKey)
	}
	k, err := crypto.ToECDSA(raw)
	clear(raw)
	if err != nil {
		return nil, fmt.Errorf("parse private key: not a secp256k1 scalar: %w", ErrBadKey)
	}
	return NewKeySigner(k), nil
}

// KeySignerFromFile reads a hex private key from the file at path.
func KeySignerFromFile(path string) (*KeySigner, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file %s: %w", path, err)
	}
	defer clear(b)
	s, err := KeySignerFromHex(string(b))
	if err != nil {
		return nil, fmt.Errorf("load key file %s: %w", path, err)
	}
	return s, nil
}

// KeySignerFromEnv reads a hex private key from the environment variable name.
func KeySignerFromEnv(name string) (*KeySigner, error) {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return nil, fmt.Errorf("load key from env %s: not set: %w", name, ErrBadKey)
	}
	s, err := KeySignerFromHex(v)
	if err != nil {
		return nil, fmt.Errorf("load key from env %s: %w", name, err)
	}
	return s, nil
}

// KeySignerFromKeystore decrypts a go-ethereum keystore JSON (Web3 Secret Storage) file.
func KeySignerFromKeystore(path, password string) (*KeySigner, error) {
	js, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read keystore %s: %w", path, err)
	}
	k, err := keystore.DecryptKey(js, password)
	if err != nil {
		return nil, fmt.Errorf("decrypt keystore %s: %w", path, err)
	}
	return NewKeySigner(k.PrivateKey), nil
}

// Address returns the signer's address.
func (s *KeySigner) Address() common.Address { return s.addr }

// SignHash implements Signer.
func (s *KeySigner) SignHash(_ context.Context, hash common.Hash) ([]byte, error) {
	sig, err := crypto.Sign(accounts.TextHash(hash[:]), s.key)
	if err != nil {
		return nil, fmt.Errorf("sign hash with %s: %w", s.addr.Hex(), err)
	}
	sig[64] += 27
	return sig, nil
}

// The text forms have value receivers so that they apply to KeySigner values and pointers
// alike, wherever one is embedded.

// String shows the address only.
func (s KeySigner) String() string { return "KeySigner(" + s.addr.Hex() + ")" }

// GoString shows the address only (%#v).
func (s KeySigner) GoString() string { return s.String() }

// Format implements fmt.Formatter so that every verb (%v, %+v, %#v, %s, %x, %q ...) prints
// the address only.
func (s KeySigner) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// MarshalJSON shows the address only.
func (s KeySigner) MarshalJSON() ([]byte, error) {
	return []byte(`{"address":"` + s.addr.Hex() + `"}`), nil
}

// MarshalText shows the address only (zerolog and other encoders).
func (s KeySigner) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// RecoverSigner returns the address that produced sig (65 bytes, v 27/28 or 0/1) over the
// personal-sign digest of hash.
func RecoverSigner(hash common.Hash, sig []byte) (common.Address, error) {
	if len(sig) != 65 {
		return common.Address{}, fmt.Errorf("recover signer: signature is %d bytes, want 65", len(sig))
	}
	s := append([]byte{}, sig...)
	if s[64] >= 27 {
		s[64] -= 27
	}
	pub, err := crypto.SigToPub(accounts.TextHash(hash[:]), s)
	if err != nil {
		return common.Address{}, fmt.Errorf("recover signer: %w", err)
	}
	return crypto.PubkeyToAddress(*pub), nil
}
