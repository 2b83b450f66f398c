package events

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
)

// Address is an EVM address whose text form is EIP-55 checksummed.
// Convert freely to and from common.Address.
type Address common.Address

// ZeroAddress is the all-zero address.
var ZeroAddress Address

// AddressFrom converts a go-ethereum address.
func AddressFrom(a common.Address) Address { return Address(a) }

// HexToAddress parses s, accepting any case. Prefer ParseAddress for untrusted input.
func HexToAddress(s string) Address { return Address(common.HexToAddress(s)) }

// ParseAddress parses a 0x-prefixed 40-hex-digit address. A mixed-case input must carry a
// valid EIP-55 checksum.
func ParseAddress(s string) (Address, error) {
	if len(s) != 42 || s[:2] != "0x" || !common.IsHexAddress(s) {
		return Address{}, fmt.Errorf("parse address %q: not a 0x-prefixed 20-byte hex address", s)
	}
	a := common.HexToAddress(s)
	body := s[2:]
	if hasUpper(body) && hasLower(body) && a.Hex() != s {
		return Address{}, fmt.Errorf("parse address %q: bad EIP-55 checksum", s)
	}
	return Address(a), nil
}

func hasUpper(s string) bool {
	for _, c := range s {
		if c >= 'A' && c <= 'F' {
			return true
		}
	}
	return false
}

func hasLower(s string) bool {
	for _, c := range s {
		if c >= 'a' && c <= 'f' {
			return true
		}
	}
	return false
}

// Common returns the go-ethereum form.
func (a Address) Common() common.Address { return common.Address(a) }

// Hex returns the EIP-55 checksummed form.
func (a Address) Hex() string { return common.Address(a).Hex() }

// String returns the EIP-55 checksummed form.
func (a Address) String() string { return a.Hex() }

// IsZero reports whether a is the zero address.
func (a Address) IsZero() bool { return a == ZeroAddress }

// MarshalText implements encoding.TextMarshaler.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.Hex()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Address) UnmarshalText(b []byte) error {
	v, err := ParseAddress(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Selector is a 4-byte function selector. Its text form is 0x-prefixed hex.
type Selector [4]byte

// String returns the 0x-prefixed hex form.
func (s Selector) String() string { return fmt.Sprintf("0x%x", s[:]) }

// MarshalText implements encoding.TextMarshaler.
func (s Selector) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Selector) UnmarshalText(b []byte) error {
	str := string(b)
	if len(str) != 10 || str[:2] != "0x" {
		return fmt.Errorf("parse selector %q: want 0x and 8 hex digits", str)
	}
	raw := common.FromHex(str)
	if len(raw) != 4 {
		return fmt.Errorf("parse selector %q: want 0x and 8 hex digits", str)
	}
	copy(s[:], raw)
	return nil
}

// SelectorOf returns the first 4 bytes of b, right-padded with zeros as Solidity's bytes4(b) does.
func SelectorOf(b []byte) Selector {
	var s Selector
	copy(s[:], b)
	return s
}
