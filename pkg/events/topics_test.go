package events

import (
	"bytes"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Every topic and selector in chain.go, recomputed from its signature string.
func TestTopicsMatchSignatures(t *testing.T) {
	for _, c := range []struct {
		sig   string
		topic common.Hash
	}{
		{SigSessionKeyAdded, TopicSessionKeyAdded},
		{SigSessionKeyRemoved, TopicSessionKeyRemoved},
		{SigSessionKeyRotated, TopicSessionKeyRotated},
		{SigPermissionsUpdated, TopicPermissionsUpdated},
		{SigPluginInstalled, TopicPluginInstalled},
		{SigPluginUninstalled, TopicPluginUninstalled},
		{SigOwnerUpdated, TopicOwnerUpdated},
		{SigUserOperationEvent, TopicUserOperationEvent},
	} {
		if got := common.BytesToHash(crypto.Keccak256([]byte(c.sig))); got != c.topic {
			t.Errorf("keccak(%s) = %s, chain.go has %s", c.sig, got, c.topic)
		}
	}
}

func TestSelectorsMatchSignatures(t *testing.T) {
	for _, c := range []struct {
		sig string
		sel Selector
		u   Update
	}{
		{SigSetAccessListType, SelSetAccessListType, SetAccessListType{}},
		{SigUpdateAccessListAddressEntry, SelUpdateAccessListAddressEntry, UpdateAccessListAddressEntry{}},
		{SigUpdateAccessListFunctionEntry, SelUpdateAccessListFunctionEntry, UpdateAccessListFunctionEntry{}},
		{SigUpdateTimeRange, SelUpdateTimeRange, UpdateTimeRange{}},
		{SigSetNativeTokenSpendLimit, SelSetNativeTokenSpendLimit, SetNativeTokenSpendLimit{}},
		{SigSetERC20SpendLimit, SelSetERC20SpendLimit, SetERC20SpendLimit{}},
		{SigSetGasSpendLimit, SelSetGasSpendLimit, SetGasSpendLimit{}},
		{SigSetRequiredPaymaster, SelSetRequiredPaymaster, SetRequiredPaymaster{}},
	} {
		if got := crypto.Keccak256([]byte(c.sig))[:4]; !bytes.Equal(got, c.sel[:]) {
			t.Errorf("keccak(%s)[:4] = %x, chain.go has %s", c.sig, got, c.sel)
		}
		if c.u.Selector() != c.sel || !bytes.Equal(c.u.Encode()[:4], c.sel[:]) {
			t.Errorf("%T uses selector %s", c.u, c.u.Selector())
		}
	}
}

// The address literals in chain.go are EIP-55 checksummed (a typo would fail the checksum).
func TestChainAddressesChecksummed(t *testing.T) {
	for lit, a := range map[string]Address{
		"0x0000003E0000a96de4058e1E02a62FaaeCf23d8d": SessionKeyPluginV101,
		"0x000000e30a00f600823700E975f1b1ac387f0017": SessionKeyPluginV100,
		"0xcE0000007B008F50d762D155002600004cD6c647": MultiOwnerPlugin,
		"0x5FF137D4b0FDCD49DcA30c7CF57E578a026d2789": EntryPointV06,
		"0x000000e92D78D90000007F0082006FDA09BD5f11": MultiOwnerFactory,
	} {
		if a.Hex() != lit {
			t.Errorf("%s renders as %s", lit, a.Hex())
		}
		if p, err := ParseAddress(lit); err != nil || p != a {
			t.Errorf("ParseAddress(%s) = %s, %v", lit, p, err)
		}
	}
	if MaxUint48 != 281474976710655 {
		t.Errorf("MaxUint48 = %d", MaxUint48)
	}
}
