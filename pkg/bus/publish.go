package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/keywarden/keywarden/pkg/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers keywarden sets on every message it publishes.
const (
	HeaderSchema = "Keywarden-Schema"
	HeaderKind   = "Keywarden-Kind"
)

// Msg is one message to publish. MsgID is its identity: the stream stores one message per MsgID
// within the duplicate window.
type Msg struct {
	Subject string
	MsgID   string
	Data    []byte
	Headers nats.Header
}

// EventMsg builds the message of an event: its subject is events.EventSubject, or
// events.RetractSubject when e.Removed, its id events.MsgID(e), its body the events wire form.
func EventMsg(e events.Event) (Msg, error) {
	kind := e.Kind
	if e.Payload != nil {
		kind = e.Payload.Kind()
	}
	if !kind.Valid() {
		return Msg{}, fmt.Errorf("build event message %s: unknown kind %q: %w", e.ID(), kind, ErrInvalidMessage)
	}
	data, err := json.Marshal(e)
	if err != nil {
		return Msg{}, fmt.Errorf("build event message %s: %w", e.ID(), err)
	}
	subject := events.EventSubject(e.ChainID, kind)
	if e.Removed {
		subject = events.RetractSubject(e.ChainID, kind)
	}
	return Msg{Subject: subject, MsgID: events.MsgID(e), Data: data, Headers: header(string(kind))}, nil
}

// StateMsg builds the message of a key state: subject events.StateSubject, id events.StateMsgID.
func StateMsg(k events.KeyState) (Msg, error) {
	if k.Schema == 0 {
		k.Schema = events.SchemaVersion
	}
	data, err := json.Marshal(k)
	if err != nil {
		return Msg{}, fmt.Errorf("build state message %s: %w", events.StateMsgID(k), err)
	}
	return Msg{Subject: events.StateSubject(k.ChainID), MsgID: events.StateMsgID(k), Data: data, Headers: header("state")}, nil
}

// FailureMsgID is the message id of a decode failure.
func FailureMsgID(f events.DecodeFailure) string { return "failure:" + f.ID() }

// FailureMsg builds the message of a decode failure: subject events.FailureSubject, id
// FailureMsgID.
func FailureMsg(f events.DecodeFailure) (Msg, error) {
	if f.Schema == 0 {
		f.Schema = events.SchemaVersion
	}
	data, err := json.Marshal(f)
	if err != nil {
		return Msg{}, fmt.Errorf("build failure message %s: %w", f.ID(), err)
	}
	return Msg{Subject: events.FailureSubject(f.ChainID), MsgID: FailureMsgID(f), Data: data, Headers: header("failure")}, nil
}

func header(kind string) nats.Header {
	h := nats.Header{}
	h.Set(HeaderSchema, fmt.Sprint(events.SchemaVersion))
	h.Set(HeaderKind, kind)
	return h
}

// BatchPublisher is what the indexer needs from the bus.
type BatchPublisher interface {
	PublishBatch(ctx context.Context, msgs []Msg) error
}

var _ BatchPublisher = (*Publisher)(nil)

// PublisherOptions configures a Publisher. The zero value is usable.
type PublisherOptions struct {
	// Window is how many publishes may be in flight at once; default 512. It must stay below the
	// JetStream context's async max pending (default 4000).
	Window int
	// AckTimeout bounds the wait for the acks of a batch when ctx has no deadline; default 30s.
	AckTimeout time.Duration
	// Stream is the stream every message must land in; default events.StreamName. A message
	// whose subject no such stream captures fails instead of going elsewhere.
	Stream string
}

// Publisher publishes batches asynchronously and reports success only when all are stored.
type Publisher struct {
	js   jetstream.JetStream
	opts PublisherOptions
}

// NewPublisher returns a Publisher on js.
func NewPublisher(js jetstream.JetStream, opts PublisherOptions) *Publisher {
	if opts.Window <= 0 {
		opts.Window = 512
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = 30 * time.Second
	}
	if opts.Stream == "" {
		opts.Stream = events.StreamName
	}
	return &Publisher{js: js, opts: opts}
}

// BatchResult counts what a batch did.
type BatchResult struct {
	// Stored is the number of messages newly stored, Duplicates the number the stream already
	// had (within its duplicate window).
	Stored, Duplicates int
}

// PublishBatch publishes msgs and returns nil only when every one is stored (or was already).
// On error (a *PublishError, or a context error) some messages may be stored: retrying the
// whole batch is safe.
func (p *Publisher) PublishBatch(ctx context.Context, msgs []Msg) error {
	_, err := p.Publish(ctx, msgs)
	return err
}

// Publish is PublishBatch that also reports how many messages were new and how many duplicates.
func (p *Publisher) Publish(ctx context.Context, msgs []Msg) (BatchResult, error) {
	var res BatchResult
	if len(msgs) == 0 {
		return res, nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.opts.AckTimeout)
		defer cancel()
	}
	perr := &PublishError{Total: len(msgs)}
	type pending struct {
		i int
		f jetstream.PubAckFuture
	}
	inflight := make([]pending, 0, p.opts.Window)
	wait := func() {
		for _, pf := range inflight {
			m := msgs[pf.i]
			select {
			case ack := <-pf.f.Ok():
				if ack.Duplicate {
					res.Duplicates++
				} else {
					res.Stored++
				}
			case err := <-pf.f.Err():
				perr.Failed = append(perr.Failed, FailedMsg{Subject: m.Subject, MsgID: m.MsgID, Err: err})
			case <-ctx.Done():
				perr.Failed = append(perr.Failed, FailedMsg{Subject: m.Subject, MsgID: m.MsgID, Err: fmt.Errorf("wait for ack: %w", ctx.Err())})
			}
		}
		inflight = inflight[:0]
	}
	for i, m := range msgs {
		if m.Subject == "" || m.MsgID == "" {
			perr.Failed = append(perr.Failed, FailedMsg{Subject: m.Subject, MsgID: m.MsgID,
				Err: fmt.Errorf("subject and message id are required: %w", ErrInvalidMessage)})
			continue
		}
		if ctx.Err() != nil {
			perr.Failed = append(perr.Failed, FailedMsg{Subject: m.Subject, MsgID: m.MsgID, Err: ctx.Err()})
			continue
		}
		nm := &nats.Msg{Subject: m.Subject, Data: m.Data, Header: nats.Header{}}
		for k, vs := range m.Headers {
			nm.Header[k] = append([]string(nil), vs...)
		}
		nm.Header.Set(jetstream.MsgIDHeader, m.MsgID)
		f, err := p.js.PublishMsgAsync(nm, jetstream.WithExpectStream(p.opts.Stream))
		if err != nil {
			perr.Failed = append(perr.Failed, FailedMsg{Subject: m.Subject, MsgID: m.MsgID, Err: fmt.Errorf("publish: %w", err)})
			continue
		}
		inflight = append(inflight, pending{i: i, f: f})
		if len(inflight) >= p.opts.Window {
			wait()
		}
	}
	wait()
	if len(perr.Failed) > 0 {
		if ctx.Err() != nil && len(perr.Failed) == len(msgs) {
			return res, fmt.Errorf("publish batch: %w", errors.Join(ctx.Err(), perr))
		}
		return res, perr
	}
	return res, nil
}
