package actions

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/keywarden/keywarden/pkg/userop"
)

// UserOperation is the EntryPoint v0.6 user operation of pkg/userop (its JSON form is the
// bundler JSON-RPC form; Hash is getUserOpHash).
type UserOperation = userop.UserOperation

// NonceKey returns the 192-bit key of a 2-D nonce (nonce >> 64).
func NonceKey(nonce *big.Int) *big.Int {
	if nonce == nil {
		return new(big.Int)
	}
	return new(big.Int).Rsh(nonce, 64)
}

// NonceKeyFor returns the nonce key uint192(uint160(a)), the key a gas-limited session key
// must use for its user operations.
func NonceKeyFor(a common.Address) *big.Int { return new(big.Int).SetBytes(a[:]) }
