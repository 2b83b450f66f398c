package decoder

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/keywarden/keywarden/pkg/events"
)

// watched lists the topic0 values the fuzzer can force with its first argument.
var watched = []common.Hash{events.TopicSessionKeyAdded, events.TopicSessionKeyRemoved, events.TopicSessionKeyRotated,
	events.TopicPermissionsUpdated, events.TopicPluginInstalled, events.TopicPluginUninstalled, events.TopicOwnerUpdated,
	events.TopicUserOperationEvent}

var knownReasons = map[Reason]bool{ReasonTopicCount: true, ReasonShortData: true, ReasonBadOffset: true,
	ReasonBadLength: true, ReasonTrailingData: true, ReasonBadPadding: true, ReasonValueOutOfRange: true,
	ReasonUnknownUpdateSelector: true}

// fuzzLog builds a log: topic0 is watched[sel] when sel is in range, then up to 5 more topics
// cut from the topics blob (32 bytes each, the last one left-padded).
func fuzzLog(sel byte, topics, data []byte) types.Log {
	var ts []common.Hash
	if int(sel) < len(watched) {
		ts = append(ts, watched[sel])
	}
	for len(topics) > 0 && len(ts) < 6 {
		n := min(32, len(topics))
		ts = append(ts, common.BytesToHash(topics[:n]))
		topics = topics[n:]
	}
	lg := mkLog(events.SessionKeyPluginV101, ts, data)
	lg.Index = uint(len(data)) << 20 // vary the position a little
	return lg
}

// logArgs is the inverse of fuzzLog for seeds.
func logArgs(lg types.Log) (byte, []byte, []byte) {
	sel := byte(0xff)
	rest := lg.Topics
	for i, w := range watched {
		if len(rest) > 0 && rest[0] == w {
			sel, rest = byte(i), rest[1:]
			break
		}
	}
	var tb []byte
	for _, t := range rest {
		tb = append(tb, t[:]...)
	}
	return sel, tb, lg.Data
}

func FuzzDecodeLog(f *testing.F) {
	ref := newABIRef()
	f.Fuzz(func(t *testing.T, sel byte, topics, data []byte) {
		lg := fuzzLog(sel, topics, data)
		ev, err := Decode(lg, meta)
		if err != nil {
			checkDecodeError(t, lg, err)
			return
		}
		if !ev.Kind.Valid() || ev.Kind != ev.Payload.Kind() || ev.LogIndex != uint64(lg.Index) {
			t.Fatalf("bad envelope %+v", ev)
		}
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var back events.Event
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, ev) {
			t.Fatalf("JSON round trip: %v\n got %+v\nwant %+v", err, back, ev)
		}
		want, err := ref.payload(lg)
		if err != nil {
			t.Fatalf("decoder accepted what go-ethereum abi rejects: %v", err)
		}
		if !reflect.DeepEqual(unpaddedPayload(ev.Payload), want) {
			t.Fatalf("decoder and go-ethereum abi disagree:\n got %+v\nwant %+v", ev.Payload, want)
		}
		if p, ok := ev.Payload.(events.PermissionsUpdated); ok {
			if enc := encodeBytesArray(events.EncodeUpdates(p.Updates)); !bytes.Equal(enc, lg.Data) {
				t.Fatalf("re-encoding differs:\n got %x\nwant %x", enc, lg.Data)
			}
			var perms = events.DefaultPermissions()
			_ = perms.ApplyAll(p.Updates, meta.BlockTime)
		}
	})
}

func checkDecodeError(t *testing.T, lg types.Log, err error) {
	t.Helper()
	f := Failure(lg, meta, err)
	if _, jerr := json.Marshal(f); jerr != nil {
		t.Fatal(jerr)
	}
	if errors.Is(err, ErrNotOurs) {
		if len(lg.Topics) > 0 {
			for _, w := range watched {
				if lg.Topics[0] == w {
					t.Fatalf("watched topic0 %s reported as not ours", w)
				}
			}
		}
		return
	}
	var de *Error
	if !errors.As(err, &de) {
		t.Fatalf("error is neither ErrNotOurs nor *Error: %v", err)
	}
	// Offset points into the data (or at its end for trailing data); only a short read may
	// point past the end, at where the missing field would start.
	if !knownReasons[de.Reason] || de.Offset < -1 || (de.Offset > len(lg.Data) && de.Reason != ReasonShortData) ||
		de.Field == "" || de.Error() == "" {
		t.Fatalf("malformed *Error %+v", de)
	}
}

// splitElems cuts a blob into elements, each prefixed by a one-byte length.
func splitElems(blob []byte) [][]byte {
	elems := [][]byte{}
	for len(blob) > 0 {
		n := min(int(blob[0]), len(blob)-1)
		elems = append(elems, blob[1:1+n])
		blob = blob[1+n:]
	}
	return elems
}

func joinElems(elems [][]byte) []byte {
	var out []byte
	for _, e := range elems {
		out = append(out, byte(len(e)))
		out = append(out, e...)
	}
	return out
}

func FuzzDecodeUpdates(f *testing.F) {
	ref := newABIRef()
	f.Fuzz(func(t *testing.T, blob []byte) {
		elems := splitElems(blob)
		us, err := DecodeUpdates(elems)
		// The same elements inside a PermissionsUpdated log decode the same way.
		lg := permLog(encodeBytesArray(elems))
		ev, lerr := Decode(lg, meta)
		if err != nil {
			var de *Error
			if !errors.As(err, &de) || de.Index < 0 || de.Index >= len(elems) || !knownReasons[de.Reason] {
				t.Fatalf("bad error %v", err)
			}
			var le *Error
			if !errors.As(lerr, &le) || le.Reason != de.Reason || le.Index != de.Index {
				t.Fatalf("DecodeUpdates says %v, Decode of the same log says %v", err, lerr)
			}
			return
		}
		if lerr != nil {
			t.Fatalf("DecodeUpdates accepted, Decode of the same log failed: %v", lerr)
		}
		if got := ev.Payload.(events.PermissionsUpdated).Updates; !reflect.DeepEqual(got, us) {
			t.Fatalf("log decode %+v != DecodeUpdates %+v", got, us)
		}
		enc := events.EncodeUpdates(us)
		for i, u := range us {
			if !bytes.Equal(enc[i], elems[i]) {
				t.Fatalf("update %d re-encodes to %x, was %x", i, enc[i], elems[i])
			}
			meth, merr := ref.abi.MethodById(elems[i][:4])
			if merr != nil {
				t.Fatalf("go-ethereum has no method for %x", elems[i][:4])
			}
			vals, uerr := meth.Inputs.Unpack(elems[i][4:])
			if uerr != nil {
				t.Fatalf("go-ethereum rejects update %d that the decoder accepted: %v", i, uerr)
			}
			want, _ := refUpdate(append([]any{meth.Name}, vals...))
			if !reflect.DeepEqual(events.Unpadded(u), want) {
				t.Fatalf("update %d: got %+v, go-ethereum %+v", i, u, want)
			}
			b, jerr := events.MarshalUpdate(u)
			if jerr != nil {
				t.Fatal(jerr)
			}
			back, jerr := events.UnmarshalUpdate(b)
			if jerr != nil || !reflect.DeepEqual(back, u) {
				t.Fatalf("update JSON round trip: %v %+v != %+v", jerr, back, u)
			}
		}
		p := events.DefaultPermissions()
		before := p.Clone()
		if aerr := p.ApplyAll(us, meta.BlockTime); aerr != nil && !reflect.DeepEqual(p, before) {
			t.Fatalf("rejected ApplyAll changed the state")
		}
	})
}

// TestFuzzSeedCorpus writes (with -update) and checks the seed corpus under testdata/fuzz.
func TestFuzzSeedCorpus(t *testing.T) {
	logSeeds := map[string][]any{}
	for _, s := range samples() {
		sel, tb, data := logArgs(s.lg)
		logSeeds["valid_"+s.name] = []any{sel, tb, data}
	}
	for _, c := range failCases() {
		sel, tb, data := logArgs(c.lg)
		logSeeds["bad_"+c.name] = []any{sel, tb, data}
	}
	logSeeds["not_ours"] = []any{byte(0xff), bytes.Repeat([]byte{0xdd}, 96), []byte{1, 2, 3}}

	upd := map[string][]any{
		"valid_all_kinds":   {joinElems(events.EncodeUpdates(allUpdates()))},
		"valid_empty":       {[]byte{}},
		"valid_allow_all":   {joinElems(events.EncodeUpdates([]events.Update{events.SetAccessListType{Type: 2}, events.SetNativeTokenSpendLimit{Limit: events.MaxU256}}))},
		"bad_unknown":       {joinElems([][]byte{events.SetAccessListType{}.Encode(), {0xde, 0xad, 0xbe, 0xef}})},
		"bad_short":         {joinElems([][]byte{events.SetGasSpendLimit{}.Encode()[:50]})},
		"bad_long":          {joinElems([][]byte{append(events.SetRequiredPaymaster{}.Encode(), 1)})},
		"bad_no_selector":   {joinElems([][]byte{{0x8f, 0x29}})},
		"bad_dirty_address": {joinElems([][]byte{setByte(events.SetERC20SpendLimit{Token: token}.Encode(), 4, 1)})},
		"bad_access_type_3": {joinElems([][]byte{setWord(events.SetAccessListType{}.Encode(), 4, []byte{3})})},
		"bad_uint48":        {joinElems([][]byte{setByte(events.UpdateTimeRange{}.Encode(), 4+25, 1)})},
	}
	writeCorpus(t, "FuzzDecodeLog", logSeeds)
	writeCorpus(t, "FuzzDecodeUpdates", upd)
}

func corpusFile(args []any) []byte {
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case byte:
			fmt.Fprintf(&b, "byte(%q)\n", v)
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		}
	}
	return b.Bytes()
}

func writeCorpus(t *testing.T, fuzzName string, seeds map[string][]any) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", fuzzName)
	for name, args := range seeds {
		body := corpusFile(args)
		file := "seed_" + sanitize(name)
		path := filepath.Join(dir, file)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, body, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("seed %s missing or stale (run go test ./pkg/decoder -update): %v", path, err)
		}
	}
}

func sanitize(s string) string {
	out := []byte(s)
	for i, c := range out {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			out[i] = '_'
		}
	}
	return string(out)
}

// unpaddedPayload strips events.Padded wrappers (go-ethereum, like the plugin's abi.decode,
// ignores bytes after an element's arguments and has no notion of them).
func unpaddedPayload(p events.Payload) events.Payload {
	pu, ok := p.(events.PermissionsUpdated)
	if !ok {
		return p
	}
	ups := make([]events.Update, len(pu.Updates))
	for i, u := range pu.Updates {
		ups[i] = events.Unpadded(u)
	}
	pu.Updates = ups
	return pu
}
