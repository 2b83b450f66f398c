package actions_test

import (
	"crypto/ecdsa"
	"math/big"
)

type (
	ecdsaKey = ecdsa.PrivateKey
	bigInt   = big.Int
)
