package ingest

import (
	"bytes"
	"errors"
	"math/big"
	"slices"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/keywarden/keywarden/pkg/events"
)

// Filter says which logs of a chain keywarden watches:
//   - the four Session Key Plugin events, emitted by any of Plugins;
//   - PluginInstalled and PluginUninstalled emitted by any account, with topic1 = one of Plugins;
//   - OwnerUpdated emitted by MultiOwner (if set);
//   - UserOperationEvent emitted by EntryPoint (if set).
type Filter struct {
	Plugins    []common.Address
	MultiOwner common.Address
	EntryPoint common.Address
}

// DefaultFilter watches both live Session Key Plugin versions and the Multi Owner plugin, at
// their canonical addresses; not the EntryPoint.
func DefaultFilter() Filter {
	return Filter{
		Plugins:    []common.Address{common.Address(events.SessionKeyPluginV101), common.Address(events.SessionKeyPluginV100)},
		MultiOwner: common.Address(events.MultiOwnerPlugin),
	}
}

var pluginTopics = []common.Hash{events.TopicSessionKeyAdded, events.TopicSessionKeyRemoved,
	events.TopicSessionKeyRotated, events.TopicPermissionsUpdated}

var installTopics = []common.Hash{events.TopicPluginInstalled, events.TopicPluginUninstalled}

// Validate reports a filter that would watch nothing useful.
func (f Filter) Validate() error {
	if len(f.Plugins) == 0 {
		return errors.New("validate filter: no session key plugin address")
	}
	for _, a := range f.Plugins {
		if a == (common.Address{}) {
			return errors.New("validate filter: zero plugin address")
		}
	}
	return nil
}

// emitterQuery selects by emitter address: plugin events, OwnerUpdated, UserOperationEvent.
// A provider ANDs address and topic0, so a plugin emitting OwnerUpdated would also match:
// Match removes such crossings.
func (f Filter) emitterQuery() ethereum.FilterQuery {
	addrs := slices.Clone(f.Plugins)
	topics := slices.Clone(pluginTopics)
	if f.MultiOwner != (common.Address{}) {
		addrs = append(addrs, f.MultiOwner)
		topics = append(topics, events.TopicOwnerUpdated)
	}
	if f.EntryPoint != (common.Address{}) {
		addrs = append(addrs, f.EntryPoint)
		topics = append(topics, events.TopicUserOperationEvent)
	}
	return ethereum.FilterQuery{Addresses: addrs, Topics: [][]common.Hash{topics}}
}

// installQuery selects PluginInstalled/PluginUninstalled of a watched plugin from any account.
func (f Filter) installQuery() ethereum.FilterQuery {
	var plugins []common.Hash
	for _, a := range f.Plugins {
		plugins = append(plugins, common.BytesToHash(a.Bytes()))
	}
	return ethereum.FilterQuery{Topics: [][]common.Hash{installTopics, plugins}}
}

// Queries are the eth_getLogs queries for blocks [from, to]; their union, passed through
// Match, is what the filter watches.
func (f Filter) Queries(from, to uint64) []ethereum.FilterQuery {
	qs := []ethereum.FilterQuery{f.emitterQuery(), f.installQuery()}
	for i := range qs {
		qs[i].FromBlock = new(big.Int).SetUint64(from)
		qs[i].ToBlock = new(big.Int).SetUint64(to)
	}
	return qs
}

// QueriesAt are the queries for the one block with the given hash.
func (f Filter) QueriesAt(hash common.Hash) []ethereum.FilterQuery {
	qs := []ethereum.FilterQuery{f.emitterQuery(), f.installQuery()}
	for i := range qs {
		h := hash
		qs[i].BlockHash = &h
	}
	return qs
}

// Match reports whether l is a log the filter watches.
func (f Filter) Match(l *types.Log) bool {
	if len(l.Topics) == 0 {
		return false
	}
	t0 := l.Topics[0]
	switch {
	case slices.Contains(pluginTopics, t0):
		return slices.Contains(f.Plugins, l.Address)
	case slices.Contains(installTopics, t0):
		return len(l.Topics) > 1 && isAddressTopic(l.Topics[1]) &&
			slices.Contains(f.Plugins, common.BytesToAddress(l.Topics[1].Bytes()))
	case t0 == events.TopicOwnerUpdated:
		return f.MultiOwner != (common.Address{}) && l.Address == f.MultiOwner
	case t0 == events.TopicUserOperationEvent:
		return f.EntryPoint != (common.Address{}) && l.Address == f.EntryPoint
	}
	return false
}

func isAddressTopic(h common.Hash) bool { return bytes.Equal(h[:12], make([]byte, 12)) }

// MayMatch reports whether a block with this bloom can hold a watched log. A bloom has no
// false negatives, so false means the block certainly holds none.
func (f Filter) MayMatch(b types.Bloom) bool {
	in := func(x []byte) bool { return types.BloomLookup(b, bytesLookup(x)) }
	for _, t := range pluginTopics {
		if in(t[:]) {
			for _, a := range f.Plugins {
				if in(a[:]) {
					return true
				}
			}
		}
	}
	for _, t := range installTopics {
		if in(t[:]) {
			for _, a := range f.Plugins {
				if in(common.BytesToHash(a[:]).Bytes()) {
					return true
				}
			}
		}
	}
	if f.MultiOwner != (common.Address{}) && in(events.TopicOwnerUpdated[:]) && in(f.MultiOwner[:]) {
		return true
	}
	if f.EntryPoint != (common.Address{}) && in(events.TopicUserOperationEvent[:]) && in(f.EntryPoint[:]) {
		return true
	}
	return false
}

type bytesLookup []byte

func (b bytesLookup) Bytes() []byte { return b }
