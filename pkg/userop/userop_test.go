package userop

import (
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

func sample() *UserOperation {
	return &UserOperation{
		Sender: common.HexToAddress("0x1111111111111111111111111111111111111111"), Nonce: big.NewInt(7),
		InitCode: []byte{}, CallData: []byte{0xde, 0xad}, CallGasLimit: big.NewInt(100000),
		VerificationGasLimit: big.NewInt(200000), PreVerificationGas: big.NewInt(50000),
		MaxFeePerGas: big.NewInt(3e9), MaxPriorityFeePerGas: big.NewInt(1e9),
		PaymasterAndData: []byte{}, Signature: []byte{1, 2, 3},
	}
}

func TestWireRoundTrip(t *testing.T) {
	op := sample()
	b, err := json.Marshal(op)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"nonce":"0x7"`) || !strings.Contains(string(b), `"callData":"0xdead"`) {
		t.Fatalf("wire form: %s", b)
	}
	var back UserOperation
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Hash(common.Address{1}, big.NewInt(1337)) != op.Hash(common.Address{1}, big.NewInt(1337)) {
		t.Fatal("hash changed through the wire form")
	}
}

func TestDecodeReportsEveryBadField(t *testing.T) {
	_, err := Decode([]byte(`{"sender":"0x12","nonce":"12","initCode":"0x","callData":"0xzz","callGasLimit":"0x1",
	"verificationGasLimit":"0x1","preVerificationGas":"0x1","maxFeePerGas":"0x1","maxPriorityFeePerGas":"0x1",
	"paymasterAndData":"0x","extra":1}`))
	var fe *FieldError
	if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("want FieldError, got %v", err)
	}
	for _, f := range []string{"sender", "nonce", "callData", "signature", "extra"} {
		if _, ok := fe.Fields[f]; !ok {
			t.Errorf("field %s not reported: %v", f, err)
		}
	}
	if _, err := Decode([]byte(`[1]`)); err == nil {
		t.Fatal("array accepted")
	}
	big := `"0x1` + strings.Repeat("0", 64) + `"`
	_, err = Decode([]byte(`{"sender":"0x1111111111111111111111111111111111111111","nonce":` + big + `,"initCode":"0x","callData":"0x","callGasLimit":"0x1",
	"verificationGasLimit":"0x1","preVerificationGas":"0x1","maxFeePerGas":"0x1","maxPriorityFeePerGas":"0x1",
	"paymasterAndData":"0x","signature":"0x"}`))
	if err == nil {
		t.Fatal("nonce above 2^256-1 accepted")
	}
}

func TestSignRecovers(t *testing.T) {
	key, _ := crypto.GenerateKey()
	op := sample()
	ep := common.HexToAddress("0x5FF137D4b0FDCD49DcA30c7CF57E578a026d2789")
	if err := op.Sign(ep, big.NewInt(1337), key); err != nil {
		t.Fatal(err)
	}
	if len(op.Signature) != 65 || (op.Signature[64] != 27 && op.Signature[64] != 28) {
		t.Fatalf("signature shape: %x", op.Signature)
	}
	h := op.Hash(ep, big.NewInt(1337))
	digest := crypto.Keccak256(append([]byte("\x19Ethereum Signed Message:\n32"), h[:]...))
	sig := append([]byte{}, op.Signature...)
	sig[64] -= 27
	pub, err := crypto.SigToPub(digest, sig)
	if err != nil || crypto.PubkeyToAddress(*pub) != crypto.PubkeyToAddress(key.PublicKey) {
		t.Fatalf("recovered a different signer: %v", err)
	}
}

func TestNonce(t *testing.T) {
	n := Nonce(new(big.Int).SetBytes(common.HexToAddress("0xabcd").Bytes()), 5)
	if n.Uint64() != 5 || new(big.Int).Rsh(n, 64).Int64() != 0xabcd {
		t.Fatalf("nonce %x", n)
	}
}
