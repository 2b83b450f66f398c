// SPDX-License-Identifier: MIT
// keywarden stand-in for the Modular Account v1 Session Key Plugin (v1.0.1 behaviour).
pragma solidity ^0.8.24;

import {AccountAddressSet, AccountAddressSetLib} from "./AccountAddressSet.sol";
import {ISessionKeyPermissionsUpdates, ISessionKeyPlugin} from "./ISessionKeyPlugin.sol";
import {PluginBase} from "./PluginBase.sol";
import {SigLib} from "./SigLib.sol";
import {
    Call,
    IPlugin,
    IPluginExecutor,
    ManifestAssociatedFunction,
    ManifestAssociatedFunctionType,
    ManifestFunction,
    PluginManifest,
    PluginMetadata,
    SelectorPermission,
    SIG_VALIDATION_FAILED,
    SIG_VALIDATION_PASSED,
    UserOperation
} from "./Types.sol";

/// @title SessionKeyPlugin (keywarden stand-in)
/// @notice Session keys for a modular account, with the vendor plugin's ABI, events, key-list order,
/// predecessor encoding, permission updates and permission checks. Each account keeps its keys in a
/// newest-first list; every key's permissions hang off a per-account numeric id that is never reused, so a
/// removed key's permissions become unreachable and a rotation carries them to the new address.
contract SessionKeyPlugin is ISessionKeyPlugin, PluginBase {
    using AccountAddressSetLib for AccountAddressSet;

    string internal constant _NAME = "Session Key Plugin";
    string internal constant _VERSION = "1.0.1";
    string internal constant _AUTHOR = "keywarden stand-in";

    // The two owner-validation dependencies, in the order the SDK passes them.
    uint256 internal constant _DEP_OWNER_RUNTIME = 0;
    uint256 internal constant _DEP_OWNER_USER_OP = 1;

    bytes4 internal constant _ERC20_TRANSFER = 0xa9059cbb; // transfer(address,uint256)
    bytes4 internal constant _ERC20_APPROVE = 0x095ea7b3; // approve(address,uint256)

    /// @dev Amount, usage and interval bookkeeping of one spend limit (native, ERC-20 or gas).
    struct Limit {
        uint256 amount;
        uint256 used;
        uint48 lastUsed;
        uint48 interval;
    }

    /// @dev Everything a key may do, apart from per-target entries.
    struct KeyRules {
        ContractAccessControlType accessType;
        uint48 validAfter;
        uint48 validUntil;
        bool hasPaymasterRule;
        bool hasGasLimit;
        // Stored inverted so that a fresh key (all zero) has a native limit of 0 enforced.
        bool nativeUnlimited;
        // Set when validation opened a new gas interval; execution (or anyone, via the reset function) stamps
        // the interval start and clears it.
        bool gasResetPending;
        address paymaster;
        Limit gas;
        Limit native;
    }

    /// @dev Per-target entry of a key: access-list membership and the ERC-20 limit.
    struct TargetRules {
        bool listed;
        bool checkSelectors;
        bool erc20Limited;
        Limit erc20;
    }

    AccountAddressSet internal _keys;
    mapping(address account => uint256) internal _lastKeyId;
    mapping(address account => mapping(address key => uint256)) internal _keyIdOf;
    mapping(address account => mapping(uint256 id => KeyRules)) internal _rules;
    mapping(address account => mapping(uint256 id => mapping(address target => TargetRules))) internal _targets;
    mapping(address account => mapping(uint256 id => mapping(address target => mapping(bytes4 => bool))))
        internal _listedSelectors;

    // ─── Execution functions (installed on the account) ───────────────────────────────────────────────

    /// @inheritdoc ISessionKeyPlugin
    function executeWithSessionKey(Call[] calldata calls, address sessionKey) external returns (bytes[] memory) {
        _chargeAtExecution(msg.sender, calls, sessionKey);
        bytes[] memory results = new bytes[](calls.length);
        for (uint256 i = 0; i < calls.length; ++i) {
            results[i] = IPluginExecutor(msg.sender).executeFromPluginExternal(
                calls[i].target, calls[i].value, calls[i].data
            );
        }
        return results;
    }

    /// @inheritdoc ISessionKeyPlugin
    function addSessionKey(address sessionKey, bytes32 tag, bytes[] calldata permissionUpdates) external {
        _addKey(sessionKey, tag, permissionUpdates);
    }

    /// @inheritdoc ISessionKeyPlugin
    function removeSessionKey(address sessionKey, bytes32 predecessor) external {
        if (!_keys.removeAfter(msg.sender, sessionKey, predecessor)) revert InvalidSessionKey(sessionKey);
        delete _keyIdOf[msg.sender][sessionKey];
        emit SessionKeyRemoved(msg.sender, sessionKey);
    }

    /// @inheritdoc ISessionKeyPlugin
    function rotateSessionKey(address oldSessionKey, bytes32 predecessor, address newSessionKey) external {
        if (!_keys.removeAfter(msg.sender, oldSessionKey, predecessor)) revert InvalidSessionKey(oldSessionKey);
        if (!_keys.add(msg.sender, newSessionKey)) revert InvalidSessionKey(newSessionKey);
        uint256 id = _keyIdOf[msg.sender][oldSessionKey];
        delete _keyIdOf[msg.sender][oldSessionKey];
        _keyIdOf[msg.sender][newSessionKey] = id;
        emit SessionKeyRotated(msg.sender, oldSessionKey, newSessionKey);
    }

    /// @inheritdoc ISessionKeyPlugin
    function updateKeyPermissions(address sessionKey, bytes[] calldata updates) external {
        _updatePermissions(sessionKey, updates);
    }

    /// @inheritdoc ISessionKeyPlugin
    function resetSessionKeyGasLimitTimestamp(address account, address sessionKey) external {
        KeyRules storage r = _rules[account][_requireKeyId(account, sessionKey)];
        if (r.gasResetPending) {
            r.gasResetPending = false;
            r.gas.lastUsed = uint48(block.timestamp);
        }
    }

    // ─── Plugin interface ─────────────────────────────────────────────────────────────────────────────

    /// @notice Removes every key of the caller (emitting SessionKeyRemoved for each), keeping the id counter.
    function onUninstall(bytes calldata) external override {
        address[] memory keys = _keys.all(msg.sender);
        for (uint256 i = 0; i < keys.length; ++i) {
            delete _keyIdOf[msg.sender][keys[i]];
            emit SessionKeyRemoved(msg.sender, keys[i]);
        }
        _keys.clear(msg.sender);
    }

    /// @notice Validates a session-key user operation whose callData is executeWithSessionKey(calls, key).
    /// @dev A malformed signature reverts InvalidSignature; an unknown key or a permission failure reverts
    /// PermissionsCheckFailed; a well-formed signature by another signer returns SIG_VALIDATION_FAILED.
    /// The key's time range (narrowed by spend-limit intervals) is returned in the validation data.
    function userOpValidationFunction(uint8 functionId, UserOperation calldata userOp, bytes32 userOpHash)
        external
        override
        returns (uint256)
    {
        if (functionId != uint8(FunctionId.USER_OP_VALIDATION_SESSION_KEY)) {
            revert NotImplemented(msg.sig, functionId);
        }
        (Call[] memory calls, address sessionKey) = abi.decode(userOp.callData[4:], (Call[], address));
        (address signer, SigLib.RecoverError err) =
            SigLib.tryRecover(SigLib.personalDigest(userOpHash), userOp.signature);
        if (err != SigLib.RecoverError.NoError) revert InvalidSignature(sessionKey);
        if (!_keys.contains(msg.sender, sessionKey)) revert PermissionsCheckFailed();

        uint256 validationData = _checkUserOp(userOp, calls, sessionKey);
        if (uint160(validationData) != uint160(SIG_VALIDATION_PASSED)) revert PermissionsCheckFailed();
        return validationData | (signer == sessionKey ? SIG_VALIDATION_PASSED : SIG_VALIDATION_FAILED);
    }

    /// @inheritdoc IPlugin
    function pluginManifest() external pure override returns (PluginManifest memory m) {
        m.dependencyInterfaceIds = new bytes4[](2);
        m.dependencyInterfaceIds[_DEP_OWNER_RUNTIME] = type(IPlugin).interfaceId;
        m.dependencyInterfaceIds[_DEP_OWNER_USER_OP] = type(IPlugin).interfaceId;

        bytes4[5] memory execs = [
            this.executeWithSessionKey.selector,
            this.addSessionKey.selector,
            this.removeSessionKey.selector,
            this.rotateSessionKey.selector,
            this.updateKeyPermissions.selector
        ];
        m.executionFunctions = new bytes4[](5);
        for (uint256 i = 0; i < 5; ++i) {
            m.executionFunctions[i] = execs[i];
        }

        ManifestFunction memory ownSessionKeyCheck =
            ManifestFunction(ManifestAssociatedFunctionType.SELF, uint8(FunctionId.USER_OP_VALIDATION_SESSION_KEY), 0);
        ManifestFunction memory ownerUserOp =
            ManifestFunction(ManifestAssociatedFunctionType.DEPENDENCY, 0, _DEP_OWNER_USER_OP);
        ManifestFunction memory ownerRuntime =
            ManifestFunction(ManifestAssociatedFunctionType.DEPENDENCY, 0, _DEP_OWNER_RUNTIME);

        // executeWithSessionKey is checked by this plugin; the four management functions by the owner plugin.
        m.userOpValidationFunctions = new ManifestAssociatedFunction[](5);
        m.userOpValidationFunctions[0] = ManifestAssociatedFunction(execs[0], ownSessionKeyCheck);
        m.runtimeValidationFunctions = new ManifestAssociatedFunction[](4);
        for (uint256 i = 1; i < 5; ++i) {
            m.userOpValidationFunctions[i] = ManifestAssociatedFunction(execs[i], ownerUserOp);
            m.runtimeValidationFunctions[i - 1] = ManifestAssociatedFunction(execs[i], ownerRuntime);
        }

        // Session keys act through user operations only: a direct call of executeWithSessionKey is denied.
        m.preRuntimeValidationHooks = new ManifestAssociatedFunction[](1);
        m.preRuntimeValidationHooks[0] = ManifestAssociatedFunction(
            execs[0], ManifestFunction(ManifestAssociatedFunctionType.PRE_HOOK_ALWAYS_DENY, 0, 0)
        );

        m.permitAnyExternalAddress = true;
        m.canSpendNativeToken = true;
    }

    /// @inheritdoc IPlugin
    function pluginMetadata() external pure override returns (PluginMetadata memory md) {
        md.name = _NAME;
        md.version = _VERSION;
        md.author = _AUTHOR;
        md.permissionDescriptors = new SelectorPermission[](4);
        md.permissionDescriptors[0] = SelectorPermission(this.addSessionKey.selector, "Modify Session Keys");
        md.permissionDescriptors[1] = SelectorPermission(this.removeSessionKey.selector, "Modify Session Keys");
        md.permissionDescriptors[2] = SelectorPermission(this.rotateSessionKey.selector, "Modify Session Keys");
        md.permissionDescriptors[3] =
            SelectorPermission(this.updateKeyPermissions.selector, "Modify Session Key Permissions");
    }

    /// @inheritdoc PluginBase
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(ISessionKeyPlugin).interfaceId || super.supportsInterface(interfaceId);
    }

    // ─── Views (called on the plugin with the account as first argument) ─────────────────────────────

    /// @inheritdoc ISessionKeyPlugin
    function sessionKeysOf(address account) external view returns (address[] memory) {
        return _keys.all(account);
    }

    /// @inheritdoc ISessionKeyPlugin
    function isSessionKeyOf(address account, address sessionKey) external view returns (bool) {
        return _keys.contains(account, sessionKey);
    }

    /// @inheritdoc ISessionKeyPlugin
    function findPredecessor(address account, address sessionKey) external view returns (bytes32) {
        address[] memory keys = _keys.all(account);
        bytes32 before = AccountAddressSetLib.HEAD;
        for (uint256 i = 0; i < keys.length; ++i) {
            if (keys[i] == sessionKey) return before;
            before = AccountAddressSetLib.entryOf(keys[i]);
        }
        revert SessionKeyNotFound(sessionKey);
    }

    /// @inheritdoc ISessionKeyPlugin
    function getAccessControlType(address account, address sessionKey)
        external
        view
        returns (ContractAccessControlType)
    {
        return _rules[account][_requireKeyId(account, sessionKey)].accessType;
    }

    /// @inheritdoc ISessionKeyPlugin
    function getAccessControlEntry(address account, address sessionKey, address targetAddress)
        external
        view
        returns (bool isOnList, bool checkSelectors)
    {
        TargetRules storage t = _targets[account][_requireKeyId(account, sessionKey)][targetAddress];
        return (t.listed, t.checkSelectors);
    }

    /// @inheritdoc ISessionKeyPlugin
    function isSelectorOnAccessControlList(
        address account,
        address sessionKey,
        address targetAddress,
        bytes4 selector
    ) external view returns (bool isOnList) {
        return _listedSelectors[account][_requireKeyId(account, sessionKey)][targetAddress][selector];
    }

    /// @inheritdoc ISessionKeyPlugin
    function getKeyTimeRange(address account, address sessionKey)
        external
        view
        returns (uint48 validAfter, uint48 validUntil)
    {
        KeyRules storage r = _rules[account][_requireKeyId(account, sessionKey)];
        return (r.validAfter, r.validUntil);
    }

    /// @inheritdoc ISessionKeyPlugin
    function getNativeTokenSpendLimitInfo(address account, address sessionKey)
        external
        view
        returns (SpendLimitInfo memory info)
    {
        KeyRules storage r = _rules[account][_requireKeyId(account, sessionKey)];
        if (!r.nativeUnlimited) info = _info(r.native);
    }

    /// @inheritdoc ISessionKeyPlugin
    function getGasSpendLimit(address account, address sessionKey)
        external
        view
        returns (SpendLimitInfo memory info, bool shouldReset)
    {
        KeyRules storage r = _rules[account][_requireKeyId(account, sessionKey)];
        shouldReset = r.gasResetPending;
        if (r.hasGasLimit) info = _info(r.gas);
    }

    /// @inheritdoc ISessionKeyPlugin
    function getERC20SpendLimitInfo(address account, address sessionKey, address token)
        external
        view
        returns (SpendLimitInfo memory info)
    {
        TargetRules storage t = _targets[account][_requireKeyId(account, sessionKey)][token];
        // Unlike the native and gas views, the stored figures are reported even when the limit is off.
        info = _info(t.erc20);
        info.hasLimit = t.erc20Limited;
    }

    /// @inheritdoc ISessionKeyPlugin
    function getRequiredPaymaster(address account, address sessionKey) external view returns (address) {
        KeyRules storage r = _rules[account][_requireKeyId(account, sessionKey)];
        return r.hasPaymasterRule ? r.paymaster : address(0);
    }

    // ─── Internals: key list ─────────────────────────────────────────────────────────────────────────

    /// @dev Installation data: abi.encode(address[] keys, bytes32[] tags, bytes[][] permissionUpdates).
    function _onInstall(bytes calldata data) internal override whenNotInitialized(msg.sender) {
        (address[] memory keys, bytes32[] memory tags, bytes[][] memory updates) =
            abi.decode(data, (address[], bytes32[], bytes[][]));
        if (keys.length != tags.length || keys.length != updates.length) revert LengthMismatch();
        for (uint256 i = 0; i < keys.length; ++i) {
            _addKey(keys[i], tags[i], updates[i]);
        }
    }

    function _isInitialized(address account) internal view override returns (bool) {
        return !_keys.isEmpty(account);
    }

    function _addKey(address sessionKey, bytes32 tag, bytes[] memory updates) internal {
        // Refuses the zero address and keys already on the list.
        if (!_keys.add(msg.sender, sessionKey)) revert InvalidSessionKey(sessionKey);
        // Ids start at 1 and only grow, so an old id (and the permissions under it) is never handed out again.
        _keyIdOf[msg.sender][sessionKey] = ++_lastKeyId[msg.sender];
        emit SessionKeyAdded(msg.sender, sessionKey, tag);
        if (updates.length > 0) _updatePermissions(sessionKey, updates);
    }

    function _requireKeyId(address account, address sessionKey) internal view returns (uint256 id) {
        id = _keyIdOf[account][sessionKey];
        if (id == 0) revert InvalidSessionKey(sessionKey);
    }

    // ─── Internals: permission updates ───────────────────────────────────────────────────────────────

    function _updatePermissions(address sessionKey, bytes[] memory updates) internal {
        uint256 id = _requireKeyId(msg.sender, sessionKey);
        for (uint256 i = 0; i < updates.length; ++i) {
            _applyUpdate(id, updates[i]);
        }
        emit PermissionsUpdated(msg.sender, sessionKey, updates);
    }

    function _applyUpdate(uint256 id, bytes memory update) internal {
        bytes4 sel = bytes4(update);
        if (update.length < 4) revert InvalidPermissionsUpdate(sel);
        bytes memory args = _afterSelector(update);
        KeyRules storage r = _rules[msg.sender][id];

        if (sel == ISessionKeyPermissionsUpdates.setAccessListType.selector) {
            r.accessType = abi.decode(args, (ContractAccessControlType));
        } else if (sel == ISessionKeyPermissionsUpdates.updateAccessListAddressEntry.selector) {
            (address target, bool isOnList, bool checkSelectors) = abi.decode(args, (address, bool, bool));
            TargetRules storage t = _targets[msg.sender][id][target];
            t.listed = isOnList;
            t.checkSelectors = checkSelectors;
        } else if (sel == ISessionKeyPermissionsUpdates.updateAccessListFunctionEntry.selector) {
            (address target, bytes4 fn, bool isOnList) = abi.decode(args, (address, bytes4, bool));
            _listedSelectors[msg.sender][id][target][fn] = isOnList;
        } else if (sel == ISessionKeyPermissionsUpdates.updateTimeRange.selector) {
            (uint48 validAfter, uint48 validUntil) = abi.decode(args, (uint48, uint48));
            r.validAfter = validAfter;
            r.validUntil = validUntil;
        } else if (sel == ISessionKeyPermissionsUpdates.setNativeTokenSpendLimit.selector) {
            (uint256 limit, uint48 interval) = abi.decode(args, (uint256, uint48));
            r.nativeUnlimited = !_configureLimit(r.native, limit, interval);
        } else if (sel == ISessionKeyPermissionsUpdates.setERC20SpendLimit.selector) {
            (address token, uint256 limit, uint48 interval) = abi.decode(args, (address, uint256, uint48));
            if (token == address(0)) revert InvalidToken(token);
            TargetRules storage t = _targets[msg.sender][id][token];
            t.erc20Limited = _configureLimit(t.erc20, limit, interval);
        } else if (sel == ISessionKeyPermissionsUpdates.setGasSpendLimit.selector) {
            (uint256 limit, uint48 interval) = abi.decode(args, (uint256, uint48));
            r.gasResetPending = false;
            r.hasGasLimit = _configureLimit(r.gas, limit, interval);
        } else if (sel == ISessionKeyPermissionsUpdates.setRequiredPaymaster.selector) {
            address paymaster = abi.decode(args, (address));
            if (paymaster == address(0)) {
                r.hasPaymasterRule = false;
            } else {
                r.hasPaymasterRule = true;
                r.paymaster = paymaster;
            }
        } else {
            revert InvalidPermissionsUpdate(sel);
        }
    }

    /// @dev type(uint256).max switches the limit off and forgets the usage (nothing else changes). Any other
    /// value sets amount and interval, keeps the usage, and restarts the interval now (or sets lastUsed to 0
    /// when there is no interval). Returns whether the limit is on.
    function _configureLimit(Limit storage l, uint256 limit, uint48 interval) internal returns (bool) {
        if (limit == type(uint256).max) {
            l.used = 0;
            return false;
        }
        l.amount = limit;
        l.interval = interval;
        l.lastUsed = interval == 0 ? 0 : uint48(block.timestamp);
        return true;
    }

    function _afterSelector(bytes memory update) internal pure returns (bytes memory args) {
        uint256 n = update.length - 4;
        args = new bytes(n);
        for (uint256 i = 0; i < n; ++i) {
            args[i] = update[i + 4];
        }
    }

    // ─── Internals: checks ───────────────────────────────────────────────────────────────────────────

    /// @dev Validation-phase checks. Returns ERC-4337 validation data: authorizer 0 (pass) or 1 (fail), the
    /// key's validUntil, and validAfter raised to the start of the next interval when a spend only fits there.
    /// The gas limit is the one rule that records usage during validation.
    function _checkUserOp(UserOperation calldata userOp, Call[] memory calls, address sessionKey)
        internal
        returns (uint256)
    {
        uint256 id = _keyIdOf[msg.sender][sessionKey];
        KeyRules storage r = _rules[msg.sender][id];
        uint48 validAfter = r.validAfter;
        uint48 validUntil = r.validUntil;

        bool ok = calls.length > 0;
        uint256 nativeSpend;
        ContractAccessControlType accessType = r.accessType;
        for (uint256 i = 0; i < calls.length; ++i) {
            nativeSpend += calls[i].value;
            ok = ok && _callAllowed(id, accessType, calls[i].target, calls[i].data);
        }

        if (!r.nativeUnlimited) {
            (bool fits, uint48 notBefore) = _fitsLimit(r.native, nativeSpend);
            ok = ok && fits;
            if (notBefore > validAfter) validAfter = notBefore;
        }

        if (r.hasGasLimit) {
            // Gas-limited keys must use their own address as nonce key, so their ops run one at a time.
            if (uint192(userOp.nonce >> 64) != uint192(uint160(sessionKey))) ok = false;
            uint256 verificationFactor = userOp.paymasterAndData.length > 0 ? 3 : 1;
            uint256 maxCost = (
                userOp.callGasLimit + userOp.verificationGasLimit * verificationFactor + userOp.preVerificationGas
            ) * userOp.maxFeePerGas;
            (bool fits, uint48 notBefore) = _chargeGas(r, maxCost);
            ok = ok && fits;
            if (notBefore > validAfter) validAfter = notBefore;
        }

        if (r.hasPaymasterRule) {
            ok = ok && address(bytes20(userOp.paymasterAndData)) == r.paymaster;
        }

        return (ok ? SIG_VALIDATION_PASSED : SIG_VALIDATION_FAILED) | (uint256(validUntil) << 160)
            | (uint256(validAfter) << 208);
    }

    /// @dev The access-list check of one call. Mirrors the vendor's early returns: an allowlisted target
    /// without selector checks, or a target absent from a denylist, passes before the ERC-20 selector rule.
    function _callAllowed(uint256 id, ContractAccessControlType accessType, address target, bytes memory data)
        internal
        view
        returns (bool ok)
    {
        bytes4 fn = bytes4(data); // zero-padded when shorter than 4 bytes
        TargetRules storage t = _targets[msg.sender][id][target];
        ok = true;
        if (accessType == ContractAccessControlType.ALLOWLIST) {
            if (!t.listed) return false;
            if (!t.checkSelectors) return true;
            ok = _listedSelectors[msg.sender][id][target][fn];
        } else if (accessType == ContractAccessControlType.DENYLIST) {
            if (!t.listed) return true;
            if (!t.checkSelectors) return false;
            ok = !_listedSelectors[msg.sender][id][target][fn];
        }
        if (t.erc20Limited && fn != _ERC20_TRANSFER && fn != _ERC20_APPROVE) ok = false;
    }

    /// @dev Validation-time fit of a spend against a limit, without recording it.
    function _fitsLimit(Limit storage l, uint256 spend) internal view returns (bool, uint48) {
        uint256 total;
        unchecked {
            total = spend + l.used;
            if (total < spend) return (false, 0);
        }
        if (l.interval == 0) return (total <= l.amount, 0);
        if (total <= l.amount) return (true, 0);
        if (spend <= l.amount) return (true, l.lastUsed + l.interval);
        return (false, 0);
    }

    /// @dev Validation-time gas accounting: checks and records the op's maximum cost.
    function _chargeGas(KeyRules storage r, uint256 cost) internal returns (bool, uint48) {
        Limit storage g = r.gas;
        bool pending = r.gasResetPending;
        uint256 total;
        unchecked {
            total = cost + g.used;
            if (total < cost) return (false, 0);
        }
        if (g.interval == 0) {
            if (total > g.amount) return (false, 0);
            g.used = total;
            return (true, 0);
        }
        if (total <= g.amount) {
            g.used = total;
            return (true, pending ? g.lastUsed + g.interval : 0);
        }
        if (cost <= g.amount && !pending) {
            // Opens the next interval; execution stamps its start time.
            r.gasResetPending = true;
            g.used = cost;
            return (true, g.lastUsed + g.interval);
        }
        return (false, 0);
    }

    /// @dev Execution-time re-check and recording of the ERC-20 and native limits.
    function _chargeAtExecution(address account, Call[] calldata calls, address sessionKey) internal {
        uint256 id = _keyIdOf[msg.sender][sessionKey];
        KeyRules storage r = _rules[msg.sender][id];
        uint256 nativeSpend;
        for (uint256 i = 0; i < calls.length; ++i) {
            nativeSpend += calls[i].value;
            TargetRules storage t = _targets[account][id][calls[i].target];
            if (t.erc20Limited && !_consume(t.erc20, _tokenSpend(calls[i].data))) {
                revert ERC20SpendLimitExceeded(msg.sender, sessionKey, calls[i].target);
            }
        }
        if (!r.nativeUnlimited && !_consume(r.native, nativeSpend)) {
            revert NativeTokenSpendLimitExceeded(msg.sender, sessionKey);
        }
        if (r.gasResetPending) {
            r.gasResetPending = false;
            r.gas.lastUsed = uint48(block.timestamp);
        }
    }

    /// @dev Records a spend at execution time; false when it does not fit.
    function _consume(Limit storage l, uint256 spend) internal returns (bool) {
        if (l.interval == 0 || l.lastUsed + l.interval > block.timestamp) {
            uint256 total;
            unchecked {
                total = spend + l.used;
            }
            if (total < spend || total > l.amount) return false;
            l.used = total;
        } else {
            // The interval has elapsed: this spend starts the next one.
            if (spend > l.amount) return false;
            l.used = spend;
            l.lastUsed = uint48(block.timestamp);
        }
        return true;
    }

    /// @dev The amount of an ERC-20 transfer or approve (an approve counts in full); 0 for anything else.
    function _tokenSpend(bytes calldata data) internal pure returns (uint256) {
        bytes4 fn = bytes4(data);
        if ((fn != _ERC20_TRANSFER && fn != _ERC20_APPROVE) || data.length < 68) return 0;
        return uint256(bytes32(data[36:68]));
    }

    function _info(Limit storage l) internal view returns (SpendLimitInfo memory) {
        return SpendLimitInfo(true, l.amount, l.used, l.interval, l.lastUsed);
    }
}
