package keyscli_test

import "crypto/ecdsa"

type ecdsaKey = ecdsa.PrivateKey
