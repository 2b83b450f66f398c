// SPDX-License-Identifier: MIT
// keywarden stand-in for the MultiOwnerModularAccountFactory.
pragma solidity ^0.8.24;

import {ModularAccount} from "./ModularAccount.sol";
import {IEntryPointV06, IPlugin} from "./Types.sol";

/// @title ModularAccountFactory (keywarden stand-in)
/// @notice Deploys accounts at CREATE2 addresses determined by (salt, owners), each starting with the Multi
/// Owner plugin installed for those owners. Usable from a user operation's initCode
/// (factory ‖ createAccount(salt, owners)). Accounts are EIP-1167 proxies of one ModularAccount
/// implementation that the factory deploys in its constructor.
contract ModularAccountFactory {
    IEntryPointV06 public immutable ENTRYPOINT;
    address public immutable MULTI_OWNER_PLUGIN;
    address public immutable IMPL;
    bytes32 internal immutable _MULTI_OWNER_MANIFEST_HASH;
    uint256 internal constant _MAX_OWNERS_ON_CREATION = 100;

    error InvalidOwner();
    error OwnersArrayEmpty();
    error OwnersLimitExceeded();

    constructor(IEntryPointV06 entryPoint, address multiOwnerPlugin) {
        ENTRYPOINT = entryPoint;
        MULTI_OWNER_PLUGIN = multiOwnerPlugin;
        IMPL = address(new ModularAccount(entryPoint));
        _MULTI_OWNER_MANIFEST_HASH = keccak256(abi.encode(IPlugin(multiOwnerPlugin).pluginManifest()));
    }

    receive() external payable {}

    /// @notice Creates the account of (salt, owners), or returns it if it exists. Owners must be strictly
    /// ascending and non-zero.
    function createAccount(uint256 salt, address[] calldata owners) external returns (address addr) {
        if (!_ascendingNonZero(owners)) revert InvalidOwner();
        bytes memory ownersData = abi.encode(owners);
        bytes32 combined = keccak256(abi.encode(salt, ownersData));
        bytes memory initCode = _proxyInitCode();
        addr = _predict(combined, initCode);
        if (addr.code.length > 0) return addr;

        address deployed;
        assembly ("memory-safe") {
            deployed := create2(0, add(initCode, 0x20), mload(initCode), combined)
        }
        require(deployed == addr, "create2 failed");

        address[] memory plugins = new address[](1);
        plugins[0] = MULTI_OWNER_PLUGIN;
        bytes32[] memory hashes = new bytes32[](1);
        hashes[0] = _MULTI_OWNER_MANIFEST_HASH;
        bytes[] memory datas = new bytes[](1);
        datas[0] = ownersData;
        ModularAccount(payable(addr)).initialize(plugins, abi.encode(hashes, datas));
    }

    /// @notice The address createAccount(salt, owners) deploys to.
    function getAddress(uint256 salt, address[] calldata owners) external view returns (address) {
        if (owners.length == 0) revert OwnersArrayEmpty();
        if (owners.length > _MAX_OWNERS_ON_CREATION) revert OwnersLimitExceeded();
        if (!_ascendingNonZero(owners)) revert InvalidOwner();
        return _predict(keccak256(abi.encode(salt, abi.encode(owners))), _proxyInitCode());
    }

    function _ascendingNonZero(address[] calldata owners) internal pure returns (bool) {
        address last;
        for (uint256 i = 0; i < owners.length; ++i) {
            if (owners[i] <= last) return false;
            last = owners[i];
        }
        return true;
    }

    /// @dev EIP-1167 minimal proxy creation code for IMPL.
    function _proxyInitCode() internal view returns (bytes memory) {
        return abi.encodePacked(
            hex"3d602d80600a3d3981f3363d3d373d3d3d363d73", IMPL, hex"5af43d82803e903d91602b57fd5bf3"
        );
    }

    function _predict(bytes32 salt, bytes memory initCode) internal view returns (address) {
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, keccak256(initCode))))));
    }
}
