package userop

import (
	"crypto/ecdsa"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

func word(b *big.Int) []byte { return common.LeftPadBytes(big0(b).Bytes(), 32) }

// Pack returns abi.encode of the op's fields with the dynamic ones replaced by their
// keccak256, as EntryPoint v0.6's UserOperationLib.pack does (the signature is excluded).
func (op *UserOperation) Pack() []byte {
	out := make([]byte, 0, 10*32)
	out = append(out, common.LeftPadBytes(op.Sender[:], 32)...)
	out = append(out, word(op.Nonce)...)
	out = append(out, crypto.Keccak256(op.InitCode)...)
	out = append(out, crypto.Keccak256(op.CallData)...)
	out = append(out, word(op.CallGasLimit)...)
	out = append(out, word(op.VerificationGasLimit)...)
	out = append(out, word(op.PreVerificationGas)...)
	out = append(out, word(op.MaxFeePerGas)...)
	out = append(out, word(op.MaxPriorityFeePerGas)...)
	out = append(out, crypto.Keccak256(op.PaymasterAndData)...)
	return out
}

// Hash returns the user op hash that EntryPoint v0.6 at entryPoint on chainID computes:
// keccak256(abi.encode(keccak256(pack(op)), entryPoint, chainID)).
func (op *UserOperation) Hash(entryPoint common.Address, chainID *big.Int) common.Hash {
	inner := crypto.Keccak256(op.Pack())
	buf := make([]byte, 0, 96)
	buf = append(buf, inner...)
	buf = append(buf, common.LeftPadBytes(entryPoint[:], 32)...)
	buf = append(buf, word(chainID)...)
	return crypto.Keccak256Hash(buf)
}

// SignHash signs the EIP-191 personal-sign digest of hash with key and returns r ‖ s ‖ v with
// v = 27 or 28, the form the Multi Owner and Session Key plugins recover.
func SignHash(hash common.Hash, key *ecdsa.PrivateKey) ([]byte, error) {
	sig, err := crypto.Sign(accounts.TextHash(hash[:]), key)
	if err != nil {
		return nil, fmt.Errorf("sign user op hash: %w", err)
	}
	sig[64] += 27
	return sig, nil
}

// Sign sets op.Signature to the owner or session-key signature of op's hash.
func (op *UserOperation) Sign(entryPoint common.Address, chainID *big.Int, key *ecdsa.PrivateKey) error {
	sig, err := SignHash(op.Hash(entryPoint, chainID), key)
	if err != nil {
		return err
	}
	op.Signature = sig
	return nil
}

// Nonce composes a v0.6 two-dimensional nonce from its 192-bit key and 64-bit sequence.
func Nonce(key *big.Int, seq uint64) *big.Int {
	n := new(big.Int).Lsh(big0(key), 64)
	return n.Or(n, new(big.Int).SetUint64(seq))
}
