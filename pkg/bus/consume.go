package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keywarden/keywarden/pkg/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Dead-letter headers, added to the copy of a message that a consumer gave up on.
const (
	HeaderDeadSubject    = "Keywarden-Dead-Subject"
	HeaderDeadReason     = "Keywarden-Dead-Reason"
	HeaderDeadStreamSeq  = "Keywarden-Dead-Stream-Seq"
	HeaderDeadDeliveries = "Keywarden-Dead-Deliveries"
	HeaderDeadConsumer   = "Keywarden-Dead-Consumer"
)

// DefaultDurable is the durable consumer that enforcers share.
const DefaultDurable = "keywarden-enforcer"

// ConsumerOptions configures a durable pull consumer on the events stream. The zero value is
// usable.
type ConsumerOptions struct {
	// Durable names the consumer; every process using the same name shares its messages (each
	// message goes to one of them). Default DefaultDurable.
	Durable string
	// FilterSubjects default to every chain's events, retractions and key states.
	FilterSubjects []string
	// AckWait is how long a delivery may stay unanswered before the server redelivers it;
	// default 30s. A long handler calls Delivery.InProgress.
	AckWait time.Duration
	// MaxDeliver is the number of attempts before a message is dead-lettered; default 8. The
	// consumer counts the attempts itself and the server's own limit stays unlimited, so a
	// process that dies during the last attempt leaves the message to be redelivered (and
	// dead-lettered then) rather than stranded.
	MaxDeliver int
	// NakDelays are the redelivery delays after the 1st, 2nd, ... failed attempt (the last
	// repeats); default 1s, 2s, 5s, 15s, 30s.
	NakDelays []time.Duration
	// MaxAckPending bounds the unacknowledged messages across all processes; default 1000.
	MaxAckPending int
	// FetchBatch is how many messages one process buffers ahead; default 16.
	FetchBatch int
	// LogOnlyDeadLetters logs dead letters instead of storing them in DeadLetterStreamName.
	LogOnlyDeadLetters bool
	Logger             zerolog.Logger
}

func (o ConsumerOptions) withDefaults() ConsumerOptions {
	if o.Durable == "" {
		o.Durable = DefaultDurable
	}
	if len(o.FilterSubjects) == 0 {
		o.FilterSubjects = []string{events.SubjectRoot + ".*.event.>", events.SubjectRoot + ".*.retract.>",
			events.SubjectRoot + ".*.state"}
	}
	if o.AckWait <= 0 {
		o.AckWait = 30 * time.Second
	}
	if o.MaxDeliver <= 0 {
		o.MaxDeliver = 8
	}
	if len(o.NakDelays) == 0 {
		o.NakDelays = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second}
	}
	if o.MaxAckPending <= 0 {
		o.MaxAckPending = 1000
	}
	if o.FetchBatch <= 0 {
		o.FetchBatch = 16
	}
	return o
}

// Consumer is a durable pull consumer with explicit acks on the events stream.
type Consumer struct {
	js   jetstream.JetStream
	c    jetstream.Consumer
	opts ConsumerOptions
	log  zerolog.Logger
}

// NewConsumer creates the durable consumer, or updates it to opts when it exists (so several
// processes may call it with the same options), and the dead-letter stream unless
// LogOnlyDeadLetters. The events stream must exist.
func NewConsumer(ctx context.Context, js jetstream.JetStream, opts ConsumerOptions) (*Consumer, error) {
	o := opts.withDefaults()
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	if !o.LogOnlyDeadLetters {
		if _, err := EnsureDeadLetterStream(ctx, js, StreamOptions{}); err != nil {
			return nil, fmt.Errorf("create consumer %s: %w", o.Durable, err)
		}
	}
	c, err := js.CreateOrUpdateConsumer(ctx, events.StreamName, jetstream.ConsumerConfig{
		Durable:        o.Durable,
		Description:    "keywarden consumer shared by every process with this name",
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        o.AckWait,
		MaxDeliver:     -1, // the consumer counts attempts itself and dead-letters; see doc.go
		FilterSubjects: o.FilterSubjects,
		MaxAckPending:  o.MaxAckPending,
	})
	if err != nil {
		return nil, fmt.Errorf("create consumer %s: %w", o.Durable, err)
	}
	return &Consumer{js: js, c: c, opts: o, log: o.Logger.With().Str("component", "consumer").Str("durable", o.Durable).Logger()}, nil
}

// Class says what a delivery carries.
type Class string

// Delivery classes, from the subject.
const (
	ClassEvent      Class = "event"
	ClassRetraction Class = "retract"
	ClassState      Class = "state"
	ClassFailure    Class = "failure"
	// ClassAudit is an enforcer audit record; the Delivery carries its raw Data only.
	ClassAudit Class = "audit"
)

// Metadata is the JetStream position of a delivery.
type Metadata struct {
	Stream       string
	Consumer     string
	StreamSeq    uint64
	ConsumerSeq  uint64
	NumDelivered uint64 // 1 on the first delivery
	NumPending   uint64
	Timestamp    time.Time
}

// Delivery is one decoded message. Exactly one of Event (ClassEvent, ClassRetraction), State
// (ClassState) and Failure (ClassFailure) is set; none for ClassAudit.
type Delivery struct {
	Subject string
	ChainID uint64
	Class   Class
	MsgID   string
	Event   *events.Event
	State   *events.KeyState
	Failure *events.DecodeFailure
	Data    []byte
	Headers nats.Header
	Meta    Metadata
	msg     jetstream.Msg
}

// InProgress tells the server the handler is still working, resetting the ack deadline.
func (d Delivery) InProgress() error {
	if d.msg == nil {
		return nil
	}
	if err := d.msg.InProgress(); err != nil {
		return fmt.Errorf("mark in progress %s: %w", d.MsgID, err)
	}
	return nil
}

// Handler processes one delivery. nil acks it; an error redelivers it later (or dead-letters
// it: see ConsumerOptions.MaxDeliver and ErrPermanent). A handler must be idempotent: a message
// whose ack was lost is delivered again.
type Handler func(ctx context.Context, d Delivery) error

// ConsumeHandle controls a running Consume.
type ConsumeHandle interface {
	// Stop stops fetching; a delivery being handled finishes, buffered ones are redelivered
	// later (to this or another process).
	Stop()
	// Drain stops fetching and handles the buffered deliveries first.
	Drain()
	// Closed is closed when consumption has stopped and no handler is running.
	Closed() <-chan struct{}
}

type consumeHandle struct {
	cc      jetstream.ConsumeContext
	cancel  context.CancelFunc
	running sync.WaitGroup
	closed  chan struct{}
}

func (h *consumeHandle) Stop()                   { h.cc.Stop() }
func (h *consumeHandle) Drain()                  { h.cc.Drain() }
func (h *consumeHandle) Closed() <-chan struct{} { return h.closed }

var _ ConsumeHandle = (*consumeHandle)(nil)

// Consume starts handling deliveries one at a time until ctx ends or the handle is stopped.
// The handler's context ends when ctx does.
func (c *Consumer) Consume(ctx context.Context, handler Handler) (ConsumeHandle, error) {
	if handler == nil {
		return nil, errors.New("consume: nil handler")
	}
	hctx, cancel := context.WithCancel(ctx)
	h := &consumeHandle{cancel: cancel, closed: make(chan struct{})}
	cc, err := c.c.Consume(func(m jetstream.Msg) {
		h.running.Add(1)
		defer h.running.Done()
		c.handle(hctx, m, handler)
	},
		jetstream.PullMaxMessages(c.opts.FetchBatch),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			c.log.Debug().Err(err).Msg("consume")
		}))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("consume %s: %w", c.opts.Durable, err)
	}
	h.cc = cc
	go func() {
		select {
		case <-hctx.Done():
			cc.Stop()
		case <-cc.Closed():
		}
		<-cc.Closed()
		h.running.Wait()
		cancel()
		close(h.closed)
	}()
	return h, nil
}

func (c *Consumer) handle(ctx context.Context, m jetstream.Msg, handler Handler) {
	d, decErr := Decode(m)
	log := c.log.With().Str("subject", d.Subject).Str("msg_id", d.MsgID).Uint64("stream_seq", d.Meta.StreamSeq).
		Uint64("delivered", d.Meta.NumDelivered).Logger()
	if decErr != nil {
		c.deadLetter(ctx, m, d, decErr.Error(), log)
		return
	}
	err := callHandler(ctx, handler, d)
	if err == nil {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defaultTimeout)
		defer cancel()
		if aerr := m.DoubleAck(actx); aerr != nil {
			// The server redelivers after AckWait; the handler is idempotent.
			log.Warn().Err(aerr).Msg("ack not confirmed; the message may be delivered again")
		}
		return
	}
	if errors.Is(err, ErrPermanent) || d.Meta.NumDelivered >= uint64(c.opts.MaxDeliver) {
		c.deadLetter(ctx, m, d, err.Error(), log)
		return
	}
	delay := c.nakDelay(d.Meta.NumDelivered)
	log.Warn().Err(err).Dur("retry_in", delay).Msg("handler failed; redelivering later")
	if nerr := m.NakWithDelay(delay); nerr != nil {
		log.Warn().Err(nerr).Msg("nak failed; the server redelivers after the ack wait")
	}
}

func (c *Consumer) nakDelay(delivered uint64) time.Duration {
	i := int(delivered) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(c.opts.NakDelays) {
		i = len(c.opts.NakDelays) - 1
	}
	return c.opts.NakDelays[i]
}

func callHandler(ctx context.Context, handler Handler, d Delivery) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
		}
	}()
	return handler(ctx, d)
}

// deadLetter stores a copy of m on the dead-letter subject and then terminates m. If the copy
// cannot be stored, m is redelivered later instead.
func (c *Consumer) deadLetter(ctx context.Context, m jetstream.Msg, d Delivery, reason string, log zerolog.Logger) {
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	if c.opts.LogOnlyDeadLetters {
		log.Error().Str("reason", reason).Bytes("data", truncate(m.Data(), 4096)).Msg("dead letter: giving up on message")
		if err := m.TermWithReason("dead letter"); err != nil {
			log.Warn().Err(err).Msg("terminate dead letter")
		}
		return
	}
	chain := "unknown"
	if toks := strings.Split(m.Subject(), "."); len(toks) > 1 && toks[1] != "" {
		chain = toks[1]
	}
	dm := &nats.Msg{Subject: DeadLetterSubject(chain), Data: m.Data(), Header: nats.Header{}}
	for k, vs := range m.Headers() {
		if k == jetstream.MsgIDHeader {
			continue
		}
		dm.Header[k] = append([]string(nil), vs...)
	}
	dm.Header.Set(HeaderDeadSubject, m.Subject())
	dm.Header.Set(HeaderDeadReason, reason)
	dm.Header.Set(HeaderDeadStreamSeq, strconv.FormatUint(d.Meta.StreamSeq, 10))
	dm.Header.Set(HeaderDeadDeliveries, strconv.FormatUint(d.Meta.NumDelivered, 10))
	dm.Header.Set(HeaderDeadConsumer, c.opts.Durable)
	// One dead letter per (consumer, stream message), however often this runs.
	dm.Header.Set(jetstream.MsgIDHeader, "dead:"+c.opts.Durable+":"+strconv.FormatUint(d.Meta.StreamSeq, 10))
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defaultTimeout)
	defer cancel()
	if _, err := c.js.PublishMsg(pctx, dm, jetstream.WithExpectStream(DeadLetterStreamName)); err != nil {
		log.Warn().Err(err).Msg("store dead letter failed; redelivering later")
		if nerr := m.NakWithDelay(c.nakDelay(d.Meta.NumDelivered)); nerr != nil {
			log.Warn().Err(nerr).Msg("nak failed; the server redelivers after the ack wait")
		}
		return
	}
	log.Error().Str("reason", reason).Str("dead_subject", dm.Subject).Msg("dead letter: giving up on message")
	if err := m.TermWithReason("dead letter"); err != nil {
		log.Warn().Err(err).Msg("terminate dead letter")
	}
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// Decode turns a JetStream message into a Delivery. The Delivery is filled as far as possible
// even when an error (wrapping ErrInvalidMessage) is returned.
func Decode(m jetstream.Msg) (Delivery, error) {
	d := Delivery{Subject: m.Subject(), Data: m.Data(), Headers: m.Headers(), msg: m}
	if h := m.Headers(); h != nil {
		d.MsgID = h.Get(jetstream.MsgIDHeader)
	}
	if md, err := m.Metadata(); err == nil {
		d.Meta = Metadata{Stream: md.Stream, Consumer: md.Consumer, StreamSeq: md.Sequence.Stream,
			ConsumerSeq: md.Sequence.Consumer, NumDelivered: md.NumDelivered, NumPending: md.NumPending, Timestamp: md.Timestamp}
	}
	if err := d.decodeBody(); err != nil {
		return d, fmt.Errorf("decode %s: %w: %w", d.Subject, ErrInvalidMessage, err)
	}
	return d, nil
}

func (d *Delivery) decodeBody() error {
	toks := strings.Split(d.Subject, ".")
	if len(toks) < 3 || toks[0] != events.SubjectRoot {
		return errors.New("not a keywarden subject")
	}
	chain, err := strconv.ParseUint(toks[1], 10, 64)
	if err != nil {
		return fmt.Errorf("chain id %q: %w", toks[1], err)
	}
	d.ChainID = chain
	switch Class(toks[2]) {
	case ClassEvent, ClassRetraction:
		d.Class = Class(toks[2])
		var e events.Event
		if err := json.Unmarshal(d.Data, &e); err != nil {
			return err
		}
		if e.ChainID != chain {
			return fmt.Errorf("event of chain %d on a subject of chain %d", e.ChainID, chain)
		}
		if e.Removed != (d.Class == ClassRetraction) {
			return fmt.Errorf("removed=%t on a %s subject", e.Removed, d.Class)
		}
		if len(toks) != 4 || events.Kind(toks[3]) != e.Kind {
			return fmt.Errorf("event of kind %s on subject %s", e.Kind, d.Subject)
		}
		d.Event = &e
	case ClassState:
		d.Class = ClassState
		var k events.KeyState
		if err := strictJSON(d.Data, &k); err != nil {
			return err
		}
		if k.Schema != events.SchemaVersion {
			return fmt.Errorf("schema version %d, want %d", k.Schema, events.SchemaVersion)
		}
		d.State = &k
	case ClassFailure:
		d.Class = ClassFailure
		var f events.DecodeFailure
		if err := strictJSON(d.Data, &f); err != nil {
			return err
		}
		d.Failure = &f
	case ClassAudit:
		d.Class = ClassAudit
		if !json.Valid(d.Data) {
			return errors.New("audit record is not JSON")
		}
	default:
		return fmt.Errorf("unknown subject class %q", toks[2])
	}
	return nil
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
