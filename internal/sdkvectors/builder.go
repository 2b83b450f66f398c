package sdkvectors

import "github.com/keywarden/keywarden/pkg/events"

// BuilderConfig is a Permission's builder calls folded the way SessionKeyPermissionsBuilder keeps
// them: the set* methods keep the last value (nil: never called), the add* methods append.
type BuilderConfig struct {
	AccessListType  *events.AccessControlType
	AddressEntries  []events.UpdateAccessListAddressEntry
	FunctionEntries []events.UpdateAccessListFunctionEntry
	TimeRange       *events.UpdateTimeRange
	NativeLimit     *events.SetNativeTokenSpendLimit
	ERC20Limits     []events.SetERC20SpendLimit
	GasLimit        *events.SetGasSpendLimit
	Paymaster       *events.Address
}

// Config folds p.Calls. A missing refreshInterval becomes 0, as the builder sends it.
func (p Permission) Config() BuilderConfig {
	var c BuilderConfig
	u64 := func(p *uint64) uint64 {
		if p == nil {
			return 0
		}
		return *p
	}
	u256 := func(p *events.U256) events.U256 {
		if p == nil {
			return events.U256{}
		}
		return *p
	}
	addr := func(p *events.Address) events.Address {
		if p == nil {
			return events.ZeroAddress
		}
		return *p
	}
	flag := func(p *bool) bool { return p != nil && *p }
	for _, call := range p.Calls {
		a := call.Args
		switch call.Method {
		case MethodSetContractAccessControlType:
			t := events.AccessControlType(0)
			if a.Type != nil {
				t = events.AccessControlType(*a.Type)
			}
			c.AccessListType = &t
		case MethodAddContractAddressAccessEntry:
			c.AddressEntries = append(c.AddressEntries, events.UpdateAccessListAddressEntry{
				Target: addr(a.ContractAddress), IsOnList: flag(a.IsOnList), CheckSelectors: flag(a.CheckSelectors)})
		case MethodAddContractFunctionAccessEntry:
			var sel events.Selector
			if a.MethodSelector != nil {
				sel = *a.MethodSelector
			}
			c.FunctionEntries = append(c.FunctionEntries, events.UpdateAccessListFunctionEntry{
				Target: addr(a.ContractAddress), Function: sel, IsOnList: flag(a.IsOnList)})
		case MethodSetTimeRange:
			c.TimeRange = &events.UpdateTimeRange{ValidAfter: u64(a.ValidFrom), ValidUntil: u64(a.ValidUntil)}
		case MethodSetNativeTokenSpendLimit:
			c.NativeLimit = &events.SetNativeTokenSpendLimit{Limit: u256(a.SpendLimit), RefreshInterval: u64(a.RefreshInterval)}
		case MethodAddErc20TokenSpendLimit:
			c.ERC20Limits = append(c.ERC20Limits, events.SetERC20SpendLimit{
				Token: addr(a.TokenAddress), Limit: u256(a.SpendLimit), RefreshInterval: u64(a.RefreshInterval)})
		case MethodSetGasSpendLimit:
			c.GasLimit = &events.SetGasSpendLimit{Limit: u256(a.SpendLimit), RefreshInterval: u64(a.RefreshInterval)}
		case MethodSetRequiredPaymaster:
			pm := addr(a.Paymaster)
			c.Paymaster = &pm
		}
	}
	return c
}
