// SPDX-License-Identifier: MIT
// keywarden stand-ins: a per-account ordered set of addresses.
pragma solidity ^0.8.24;

/// @notice A set of addresses per account, kept as a singly linked list in mappings. New entries go to the
/// head, so enumeration is newest first. Entries are the address left-aligned in a bytes32
/// (bytes32(bytes20(addr))); the list's anchor is HEAD = bytes32(uint256(1)). The anchor doubles as the
/// "predecessor" of the first entry, which is the value callers pass to removeAfter for the head.
struct AccountAddressSet {
    // account => entry => next entry (HEAD closes the list); 0 means "not in the list".
    mapping(address => mapping(bytes32 => bytes32)) next;
}

library AccountAddressSetLib {
    bytes32 internal constant HEAD = bytes32(uint256(1));

    function entryOf(address a) internal pure returns (bytes32) {
        return bytes32(bytes20(a));
    }

    function contains(AccountAddressSet storage set, address account, address a) internal view returns (bool) {
        bytes32 e = entryOf(a);
        return e != bytes32(0) && set.next[account][e] != bytes32(0);
    }

    function isEmpty(AccountAddressSet storage set, address account) internal view returns (bool) {
        bytes32 first = set.next[account][HEAD];
        return first == bytes32(0) || first == HEAD;
    }

    /// @notice Puts `a` at the head. False for the zero address or an address already present.
    function add(AccountAddressSet storage set, address account, address a) internal returns (bool) {
        bytes32 e = entryOf(a);
        if (e == bytes32(0)) return false;
        mapping(bytes32 => bytes32) storage nx = set.next[account];
        if (nx[e] != bytes32(0)) return false;
        bytes32 first = nx[HEAD];
        nx[e] = first == bytes32(0) ? HEAD : first;
        nx[HEAD] = e;
        return true;
    }

    /// @notice Removes `a` given the entry in front of it (HEAD when `a` is first). False when `a` is absent
    /// or `predecessor` is not directly in front of it.
    function removeAfter(AccountAddressSet storage set, address account, address a, bytes32 predecessor)
        internal
        returns (bool)
    {
        bytes32 e = entryOf(a);
        if (e == bytes32(0)) return false;
        mapping(bytes32 => bytes32) storage nx = set.next[account];
        bytes32 after_ = nx[e];
        if (after_ == bytes32(0) || nx[predecessor] != e) return false;
        nx[predecessor] = after_;
        delete nx[e];
        return true;
    }

    /// @notice Removes `a` wherever it is. False when absent.
    function remove(AccountAddressSet storage set, address account, address a) internal returns (bool) {
        bytes32 e = entryOf(a);
        if (e == bytes32(0)) return false;
        mapping(bytes32 => bytes32) storage nx = set.next[account];
        if (nx[e] == bytes32(0)) return false;
        bytes32 prev = HEAD;
        bytes32 cur = nx[HEAD];
        while (cur != e) {
            prev = cur;
            cur = nx[cur];
        }
        nx[prev] = nx[e];
        delete nx[e];
        return true;
    }

    /// @notice All entries, newest first.
    function all(AccountAddressSet storage set, address account) internal view returns (address[] memory out) {
        mapping(bytes32 => bytes32) storage nx = set.next[account];
        uint256 n;
        for (bytes32 cur = nx[HEAD]; cur != bytes32(0) && cur != HEAD; cur = nx[cur]) {
            ++n;
        }
        out = new address[](n);
        uint256 i;
        for (bytes32 cur = nx[HEAD]; cur != bytes32(0) && cur != HEAD; cur = nx[cur]) {
            out[i++] = address(bytes20(cur));
        }
    }

    /// @notice Empties the account's set.
    function clear(AccountAddressSet storage set, address account) internal {
        mapping(bytes32 => bytes32) storage nx = set.next[account];
        bytes32 cur = nx[HEAD];
        while (cur != bytes32(0) && cur != HEAD) {
            bytes32 following = nx[cur];
            delete nx[cur];
            cur = following;
        }
        delete nx[HEAD];
    }
}
