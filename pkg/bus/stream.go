package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/keywarden/keywarden/pkg/events"
	"github.com/nats-io/nats.go/jetstream"
)

// DeadLetterStreamName is the stream that keeps dead-lettered messages.
const DeadLetterStreamName = events.StreamName + "_DEAD"

// DeadLetterSubject is where a consumer copies a message it gave up on.
func DeadLetterSubject(chainID string) string {
	return events.SubjectRoot + "." + chainID + ".dead"
}

// StreamOptions are the limits of the indexer's stream. The zero value is usable.
type StreamOptions struct {
	// Replicas; default 1 (set 3 on a cluster).
	Replicas int `yaml:"replicas" json:"replicas"`
	// Duplicates is the deduplication window; default 2h. A batch retried within it stores
	// nothing twice.
	Duplicates time.Duration `yaml:"duplicates" json:"duplicates"`
	// MaxAge, MaxBytes and MaxMsgs bound the stream; 0 means unlimited. The oldest messages are
	// discarded first.
	MaxAge   time.Duration `yaml:"max_age" json:"max_age"`
	MaxBytes int64         `yaml:"max_bytes" json:"max_bytes"`
	MaxMsgs  int64         `yaml:"max_msgs" json:"max_msgs"`
}

func (o StreamOptions) withDefaults() StreamOptions {
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.Duplicates <= 0 {
		o.Duplicates = 2 * time.Hour
	}
	if o.MaxAge > 0 && o.Duplicates > o.MaxAge {
		o.Duplicates = o.MaxAge // the server rejects a window longer than the age limit
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = -1
	}
	if o.MaxMsgs <= 0 {
		o.MaxMsgs = -1
	}
	return o
}

// StreamConfig is the configuration EnsureStream applies.
func StreamConfig(opts StreamOptions) jetstream.StreamConfig {
	o := opts.withDefaults()
	return jetstream.StreamConfig{
		Name:        events.StreamName,
		Description: "keywarden indexer events, retractions, key states and decode failures",
		Subjects:    append([]string(nil), events.StreamSubjects...),
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardOld,
		Replicas:    o.Replicas,
		Duplicates:  o.Duplicates,
		MaxAge:      o.MaxAge,
		MaxBytes:    o.MaxBytes,
		MaxMsgs:     o.MaxMsgs,
	}
}

// EnsureStream creates the events.StreamName stream, or updates it to opts when it exists.
func EnsureStream(ctx context.Context, js jetstream.JetStream, opts StreamOptions) (jetstream.Stream, error) {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	s, err := js.CreateOrUpdateStream(ctx, StreamConfig(opts))
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", events.StreamName, err)
	}
	return s, nil
}

// EnsureDeadLetterStream creates or updates the stream that keeps dead-lettered messages
// (subjects keywarden.*.dead, file storage, no limits but opts').
func EnsureDeadLetterStream(ctx context.Context, js jetstream.JetStream, opts StreamOptions) (jetstream.Stream, error) {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	o := opts.withDefaults()
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        DeadLetterStreamName,
		Description: "keywarden messages that consumers gave up on",
		Subjects:    []string{DeadLetterSubject("*")},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardOld,
		Replicas:    o.Replicas,
		MaxAge:      o.MaxAge,
		MaxBytes:    o.MaxBytes,
		MaxMsgs:     o.MaxMsgs,
	})
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", DeadLetterStreamName, err)
	}
	return s, nil
}

// defaultTimeout bounds a JetStream API call whose context has no deadline.
const defaultTimeout = 10 * time.Second

func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, defaultTimeout)
}
