package decoder

import (
	"bytes"
	"testing"

	"github.com/keywarden/keywarden/pkg/events"
)

// An element longer than its arguments is accepted by the plugin (abi.decode ignores the extra
// bytes) and so takes effect on chain. The decoder must not let it hide a permission change.
func TestPaddedUpdateElementTakesEffect(t *testing.T) {
	allowAll := append(events.SetAccessListType{Type: events.AccessAllowAll}.Encode(), 0xde, 0xad)
	ups, err := DecodeUpdates([][]byte{allowAll})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := ups[0].(events.Padded)
	if !ok || p.Update != (events.SetAccessListType{Type: events.AccessAllowAll}) {
		t.Fatalf("decoded %#v", ups[0])
	}
	if !bytes.Equal(p.Encode(), allowAll) {
		t.Fatalf("element not kept byte for byte: %x", p.Encode())
	}
	perms := events.DefaultPermissions()
	if err := perms.ApplyAll(ups, 0); err != nil || perms.AccessControlType != events.AccessAllowAll {
		t.Fatalf("fold: %v, type %s", err, perms.AccessControlType)
	}
	b, err := events.MarshalUpdate(p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := events.UnmarshalUpdate(b)
	if err != nil {
		t.Fatal(err)
	}
	if bp, ok := back.(events.Padded); !ok || !bytes.Equal(bp.Raw, allowAll) || bp.Update != p.Update {
		t.Fatalf("wire round trip %s -> %#v", b, back)
	}
	// A short element is still malformed.
	if _, err := DecodeUpdate(allowAll[:20]); err == nil {
		t.Fatal("short element accepted")
	}
}
