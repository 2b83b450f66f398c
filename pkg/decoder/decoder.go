package decoder

import (
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/keywarden/keywarden/pkg/events"
)

// Meta carries what a log lacks.
type Meta struct {
	ChainID    uint64
	BlockTime  uint64 // unix seconds
	ParentHash common.Hash
}

// PositionOf is the chain position of lg.
func PositionOf(lg types.Log, m Meta) events.Position {
	return events.Position{
		ChainID:     m.ChainID,
		BlockNumber: lg.BlockNumber,
		BlockHash:   lg.BlockHash,
		ParentHash:  m.ParentHash,
		BlockTime:   m.BlockTime,
		TxHash:      lg.TxHash,
		TxIndex:     uint64(lg.TxIndex),
		LogIndex:    uint64(lg.Index),
		Removed:     lg.Removed,
	}
}

// Decode decodes lg into an event with its position (from lg and m) and Emitter = lg.Address.
// Verified is left false. A topic0 that is not watched returns ErrNotOurs; anything malformed
// returns an *Error.
func Decode(lg types.Log, m Meta) (events.Event, error) {
	p, err := decodePayload(lg.Topics, lg.Data, lg.Address)
	if err != nil {
		if err == errNotOurs {
			return events.Event{}, ErrNotOurs
		}
		return events.Event{}, err
	}
	return events.Event{
		Schema:   events.SchemaVersion,
		Kind:     p.Kind(),
		Position: PositionOf(lg, m),
		Emitter:  events.AddressFrom(lg.Address),
		Payload:  p,
	}, nil
}

// Failure is the record form of a log that failed to decode: the log byte for byte, its
// position, Reason the stable class of err (ReasonOf) and Error its message.
func Failure(lg types.Log, m Meta, err error) events.DecodeFailure {
	f := events.DecodeFailure{
		Schema:   events.SchemaVersion,
		Position: PositionOf(lg, m),
		Emitter:  events.AddressFrom(lg.Address),
		Topics:   append([]common.Hash{}, lg.Topics...),
		Data:     append([]byte{}, lg.Data...),
		Reason:   string(ReasonOf(err)),
	}
	if err != nil {
		f.Error = err.Error()
	}
	return f
}

// errNotOurs is the internal marker; a typed nil *Error must never escape as a non-nil error.
var errNotOurs = &Error{Reason: ReasonNotOurs}

// topicsWant is the topic count (topic0 included) of each watched event.
func topicCount(topics []common.Hash, want int, sig string) *Error {
	if len(topics) != want {
		return newErr(ReasonTopicCount, "topics", -1, "%s has %d topics, log has %d", sig, want, len(topics))
	}
	return nil
}

func topicAddress(t common.Hash, field string) (events.Address, *Error) {
	var a events.Address
	if !isZero(t[:12]) {
		return a, newErr(ReasonBadPadding, field, -1, "address topic with non-zero high bytes")
	}
	copy(a[:], t[12:])
	return a, nil
}

func noData(data []byte) *Error {
	if len(data) != 0 {
		return newErr(ReasonTrailingData, "data", 0, "event has no data fields, log has %d bytes", len(data))
	}
	return nil
}

func decodePayload(topics []common.Hash, data []byte, emitter common.Address) (events.Payload, *Error) {
	if len(topics) == 0 {
		return nil, errNotOurs
	}
	var err *Error
	switch topics[0] {
	case events.TopicSessionKeyAdded:
		if err = topicCount(topics, 4, events.SigSessionKeyAdded); err != nil {
			return nil, err
		}
		var p events.SessionKeyAdded
		if p.Account, err = topicAddress(topics[1], "account"); err != nil {
			return nil, err
		}
		if p.SessionKey, err = topicAddress(topics[2], "sessionKey"); err != nil {
			return nil, err
		}
		p.Tag = topics[3]
		if err = noData(data); err != nil {
			return nil, err
		}
		return p, nil

	case events.TopicSessionKeyRemoved:
		if err = topicCount(topics, 3, events.SigSessionKeyRemoved); err != nil {
			return nil, err
		}
		var p events.SessionKeyRemoved
		if p.Account, err = topicAddress(topics[1], "account"); err != nil {
			return nil, err
		}
		if p.SessionKey, err = topicAddress(topics[2], "sessionKey"); err != nil {
			return nil, err
		}
		if err = noData(data); err != nil {
			return nil, err
		}
		return p, nil

	case events.TopicSessionKeyRotated:
		if err = topicCount(topics, 4, events.SigSessionKeyRotated); err != nil {
			return nil, err
		}
		var p events.SessionKeyRotated
		if p.Account, err = topicAddress(topics[1], "account"); err != nil {
			return nil, err
		}
		if p.OldSessionKey, err = topicAddress(topics[2], "oldSessionKey"); err != nil {
			return nil, err
		}
		if p.NewSessionKey, err = topicAddress(topics[3], "newSessionKey"); err != nil {
			return nil, err
		}
		if err = noData(data); err != nil {
			return nil, err
		}
		return p, nil

	case events.TopicPermissionsUpdated:
		if err = topicCount(topics, 3, events.SigPermissionsUpdated); err != nil {
			return nil, err
		}
		var p events.PermissionsUpdated
		if p.Account, err = topicAddress(topics[1], "account"); err != nil {
			return nil, err
		}
		if p.SessionKey, err = topicAddress(topics[2], "sessionKey"); err != nil {
			return nil, err
		}
		if p.Updates, err = decodeUpdatesData(data); err != nil {
			return nil, err
		}
		return p, nil

	case events.TopicPluginInstalled:
		if err = topicCount(topics, 2, events.SigPluginInstalled); err != nil {
			return nil, err
		}
		p := events.PluginInstalled{Account: events.AddressFrom(emitter)}
		if p.Plugin, err = topicAddress(topics[1], "plugin"); err != nil {
			return nil, err
		}
		r := reader{data: data}
		if p.ManifestHash, err = r.bytes32(0, "manifestHash"); err != nil {
			return nil, err
		}
		if err = r.offset(32, 64, "dependencies"); err != nil {
			return nil, err
		}
		n, err := r.length(64, 32, "dependencies.length")
		if err != nil {
			return nil, err
		}
		p.Dependencies = make([]events.FunctionReference, n)
		for i := range p.Dependencies {
			if err = r.fixedBytes(96+32*i, p.Dependencies[i][:], "dependencies"); err != nil {
				return nil, atElem(err, "dependencies", i)
			}
		}
		if err = r.end(96+32*n, "dependencies"); err != nil {
			return nil, err
		}
		return p, nil

	case events.TopicPluginUninstalled:
		if err = topicCount(topics, 3, events.SigPluginUninstalled); err != nil {
			return nil, err
		}
		p := events.PluginUninstalled{Account: events.AddressFrom(emitter)}
		if p.Plugin, err = topicAddress(topics[1], "plugin"); err != nil {
			return nil, err
		}
		if p.OnUninstallSucceeded, err = wordBool(topics[2][:], "onUninstallSucceeded", -1); err != nil {
			return nil, err
		}
		if err = noData(data); err != nil {
			return nil, err
		}
		return p, nil

	case events.TopicOwnerUpdated:
		if err = topicCount(topics, 2, events.SigOwnerUpdated); err != nil {
			return nil, err
		}
		var p events.OwnerUpdated
		if p.Account, err = topicAddress(topics[1], "account"); err != nil {
			return nil, err
		}
		r := reader{data: data}
		if err = r.offset(0, 64, "addedOwners"); err != nil {
			return nil, err
		}
		var end int
		if p.AddedOwners, end, err = addressArray(r, 64, "addedOwners"); err != nil {
			return nil, err
		}
		if err = r.offset(32, end, "removedOwners"); err != nil {
			return nil, err
		}
		if p.RemovedOwners, end, err = addressArray(r, end, "removedOwners"); err != nil {
			return nil, err
		}
		if err = r.end(end, "removedOwners"); err != nil {
			return nil, err
		}
		return p, nil

	case events.TopicUserOperationEvent:
		if err = topicCount(topics, 4, events.SigUserOperationEvent); err != nil {
			return nil, err
		}
		var p events.UserOperationEvent
		p.UserOpHash = topics[1]
		if p.Sender, err = topicAddress(topics[2], "sender"); err != nil {
			return nil, err
		}
		if p.Paymaster, err = topicAddress(topics[3], "paymaster"); err != nil {
			return nil, err
		}
		r := reader{data: data}
		if p.Nonce, err = r.u256(0, "nonce"); err != nil {
			return nil, err
		}
		if p.Success, err = r.boolean(32, "success"); err != nil {
			return nil, err
		}
		if p.ActualGasCost, err = r.u256(64, "actualGasCost"); err != nil {
			return nil, err
		}
		if p.ActualGasUsed, err = r.u256(96, "actualGasUsed"); err != nil {
			return nil, err
		}
		if err = r.end(128, "data"); err != nil {
			return nil, err
		}
		return p, nil
	}
	return nil, errNotOurs
}

// addressArray reads an address[] whose length word is at pos and returns it and its end.
func addressArray(r reader, pos int, field string) ([]events.Address, int, *Error) {
	n, err := r.length(pos, 32, field+".length")
	if err != nil {
		return nil, 0, err
	}
	out := make([]events.Address, n)
	for i := range out {
		if out[i], err = r.address(pos+32+32*i, field); err != nil {
			return nil, 0, atElem(err, field, i)
		}
	}
	return out, pos + 32 + 32*n, nil
}

// atElem names the array element an error is about (Index stays for permission updates).
func atElem(e *Error, field string, i int) *Error {
	e.Field = field + "[" + strconv.Itoa(i) + "]"
	return e
}
