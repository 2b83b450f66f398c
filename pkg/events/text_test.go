package events

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"
)

const maxU256Dec = "115792089237316195423570985008687907853269984665640564039457584007913129639935"

func TestU256Text(t *testing.T) {
	for _, s := range []string{"0", "1", "18446744073709551615", "18446744073709551616", maxU256Dec} {
		u, err := ParseU256(s)
		if err != nil {
			t.Fatalf("ParseU256(%s): %v", s, err)
		}
		if u.String() != s {
			t.Errorf("round trip %s -> %s", s, u)
		}
		b, _ := json.Marshal(u)
		var back U256
		if err := json.Unmarshal(b, &back); err != nil || back != u || string(b) != `"`+s+`"` {
			t.Errorf("JSON %s -> %s -> %v, %v", s, b, back, err)
		}
		if w := u.Bytes32(); U256FromBytes(w[:]) != u {
			t.Errorf("Bytes32 round trip of %s", s)
		}
	}
	if u, _ := ParseU256(maxU256Dec); !u.IsMax() || u != MaxU256 {
		t.Error("2^256-1 is not MaxU256")
	}
	tooBig := new(big.Int).Lsh(big.NewInt(1), 256).String()
	for _, s := range []string{"-1", "-0", "+1", "", " 1", "1 ", "1e3", "0x10", "1_000", "abc", "1.5", tooBig,
		"1" + strings.Repeat("0", 100)} {
		if u, err := ParseU256(s); err == nil {
			t.Errorf("ParseU256(%q) = %s, want error", s, u)
		}
		var u U256
		if err := json.Unmarshal([]byte(`"`+s+`"`), &u); err == nil {
			t.Errorf("JSON %q accepted", s)
		}
	}
	var u U256
	if err := json.Unmarshal([]byte(`123`), &u); err == nil {
		t.Error("a JSON number must not decode into U256 (precision)")
	}
	if _, err := U256FromBig(big.NewInt(-5)); err == nil {
		t.Error("negative big accepted")
	}
	if _, err := U256FromBig(new(big.Int).Lsh(big.NewInt(1), 256)); err == nil {
		t.Error("2^256 accepted")
	}
	if v, err := U256FromBig(nil); err != nil || !v.IsZero() {
		t.Error("nil big is not 0")
	}
	if v, _ := U256FromBig(MaxU256.Big()); v != MaxU256 {
		t.Error("Big round trip of max")
	}
}

func TestAddressText(t *testing.T) {
	const sum = "0x5FF137D4b0FDCD49DcA30c7CF57E578a026d2789"
	for _, s := range []string{sum, strings.ToLower(sum), "0x" + strings.ToUpper(sum[2:])} {
		a, err := ParseAddress(s)
		if err != nil {
			t.Fatalf("ParseAddress(%s): %v", s, err)
		}
		if a.Hex() != sum {
			t.Errorf("%s renders as %s", s, a.Hex())
		}
		b, _ := json.Marshal(a)
		var back Address
		if string(b) != `"`+sum+`"` || json.Unmarshal(b, &back) != nil || back != a {
			t.Errorf("JSON round trip of %s: %s", s, b)
		}
	}
	badSum := strings.Replace(sum, "FF", "Ff", 1)
	for _, s := range []string{badSum, sum[2:], "0X" + sum[2:], sum[:41], sum + "0", "0x" + strings.Repeat("g", 40), "", "0x"} {
		if a, err := ParseAddress(s); err == nil {
			t.Errorf("ParseAddress(%q) = %s, want error", s, a)
		}
		var a Address
		if err := json.Unmarshal([]byte(`"`+s+`"`), &a); err == nil {
			t.Errorf("JSON %q accepted", s)
		}
	}
	if err := json.Unmarshal([]byte(`"`+badSum+`"`), new(Address)); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("bad checksum error = %v", err)
	}
}

func TestSelectorAndFunctionReferenceText(t *testing.T) {
	var s Selector
	if err := s.UnmarshalText([]byte("0xa9059cbb")); err != nil || s != (Selector{0xa9, 0x05, 0x9c, 0xbb}) || s.String() != "0xa9059cbb" {
		t.Errorf("selector: %v %v", s, err)
	}
	for _, bad := range []string{"a9059cbb", "0xa9059c", "0xa9059cbb00", "0xzz059cbb", "0Xa9059cbb"} {
		if err := new(Selector).UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("selector %q accepted", bad)
		}
	}
	if SelectorOf([]byte{1, 2}) != (Selector{1, 2, 0, 0}) {
		t.Error("SelectorOf must right-pad like bytes4(b)")
	}
	var f FunctionReference
	txt := "0xce0000007b008f50d762d155002600004cd6c64701"
	if err := f.UnmarshalText([]byte(txt)); err != nil || f.Plugin() != MultiOwnerPlugin || f.FunctionID() != 1 {
		t.Fatalf("function reference: %v", err)
	}
	if b, _ := f.MarshalText(); string(b) != txt {
		t.Errorf("function reference renders as %s", b)
	}
	if err := new(FunctionReference).UnmarshalText([]byte(txt[:42])); err == nil {
		t.Error("20-byte function reference accepted")
	}
}
