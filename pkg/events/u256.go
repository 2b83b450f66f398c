package events

import (
	"fmt"
	"math/big"

	"github.com/holiman/uint256"
)

// U256 is an unsigned 256-bit integer value. Its JSON form is a decimal string.
// The zero value is 0. U256 is comparable with ==.
type U256 struct{ v uint256.Int }

// MaxU256 is 2^256-1, the "no limit" value of the plugin's spend-limit updates.
var MaxU256 = U256{v: *new(uint256.Int).SetAllOne()}

// U256From64 returns x as a U256.
func U256From64(x uint64) U256 { return U256{v: *uint256.NewInt(x)} }

// U256FromBig converts b. It fails for negative values and values above 2^256-1.
func U256FromBig(b *big.Int) (U256, error) {
	if b == nil {
		return U256{}, nil
	}
	if b.Sign() < 0 {
		return U256{}, fmt.Errorf("u256: negative value %s", b)
	}
	v, overflow := uint256.FromBig(b)
	if overflow {
		return U256{}, fmt.Errorf("u256: value exceeds 2^256-1")
	}
	return U256{v: *v}, nil
}

// U256FromBytes interprets b (at most 32 bytes) as a big-endian number.
func U256FromBytes(b []byte) U256 {
	var u U256
	u.v.SetBytes(b)
	return u
}

// ParseU256 parses a decimal string.
func ParseU256(s string) (U256, error) {
	b, ok := new(big.Int).SetString(s, 10)
	if !ok || len(s) == 0 || s[0] == '+' || s[0] == '-' {
		return U256{}, fmt.Errorf("u256: %q is not an unsigned decimal number", s)
	}
	return U256FromBig(b)
}

// Big returns a new big.Int holding u.
func (u U256) Big() *big.Int { return u.v.ToBig() }

// Bytes32 returns the big-endian 32-byte form.
func (u U256) Bytes32() [32]byte { return u.v.Bytes32() }

// String returns the decimal form.
func (u U256) String() string { return u.v.Dec() }

// IsZero reports whether u is 0.
func (u U256) IsZero() bool { return u.v.IsZero() }

// IsMax reports whether u is 2^256-1.
func (u U256) IsMax() bool { return u == MaxU256 }

// Cmp compares u and o: -1, 0 or +1.
func (u U256) Cmp(o U256) int { return u.v.Cmp(&o.v) }

// IsUint64 reports whether u fits in a uint64; Uint64 returns the low 64 bits.
func (u U256) IsUint64() bool { return u.v.IsUint64() }

// Uint64 returns the low 64 bits of u.
func (u U256) Uint64() uint64 { return u.v.Uint64() }

// Float64 returns u as the nearest float64 (for metrics and CEL arithmetic on amounts).
func (u U256) Float64() float64 { f, _ := new(big.Float).SetInt(u.Big()).Float64(); return f }

// MarshalText implements encoding.TextMarshaler (decimal).
func (u U256) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (decimal only).
func (u *U256) UnmarshalText(b []byte) error {
	v, err := ParseU256(string(b))
	if err != nil {
		return err
	}
	*u = v
	return nil
}
