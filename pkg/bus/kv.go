package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Default bucket names.
const (
	DefaultLockBucket   = "keywarden_locks"
	DefaultActionBucket = "keywarden_actions"
)

// KVKey turns parts (ids with ':' or other characters a key may not hold) into a valid
// key-value key: parts are joined with '.', and every byte outside [A-Za-z0-9_-] in a part is
// written as '=' and two hex digits, so distinct parts never map to the same key.
func KVKey(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('.')
		}
		if p == "" {
			b.WriteString("=")
			continue
		}
		for j := 0; j < len(p); j++ {
			c := p[j]
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
				b.WriteByte(c)
			default:
				fmt.Fprintf(&b, "=%02X", c)
			}
		}
	}
	return b.String()
}

// KVOptions configures a bucket. The zero value is usable.
type KVOptions struct {
	// Bucket name; defaults per store.
	Bucket string
	// Replicas; default 1.
	Replicas int
	// TTL removes entries this long after their last write; 0 keeps them. For the lock bucket it
	// is a safety net for locks left behind; lock expiry itself is per lock.
	TTL time.Duration
}

func ensureBucket(ctx context.Context, js jetstream.JetStream, o KVOptions, def, desc string) (jetstream.KeyValue, error) {
	if o.Bucket == "" {
		o.Bucket = def
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      o.Bucket,
		Description: desc,
		History:     1,
		TTL:         o.TTL,
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("ensure key-value bucket %s: %w", o.Bucket, err)
	}
	return kv, nil
}

// KeyLocker is what the enforcer needs for its per-key locks.
type KeyLocker interface {
	Acquire(ctx context.Context, key, owner string, ttl time.Duration) (*Lock, error)
}

var _ KeyLocker = (*Locker)(nil)

// Locker hands out exclusive, expiring locks stored in a JetStream key-value bucket.
type Locker struct {
	kv  jetstream.KeyValue
	now func() time.Time
}

// NewLocker creates (or opens) the lock bucket.
func NewLocker(ctx context.Context, js jetstream.JetStream, opts KVOptions) (*Locker, error) {
	kv, err := ensureBucket(ctx, js, opts, DefaultLockBucket, "keywarden per-key action locks")
	if err != nil {
		return nil, fmt.Errorf("create locker: %w", err)
	}
	return &Locker{kv: kv, now: time.Now}, nil
}

type lockRecord struct {
	Owner     string `json:"owner"`
	ExpiresAt int64  `json:"expires_at_ms"`
}

// Lock is a held lock. It is not safe for concurrent use.
type Lock struct {
	l         *Locker
	name      string // as the caller gave it
	key       string // in the bucket (KVKey(name))
	owner     string
	rev       uint64
	expiresAt time.Time
}

// Key, Owner, Revision and ExpiresAt describe the lock.
func (k *Lock) Key() string          { return k.name }
func (k *Lock) Owner() string        { return k.owner }
func (k *Lock) Revision() uint64     { return k.rev }
func (k *Lock) ExpiresAt() time.Time { return k.expiresAt }

// HeldError is the ErrLockHeld returned by Acquire, with the current holder.
type HeldError struct {
	Key       string
	Owner     string
	ExpiresAt time.Time
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("acquire lock %s: held by %s until %s", e.Key, e.Owner, e.ExpiresAt.UTC().Format(time.RFC3339Nano))
}

// Is makes errors.Is(err, ErrLockHeld) true.
func (e *HeldError) Is(target error) bool { return target == ErrLockHeld }

// Acquire takes the lock on key (any characters: it goes through KVKey) for owner until ttl from now. It fails with an error matching
// ErrLockHeld (a *HeldError) while another unexpired holder has it, whoever the owner is: locks
// are not reentrant. An expired lock is taken over with a compare-and-set, so of several
// processes trying at once one wins.
func (l *Locker) Acquire(ctx context.Context, name, owner string, ttl time.Duration) (*Lock, error) {
	key := KVKey(name)
	if ttl <= 0 {
		return nil, fmt.Errorf("acquire lock %s: ttl must be positive", name)
	}
	if owner == "" {
		return nil, fmt.Errorf("acquire lock %s: owner is required", name)
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	for attempt := 0; attempt < 3; attempt++ {
		exp := l.now().Add(ttl)
		val, _ := json.Marshal(lockRecord{Owner: owner, ExpiresAt: exp.UnixMilli()})
		rev, err := l.kv.Create(ctx, key, val)
		if err == nil {
			return &Lock{l: l, name: name, key: key, owner: owner, rev: rev, expiresAt: exp}, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("acquire lock %s: %w", name, err)
		}
		e, err := l.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // released in between: try to create again
		}
		if err != nil {
			return nil, fmt.Errorf("acquire lock %s: read holder: %w", name, err)
		}
		var cur lockRecord
		if json.Unmarshal(e.Value(), &cur) == nil && l.now().UnixMilli() < cur.ExpiresAt {
			return nil, &HeldError{Key: name, Owner: cur.Owner, ExpiresAt: time.UnixMilli(cur.ExpiresAt)}
		}
		// Expired (or unreadable): take it over if nobody else did meanwhile.
		rev, err = l.kv.Update(ctx, key, val, e.Revision())
		if err == nil {
			return &Lock{l: l, name: name, key: key, owner: owner, rev: rev, expiresAt: exp}, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("acquire lock %s: take over: %w", name, err)
		}
		// Someone else wrote first: look again.
	}
	e, err := l.kv.Get(ctx, key)
	if err == nil {
		var cur lockRecord
		if json.Unmarshal(e.Value(), &cur) == nil {
			return nil, &HeldError{Key: name, Owner: cur.Owner, ExpiresAt: time.UnixMilli(cur.ExpiresAt)}
		}
	}
	return nil, &HeldError{Key: name}
}

// Refresh extends the lock to ttl from now. It fails with ErrLockLost if the lock was taken over
// or released since this Lock last wrote it.
func (k *Lock) Refresh(ctx context.Context, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("refresh lock %s: ttl must be positive", k.name)
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	exp := k.l.now().Add(ttl)
	val, _ := json.Marshal(lockRecord{Owner: k.owner, ExpiresAt: exp.UnixMilli()})
	rev, err := k.l.kv.Update(ctx, k.key, val, k.rev)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("refresh lock %s: %w", k.name, ErrLockLost)
		}
		return fmt.Errorf("refresh lock %s: %w", k.name, err)
	}
	k.rev, k.expiresAt = rev, exp
	return nil
}

// Release deletes the lock if this Lock still holds it; ErrLockLost otherwise.
func (k *Lock) Release(ctx context.Context) error {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	err := k.l.kv.Delete(ctx, k.key, jetstream.LastRevision(k.rev))
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) ||
			(errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
				apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)) {
			return fmt.Errorf("release lock %s: %w", k.name, ErrLockLost)
		}
		return fmt.Errorf("release lock %s: %w", k.name, err)
	}
	return nil
}

// ActionRecorder is what the enforcer needs for action idempotence.
type ActionRecorder interface {
	PutIfAbsent(ctx context.Context, actionID string, record []byte) (created bool, err error)
}

var _ ActionRecorder = (*ActionStore)(nil)

// ActionStore keeps one record per action id in a key-value bucket.
type ActionStore struct{ kv jetstream.KeyValue }

// NewActionStore creates (or opens) the action bucket.
func NewActionStore(ctx context.Context, js jetstream.JetStream, opts KVOptions) (*ActionStore, error) {
	kv, err := ensureBucket(ctx, js, opts, DefaultActionBucket, "keywarden action records by deterministic action id")
	if err != nil {
		return nil, fmt.Errorf("create action store: %w", err)
	}
	return &ActionStore{kv: kv}, nil
}

// PutIfAbsent stores record under actionID unless a record exists. created is true for exactly
// one of several concurrent callers. The id may hold any characters (it goes through KVKey).
func (s *ActionStore) PutIfAbsent(ctx context.Context, actionID string, record []byte) (bool, error) {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	_, err := s.kv.Create(ctx, KVKey(actionID), record)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		return false, nil
	}
	return false, fmt.Errorf("record action %s: %w", actionID, err)
}

// Get returns the record of actionID and its revision, or ErrNotFound.
func (s *ActionStore) Get(ctx context.Context, actionID string) ([]byte, uint64, error) {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	e, err := s.kv.Get(ctx, KVKey(actionID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, fmt.Errorf("get action %s: %w", actionID, ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get action %s: %w", actionID, err)
	}
	return e.Value(), e.Revision(), nil
}

// Update replaces the record of actionID if its revision is still rev (ErrRevisionMismatch
// otherwise), and returns the new revision. Use it to move an action through its outcomes.
func (s *ActionStore) Update(ctx context.Context, actionID string, record []byte, rev uint64) (uint64, error) {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	n, err := s.kv.Update(ctx, KVKey(actionID), record, rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return 0, fmt.Errorf("update action %s: %w", actionID, ErrRevisionMismatch)
	}
	if err != nil {
		return 0, fmt.Errorf("update action %s: %w", actionID, err)
	}
	return n, nil
}
