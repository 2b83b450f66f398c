package actions_test

import (
	"math/big"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/keywarden/keywarden/pkg/actions"
	"github.com/keywarden/keywarden/pkg/decoder"
	"github.com/keywarden/keywarden/pkg/events"
)

func TestBuilderOrderIsTheSDKs(t *testing.T) {
	tok, tgt, pm := common.HexToAddress("0x70"), common.HexToAddress("0x7a"), common.HexToAddress("0x99")
	// Calls in a scrambled order: the output order is fixed by kind.
	us, err := actions.NewPermissions().
		RequiredPaymaster(pm).
		GasLimit(big.NewInt(7), 0).
		ERC20Limit(tok, big.NewInt(5), 60).
		NativeLimit(big.NewInt(3), 0).
		TimeRange(10, 20).
		FunctionEntry(tgt, events.Selector{1, 2, 3, 4}, true).
		AddressEntry(tgt, true, true).
		AllowAll().
		Updates()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []events.UpdateKind
	for _, u := range us {
		kinds = append(kinds, u.UpdateKind())
	}
	want := []events.UpdateKind{events.UpdSetAccessListType, events.UpdUpdateAccessListAddressEntry,
		events.UpdUpdateAccessListFunctionEntry, events.UpdUpdateTimeRange, events.UpdSetNativeTokenSpendLimit,
		events.UpdSetERC20SpendLimit, events.UpdSetGasSpendLimit, events.UpdSetRequiredPaymaster}
	if !reflect.DeepEqual(kinds, want) {
		t.Fatalf("order %v, want %v", kinds, want)
	}
	empty, _ := actions.NewPermissions().Updates()
	if len(empty) != 1 || empty[0] != (events.SetAccessListType{Type: events.AccessAllowlist}) {
		t.Fatalf("empty builder: %+v, want one setAccessListType(allowlist)", empty)
	}
}

func TestBuilderReportsEveryError(t *testing.T) {
	_, err := actions.NewPermissions().
		AccessControlType(3).
		TimeRange(events.MaxUint48+1, 0).
		NativeLimit(big.NewInt(-1), 0).
		GasLimit(big.NewInt(1), events.MaxUint48+1).
		Encode()
	if err == nil {
		t.Fatal("no error")
	}
	for _, part := range []string{"access control type 3", "validAfter", "native limit", "gas refresh interval"} {
		if !contains(err.Error(), part) {
			t.Errorf("error %q does not mention %q", err, part)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func randAddr(r *rand.Rand) common.Address {
	// A few addresses so that entries collide and overwrite each other.
	return common.BigToAddress(big.NewInt(int64(1 + r.IntN(4))))
}

func randAmount(r *rand.Rand) *big.Int {
	switch r.IntN(4) {
	case 0:
		return actions.NoLimit()
	case 1:
		return new(big.Int)
	}
	b := make([]byte, 1+r.IntN(32))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	x := new(big.Int).SetBytes(b)
	if x.Cmp(actions.NoLimit()) == 0 {
		x.SetUint64(1)
	}
	return x
}

func randU48(r *rand.Rand) uint64 {
	if r.IntN(5) == 0 {
		return events.MaxUint48
	}
	return r.Uint64N(events.MaxUint48 + 1)
}

func randomBuilder(r *rand.Rand) *actions.PermissionsBuilder {
	b := actions.NewPermissions()
	for n := r.IntN(12); n > 0; n-- {
		switch r.IntN(8) {
		case 0:
			b.AccessControlType(events.AccessControlType(r.IntN(3)))
		case 1:
			b.AddressEntry(randAddr(r), r.IntN(2) == 0, r.IntN(2) == 0)
		case 2:
			b.FunctionEntry(randAddr(r), events.Selector{byte(r.IntN(3)), 0, 0, 1}, r.IntN(2) == 0)
		case 3:
			b.TimeRange(randU48(r), randU48(r))
		case 4:
			b.NativeLimit(randAmount(r), randU48(r))
		case 5:
			b.ERC20Limit(randAddr(r), randAmount(r), randU48(r))
		case 6:
			b.GasLimit(randAmount(r), randU48(r))
		case 7:
			b.RequiredPaymaster(randAddr(r))
		}
	}
	return b
}

// Property: build -> encode -> decode (pkg/decoder) -> the same updates, and the same
// permissions once folded.
func TestPropertyBuildEncodeDecode(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		b := randomBuilder(r)
		built, err := b.Updates()
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		enc, _ := b.Encode()
		decoded, err := decoder.DecodeUpdates(enc)
		if err != nil {
			t.Fatalf("case %d: decode: %v", i, err)
		}
		if !reflect.DeepEqual(decoded, built) {
			t.Fatalf("case %d: decoded %+v\nbuilt %+v", i, decoded, built)
		}
		p1, p2 := events.DefaultPermissions(), events.DefaultPermissions()
		if err := p1.ApplyAll(built, 1000); err != nil {
			t.Fatalf("case %d: fold built: %v", i, err)
		}
		if err := p2.ApplyAll(decoded, 1000); err != nil {
			t.Fatalf("case %d: fold decoded: %v", i, err)
		}
		if !reflect.DeepEqual(p1, p2) {
			t.Fatalf("case %d: folds differ", i)
		}
	}
}

// Property: UpdatesFor(p) applied to a fresh key gives p back.
func TestPropertyUpdatesForReproducesPermissions(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		us, _ := randomBuilder(r).Updates()
		// Apply in two rounds so that history (disabled limits with stored amounts) exists.
		more, _ := randomBuilder(r).Updates()
		p := events.DefaultPermissions()
		if err := p.ApplyAll(us, 500); err != nil {
			t.Fatal(err)
		}
		if err := p.ApplyAll(more, 500); err != nil {
			t.Fatal(err)
		}
		q := events.DefaultPermissions()
		if err := q.ApplyAll(actions.UpdatesFor(p), 500); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("case %d:\n want %+v\n got  %+v", i, p, q)
		}
	}
}
