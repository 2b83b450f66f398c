package events

import "github.com/ethereum/go-ethereum/common"

// Canonical deployments, the same address on every chain the vendor lists.
var (
	// SessionKeyPluginV101 is the Session Key Plugin v1.0.1, the one the vendor SDK uses.
	SessionKeyPluginV101 = HexToAddress("0x0000003E0000a96de4058e1E02a62FaaeCf23d8d")
	// SessionKeyPluginV100 is the older v1.0.0 plugin: same ABI and events, separate storage.
	SessionKeyPluginV100 = HexToAddress("0x000000e30a00f600823700E975f1b1ac387f0017")
	// MultiOwnerPlugin is the Multi Owner plugin v1.0.0.
	MultiOwnerPlugin = HexToAddress("0xcE0000007B008F50d762D155002600004cD6c647")
	// EntryPointV06 is the ERC-4337 EntryPoint v0.6.0.
	EntryPointV06 = HexToAddress("0x5FF137D4b0FDCD49DcA30c7CF57E578a026d2789")
	// MultiOwnerFactory is the MultiOwnerModularAccountFactory v1.0.0.
	MultiOwnerFactory = HexToAddress("0x000000e92D78D90000007F0082006FDA09BD5f11")
)

// KnownChains lists the chain ids on which the vendor documents both plugin versions.
var KnownChains = []uint64{1, 10, 137, 8453, 42161, 11155111, 84532, 421614, 11155420, 80001}

// Event topics (topic0). topics_test.go recomputes each from its signature.
var (
	TopicSessionKeyAdded    = common.HexToHash("0x51b5ab8125ba8bf73818ab051a4ade25a7f14fe001150888fa54fcba781c8ae4")
	TopicSessionKeyRemoved  = common.HexToHash("0x5452d520aafcdb6d13f259687b2f67d62b3e81f7f46496802e6c0c1ecedcf570")
	TopicSessionKeyRotated  = common.HexToHash("0xf14b99d79702560c5e65f01cde44c5648f6054c5cf3fd20c18c2ca74be6f6168")
	TopicPermissionsUpdated = common.HexToHash("0x5e009edbae60e9d9dad056b2eba09cf2520596f0a9dbbabf9716ef5802e78376")
	TopicPluginInstalled    = common.HexToHash("0x32d6790d50f8334621a74f0f62e534ef3f4f98133225305074e99e7ce4d8917f")
	TopicPluginUninstalled  = common.HexToHash("0xeb7551bad8fd10038dee62a958c2b6f45624499dc800ff8936bb0a4904bdd2fe")
	TopicOwnerUpdated       = common.HexToHash("0x8102106be6867f3566db7ac13c2a7afdcb3cba87576742016de13819f97e04e6")
	TopicUserOperationEvent = common.HexToHash("0x49628fd1471006c1482da88028e9ce4dbb080b815c9b0344d39e5a8e6ec1419f")
)

// Event signatures, in the same order as the topics above.
const (
	SigSessionKeyAdded    = "SessionKeyAdded(address,address,bytes32)"
	SigSessionKeyRemoved  = "SessionKeyRemoved(address,address)"
	SigSessionKeyRotated  = "SessionKeyRotated(address,address,address)"
	SigPermissionsUpdated = "PermissionsUpdated(address,address,bytes[])"
	SigPluginInstalled    = "PluginInstalled(address,bytes32,bytes21[])"
	SigPluginUninstalled  = "PluginUninstalled(address,bool)"
	SigOwnerUpdated       = "OwnerUpdated(address,address[],address[])"
	SigUserOperationEvent = "UserOperationEvent(bytes32,address,address,uint256,bool,uint256,uint256)"
)

// Permission update selectors: each element of PermissionsUpdated's bytes[] starts with one.
var (
	SelSetAccessListType             = Selector{0x8f, 0x29, 0x20, 0xd8}
	SelUpdateAccessListAddressEntry  = Selector{0x9e, 0x73, 0x45, 0xeb}
	SelUpdateAccessListFunctionEntry = Selector{0x0c, 0x8d, 0xe0, 0x02}
	SelUpdateTimeRange               = Selector{0x9a, 0x37, 0xb1, 0x13}
	SelSetNativeTokenSpendLimit      = Selector{0xb3, 0xa2, 0x6f, 0x5c}
	SelSetERC20SpendLimit            = Selector{0x7b, 0x1f, 0x08, 0x93}
	SelSetGasSpendLimit              = Selector{0x58, 0x5c, 0xa4, 0xa5}
	SelSetRequiredPaymaster          = Selector{0xb8, 0x56, 0x31, 0xd7}
)

// Update signatures, in the same order as the selectors above.
const (
	SigSetAccessListType             = "setAccessListType(uint8)"
	SigUpdateAccessListAddressEntry  = "updateAccessListAddressEntry(address,bool,bool)"
	SigUpdateAccessListFunctionEntry = "updateAccessListFunctionEntry(address,bytes4,bool)"
	SigUpdateTimeRange               = "updateTimeRange(uint48,uint48)"
	SigSetNativeTokenSpendLimit      = "setNativeTokenSpendLimit(uint256,uint48)"
	SigSetERC20SpendLimit            = "setERC20SpendLimit(address,uint256,uint48)"
	SigSetGasSpendLimit              = "setGasSpendLimit(uint256,uint48)"
	SigSetRequiredPaymaster          = "setRequiredPaymaster(address)"
)

// MaxUint48 is the largest value of the plugin's uint48 timestamps and intervals.
const MaxUint48 = 1<<48 - 1
