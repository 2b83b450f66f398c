package store

import (
	"crypto/tls"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/rs/zerolog"

	"github.com/keywarden/keywarden/pkg/events"
)

// Options configure Open.
type Options struct {
	// Addrs are host:port of the native protocol (several for failover). Required.
	Addrs []string
	// Database holds keywarden's tables. Default "default".
	Database string
	// CreateDatabase creates Database first when it does not exist.
	CreateDatabase bool
	Username       string // default "default"
	Password       string // never logged
	// TLS enables TLS on the native protocol when non-nil.
	TLS *tls.Config
	// DialTimeout bounds one connection attempt. Default 10 s.
	DialTimeout time.Duration
	// ReadTimeout bounds waiting for one server reply. Default 2 min.
	ReadTimeout time.Duration
	// MaxOpenConns caps the pool. Default 8.
	MaxOpenConns int
	// Logger receives migration and connection messages. Default: discard.
	Logger zerolog.Logger
	// now is the clock of the version generator (tests only).
	now func() time.Time
}

// StatusRetracted is the key_state status of a key that a reorg erased entirely (every event
// that created it was retracted). KeyStates hides such rows unless asked.
const StatusRetracted events.KeyStatus = "retracted"

// StreamLogs is the checkpoint stream of the log indexer.
const StreamLogs = "logs"

// Block is a block of the unfinalised window, for reorg detection.
type Block struct {
	ChainID    uint64
	Number     uint64
	Hash       common.Hash
	ParentHash common.Hash
	Time       uint64 // unix seconds
	// Removed marks a height a reorg took off the chain without a replacement.
	Removed bool
}

// Account is what keywarden knows of one account on one chain.
type Account struct {
	ChainID uint64
	Account events.Address
	// InstalledPlugins are the watched Session Key Plugins the account has installed, sorted.
	InstalledPlugins []events.Address
	// Owners are the account's owners (Multi Owner plugin), sorted.
	Owners []events.Address
	// UpdatedBlock/UpdatedTime/LastEventID describe the last event that changed this account.
	UpdatedBlock uint64
	UpdatedTime  uint64
	LastEventID  string
}

// Installed reports whether plugin is among InstalledPlugins.
func (a Account) Installed(plugin events.Address) bool {
	for _, p := range a.InstalledPlugins {
		if p == plugin {
			return true
		}
	}
	return false
}

// KeyRef names one session key.
type KeyRef struct {
	ChainID    uint64
	Plugin     events.Address
	Account    events.Address
	SessionKey events.Address
}

// Checkpoint is the last block of a chain whose rows (and messages) are durable.
type Checkpoint struct {
	ChainID    uint64
	Stream     string // default StreamLogs
	Number     uint64
	Hash       common.Hash
	ParentHash common.Hash
	Time       uint64
}

// Batch is what one flush of the indexer writes. Within a batch, a later element with the same
// identity as an earlier one wins (for blocks: the same chain and number).
type Batch struct {
	// Version is the lowest version the batch's rows may get; leave 0 to let the store choose.
	// Every row of a batch gets the same version, above every version stored or issued before.
	Version uint64
	// Events are new events and retractions (Removed set) of stored ones. The rows of
	// permission_updates are derived from the PermissionsUpdated events among them.
	Events []events.Event
	// KeyStates are the new folded state of every key the batch changed.
	KeyStates []events.KeyState
	// RetractedKeys are keys a reorg erased entirely: each gets a row with StatusRetracted.
	RetractedKeys []KeyRef
	// Accounts are the new state of every account the batch changed.
	Accounts []Account
	// Blocks are block rows to keep (Removed set for a height that left the chain).
	Blocks []Block
	// Failures are logs that did not decode (Removed set when a reorg retracted one).
	Failures []events.DecodeFailure
}

// Empty reports whether b holds no row.
func (b Batch) Empty() bool {
	return len(b.Events) == 0 && len(b.KeyStates) == 0 && len(b.RetractedKeys) == 0 &&
		len(b.Accounts) == 0 && len(b.Blocks) == 0 && len(b.Failures) == 0
}

// EventFilter selects events. Zero fields do not filter.
type EventFilter struct {
	ChainID   uint64 // required
	FromBlock uint64
	// ToBlock is the last block included; nil for no upper bound (new(n) sets it).
	ToBlock  *uint64
	Accounts []events.Address
	// SessionKeys matches the event's session key or, for a rotation, either key.
	SessionKeys []events.Address
	Kinds       []events.Kind
	// Plugin matches the plugin the event is about (see the events.plugin column).
	Plugin events.Address
	// IncludeRemoved returns retracted events too (with Removed set).
	IncludeRemoved bool
	// VerifiedOnly drops events of accounts that had not installed the plugin.
	VerifiedOnly bool
	// Limit caps the number of events (0: no cap); they come in chain order.
	Limit int
	// Committed reads only what the chain's logs checkpoint covers: not the rows of a batch
	// written after the last SetCheckpoint (in flight, or cut short by a crash). Slower.
	Committed bool
}

// KeyFilter selects key states. Zero fields do not filter.
type KeyFilter struct {
	ChainID     uint64 // required
	Plugin      events.Address
	Accounts    []events.Address
	SessionKeys []events.Address
	Statuses    []events.KeyStatus
	// IncludeRetracted returns keys a reorg erased (StatusRetracted) too.
	IncludeRetracted bool
	// Committed reads only what the chain's logs checkpoint covers: not the rows of a batch
	// written after the last SetCheckpoint (in flight, or cut short by a crash). Slower.
	Committed bool
}

// AccountFilter selects accounts. Zero fields do not filter.
type AccountFilter struct {
	ChainID  uint64 // required
	Accounts []events.Address
	// Plugin keeps accounts that have it installed.
	Plugin events.Address
	// Committed reads only what the chain's logs checkpoint covers: not the rows of a batch
	// written after the last SetCheckpoint (in flight, or cut short by a crash). Slower.
	Committed bool
}

// FailureFilter selects decode failures. Zero fields do not filter.
type FailureFilter struct {
	ChainID   uint64 // required
	FromBlock uint64
	// ToBlock is the last block included; nil for no upper bound.
	ToBlock        *uint64
	Reasons        []string
	IncludeRemoved bool
	Limit          int
}
