// SPDX-License-Identifier: MIT
// keywarden stand-in for the Modular Account v1 Multi Owner plugin.
pragma solidity ^0.8.24;

import {AccountAddressSet, AccountAddressSetLib} from "./AccountAddressSet.sol";
import {PluginBase} from "./PluginBase.sol";
import {SigLib} from "./SigLib.sol";
import {
    IERC1271,
    IPlugin,
    IUpgradeable,
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

/// @notice The Multi Owner plugin's own surface, with the vendor's selectors and event topic.
interface IMultiOwnerPlugin {
    enum FunctionId {
        RUNTIME_VALIDATION_OWNER_OR_SELF,
        USER_OP_VALIDATION_OWNER
    }

    event OwnerUpdated(address indexed account, address[] addedOwners, address[] removedOwners);

    error InvalidOwner(address owner);
    error EmptyOwnersNotAllowed();
    error NotAuthorized();
    error OwnerDoesNotExist(address owner);

    function updateOwners(address[] memory ownersToAdd, address[] memory ownersToRemove) external;
    function eip712Domain()
        external
        view
        returns (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        );
    function isOwnerOf(address account, address ownerToCheck) external view returns (bool);
    function ownersOf(address account) external view returns (address[] memory);
    function encodeMessageData(address account, bytes memory message) external view returns (bytes memory);
    function getMessageHash(address account, bytes memory message) external view returns (bytes32);
}

/// @title MultiOwnerPlugin (keywarden stand-in)
/// @notice Equal owners per account. User operations are accepted when an owner signed the EIP-191 personal
/// digest of the userOpHash (65-byte r||s||v, low s, v 27/28) or, for contract owners, when ERC-1271 accepts the
/// raw userOpHash. Direct calls are accepted from an owner or from the account itself.
contract MultiOwnerPlugin is PluginBase, IMultiOwnerPlugin, IERC1271 {
    using AccountAddressSetLib for AccountAddressSet;

    string internal constant _NAME = "Multi Owner Plugin";
    string internal constant _VERSION = "1.0.0";
    string internal constant _AUTHOR = "keywarden stand-in";

    bytes32 private constant _DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)");
    bytes32 private constant _MESSAGE_TYPEHASH = keccak256("AlchemyModularAccountMessage(bytes message)");
    bytes4 internal constant _ERC1271_OK = 0x1626ba7e;
    bytes4 internal constant _ERC1271_FAIL = 0xffffffff;

    // Native account functions whose validation this plugin provides.
    bytes4 internal constant _EXECUTE = 0xb61d27f6; // execute(address,uint256,bytes)
    bytes4 internal constant _EXECUTE_BATCH = 0x34fcd5be; // executeBatch((address,uint256,bytes)[])
    bytes4 internal constant _INSTALL_PLUGIN = 0xc5f0e8d1; // installPlugin(address,bytes32,bytes,bytes21[])
    bytes4 internal constant _UNINSTALL_PLUGIN = 0xc1a221f3; // uninstallPlugin(address,bytes,bytes)

    AccountAddressSet internal _owners;

    /// @notice Removes then adds owners of the calling account. The account must keep at least one owner.
    function updateOwners(address[] memory ownersToAdd, address[] memory ownersToRemove)
        public
        whenInitialized(msg.sender)
    {
        for (uint256 i = 0; i < ownersToRemove.length; ++i) {
            if (!_owners.remove(msg.sender, ownersToRemove[i])) revert OwnerDoesNotExist(ownersToRemove[i]);
        }
        _addAll(ownersToAdd);
        if (_owners.isEmpty(msg.sender)) revert EmptyOwnersNotAllowed();
        emit OwnerUpdated(msg.sender, ownersToAdd, ownersToRemove);
    }

    /// @inheritdoc IMultiOwnerPlugin
    function eip712Domain()
        public
        view
        returns (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        )
    {
        return (hex"1f", _NAME, _VERSION, block.chainid, msg.sender, _salt(), new uint256[](0));
    }

    /// @notice ERC-1271 for the calling account: an owner signed the account's typed message for `digest`.
    function isValidSignature(bytes32 digest, bytes memory signature) public view returns (bytes4) {
        bytes32 messageHash = getMessageHash(msg.sender, abi.encode(digest));
        (address signer, SigLib.RecoverError err) = SigLib.tryRecover(messageHash, signature);
        if (err == SigLib.RecoverError.NoError && _owners.contains(msg.sender, signer)) return _ERC1271_OK;
        if (_contractOwnerAccepts(msg.sender, messageHash, signature)) return _ERC1271_OK;
        return _ERC1271_FAIL;
    }

    /// @inheritdoc IMultiOwnerPlugin
    function isOwnerOf(address account, address ownerToCheck) public view returns (bool) {
        return _owners.contains(account, ownerToCheck);
    }

    /// @inheritdoc IMultiOwnerPlugin
    function ownersOf(address account) public view returns (address[] memory) {
        return _owners.all(account);
    }

    /// @inheritdoc IMultiOwnerPlugin
    function encodeMessageData(address account, bytes memory message) public view returns (bytes memory) {
        bytes32 structHash = keccak256(abi.encode(_MESSAGE_TYPEHASH, keccak256(message)));
        return abi.encodePacked("\x19\x01", _domainSeparator(account), structHash);
    }

    /// @inheritdoc IMultiOwnerPlugin
    function getMessageHash(address account, bytes memory message) public view returns (bytes32) {
        return keccak256(encodeMessageData(account, message));
    }

    // ─── Plugin interface ─────────────────────────────────────────────────────────────────────────────

    /// @notice Clears the calling account's owners, reporting them as removed.
    function onUninstall(bytes calldata) external override {
        emit OwnerUpdated(msg.sender, new address[](0), ownersOf(msg.sender));
        _owners.clear(msg.sender);
    }

    /// @notice Owner check of a user operation (function id 1).
    function userOpValidationFunction(uint8 functionId, UserOperation calldata userOp, bytes32 userOpHash)
        external
        view
        override
        returns (uint256)
    {
        if (functionId != uint8(FunctionId.USER_OP_VALIDATION_OWNER)) revert NotImplemented(msg.sig, functionId);
        (address signer, SigLib.RecoverError err) =
            SigLib.tryRecover(SigLib.personalDigest(userOpHash), userOp.signature);
        if (err == SigLib.RecoverError.NoError && isOwnerOf(msg.sender, signer)) return SIG_VALIDATION_PASSED;
        if (_contractOwnerAccepts(msg.sender, userOpHash, userOp.signature)) return SIG_VALIDATION_PASSED;
        return SIG_VALIDATION_FAILED;
    }

    /// @notice Owner-or-self check of a direct call (function id 0).
    function runtimeValidationFunction(uint8 functionId, address sender, uint256, bytes calldata)
        external
        view
        override
    {
        if (functionId != uint8(FunctionId.RUNTIME_VALIDATION_OWNER_OR_SELF)) {
            revert NotImplemented(msg.sig, functionId);
        }
        if (sender != msg.sender && !isOwnerOf(msg.sender, sender)) revert NotAuthorized();
    }

    /// @inheritdoc IPlugin
    function pluginManifest() external pure override returns (PluginManifest memory m) {
        m.executionFunctions = new bytes4[](3);
        m.executionFunctions[0] = this.updateOwners.selector;
        m.executionFunctions[1] = this.eip712Domain.selector;
        m.executionFunctions[2] = this.isValidSignature.selector;

        bytes4[6] memory guarded =
            [this.updateOwners.selector, _EXECUTE, _EXECUTE_BATCH, _INSTALL_PLUGIN, _UNINSTALL_PLUGIN, IUpgradeable.upgradeToAndCall.selector];
        ManifestFunction memory ownerUserOp = ManifestFunction(
            ManifestAssociatedFunctionType.SELF, uint8(FunctionId.USER_OP_VALIDATION_OWNER), 0
        );
        ManifestFunction memory ownerOrSelf = ManifestFunction(
            ManifestAssociatedFunctionType.SELF, uint8(FunctionId.RUNTIME_VALIDATION_OWNER_OR_SELF), 0
        );
        ManifestFunction memory alwaysAllow =
            ManifestFunction(ManifestAssociatedFunctionType.RUNTIME_VALIDATION_ALWAYS_ALLOW, 0, 0);

        m.userOpValidationFunctions = new ManifestAssociatedFunction[](6);
        m.runtimeValidationFunctions = new ManifestAssociatedFunction[](8);
        for (uint256 i = 0; i < 6; ++i) {
            m.userOpValidationFunctions[i] = ManifestAssociatedFunction(guarded[i], ownerUserOp);
            m.runtimeValidationFunctions[i] = ManifestAssociatedFunction(guarded[i], ownerOrSelf);
        }
        // The signature views stay reachable with a plain call.
        m.runtimeValidationFunctions[6] = ManifestAssociatedFunction(this.isValidSignature.selector, alwaysAllow);
        m.runtimeValidationFunctions[7] = ManifestAssociatedFunction(this.eip712Domain.selector, alwaysAllow);
    }

    /// @inheritdoc IPlugin
    function pluginMetadata() external pure override returns (PluginMetadata memory md) {
        md.name = _NAME;
        md.version = _VERSION;
        md.author = _AUTHOR;
        md.permissionDescriptors = new SelectorPermission[](1);
        md.permissionDescriptors[0] = SelectorPermission(this.updateOwners.selector, "Modify Ownership");
    }

    /// @inheritdoc PluginBase
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(IMultiOwnerPlugin).interfaceId || super.supportsInterface(interfaceId);
    }

    // ─── Internals ───────────────────────────────────────────────────────────────────────────────────

    /// @dev Installation data: abi.encode(address[] owners), at least one, no zero address, no duplicate.
    function _onInstall(bytes calldata data) internal override whenNotInitialized(msg.sender) {
        address[] memory initialOwners = abi.decode(data, (address[]));
        if (initialOwners.length == 0) revert EmptyOwnersNotAllowed();
        _addAll(initialOwners);
        emit OwnerUpdated(msg.sender, initialOwners, new address[](0));
    }

    function _isInitialized(address account) internal view override returns (bool) {
        return !_owners.isEmpty(account);
    }

    function _addAll(address[] memory owners) private {
        for (uint256 i = 0; i < owners.length; ++i) {
            if (!_owners.add(msg.sender, owners[i])) revert InvalidOwner(owners[i]);
        }
    }

    function _contractOwnerAccepts(address account, bytes32 digest, bytes memory signature)
        private
        view
        returns (bool)
    {
        address[] memory owners = _owners.all(account);
        for (uint256 i = 0; i < owners.length; ++i) {
            if (SigLib.isValidERC1271Now(owners[i], digest, signature)) return true;
        }
        return false;
    }

    function _salt() private view returns (bytes32) {
        return bytes32(bytes20(address(this)));
    }

    function _domainSeparator(address account) private view returns (bytes32) {
        return keccak256(
            abi.encode(
                _DOMAIN_TYPEHASH, keccak256(bytes(_NAME)), keccak256(bytes(_VERSION)), block.chainid, account, _salt()
            )
        );
    }
}
