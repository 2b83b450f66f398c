package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/keywarden/keywarden/pkg/events"
)

// Each table has a row struct whose `ch` tags name its columns; INSERT and SELECT column
// lists come from the tags, so a row type and its SQL cannot drift apart.

type eventRow struct {
	ChainID     uint64 `ch:"chain_id"`
	BlockNumber uint64 `ch:"block_number"`
	BlockHash   string `ch:"block_hash"`
	LogIndex    uint64 `ch:"log_index"`
	ParentHash  string `ch:"parent_hash"`
	BlockTime   uint64 `ch:"block_time"`
	TxHash      string `ch:"tx_hash"`
	TxIndex     uint64 `ch:"tx_index"`
	Kind        string `ch:"kind"`
	Emitter     string `ch:"emitter"`
	Plugin      string `ch:"plugin"`
	Account     string `ch:"account"`
	SessionKey  string `ch:"session_key"`
	OtherKey    string `ch:"other_key"`
	Tag         string `ch:"tag"`
	Verified    uint8  `ch:"verified"`
	Removed     uint8  `ch:"removed"`
	Schema      uint16 `ch:"schema"`
	Payload     string `ch:"payload"`
	Version     uint64 `ch:"version"`
}

type updateRow struct {
	ChainID           uint64 `ch:"chain_id"`
	BlockNumber       uint64 `ch:"block_number"`
	BlockHash         string `ch:"block_hash"`
	LogIndex          uint64 `ch:"log_index"`
	UpdateIndex       uint32 `ch:"update_index"`
	BlockTime         uint64 `ch:"block_time"`
	TxHash            string `ch:"tx_hash"`
	Plugin            string `ch:"plugin"`
	Account           string `ch:"account"`
	SessionKey        string `ch:"session_key"`
	Kind              string `ch:"kind"`
	Selector          string `ch:"selector"`
	AccessControlType uint8  `ch:"access_control_type"`
	Target            string `ch:"target"`
	IsOnList          uint8  `ch:"is_on_list"`
	CheckSelectors    uint8  `ch:"check_selectors"`
	FunctionSelector  string `ch:"function_selector"`
	ValidAfter        uint64 `ch:"valid_after"`
	ValidUntil        uint64 `ch:"valid_until"`
	Token             string `ch:"token"`
	SpendLimit        string `ch:"spend_limit"`
	RefreshInterval   uint64 `ch:"refresh_interval"`
	Paymaster         string `ch:"paymaster"`
	UnknownReason     string `ch:"unknown_reason"`
	Raw               string `ch:"raw"`
	Verified          uint8  `ch:"verified"`
	Removed           uint8  `ch:"removed"`
	Version           uint64 `ch:"version"`
}

type keyStateRow struct {
	ChainID               uint64   `ch:"chain_id"`
	Plugin                string   `ch:"plugin"`
	Account               string   `ch:"account"`
	SessionKey            string   `ch:"session_key"`
	Status                string   `ch:"status"`
	Tag                   string   `ch:"tag"`
	Verified              uint8    `ch:"verified"`
	RotatedFrom           string   `ch:"rotated_from"`
	RotatedTo             string   `ch:"rotated_to"`
	AccessControlType     uint8    `ch:"access_control_type"`
	AccessTarget          []string `ch:"access_target"`
	AccessIsOnList        []uint8  `ch:"access_is_on_list"`
	AccessCheckSelectors  []uint8  `ch:"access_check_selectors"`
	FunctionTarget        []string `ch:"function_target"`
	FunctionSelector      []string `ch:"function_selector"`
	FunctionIsOnList      []uint8  `ch:"function_is_on_list"`
	ValidAfter            uint64   `ch:"valid_after"`
	ValidUntil            uint64   `ch:"valid_until"`
	NativeHasLimit        uint8    `ch:"native_has_limit"`
	NativeLimit           string   `ch:"native_limit"`
	NativeRefreshInterval uint64   `ch:"native_refresh_interval"`
	NativeLastUsedTime    uint64   `ch:"native_last_used_time"`
	ERC20Token            []string `ch:"erc20_token"`
	ERC20HasLimit         []uint8  `ch:"erc20_has_limit"`
	ERC20Limit            []string `ch:"erc20_limit"`
	ERC20RefreshInterval  []uint64 `ch:"erc20_refresh_interval"`
	ERC20LastUsedTime     []uint64 `ch:"erc20_last_used_time"`
	GasHasLimit           uint8    `ch:"gas_has_limit"`
	GasLimit              string   `ch:"gas_limit"`
	GasRefreshInterval    uint64   `ch:"gas_refresh_interval"`
	GasLastUsedTime       uint64   `ch:"gas_last_used_time"`
	RequiredPaymaster     string   `ch:"required_paymaster"`
	AddedBlock            uint64   `ch:"added_block"`
	AddedTime             uint64   `ch:"added_time"`
	UpdatedBlock          uint64   `ch:"updated_block"`
	UpdatedTime           uint64   `ch:"updated_time"`
	LastEventID           string   `ch:"last_event_id"`
	Schema                uint16   `ch:"schema"`
	Version               uint64   `ch:"version"`
}

type accountRow struct {
	ChainID          uint64   `ch:"chain_id"`
	Account          string   `ch:"account"`
	InstalledPlugins []string `ch:"installed_plugins"`
	Owners           []string `ch:"owners"`
	UpdatedBlock     uint64   `ch:"updated_block"`
	UpdatedTime      uint64   `ch:"updated_time"`
	LastEventID      string   `ch:"last_event_id"`
	Version          uint64   `ch:"version"`
}

type blockRow struct {
	ChainID    uint64 `ch:"chain_id"`
	Number     uint64 `ch:"number"`
	Hash       string `ch:"hash"`
	ParentHash string `ch:"parent_hash"`
	Time       uint64 `ch:"time"`
	Removed    uint8  `ch:"removed"`
	Version    uint64 `ch:"version"`
}

type checkpointRow struct {
	ChainID    uint64 `ch:"chain_id"`
	Stream     string `ch:"stream"`
	Number     uint64 `ch:"number"`
	Hash       string `ch:"hash"`
	ParentHash string `ch:"parent_hash"`
	Time       uint64 `ch:"time"`
	Version    uint64 `ch:"version"`
}

type failureRow struct {
	ChainID     uint64   `ch:"chain_id"`
	BlockNumber uint64   `ch:"block_number"`
	BlockHash   string   `ch:"block_hash"`
	LogIndex    uint64   `ch:"log_index"`
	ParentHash  string   `ch:"parent_hash"`
	BlockTime   uint64   `ch:"block_time"`
	TxHash      string   `ch:"tx_hash"`
	TxIndex     uint64   `ch:"tx_index"`
	Emitter     string   `ch:"emitter"`
	Topics      []string `ch:"topics"`
	Data        string   `ch:"data"`
	Reason      string   `ch:"reason"`
	Error       string   `ch:"error"`
	Removed     uint8    `ch:"removed"`
	Schema      uint16   `ch:"schema"`
	Version     uint64   `ch:"version"`
}

// table ties a table name to its row type and its sorting key (the row identity).
type table struct {
	name    string
	columns []string
	keys    []string
}

func newTable(name string, row any, keys ...string) table {
	t := reflect.TypeOf(row)
	cols := make([]string, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		cols = append(cols, t.Field(i).Tag.Get("ch"))
	}
	return table{name: name, columns: cols, keys: keys}
}

var (
	tblEvents      = newTable("events", eventRow{}, "chain_id", "block_number", "block_hash", "log_index")
	tblUpdates     = newTable("permission_updates", updateRow{}, "chain_id", "block_number", "block_hash", "log_index", "update_index")
	tblKeyState    = newTable("key_state", keyStateRow{}, "chain_id", "plugin", "account", "session_key")
	tblAccounts    = newTable("accounts", accountRow{}, "chain_id", "account")
	tblBlocks      = newTable("blocks", blockRow{}, "chain_id", "number")
	tblCheckpoints = newTable("checkpoints", checkpointRow{}, "chain_id", "stream")
	tblFailures    = newTable("decode_failures", failureRow{}, "chain_id", "block_number", "block_hash", "log_index")
)

// insertSQL names every column: clickhouse-go needs that to talk to ClickHouse 18.16.
func (t table) insertSQL() string {
	return "INSERT INTO " + t.name + " (" + strings.Join(t.columns, ", ") + ")"
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func parseAddr(col, s string) (events.Address, error) {
	a, err := events.ParseAddress(s)
	if err != nil {
		return events.Address{}, fmt.Errorf("column %s: %w", col, err)
	}
	return a, nil
}

func parseHash(col, s string) (common.Hash, error) {
	b, err := hexutil.Decode(s)
	if err != nil || len(b) != common.HashLength {
		return common.Hash{}, fmt.Errorf("column %s: %q is not a 0x-prefixed 32-byte hash", col, s)
	}
	return common.BytesToHash(b), nil
}

func parseU256(col, s string) (events.U256, error) {
	u, err := events.ParseU256(s)
	if err != nil {
		return events.U256{}, fmt.Errorf("column %s: %w", col, err)
	}
	return u, nil
}

func toEventRow(e events.Event, version uint64) (eventRow, error) {
	if e.Payload == nil {
		return eventRow{}, fmt.Errorf("event %s: no payload", e.ID())
	}
	payload, err := json.Marshal(e)
	if err != nil {
		return eventRow{}, fmt.Errorf("encode event %s: %w", e.ID(), err)
	}
	r := eventRow{
		ChainID: e.ChainID, BlockNumber: e.BlockNumber, BlockHash: e.BlockHash.Hex(), LogIndex: e.LogIndex,
		ParentHash: e.ParentHash.Hex(), BlockTime: e.BlockTime, TxHash: e.TxHash.Hex(), TxIndex: e.TxIndex,
		Kind: string(e.Payload.Kind()), Emitter: e.Emitter.Hex(), Account: e.Account().Hex(),
		Verified: b2u(e.Verified), Removed: b2u(e.Removed), Schema: events.SchemaVersion,
		Payload: string(payload), Version: version,
	}
	if e.Payload.Kind().IsPluginEvent() {
		r.Plugin = e.Emitter.Hex()
	}
	switch p := e.Payload.(type) {
	case events.SessionKeyAdded:
		r.SessionKey, r.Tag = p.SessionKey.Hex(), p.Tag.Hex()
	case events.SessionKeyRemoved:
		r.SessionKey = p.SessionKey.Hex()
	case events.SessionKeyRotated:
		r.SessionKey, r.OtherKey = p.OldSessionKey.Hex(), p.NewSessionKey.Hex()
	case events.PermissionsUpdated:
		r.SessionKey = p.SessionKey.Hex()
	case events.PluginInstalled:
		r.Plugin = p.Plugin.Hex()
	case events.PluginUninstalled:
		r.Plugin = p.Plugin.Hex()
	}
	return r, nil
}

func fromEventRow(r eventRow) (events.Event, error) {
	var e events.Event
	if err := json.Unmarshal([]byte(r.Payload), &e); err != nil {
		return events.Event{}, fmt.Errorf("decode stored event %d:%s:%d: %w", r.ChainID, r.BlockHash, r.LogIndex, err)
	}
	// The columns are the truth for what a later version changed.
	e.Removed, e.Verified = r.Removed != 0, r.Verified != 0
	return e, nil
}

// toUpdateRows derives the permission_updates rows of a PermissionsUpdated event.
func toUpdateRows(e events.Event, version uint64) []updateRow {
	p, ok := e.Payload.(events.PermissionsUpdated)
	if !ok {
		return nil
	}
	rows := make([]updateRow, 0, len(p.Updates))
	for i, u := range p.Updates {
		r := updateRow{
			ChainID: e.ChainID, BlockNumber: e.BlockNumber, BlockHash: e.BlockHash.Hex(), LogIndex: e.LogIndex,
			UpdateIndex: uint32(i), BlockTime: e.BlockTime, TxHash: e.TxHash.Hex(), Plugin: e.Emitter.Hex(),
			Account: p.Account.Hex(), SessionKey: p.SessionKey.Hex(), Kind: string(u.UpdateKind()),
			Selector: u.Selector().String(), Raw: hexutil.Encode(u.Encode()),
			Verified: b2u(e.Verified), Removed: b2u(e.Removed), Version: version,
		}
		switch u := u.(type) {
		case events.SetAccessListType:
			r.AccessControlType = uint8(u.Type)
		case events.UpdateAccessListAddressEntry:
			r.Target, r.IsOnList, r.CheckSelectors = u.Target.Hex(), b2u(u.IsOnList), b2u(u.CheckSelectors)
		case events.UpdateAccessListFunctionEntry:
			r.Target, r.FunctionSelector, r.IsOnList = u.Target.Hex(), u.Function.String(), b2u(u.IsOnList)
		case events.UpdateTimeRange:
			r.ValidAfter, r.ValidUntil = u.ValidAfter, u.ValidUntil
		case events.SetNativeTokenSpendLimit:
			r.SpendLimit, r.RefreshInterval = u.Limit.String(), u.RefreshInterval
		case events.SetERC20SpendLimit:
			r.Token, r.SpendLimit, r.RefreshInterval = u.Token.Hex(), u.Limit.String(), u.RefreshInterval
		case events.SetGasSpendLimit:
			r.SpendLimit, r.RefreshInterval = u.Limit.String(), u.RefreshInterval
		case events.SetRequiredPaymaster:
			r.Paymaster = u.Paymaster.Hex()
		case events.UnknownUpdate:
			r.UnknownReason = u.Reason
		}
		rows = append(rows, r)
	}
	return rows
}

// toKeyStateRow maps every field of k; fromKeyStateRow is its exact inverse.
func toKeyStateRow(k events.KeyState, version uint64) keyStateRow {
	p := k.Permissions
	r := keyStateRow{
		ChainID: k.ChainID, Plugin: k.Plugin.Hex(), Account: k.Account.Hex(), SessionKey: k.SessionKey.Hex(),
		Status: string(k.Status), Tag: k.Tag.Hex(), Verified: b2u(k.Verified),
		RotatedFrom: k.RotatedFrom.Hex(), RotatedTo: k.RotatedTo.Hex(),
		AccessControlType: uint8(p.AccessControlType),
		AccessTarget:      make([]string, len(p.AccessList)), AccessIsOnList: make([]uint8, len(p.AccessList)),
		AccessCheckSelectors: make([]uint8, len(p.AccessList)),
		FunctionTarget:       make([]string, len(p.FunctionList)), FunctionSelector: make([]string, len(p.FunctionList)),
		FunctionIsOnList: make([]uint8, len(p.FunctionList)),
		ValidAfter:       p.ValidAfter, ValidUntil: p.ValidUntil,
		NativeHasLimit: b2u(p.NativeLimit.HasLimit), NativeLimit: p.NativeLimit.Limit.String(),
		NativeRefreshInterval: p.NativeLimit.RefreshInterval, NativeLastUsedTime: p.NativeLimit.LastUsedTime,
		ERC20Token: make([]string, len(p.ERC20Limits)), ERC20HasLimit: make([]uint8, len(p.ERC20Limits)),
		ERC20Limit: make([]string, len(p.ERC20Limits)), ERC20RefreshInterval: make([]uint64, len(p.ERC20Limits)),
		ERC20LastUsedTime: make([]uint64, len(p.ERC20Limits)),
		GasHasLimit:       b2u(p.GasLimit.HasLimit), GasLimit: p.GasLimit.Limit.String(),
		GasRefreshInterval: p.GasLimit.RefreshInterval, GasLastUsedTime: p.GasLimit.LastUsedTime,
		RequiredPaymaster: p.RequiredPaymaster.Hex(),
		AddedBlock:        k.AddedBlock, AddedTime: k.AddedTime, UpdatedBlock: k.UpdatedBlock, UpdatedTime: k.UpdatedTime,
		LastEventID: k.LastEventID, Schema: uint16(k.Schema), Version: version,
	}
	for i, a := range p.AccessList {
		r.AccessTarget[i], r.AccessIsOnList[i], r.AccessCheckSelectors[i] = a.Target.Hex(), b2u(a.IsOnList), b2u(a.CheckSelectors)
	}
	for i, f := range p.FunctionList {
		r.FunctionTarget[i], r.FunctionSelector[i], r.FunctionIsOnList[i] = f.Target.Hex(), f.Selector.String(), b2u(f.IsOnList)
	}
	for i, t := range p.ERC20Limits {
		r.ERC20Token[i], r.ERC20HasLimit[i], r.ERC20Limit[i] = t.Token.Hex(), b2u(t.HasLimit), t.Limit.String()
		r.ERC20RefreshInterval[i], r.ERC20LastUsedTime[i] = t.RefreshInterval, t.LastUsedTime
	}
	return r
}

// retractedKeyRow is the row that hides a key a reorg erased.
func retractedKeyRow(k KeyRef, version uint64) keyStateRow {
	return toKeyStateRow(events.KeyState{Schema: events.SchemaVersion, ChainID: k.ChainID, Plugin: k.Plugin,
		Account: k.Account, SessionKey: k.SessionKey, Status: StatusRetracted,
		Permissions: events.DefaultPermissions()}, version)
}

func fromKeyStateRow(r keyStateRow) (events.KeyState, error) {
	var errs []error
	addr := func(col, s string) events.Address {
		a, err := parseAddr(col, s)
		if err != nil {
			errs = append(errs, err)
		}
		return a
	}
	u256 := func(col, s string) events.U256 {
		u, err := parseU256(col, s)
		if err != nil {
			errs = append(errs, err)
		}
		return u
	}
	sel := func(col, s string) events.Selector {
		var x events.Selector
		if err := x.UnmarshalText([]byte(s)); err != nil {
			errs = append(errs, fmt.Errorf("column %s: %w", col, err))
		}
		return x
	}
	tag, err := parseHash("tag", r.Tag)
	if err != nil {
		errs = append(errs, err)
	}
	if len(r.AccessIsOnList) != len(r.AccessTarget) || len(r.AccessCheckSelectors) != len(r.AccessTarget) ||
		len(r.FunctionSelector) != len(r.FunctionTarget) || len(r.FunctionIsOnList) != len(r.FunctionTarget) ||
		len(r.ERC20HasLimit) != len(r.ERC20Token) || len(r.ERC20Limit) != len(r.ERC20Token) ||
		len(r.ERC20RefreshInterval) != len(r.ERC20Token) || len(r.ERC20LastUsedTime) != len(r.ERC20Token) {
		errs = append(errs, fmt.Errorf("parallel arrays of different lengths"))
	}
	k := events.KeyState{
		Schema: int(r.Schema), ChainID: r.ChainID, Plugin: addr("plugin", r.Plugin), Account: addr("account", r.Account),
		SessionKey: addr("session_key", r.SessionKey), Status: events.KeyStatus(r.Status), Tag: tag,
		Verified: r.Verified != 0, RotatedFrom: addr("rotated_from", r.RotatedFrom), RotatedTo: addr("rotated_to", r.RotatedTo),
		Permissions: events.Permissions{
			AccessControlType: events.AccessControlType(r.AccessControlType),
			AccessList:        make([]events.AccessEntry, 0, len(r.AccessTarget)),
			FunctionList:      make([]events.FunctionEntry, 0, len(r.FunctionTarget)),
			ValidAfter:        r.ValidAfter, ValidUntil: r.ValidUntil,
			NativeLimit: events.SpendLimit{HasLimit: r.NativeHasLimit != 0, Limit: u256("native_limit", r.NativeLimit),
				RefreshInterval: r.NativeRefreshInterval, LastUsedTime: r.NativeLastUsedTime},
			ERC20Limits: make([]events.TokenLimit, 0, len(r.ERC20Token)),
			GasLimit: events.SpendLimit{HasLimit: r.GasHasLimit != 0, Limit: u256("gas_limit", r.GasLimit),
				RefreshInterval: r.GasRefreshInterval, LastUsedTime: r.GasLastUsedTime},
			RequiredPaymaster: addr("required_paymaster", r.RequiredPaymaster),
		},
		AddedBlock: r.AddedBlock, AddedTime: r.AddedTime, UpdatedBlock: r.UpdatedBlock, UpdatedTime: r.UpdatedTime,
		LastEventID: r.LastEventID,
	}
	if len(errs) > 0 {
		return events.KeyState{}, fmt.Errorf("decode key_state row %d/%s/%s: %w", r.ChainID, r.Account, r.SessionKey, errors.Join(errs...))
	}
	for i := range r.AccessTarget {
		k.Permissions.AccessList = append(k.Permissions.AccessList, events.AccessEntry{
			Target: addr("access_target", r.AccessTarget[i]), IsOnList: r.AccessIsOnList[i] != 0,
			CheckSelectors: r.AccessCheckSelectors[i] != 0})
	}
	for i := range r.FunctionTarget {
		k.Permissions.FunctionList = append(k.Permissions.FunctionList, events.FunctionEntry{
			Target: addr("function_target", r.FunctionTarget[i]), Selector: sel("function_selector", r.FunctionSelector[i]),
			IsOnList: r.FunctionIsOnList[i] != 0})
	}
	for i := range r.ERC20Token {
		k.Permissions.ERC20Limits = append(k.Permissions.ERC20Limits, events.TokenLimit{
			Token: addr("erc20_token", r.ERC20Token[i]),
			SpendLimit: events.SpendLimit{HasLimit: r.ERC20HasLimit[i] != 0, Limit: u256("erc20_limit", r.ERC20Limit[i]),
				RefreshInterval: r.ERC20RefreshInterval[i], LastUsedTime: r.ERC20LastUsedTime[i]}})
	}
	if len(errs) > 0 {
		return events.KeyState{}, fmt.Errorf("decode key_state row %d/%s/%s: %w", r.ChainID, r.Account, r.SessionKey, errors.Join(errs...))
	}
	return k, nil
}

func addrList(as []events.Address) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Hex()
	}
	return out
}

func parseAddrList(col string, ss []string) ([]events.Address, error) {
	out := make([]events.Address, len(ss))
	for i, s := range ss {
		a, err := parseAddr(col, s)
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

func toAccountRow(a Account, version uint64) accountRow {
	return accountRow{ChainID: a.ChainID, Account: a.Account.Hex(), InstalledPlugins: addrList(a.InstalledPlugins),
		Owners: addrList(a.Owners), UpdatedBlock: a.UpdatedBlock, UpdatedTime: a.UpdatedTime,
		LastEventID: a.LastEventID, Version: version}
}

func fromAccountRow(r accountRow) (Account, error) {
	acct, err := parseAddr("account", r.Account)
	if err != nil {
		return Account{}, err
	}
	plugins, err := parseAddrList("installed_plugins", r.InstalledPlugins)
	if err != nil {
		return Account{}, err
	}
	owners, err := parseAddrList("owners", r.Owners)
	if err != nil {
		return Account{}, err
	}
	return Account{ChainID: r.ChainID, Account: acct, InstalledPlugins: plugins, Owners: owners,
		UpdatedBlock: r.UpdatedBlock, UpdatedTime: r.UpdatedTime, LastEventID: r.LastEventID}, nil
}

func toBlockRow(b Block, version uint64) blockRow {
	return blockRow{ChainID: b.ChainID, Number: b.Number, Hash: b.Hash.Hex(), ParentHash: b.ParentHash.Hex(),
		Time: b.Time, Removed: b2u(b.Removed), Version: version}
}

func fromBlockRow(r blockRow) (Block, error) {
	h, err := parseHash("hash", r.Hash)
	if err != nil {
		return Block{}, err
	}
	p, err := parseHash("parent_hash", r.ParentHash)
	if err != nil {
		return Block{}, err
	}
	return Block{ChainID: r.ChainID, Number: r.Number, Hash: h, ParentHash: p, Time: r.Time, Removed: r.Removed != 0}, nil
}

func fromCheckpointRow(r checkpointRow) (Checkpoint, error) {
	h, err := parseHash("hash", r.Hash)
	if err != nil {
		return Checkpoint{}, err
	}
	p, err := parseHash("parent_hash", r.ParentHash)
	if err != nil {
		return Checkpoint{}, err
	}
	return Checkpoint{ChainID: r.ChainID, Stream: r.Stream, Number: r.Number, Hash: h, ParentHash: p, Time: r.Time}, nil
}

func toFailureRow(f events.DecodeFailure, version uint64) failureRow {
	topics := make([]string, len(f.Topics))
	for i, t := range f.Topics {
		topics[i] = t.Hex()
	}
	return failureRow{ChainID: f.ChainID, BlockNumber: f.BlockNumber, BlockHash: f.BlockHash.Hex(), LogIndex: f.LogIndex,
		ParentHash: f.ParentHash.Hex(), BlockTime: f.BlockTime, TxHash: f.TxHash.Hex(), TxIndex: f.TxIndex,
		Emitter: f.Emitter.Hex(), Topics: topics, Data: hexutil.Encode(f.Data), Reason: f.Reason, Error: f.Error,
		Removed: b2u(f.Removed), Schema: events.SchemaVersion, Version: version}
}

func fromFailureRow(r failureRow) (events.DecodeFailure, error) {
	var errs []error
	hash := func(col, s string) common.Hash {
		h, err := parseHash(col, s)
		if err != nil {
			errs = append(errs, err)
		}
		return h
	}
	f := events.DecodeFailure{Schema: int(r.Schema), Position: events.Position{
		ChainID: r.ChainID, BlockNumber: r.BlockNumber, BlockHash: hash("block_hash", r.BlockHash),
		ParentHash: hash("parent_hash", r.ParentHash), BlockTime: r.BlockTime, TxHash: hash("tx_hash", r.TxHash),
		TxIndex: r.TxIndex, LogIndex: r.LogIndex, Removed: r.Removed != 0},
		Reason: r.Reason, Error: r.Error, Topics: make([]common.Hash, len(r.Topics))}
	for i, t := range r.Topics {
		f.Topics[i] = hash("topics", t)
	}
	em, err := parseAddr("emitter", r.Emitter)
	if err != nil {
		errs = append(errs, err)
	}
	f.Emitter = em
	data, err := hexutil.Decode(r.Data)
	if err != nil {
		errs = append(errs, fmt.Errorf("column data: %w", err))
	}
	f.Data = data
	if len(errs) > 0 {
		return events.DecodeFailure{}, fmt.Errorf("decode decode_failures row %d:%s:%d: %w", r.ChainID, r.BlockHash, r.LogIndex, errors.Join(errs...))
	}
	return f, nil
}
