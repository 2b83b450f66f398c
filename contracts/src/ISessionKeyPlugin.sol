// SPDX-License-Identifier: MIT
// keywarden stand-ins: the Session Key Plugin's external surface.
pragma solidity ^0.8.24;

import {Call} from "./Types.sol";

/// @notice The Session Key Plugin's functions, events and errors, with the vendor's selectors and topics.
interface ISessionKeyPlugin {
    enum FunctionId {
        USER_OP_VALIDATION_SESSION_KEY
    }

    /// @dev 0 allowlist (the default), 1 denylist, 2 no access list at all.
    enum ContractAccessControlType {
        ALLOWLIST,
        DENYLIST,
        ALLOW_ALL_ACCESS
    }

    /// @dev What the views report for the native, ERC-20 and gas limits.
    struct SpendLimitInfo {
        bool hasLimit;
        uint256 limit;
        uint256 limitUsed;
        uint48 refreshInterval;
        uint48 lastUsedTime;
    }

    event SessionKeyAdded(address indexed account, address indexed sessionKey, bytes32 indexed tag);
    event SessionKeyRemoved(address indexed account, address indexed sessionKey);
    event SessionKeyRotated(address indexed account, address indexed oldSessionKey, address indexed newSessionKey);
    event PermissionsUpdated(address indexed account, address indexed sessionKey, bytes[] updates);

    error ERC20SpendLimitExceeded(address account, address sessionKey, address token);
    error InvalidPermissionsUpdate(bytes4 updateSelector);
    error InvalidSessionKey(address sessionKey);
    error InvalidSignature(address sessionKey);
    error InvalidToken(address token);
    error LengthMismatch();
    error NativeTokenSpendLimitExceeded(address account, address sessionKey);
    error PermissionsCheckFailed();
    error SessionKeyNotFound(address sessionKey);

    function executeWithSessionKey(Call[] calldata calls, address sessionKey) external returns (bytes[] memory);
    function addSessionKey(address sessionKey, bytes32 tag, bytes[] calldata permissionUpdates) external;
    function removeSessionKey(address sessionKey, bytes32 predecessor) external;
    function rotateSessionKey(address oldSessionKey, bytes32 predecessor, address newSessionKey) external;
    function updateKeyPermissions(address sessionKey, bytes[] calldata updates) external;
    function resetSessionKeyGasLimitTimestamp(address account, address sessionKey) external;

    function sessionKeysOf(address account) external view returns (address[] memory);
    function isSessionKeyOf(address account, address sessionKey) external view returns (bool);
    function findPredecessor(address account, address sessionKey) external view returns (bytes32);
    function getAccessControlType(address account, address sessionKey)
        external
        view
        returns (ContractAccessControlType);
    function getAccessControlEntry(address account, address sessionKey, address targetAddress)
        external
        view
        returns (bool isOnList, bool checkSelectors);
    function isSelectorOnAccessControlList(
        address account,
        address sessionKey,
        address targetAddress,
        bytes4 selector
    ) external view returns (bool isOnList);
    function getKeyTimeRange(address account, address sessionKey)
        external
        view
        returns (uint48 validAfter, uint48 validUntil);
    function getNativeTokenSpendLimitInfo(address account, address sessionKey)
        external
        view
        returns (SpendLimitInfo memory);
    function getGasSpendLimit(address account, address sessionKey)
        external
        view
        returns (SpendLimitInfo memory info, bool shouldReset);
    function getERC20SpendLimitInfo(address account, address sessionKey, address token)
        external
        view
        returns (SpendLimitInfo memory);
    function getRequiredPaymaster(address account, address sessionKey) external view returns (address);
}

/// @notice The permission updates. Nothing implements these: each element of `updates` is the ABI encoding of
/// one of these calls, and the plugin dispatches on its selector.
interface ISessionKeyPermissionsUpdates {
    function setAccessListType(ISessionKeyPlugin.ContractAccessControlType contractAccessControlType) external;
    function updateAccessListAddressEntry(address contractAddress, bool isOnList, bool checkSelectors) external;
    function updateAccessListFunctionEntry(address contractAddress, bytes4 selector, bool isOnList) external;
    function updateTimeRange(uint48 validAfter, uint48 validUntil) external;
    function setNativeTokenSpendLimit(uint256 spendLimit, uint48 refreshInterval) external;
    function setERC20SpendLimit(address token, uint256 spendLimit, uint48 refreshInterval) external;
    function setGasSpendLimit(uint256 spendLimit, uint48 refreshInterval) external;
    function setRequiredPaymaster(address requiredPaymaster) external;
}
