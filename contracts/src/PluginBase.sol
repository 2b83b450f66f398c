// SPDX-License-Identifier: MIT
// keywarden stand-ins: what every plugin shares.
pragma solidity ^0.8.24;

import {IERC165, IPlugin, PluginManifest, PluginMetadata, UserOperation} from "./Types.sol";

/// @notice Common plugin behaviour: ERC-165 with the IPlugin id, install only from contracts, and a
/// NotImplemented revert for every hook a plugin does not provide.
abstract contract PluginBase is IPlugin, IERC165 {
    error AlreadyInitialized();
    error InvalidAction();
    error NotContractCaller(address caller);
    error NotImplemented(bytes4 selector, uint8 functionId);
    error NotInitialized();

    modifier whenNotInitialized(address account) {
        if (_isInitialized(account)) revert AlreadyInitialized();
        _;
    }

    modifier whenInitialized(address account) {
        if (!_isInitialized(account)) revert NotInitialized();
        _;
    }

    /// @inheritdoc IPlugin
    function onInstall(bytes calldata data) external virtual {
        // An EOA that set up plugin state for itself could not become an account later: refuse it.
        if (msg.sender.code.length == 0) revert NotContractCaller(msg.sender);
        _onInstall(data);
    }

    /// @inheritdoc IPlugin
    function onUninstall(bytes calldata) external virtual {
        revert NotImplemented(msg.sig, 0);
    }

    /// @inheritdoc IPlugin
    function preUserOpValidationHook(uint8 functionId, UserOperation calldata, bytes32)
        external
        virtual
        returns (uint256)
    {
        revert NotImplemented(msg.sig, functionId);
    }

    /// @inheritdoc IPlugin
    function userOpValidationFunction(uint8 functionId, UserOperation calldata, bytes32)
        external
        virtual
        returns (uint256)
    {
        revert NotImplemented(msg.sig, functionId);
    }

    /// @inheritdoc IPlugin
    function preRuntimeValidationHook(uint8 functionId, address, uint256, bytes calldata) external virtual {
        revert NotImplemented(msg.sig, functionId);
    }

    /// @inheritdoc IPlugin
    function runtimeValidationFunction(uint8 functionId, address, uint256, bytes calldata) external virtual {
        revert NotImplemented(msg.sig, functionId);
    }

    /// @inheritdoc IPlugin
    function preExecutionHook(uint8 functionId, address, uint256, bytes calldata)
        external
        virtual
        returns (bytes memory)
    {
        revert NotImplemented(msg.sig, functionId);
    }

    /// @inheritdoc IPlugin
    function postExecutionHook(uint8 functionId, bytes calldata) external virtual {
        revert NotImplemented(msg.sig, functionId);
    }

    /// @inheritdoc IPlugin
    function pluginManifest() external pure virtual returns (PluginManifest memory);

    /// @inheritdoc IPlugin
    function pluginMetadata() external pure virtual returns (PluginMetadata memory);

    /// @inheritdoc IERC165
    function supportsInterface(bytes4 interfaceId) public view virtual returns (bool) {
        return interfaceId == type(IPlugin).interfaceId || interfaceId == type(IERC165).interfaceId;
    }

    function _onInstall(bytes calldata) internal virtual {
        revert NotImplemented(msg.sig, 0);
    }

    function _isInitialized(address account) internal view virtual returns (bool);
}
