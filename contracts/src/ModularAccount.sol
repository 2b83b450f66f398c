// SPDX-License-Identifier: MIT
// keywarden stand-in for the Modular Account v1 (UpgradeableModularAccount) as keywarden sees it.
pragma solidity ^0.8.24;

import {
    Call,
    IAggregatorV06,
    IEntryPointV06,
    IERC165,
    IPaymasterV06,
    IPlugin,
    IPluginExecutor,
    ManifestAssociatedFunction,
    ManifestAssociatedFunctionType,
    ManifestExternalCallPermission,
    ManifestFunction,
    IUpgradeable,
    PluginManifest,
    UserOperation
} from "./Types.sol";

/// @title ModularAccount (keywarden stand-in)
/// @notice An ERC-4337 v0.6 account driven by ERC-6900-style plugin manifests, with the vendor account's ABI:
/// the account's own functions (execute, executeBatch, installPlugin, uninstallPlugin) and every execution
/// function a plugin installs are validated by the function references the manifests assign: one user-op
/// validation function for calls from the EntryPoint, one runtime validation function (plus pre-runtime hooks)
/// for direct calls. A plugin's execution functions are called on the account, which forwards them to the
/// plugin, so the plugin sees the account as msg.sender. Plain executions never reach a plugin, and a plugin's
/// external calls never reach the account itself.
/// @dev Deployed once as an implementation; accounts are minimal proxies (EIP-1167) made by the factory.
/// Not supported (unused by keywarden): execution hooks, upgrades.
contract ModularAccount is IPluginExecutor, IERC165 {
    /// @dev (plugin, userOpValidationFunction, runtimeValidationFunction) of an execution selector.
    struct ExecutionFunctionConfig {
        address plugin;
        bytes21 userOpValidationFunction;
        bytes21 runtimeValidationFunction;
    }

    struct ExecutionHooks {
        bytes21 preExecHook;
        bytes21 postExecHook;
    }

    /// @dev The optional `config` argument of uninstallPlugin.
    struct UninstallPluginConfig {
        bytes serializedManifest;
        bool forceUninstall;
        uint256 callbackGasLimit;
    }

    struct SelectorData {
        address plugin;
        bytes21 userOpValidation;
        bytes21 runtimeValidation;
        bytes21[] preUserOpHooks;
        bytes21[] preRuntimeHooks;
    }

    struct PluginData {
        bytes32 manifestHash;
        bool anyExternalAddressPermitted;
        bool canSpendNativeToken;
        uint256 dependentCount;
        bytes21[] dependencies;
    }

    struct ExternalCallPermission {
        bool addressPermitted;
        bool anySelectorPermitted;
        mapping(bytes4 => bool) selectors;
    }

    event ModularAccountInitialized(IEntryPointV06 indexed entryPoint);
    event PluginInstalled(address indexed plugin, bytes32 manifestHash, bytes21[] dependencies);
    event PluginUninstalled(address indexed plugin, bool indexed onUninstallSucceeded);

    error AlreadyInitialized();
    error AlwaysDenyRule();
    error ArrayLengthMismatch();
    error Erc4337FunctionNotAllowed(bytes4 selector);
    error ExecFromPluginExternalNotPermitted(address plugin, address target, uint256 value, bytes data);
    error ExecFromPluginNotPermitted(address plugin, bytes4 selector);
    error ExecutionFunctionAlreadySet(bytes4 selector);
    error InterfaceNotAllowed();
    error InvalidDependenciesProvided();
    error InvalidPluginManifest();
    error IPluginFunctionNotAllowed(bytes4 selector);
    error MissingPluginDependency(address dependency);
    error NativeFunctionNotAllowed(bytes4 selector);
    error NativeTokenSpendingNotPermitted(address plugin);
    error NullFunctionReference();
    error PluginAlreadyInstalled(address plugin);
    error PluginCallDenied(address plugin);
    error PluginDependencyViolation(address plugin);
    error PluginInstallCallbackFailed(address plugin, bytes revertReason);
    error PluginInterfaceNotSupported(address plugin);
    error PluginNotInstalled(address plugin);
    error PluginUninstallCallbackFailed(address plugin, bytes revertReason);
    error PreRuntimeValidationHookFailed(address plugin, uint8 functionId, bytes revertReason);
    error RuntimeValidationFunctionAlreadySet(bytes4 selector, bytes21 validationFunction);
    error RuntimeValidationFunctionMissing(bytes4 selector);
    error RuntimeValidationFunctionReverted(address plugin, uint8 functionId, bytes revertReason);
    error UnexpectedAggregator(address plugin, uint8 functionId, address aggregator);
    error UnrecognizedFunction(bytes4 selector);
    error UserOpNotFromEntryPoint();
    error UserOpValidationFunctionAlreadySet(bytes4 selector, bytes21 validationFunction);
    error UserOpValidationFunctionMissing(bytes4 selector);

    // Function references: plugin address followed by a one-byte function id. Three values are magic.
    bytes21 internal constant _EMPTY = bytes21(0);
    bytes21 internal constant _ALWAYS_ALLOW = bytes21(uint168(1));
    bytes21 internal constant _ALWAYS_DENY = bytes21(uint168(2));

    bytes4 internal constant _INVALID_INTERFACE = 0xffffffff;

    IEntryPointV06 private immutable _ENTRY_POINT;

    bool private _initialized;
    address[] private _installOrder;
    mapping(address => bool) private _installed;
    mapping(address => PluginData) private _plugins;
    mapping(bytes4 => SelectorData) private _selectorData;
    mapping(address => mapping(address => ExternalCallPermission)) private _externalCalls;
    mapping(address => mapping(bytes4 => bool)) private _callPermitted;
    mapping(bytes4 => uint256) private _interfaceCount;

    constructor(IEntryPointV06 anEntryPoint) {
        _ENTRY_POINT = anEntryPoint;
        // The implementation itself can never be initialized; proxies start with fresh storage.
        _initialized = true;
    }

    /// @notice Installs the first plugins (the factory passes the Multi Owner plugin and its owners).
    /// @param pluginInitData abi.encode(bytes32[] manifestHashes, bytes[] pluginInstallDatas)
    function initialize(address[] calldata plugins, bytes calldata pluginInitData) external {
        if (_initialized) revert AlreadyInitialized();
        _initialized = true;
        (bytes32[] memory hashes, bytes[] memory datas) = abi.decode(pluginInitData, (bytes32[], bytes[]));
        if (plugins.length != hashes.length || plugins.length != datas.length) revert ArrayLengthMismatch();
        bytes21[] memory none = new bytes21[](0);
        for (uint256 i = 0; i < plugins.length; ++i) {
            _installPlugin(plugins[i], hashes[i], datas[i], none);
        }
        emit ModularAccountInitialized(_ENTRY_POINT);
    }

    receive() external payable {}

    /// @notice Routes plugin execution functions to their plugin, after runtime validation for direct calls.
    fallback(bytes calldata) external payable returns (bytes memory) {
        if (msg.sender != address(_ENTRY_POINT)) _runtimeValidation();
        address plugin = _selectorData[msg.sig].plugin;
        if (plugin == address(0)) revert UnrecognizedFunction(msg.sig);
        (bool ok, bytes memory ret) = plugin.call(msg.data);
        if (!ok) _bubble(ret);
        return ret;
    }

    // ─── ERC-4337 ────────────────────────────────────────────────────────────────────────────────────

    /// @notice v0.6 validation: runs the user-op validation function the manifests assigned to the callData's
    /// selector (and its pre-validation hooks), then pays the EntryPoint what it asks for.
    function validateUserOp(UserOperation calldata userOp, bytes32 userOpHash, uint256 missingAccountFunds)
        external
        returns (uint256 validationData)
    {
        if (msg.sender != address(_ENTRY_POINT)) revert UserOpNotFromEntryPoint();
        if (userOp.callData.length < 4) revert UnrecognizedFunction(bytes4(userOp.callData));
        bytes4 selector = bytes4(userOp.callData[:4]);
        SelectorData storage sd = _selectorData[selector];
        bytes21 validation = sd.userOpValidation;
        if (validation == _EMPTY) revert UserOpValidationFunctionMissing(selector);

        bytes21[] memory hooks = sd.preUserOpHooks;
        uint256 hooksData;
        for (uint256 i = 0; i < hooks.length; ++i) {
            if (_isMagic(hooks[i])) revert AlwaysDenyRule();
            (address hookPlugin, uint8 hookId) = _unpack(hooks[i]);
            uint256 d = _callForUint(
                hookPlugin, abi.encodeCall(IPlugin.preUserOpValidationHook, (hookId, userOp, userOpHash))
            );
            if (uint160(d) > 1) revert UnexpectedAggregator(hookPlugin, hookId, address(uint160(d)));
            hooksData = i == 0 ? d : _coalesce(hooksData, d);
        }

        (address plugin, uint8 functionId) = _unpack(validation);
        validationData =
            _callForUint(plugin, abi.encodeCall(IPlugin.userOpValidationFunction, (functionId, userOp, userOpHash)));
        if (hooks.length > 0) validationData = _coalesce(hooksData, validationData);

        if (missingAccountFunds != 0) {
            // The EntryPoint checks the deposit itself.
            (bool paid,) = payable(msg.sender).call{value: missingAccountFunds}("");
            (paid);
        }
    }

    /// @notice The EntryPoint this account trusts.
    function entryPoint() public view returns (IEntryPointV06) {
        return _ENTRY_POINT;
    }

    /// @notice The account's sequential nonce (key 0) at the EntryPoint.
    function getNonce() public view returns (uint256) {
        return _ENTRY_POINT.getNonce(address(this), 0);
    }

    // ─── Executions ──────────────────────────────────────────────────────────────────────────────────

    /// @notice A single call from the account. Plugins cannot be targeted.
    function execute(address target, uint256 value, bytes calldata data)
        external
        payable
        returns (bytes memory result)
    {
        if (msg.sender != address(_ENTRY_POINT)) _runtimeValidation();
        result = _exec(target, value, data);
    }

    /// @notice Several calls from the account, in order; any revert reverts all. A call to the account itself
    /// (for example a plugin execution function) passes runtime validation as a self-call.
    function executeBatch(Call[] calldata calls) external payable returns (bytes[] memory results) {
        if (msg.sender != address(_ENTRY_POINT)) _runtimeValidation();
        results = new bytes[](calls.length);
        for (uint256 i = 0; i < calls.length; ++i) {
            results[i] = _exec(calls[i].target, calls[i].value, calls[i].data);
        }
    }

    /// @notice Lets an installed plugin call an execution function it was granted in its manifest.
    function executeFromPlugin(bytes calldata data) external payable returns (bytes memory) {
        bytes4 selector = bytes4(data);
        if (!_callPermitted[msg.sender][selector]) revert ExecFromPluginNotPermitted(msg.sender, selector);
        address plugin = _selectorData[selector].plugin;
        if (plugin == address(0)) revert UnrecognizedFunction(selector);
        (bool ok, bytes memory ret) = plugin.call(data);
        if (!ok) _bubble(ret);
        return ret;
    }

    /// @notice Lets an installed plugin make the account call an external contract, as its manifest allows.
    /// The account itself and plugins are never reachable this way.
    function executeFromPluginExternal(address target, uint256 value, bytes calldata data)
        external
        payable
        returns (bytes memory)
    {
        PluginData storage pd = _plugins[msg.sender];
        if (value > 0 && value > msg.value && !pd.canSpendNativeToken) {
            revert NativeTokenSpendingNotPermitted(msg.sender);
        }
        if (target == address(this)) revert ExecFromPluginExternalNotPermitted(msg.sender, target, value, data);
        ExternalCallPermission storage p = _externalCalls[msg.sender][target];
        bool permitted = p.addressPermitted
            ? (p.anySelectorPermitted || data.length == 0 || p.selectors[bytes4(data)])
            : pd.anyExternalAddressPermitted;
        if (!permitted) revert ExecFromPluginExternalNotPermitted(msg.sender, target, value, data);
        return _exec(target, value, data);
    }

    // ─── Plugin management ───────────────────────────────────────────────────────────────────────────

    /// @notice Installs `plugin` after checking `manifestHash` against keccak256(abi.encode(pluginManifest()))
    /// and the dependencies against the manifest; calls the plugin's onInstall with `pluginInstallData`.
    function installPlugin(
        address plugin,
        bytes32 manifestHash,
        bytes calldata pluginInstallData,
        bytes21[] calldata dependencies
    ) external {
        if (msg.sender != address(_ENTRY_POINT)) _runtimeValidation();
        _installPlugin(plugin, manifestHash, pluginInstallData, dependencies);
    }

    /// @notice Uninstalls `plugin`. `config` is empty or abi.encode(UninstallPluginConfig); with no serialized
    /// manifest the plugin's current manifest is read and checked against the installed hash.
    function uninstallPlugin(address plugin, bytes calldata config, bytes calldata pluginUninstallData) external {
        if (msg.sender != address(_ENTRY_POINT)) _runtimeValidation();
        PluginManifest memory manifest;
        bool haveManifest;
        bool force;
        uint256 callbackGas;
        if (config.length > 0) {
            UninstallPluginConfig memory c = abi.decode(config, (UninstallPluginConfig));
            if (c.serializedManifest.length > 0) {
                manifest = abi.decode(c.serializedManifest, (PluginManifest));
                haveManifest = true;
            }
            force = c.forceUninstall;
            callbackGas = c.callbackGasLimit;
        }
        if (!haveManifest) manifest = IPlugin(plugin).pluginManifest();
        if (callbackGas == 0) callbackGas = type(uint256).max;
        _uninstallPlugin(plugin, manifest, force, callbackGas, pluginUninstallData);
    }

    // ─── Loupe ───────────────────────────────────────────────────────────────────────────────────────

    /// @notice Installed plugins, newest first.
    function getInstalledPlugins() external view returns (address[] memory out) {
        uint256 n = _installOrder.length;
        out = new address[](n);
        for (uint256 i = 0; i < n; ++i) {
            out[i] = _installOrder[n - 1 - i];
        }
    }

    function getExecutionFunctionConfig(bytes4 selector) external view returns (ExecutionFunctionConfig memory) {
        SelectorData storage sd = _selectorData[selector];
        return ExecutionFunctionConfig(sd.plugin, sd.userOpValidation, sd.runtimeValidation);
    }

    /// @notice Always empty: the stand-in supports no execution hooks.
    function getExecutionHooks(bytes4) external pure returns (ExecutionHooks[] memory) {
        return new ExecutionHooks[](0);
    }

    function getPreValidationHooks(bytes4 selector)
        external
        view
        returns (bytes21[] memory preUserOpValidationHooks, bytes21[] memory preRuntimeValidationHooks)
    {
        return (_selectorData[selector].preUserOpHooks, _selectorData[selector].preRuntimeHooks);
    }

    /// @inheritdoc IERC165
    function supportsInterface(bytes4 interfaceId) external view returns (bool) {
        if (interfaceId == _INVALID_INTERFACE) return false;
        if (interfaceId == type(IERC165).interfaceId) return true;
        return _interfaceCount[interfaceId] > 0;
    }

    // ─── Token receivers ─────────────────────────────────────────────────────────────────────────────

    function tokensReceived(address, address, address, uint256, bytes calldata, bytes calldata) external pure {}

    function onERC721Received(address, address, uint256, bytes calldata) external pure returns (bytes4) {
        return this.onERC721Received.selector;
    }

    function onERC1155Received(address, address, uint256, uint256, bytes calldata)
        external
        pure
        returns (bytes4)
    {
        return this.onERC1155Received.selector;
    }

    function onERC1155BatchReceived(address, address, uint256[] calldata, uint256[] calldata, bytes calldata)
        external
        pure
        returns (bytes4)
    {
        return this.onERC1155BatchReceived.selector;
    }

    // ─── Internals: validation ───────────────────────────────────────────────────────────────────────

    /// @dev Direct-call validation of msg.sig: pre-runtime hooks, then the runtime validation function. A
    /// selector without one is refused, except a self-call of installPlugin.
    function _runtimeValidation() internal {
        SelectorData storage sd = _selectorData[msg.sig];
        bytes21[] memory hooks = sd.preRuntimeHooks;
        for (uint256 i = 0; i < hooks.length; ++i) {
            if (_isMagic(hooks[i])) revert AlwaysDenyRule();
            (address hookPlugin, uint8 hookId) = _unpack(hooks[i]);
            (bool hookOk, bytes memory hookRet) = hookPlugin.call(
                abi.encodeCall(IPlugin.preRuntimeValidationHook, (hookId, msg.sender, msg.value, msg.data))
            );
            if (!hookOk) revert PreRuntimeValidationHookFailed(hookPlugin, hookId, hookRet);
        }

        bytes21 validation = sd.runtimeValidation;
        if (validation == _EMPTY) {
            if (msg.sig != this.installPlugin.selector || msg.sender != address(this)) {
                revert RuntimeValidationFunctionMissing(msg.sig);
            }
            return;
        }
        if (_isMagic(validation)) return; // always allow
        (address plugin, uint8 functionId) = _unpack(validation);
        (bool ok, bytes memory ret) = plugin.call(
            abi.encodeCall(IPlugin.runtimeValidationFunction, (functionId, msg.sender, msg.value, msg.data))
        );
        if (!ok) revert RuntimeValidationFunctionReverted(plugin, functionId, ret);
    }

    /// @dev Combines two validation data words: the later start, the earlier (non-zero) end, and a failed
    /// authorizer if either failed.
    function _coalesce(uint256 a, uint256 b) internal pure returns (uint256) {
        uint48 afterA = uint48(a >> 208);
        uint48 afterB = uint48(b >> 208);
        uint48 untilA = uint48(a >> 160);
        uint48 untilB = uint48(b >> 160);
        if (untilA == 0) untilA = type(uint48).max;
        if (untilB == 0) untilB = type(uint48).max;
        uint48 validAfter = afterA > afterB ? afterA : afterB;
        uint48 validUntil = untilA < untilB ? untilA : untilB;
        if (validUntil == type(uint48).max) validUntil = 0;
        uint160 authorizer = uint160(a) != 0 ? uint160(a) : uint160(b);
        return uint256(authorizer) | (uint256(validUntil) << 160) | (uint256(validAfter) << 208);
    }

    function _callForUint(address target, bytes memory data) internal returns (uint256) {
        (bool ok, bytes memory ret) = target.call(data);
        if (!ok) _bubble(ret);
        return abi.decode(ret, (uint256));
    }

    // ─── Internals: execution ────────────────────────────────────────────────────────────────────────

    function _exec(address target, uint256 value, bytes memory data) internal returns (bytes memory) {
        if (_supportsInterface(target, type(IPlugin).interfaceId)) revert PluginCallDenied(target);
        (bool ok, bytes memory ret) = target.call{value: value}(data);
        if (!ok) _bubble(ret);
        return ret;
    }

    function _bubble(bytes memory reason) internal pure {
        assembly ("memory-safe") {
            revert(add(reason, 0x20), mload(reason))
        }
    }

    /// @dev ERC-165 probe in the manner of OpenZeppelin's ERC165Checker (bounded gas, tolerant of targets that
    /// are not contracts or do not implement ERC-165).
    function _supportsInterface(address target, bytes4 interfaceId) internal view returns (bool) {
        if (target.code.length == 0) return false;
        return _probe(target, type(IERC165).interfaceId) && !_probe(target, _INVALID_INTERFACE)
            && _probe(target, interfaceId);
    }

    function _probe(address target, bytes4 interfaceId) private view returns (bool) {
        (bool ok, bytes memory ret) = target.staticcall{gas: 30_000}(
            abi.encodeWithSelector(IERC165.supportsInterface.selector, interfaceId)
        );
        return ok && ret.length >= 32 && abi.decode(ret, (uint256)) != 0;
    }

    // ─── Internals: plugin management ────────────────────────────────────────────────────────────────

    function _installPlugin(
        address plugin,
        bytes32 manifestHash,
        bytes memory installData,
        bytes21[] memory dependencies
    ) internal {
        if (plugin == address(0) || _installed[plugin]) revert PluginAlreadyInstalled(plugin);
        if (!_supportsInterface(plugin, type(IPlugin).interfaceId)) revert PluginInterfaceNotSupported(plugin);

        PluginManifest memory m = IPlugin(plugin).pluginManifest();
        if (keccak256(abi.encode(m)) != manifestHash) revert InvalidPluginManifest();

        if (dependencies.length != m.dependencyInterfaceIds.length) revert InvalidDependenciesProvided();
        for (uint256 i = 0; i < dependencies.length; ++i) {
            address dep = address(bytes20(dependencies[i]));
            if (_plugins[dep].manifestHash == bytes32(0)) revert MissingPluginDependency(dep);
            if (!_supportsInterface(dep, m.dependencyInterfaceIds[i])) revert InvalidDependenciesProvided();
            _plugins[dep].dependentCount += 1;
        }

        for (uint256 i = 0; i < m.executionFunctions.length; ++i) {
            _claimSelector(m.executionFunctions[i], plugin);
        }
        for (uint256 i = 0; i < m.permittedExecutionSelectors.length; ++i) {
            _callPermitted[plugin][m.permittedExecutionSelectors[i]] = true;
        }

        PluginData storage pd = _plugins[plugin];
        if (m.permitAnyExternalAddress) {
            pd.anyExternalAddressPermitted = true;
        } else {
            _setExternalCalls(plugin, m.permittedExternalCalls, true);
        }

        bytes21[] memory none = new bytes21[](0);
        for (uint256 i = 0; i < m.userOpValidationFunctions.length; ++i) {
            ManifestAssociatedFunction memory f = m.userOpValidationFunctions[i];
            bytes21 ref = _resolve(f.associatedFunction, plugin, dependencies, ManifestAssociatedFunctionType.NONE);
            if (ref == _EMPTY) revert NullFunctionReference();
            SelectorData storage sd = _selectorData[f.executionSelector];
            if (sd.userOpValidation != _EMPTY) revert UserOpValidationFunctionAlreadySet(f.executionSelector, ref);
            sd.userOpValidation = ref;
        }
        for (uint256 i = 0; i < m.runtimeValidationFunctions.length; ++i) {
            ManifestAssociatedFunction memory f = m.runtimeValidationFunctions[i];
            bytes21 ref = _resolve(
                f.associatedFunction, plugin, dependencies, ManifestAssociatedFunctionType.RUNTIME_VALIDATION_ALWAYS_ALLOW
            );
            if (ref == _EMPTY) revert NullFunctionReference();
            SelectorData storage sd = _selectorData[f.executionSelector];
            if (sd.runtimeValidation != _EMPTY) revert RuntimeValidationFunctionAlreadySet(f.executionSelector, ref);
            sd.runtimeValidation = ref;
        }
        for (uint256 i = 0; i < m.preUserOpValidationHooks.length; ++i) {
            ManifestAssociatedFunction memory f = m.preUserOpValidationHooks[i];
            bytes21 ref = _resolve(f.associatedFunction, plugin, none, ManifestAssociatedFunctionType.PRE_HOOK_ALWAYS_DENY);
            if (ref == _EMPTY) revert NullFunctionReference();
            _selectorData[f.executionSelector].preUserOpHooks.push(ref);
        }
        for (uint256 i = 0; i < m.preRuntimeValidationHooks.length; ++i) {
            ManifestAssociatedFunction memory f = m.preRuntimeValidationHooks[i];
            bytes21 ref = _resolve(f.associatedFunction, plugin, none, ManifestAssociatedFunctionType.PRE_HOOK_ALWAYS_DENY);
            if (ref == _EMPTY) revert NullFunctionReference();
            _selectorData[f.executionSelector].preRuntimeHooks.push(ref);
        }
        if (m.executionHooks.length > 0) revert InvalidPluginManifest(); // not supported by the stand-in

        for (uint256 i = 0; i < m.interfaceIds.length; ++i) {
            if (m.interfaceIds[i] == type(IPlugin).interfaceId) revert InterfaceNotAllowed();
            _interfaceCount[m.interfaceIds[i]] += 1;
        }

        pd.manifestHash = manifestHash;
        pd.dependencies = dependencies;
        if (m.canSpendNativeToken) pd.canSpendNativeToken = true;
        _installed[plugin] = true;
        _installOrder.push(plugin);

        try IPlugin(plugin).onInstall(installData) {}
        catch (bytes memory reason) {
            revert PluginInstallCallbackFailed(plugin, reason);
        }
        emit PluginInstalled(plugin, manifestHash, dependencies);
    }

    function _uninstallPlugin(
        address plugin,
        PluginManifest memory m,
        bool force,
        uint256 callbackGas,
        bytes calldata uninstallData
    ) internal {
        if (!_installed[plugin]) revert PluginNotInstalled(plugin);
        PluginData storage pd = _plugins[plugin];
        if (keccak256(abi.encode(m)) != pd.manifestHash) revert InvalidPluginManifest();
        if (pd.dependentCount != 0) revert PluginDependencyViolation(plugin);

        bytes21[] memory deps = pd.dependencies;
        for (uint256 i = 0; i < deps.length; ++i) {
            _plugins[address(bytes20(deps[i]))].dependentCount -= 1;
        }
        delete _plugins[plugin];

        bytes21[] memory none = new bytes21[](0);
        for (uint256 i = 0; i < m.preRuntimeValidationHooks.length; ++i) {
            ManifestAssociatedFunction memory f = m.preRuntimeValidationHooks[i];
            bytes21 ref = _resolve(f.associatedFunction, plugin, none, ManifestAssociatedFunctionType.PRE_HOOK_ALWAYS_DENY);
            _removeOne(_selectorData[f.executionSelector].preRuntimeHooks, ref);
        }
        for (uint256 i = 0; i < m.preUserOpValidationHooks.length; ++i) {
            ManifestAssociatedFunction memory f = m.preUserOpValidationHooks[i];
            bytes21 ref = _resolve(f.associatedFunction, plugin, none, ManifestAssociatedFunctionType.PRE_HOOK_ALWAYS_DENY);
            _removeOne(_selectorData[f.executionSelector].preUserOpHooks, ref);
        }
        for (uint256 i = 0; i < m.runtimeValidationFunctions.length; ++i) {
            _selectorData[m.runtimeValidationFunctions[i].executionSelector].runtimeValidation = _EMPTY;
        }
        for (uint256 i = 0; i < m.userOpValidationFunctions.length; ++i) {
            _selectorData[m.userOpValidationFunctions[i].executionSelector].userOpValidation = _EMPTY;
        }
        if (!m.permitAnyExternalAddress) _setExternalCalls(plugin, m.permittedExternalCalls, false);
        for (uint256 i = 0; i < m.permittedExecutionSelectors.length; ++i) {
            _callPermitted[plugin][m.permittedExecutionSelectors[i]] = false;
        }
        for (uint256 i = 0; i < m.executionFunctions.length; ++i) {
            _selectorData[m.executionFunctions[i]].plugin = address(0);
        }
        for (uint256 i = 0; i < m.interfaceIds.length; ++i) {
            _interfaceCount[m.interfaceIds[i]] -= 1;
        }

        _installed[plugin] = false;
        _dropFromOrder(plugin);

        bool succeeded = true;
        try IPlugin(plugin).onUninstall{gas: callbackGas}(uninstallData) {}
        catch (bytes memory reason) {
            if (!force) revert PluginUninstallCallbackFailed(plugin, reason);
            succeeded = false;
        }
        emit PluginUninstalled(plugin, succeeded);
    }

    function _claimSelector(bytes4 selector, address plugin) internal {
        SelectorData storage sd = _selectorData[selector];
        if (sd.plugin != address(0)) revert ExecutionFunctionAlreadySet(selector);
        if (_isNativeFunction(selector)) revert NativeFunctionNotAllowed(selector);
        if (_isPluginFunction(selector)) revert IPluginFunctionNotAllowed(selector);
        if (_isErc4337Function(selector)) revert Erc4337FunctionNotAllowed(selector);
        sd.plugin = plugin;
    }

    function _setExternalCalls(address plugin, ManifestExternalCallPermission[] memory perms, bool on) internal {
        for (uint256 i = 0; i < perms.length; ++i) {
            ExternalCallPermission storage p = _externalCalls[plugin][perms[i].externalAddress];
            p.addressPermitted = on;
            if (perms[i].permitAnySelector) {
                p.anySelectorPermitted = on;
            } else {
                for (uint256 j = 0; j < perms[i].selectors.length; ++j) {
                    p.selectors[perms[i].selectors[j]] = on;
                }
            }
        }
    }

    function _resolve(
        ManifestFunction memory f,
        address plugin,
        bytes21[] memory dependencies,
        ManifestAssociatedFunctionType allowedMagic
    ) internal pure returns (bytes21) {
        if (f.functionType == ManifestAssociatedFunctionType.SELF) return _pack(plugin, f.functionId);
        if (f.functionType == ManifestAssociatedFunctionType.DEPENDENCY) {
            if (f.dependencyIndex < dependencies.length) return dependencies[f.dependencyIndex];
            revert InvalidPluginManifest();
        }
        if (f.functionType == ManifestAssociatedFunctionType.RUNTIME_VALIDATION_ALWAYS_ALLOW) {
            if (allowedMagic == f.functionType) return _ALWAYS_ALLOW;
            revert InvalidPluginManifest();
        }
        if (f.functionType == ManifestAssociatedFunctionType.PRE_HOOK_ALWAYS_DENY) {
            if (allowedMagic == f.functionType) return _ALWAYS_DENY;
            revert InvalidPluginManifest();
        }
        return _EMPTY;
    }

    function _removeOne(bytes21[] storage list, bytes21 ref) internal {
        uint256 n = list.length;
        for (uint256 i = 0; i < n; ++i) {
            if (list[i] == ref) {
                list[i] = list[n - 1];
                list.pop();
                return;
            }
        }
    }

    function _dropFromOrder(address plugin) internal {
        uint256 n = _installOrder.length;
        uint256 i;
        while (i < n && _installOrder[i] != plugin) ++i;
        for (; i + 1 < n; ++i) {
            _installOrder[i] = _installOrder[i + 1];
        }
        if (n > 0) _installOrder.pop();
    }

    function _pack(address plugin, uint8 functionId) internal pure returns (bytes21) {
        return bytes21(bytes20(plugin)) | bytes21(uint168(functionId));
    }

    function _unpack(bytes21 ref) internal pure returns (address plugin, uint8 functionId) {
        plugin = address(bytes20(ref));
        functionId = uint8(bytes1(ref << 160));
    }

    function _isMagic(bytes21 ref) internal pure returns (bool) {
        return uint168(ref) <= 2;
    }

    function _isNativeFunction(bytes4 s) internal pure returns (bool) {
        return s == this.execute.selector || s == this.executeBatch.selector || s == this.installPlugin.selector
            || s == this.uninstallPlugin.selector || s == IUpgradeable.upgradeToAndCall.selector
            || s == IUpgradeable.proxiableUUID.selector || s == this.getNonce.selector
            || s == this.initialize.selector || s == this.supportsInterface.selector || s == this.entryPoint.selector
            || s == this.executeFromPlugin.selector || s == this.executeFromPluginExternal.selector
            || s == this.tokensReceived.selector || s == this.onERC721Received.selector
            || s == this.onERC1155Received.selector || s == this.onERC1155BatchReceived.selector
            || s == this.getExecutionFunctionConfig.selector || s == this.getExecutionHooks.selector
            || s == this.getPreValidationHooks.selector || s == this.getInstalledPlugins.selector;
    }

    function _isPluginFunction(bytes4 s) internal pure returns (bool) {
        return s == IPlugin.onInstall.selector || s == IPlugin.onUninstall.selector
            || s == IPlugin.preUserOpValidationHook.selector || s == IPlugin.userOpValidationFunction.selector
            || s == IPlugin.preRuntimeValidationHook.selector || s == IPlugin.runtimeValidationFunction.selector
            || s == IPlugin.preExecutionHook.selector || s == IPlugin.postExecutionHook.selector
            || s == IPlugin.pluginManifest.selector || s == IPlugin.pluginMetadata.selector;
    }

    function _isErc4337Function(bytes4 s) internal pure returns (bool) {
        return s == this.validateUserOp.selector || s == IPaymasterV06.validatePaymasterUserOp.selector
            || s == IPaymasterV06.postOp.selector || s == IAggregatorV06.validateSignatures.selector
            || s == IAggregatorV06.validateUserOpSignature.selector || s == IAggregatorV06.aggregateSignatures.selector;
    }
}
