package indexer

import (
	"sort"

	"github.com/keywarden/keywarden/pkg/events"
	"github.com/keywarden/keywarden/pkg/store"
)

// AccountState is what keywarden knows of one account on one chain: which of the watched
// Session Key Plugins it has installed, and who owns it (the Multi Owner plugin's
// OwnerUpdated). The enforcer can act on an account only while it is one of the owners.
type AccountState struct {
	ChainID uint64         `json:"chain_id"`
	Account events.Address `json:"account"`
	// Plugins are the watched Session Key Plugins installed, sorted.
	Plugins []events.Address `json:"plugins"`
	// Owners are the current owners, sorted.
	Owners []events.Address `json:"owners"`
	// UpdatedBlock/UpdatedTime/LastEventID describe the last event that changed this state.
	UpdatedBlock uint64 `json:"updated_block"`
	UpdatedTime  uint64 `json:"updated_time"`
	LastEventID  string `json:"last_event_id"`
}

// Installed reports whether plugin is installed on the account.
func (a AccountState) Installed(plugin events.Address) bool {
	for _, p := range a.Plugins {
		if p == plugin {
			return true
		}
	}
	return false
}

// row is the storage form.
func (a AccountState) row() store.Account {
	c := a.clone()
	return store.Account{ChainID: c.ChainID, Account: c.Account, InstalledPlugins: c.Plugins, Owners: c.Owners,
		UpdatedBlock: c.UpdatedBlock, UpdatedTime: c.UpdatedTime, LastEventID: c.LastEventID}
}

func (a AccountState) clone() AccountState {
	c := a
	c.Plugins = append([]events.Address{}, a.Plugins...)
	c.Owners = append([]events.Address{}, a.Owners...)
	return c
}

func sortAddrs(s []events.Address) {
	sort.Slice(s, func(i, j int) bool { return string(s[i][:]) < string(s[j][:]) })
}

func addAddr(s []events.Address, a events.Address) []events.Address {
	for _, x := range s {
		if x == a {
			return s
		}
	}
	s = append(s, a)
	sortAddrs(s)
	return s
}

func delAddr(s []events.Address, a events.Address) []events.Address {
	for i, x := range s {
		if x == a {
			return append(s[:i], s[i+1:]...)
		}
	}
	return s
}

// apply folds one account-level event; it reports whether the state changed.
func (a *AccountState) apply(e events.Event) bool {
	changed := false
	switch p := e.Payload.(type) {
	case events.PluginInstalled:
		if !a.Installed(p.Plugin) {
			a.Plugins = addAddr(a.Plugins, p.Plugin)
			changed = true
		}
	case events.PluginUninstalled:
		if a.Installed(p.Plugin) {
			a.Plugins = delAddr(a.Plugins, p.Plugin)
			changed = true
		}
	case events.OwnerUpdated:
		for _, o := range p.AddedOwners {
			a.Owners = addAddr(a.Owners, o)
		}
		for _, o := range p.RemovedOwners {
			a.Owners = delAddr(a.Owners, o)
		}
		changed = true
	}
	if changed {
		a.UpdatedBlock, a.UpdatedTime, a.LastEventID = e.BlockNumber, e.BlockTime, e.ID()
	}
	return changed
}
