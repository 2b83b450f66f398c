package decoder

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/keywarden/keywarden/pkg/events"
)

var update = flag.Bool("update", false, "rewrite testdata/golden and the fuzz seed corpus")

// golden is one file of testdata/golden: the input log and what it decodes to.
type golden struct {
	Address common.Address        `json:"address"`
	Topics  []common.Hash         `json:"topics"`
	Data    hexutil.Bytes         `json:"data"`
	Event   *events.Event         `json:"event,omitempty"`
	Failure *events.DecodeFailure `json:"failure,omitempty"`
}

func checkGolden(t *testing.T, name string, got golden) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test ./pkg/decoder -update): %v", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("%s differs from golden:\n got: %s\nwant: %s", path, b, want)
	}
}

func TestDecodeGolden(t *testing.T) {
	for _, s := range samples() {
		t.Run(s.name, func(t *testing.T) {
			ev, err := Decode(s.lg, meta)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if ev.Emitter != events.AddressFrom(s.lg.Address) || ev.LogIndex != uint64(s.lg.Index) ||
				ev.TxIndex != uint64(s.lg.TxIndex) || ev.BlockNumber != s.lg.BlockNumber || ev.Removed != s.lg.Removed ||
				ev.ChainID != meta.ChainID || ev.BlockTime != meta.BlockTime || ev.ParentHash != meta.ParentHash ||
				ev.BlockHash != s.lg.BlockHash || ev.TxHash != s.lg.TxHash || ev.Verified || ev.Kind != ev.Payload.Kind() {
				t.Errorf("position/envelope not filled from the log and meta: %+v", ev)
			}
			// The wire form round-trips to the same value.
			b, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			var back events.Event
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("unmarshal: %v\n%s", err, b)
			}
			if !reflect.DeepEqual(back, ev) {
				t.Errorf("JSON round trip:\n got %+v\nwant %+v", back, ev)
			}
			checkGolden(t, s.name, golden{Address: s.lg.Address, Topics: s.lg.Topics, Data: s.lg.Data, Event: &ev})
		})
	}
}

func TestSamplesAgreeWithABI(t *testing.T) {
	ref := newABIRef()
	for _, s := range samples() {
		ev, err := Decode(s.lg, meta)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		want, err := ref.payload(s.lg)
		if err != nil {
			t.Fatalf("%s: go-ethereum abi: %v", s.name, err)
		}
		if !reflect.DeepEqual(ev.Payload, want) {
			t.Errorf("%s: decoder and go-ethereum abi disagree:\n got %+v\nwant %+v", s.name, ev.Payload, want)
		}
	}
}

func TestPermissionsUpdatedReencodes(t *testing.T) {
	for _, s := range samples() {
		ev, err := Decode(s.lg, meta)
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := ev.Payload.(events.PermissionsUpdated); ok {
			if got := encodeBytesArray(events.EncodeUpdates(p.Updates)); !bytes.Equal(got, s.lg.Data) {
				t.Errorf("%s: re-encoding differs:\n got %x\nwant %x", s.name, got, s.lg.Data)
			}
		}
	}
}

func TestDecodeExactEdgeValues(t *testing.T) {
	for _, s := range samples() {
		ev, err := Decode(s.lg, meta)
		if err != nil {
			t.Fatal(err)
		}
		switch s.name {
		case "session_key_removed_log_index_2^32-1":
			if ev.LogIndex != 1<<32-1 || ev.TxIndex != 1<<32-2 || ev.BlockNumber != 1<<63+5 || !ev.Removed {
				t.Errorf("position not exact: %+v", ev.Position)
			}
			if want := "31337:" + blockHash.Hex() + ":4294967295"; ev.ID() != want {
				t.Errorf("ID = %s, want %s", ev.ID(), want)
			}
		case "user_operation_max_values":
			p := ev.Payload.(events.UserOperationEvent)
			if !p.Nonce.IsMax() || !p.ActualGasCost.IsMax() || !p.ActualGasUsed.IsMax() || p.Success {
				t.Errorf("max values not exact: %+v", p)
			}
		case "permissions_updated_all_kinds":
			p := ev.Payload.(events.PermissionsUpdated)
			if !reflect.DeepEqual(p.Updates, allUpdates()) {
				t.Errorf("updates = %+v", p.Updates)
			}
		}
	}
}

func TestDecodeNotOurs(t *testing.T) {
	for _, lg := range []types.Log{
		mkLog(acct, nil, nil),
		mkLog(acct, []common.Hash{{}}, nil),
		mkLog(acct, []common.Hash{common.HexToHash("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"), {}, {}}, wordU64(1)),
	} {
		_, err := Decode(lg, meta)
		if !errors.Is(err, ErrNotOurs) {
			t.Errorf("topics %v: err = %v, want ErrNotOurs", lg.Topics, err)
		}
		var de *Error
		if errors.As(err, &de) {
			t.Errorf("ErrNotOurs must not be an *Error")
		}
		if ReasonOf(err) != ReasonNotOurs {
			t.Errorf("ReasonOf = %q", ReasonOf(err))
		}
	}
}

func TestDecodeUpdateSingle(t *testing.T) {
	for _, u := range allUpdates() {
		got, err := DecodeUpdate(u.Encode())
		if err != nil {
			t.Fatalf("%s: %v", u.UpdateKind(), err)
		}
		if !reflect.DeepEqual(got, u) {
			t.Errorf("got %+v, want %+v", got, u)
		}
	}
	us, err := DecodeUpdates(events.EncodeUpdates(allUpdates()))
	if err != nil || !reflect.DeepEqual(us, allUpdates()) {
		t.Fatalf("DecodeUpdates = %+v, %v", us, err)
	}
	if us, err := DecodeUpdates(nil); err != nil || len(us) != 0 {
		t.Fatalf("DecodeUpdates(nil) = %v, %v", us, err)
	}
}

func TestFailureRecord(t *testing.T) {
	lg := mkLog(events.SessionKeyPluginV101, []common.Hash{events.TopicSessionKeyAdded, topicAddr(acct)}, []byte{1, 2})
	_, err := Decode(lg, meta)
	f := Failure(lg, meta, err)
	if f.Reason != string(ReasonTopicCount) || f.Error != err.Error() || f.Schema != events.SchemaVersion ||
		f.ID() != PositionOf(lg, meta).ID() || !bytes.Equal(f.Data, lg.Data) || !reflect.DeepEqual(f.Topics, lg.Topics) ||
		f.Emitter != events.SessionKeyPluginV101 {
		t.Fatalf("failure record: %+v", f)
	}
	f.Data[0] = 9
	f.Topics[0] = common.Hash{}
	if lg.Data[0] != 1 || lg.Topics[0] != events.TopicSessionKeyAdded {
		t.Fatal("Failure aliases the log's slices")
	}
	if Failure(lg, meta, errors.New("boom")).Reason != string(ReasonInternal) {
		t.Fatal("non-*Error must be classed internal")
	}
}
