// SPDX-License-Identifier: MIT
// keywarden stand-ins: signature helpers.
pragma solidity ^0.8.24;

import {IERC1271} from "./Types.sol";

/// @notice ECDSA recovery with the rules the vendor's contracts apply (OpenZeppelin 4.9 semantics): a signature
/// is exactly 65 bytes r || s || v, s must be in the lower half of the curve order, and a zero recovered address
/// is an error. v is passed to ecrecover as given, so anything but 27 or 28 fails.
library SigLib {
    enum RecoverError {
        NoError,
        InvalidSignature,
        InvalidSignatureLength,
        InvalidSignatureS
    }

    /// @dev Half the secp256k1 group order; s above it is malleable and refused.
    uint256 internal constant HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// @notice The EIP-191 "personal sign" digest of a 32-byte hash.
    function personalDigest(bytes32 hash) internal pure returns (bytes32 digest) {
        digest = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", hash));
    }

    /// @notice Recovers the signer of `digest`, reporting malformed input as an error code instead of reverting.
    function tryRecover(bytes32 digest, bytes memory signature) internal pure returns (address, RecoverError) {
        if (signature.length != 65) {
            return (address(0), RecoverError.InvalidSignatureLength);
        }
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            r := mload(add(signature, 0x20))
            s := mload(add(signature, 0x40))
            v := byte(0, mload(add(signature, 0x60)))
        }
        if (uint256(s) > HALF_ORDER) {
            return (address(0), RecoverError.InvalidSignatureS);
        }
        address signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) {
            return (address(0), RecoverError.InvalidSignature);
        }
        return (signer, RecoverError.NoError);
    }

    /// @notice True when `signer` is a contract whose ERC-1271 check accepts `signature` over `hash`.
    function isValidERC1271Now(address signer, bytes32 hash, bytes memory signature) internal view returns (bool) {
        if (signer.code.length == 0) return false;
        (bool ok, bytes memory ret) =
            signer.staticcall(abi.encodeWithSelector(IERC1271.isValidSignature.selector, hash, signature));
        return ok && ret.length >= 32 && abi.decode(ret, (bytes32)) == bytes32(IERC1271.isValidSignature.selector);
    }
}
