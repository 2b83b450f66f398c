// SPDX-License-Identifier: MIT
// keywarden stand-ins: shared types and interfaces.
//
// These declarations reproduce the ABI shapes of ERC-4337 v0.6 and of the ERC-6900 (v0.x) plugin interface as
// Modular Account v1 uses them, so that selectors, struct encodings and manifest hashes line up with the real
// contracts. They are written for keywarden's local chain and tests.
pragma solidity ^0.8.24;

/// @dev ERC-4337 v0.6 user operation, in the EntryPoint's field order.
struct UserOperation {
    address sender;
    uint256 nonce;
    bytes initCode;
    bytes callData;
    uint256 callGasLimit;
    uint256 verificationGasLimit;
    uint256 preVerificationGas;
    uint256 maxFeePerGas;
    uint256 maxPriorityFeePerGas;
    bytes paymasterAndData;
    bytes signature;
}

/// @dev One call of a batch: target, native value, calldata.
struct Call {
    address target;
    uint256 value;
    bytes data;
}

/// @dev What a manifest entry points at.
enum ManifestAssociatedFunctionType {
    NONE,
    SELF,
    DEPENDENCY,
    RUNTIME_VALIDATION_ALWAYS_ALLOW,
    PRE_HOOK_ALWAYS_DENY
}

struct ManifestFunction {
    ManifestAssociatedFunctionType functionType;
    uint8 functionId;
    uint256 dependencyIndex;
}

struct ManifestAssociatedFunction {
    bytes4 executionSelector;
    ManifestFunction associatedFunction;
}

struct ManifestExecutionHook {
    bytes4 executionSelector;
    ManifestFunction preExecHook;
    ManifestFunction postExecHook;
}

struct ManifestExternalCallPermission {
    address externalAddress;
    bool permitAnySelector;
    bytes4[] selectors;
}

/// @dev The plugin manifest. Its ABI encoding, hashed with keccak256, is the manifest hash an account checks on
/// install and uninstall.
struct PluginManifest {
    bytes4[] interfaceIds;
    bytes4[] dependencyInterfaceIds;
    bytes4[] executionFunctions;
    bytes4[] permittedExecutionSelectors;
    bool permitAnyExternalAddress;
    bool canSpendNativeToken;
    ManifestExternalCallPermission[] permittedExternalCalls;
    ManifestAssociatedFunction[] userOpValidationFunctions;
    ManifestAssociatedFunction[] runtimeValidationFunctions;
    ManifestAssociatedFunction[] preUserOpValidationHooks;
    ManifestAssociatedFunction[] preRuntimeValidationHooks;
    ManifestExecutionHook[] executionHooks;
}

struct SelectorPermission {
    bytes4 functionSelector;
    string permissionDescription;
}

struct PluginMetadata {
    string name;
    string version;
    string author;
    SelectorPermission[] permissionDescriptors;
}

/// @dev The plugin interface. Its ERC-165 id is what accounts look for before installing a plugin, and what
/// they use to refuse plain executions aimed at a plugin.
interface IPlugin {
    function onInstall(bytes calldata data) external;
    function onUninstall(bytes calldata data) external;
    function preUserOpValidationHook(uint8 functionId, UserOperation calldata userOp, bytes32 userOpHash)
        external
        returns (uint256);
    function userOpValidationFunction(uint8 functionId, UserOperation calldata userOp, bytes32 userOpHash)
        external
        returns (uint256);
    function preRuntimeValidationHook(uint8 functionId, address sender, uint256 value, bytes calldata data)
        external;
    function runtimeValidationFunction(uint8 functionId, address sender, uint256 value, bytes calldata data)
        external;
    function preExecutionHook(uint8 functionId, address sender, uint256 value, bytes calldata data)
        external
        returns (bytes memory);
    function postExecutionHook(uint8 functionId, bytes calldata preExecHookData) external;
    function pluginManifest() external pure returns (PluginManifest memory);
    function pluginMetadata() external pure returns (PluginMetadata memory);
}

interface IERC165 {
    function supportsInterface(bytes4 interfaceId) external view returns (bool);
}

/// @dev What a plugin may ask of the account that installed it.
interface IPluginExecutor {
    function executeFromPlugin(bytes calldata data) external payable returns (bytes memory);
    function executeFromPluginExternal(address target, uint256 value, bytes calldata data)
        external
        payable
        returns (bytes memory);
}

/// @dev The part of the v0.6 EntryPoint the account and factory use.
interface IEntryPointV06 {
    function getNonce(address sender, uint192 key) external view returns (uint256 nonce);
    function depositTo(address account) external payable;
}

/// @dev ERC-1271.
interface IERC1271 {
    function isValidSignature(bytes32 hash, bytes memory signature) external view returns (bytes4);
}

/// @dev Validation data returned by ERC-4337 validation: 0 passes, 1 is a signature failure.
uint256 constant SIG_VALIDATION_PASSED = 0;
uint256 constant SIG_VALIDATION_FAILED = 1;

/// @dev ERC-4337 v0.6 paymaster and aggregator functions: an account never lets a plugin claim these selectors.
interface IPaymasterV06 {
    function validatePaymasterUserOp(UserOperation calldata userOp, bytes32 userOpHash, uint256 maxCost)
        external
        returns (bytes memory context, uint256 validationData);
    function postOp(uint8 mode, bytes calldata context, uint256 actualGasCost) external;
}

interface IAggregatorV06 {
    function validateSignatures(UserOperation[] calldata userOps, bytes calldata signature) external view;
    function validateUserOpSignature(UserOperation calldata userOp) external view returns (bytes memory);
    function aggregateSignatures(UserOperation[] calldata userOps) external view returns (bytes memory);
}

/// @dev The vendor account's upgrade functions. The stand-in does not implement them, but their selectors are
/// part of the Multi Owner manifest and of the account's reserved (native) selectors.
interface IUpgradeable {
    function upgradeToAndCall(address newImplementation, bytes calldata data) external payable;
    function proxiableUUID() external view returns (bytes32);
}
