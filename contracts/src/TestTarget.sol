// SPDX-License-Identifier: MIT
// keywarden test call target.
pragma solidity ^0.8.24;

/// @title TestTarget
/// @notice A call target for executions in tests: records who called with what, can be made to revert, and
/// accepts native token and unknown selectors.
contract TestTarget {
    uint256 public counter;
    uint256 public lastValue;
    address public lastCaller;

    event Called(address indexed caller, uint256 value, bytes data);

    error Refused(uint256 code);

    /// @notice Counts the call and returns `x`.
    function ping(uint256 x) external payable returns (uint256) {
        _record();
        return x;
    }

    /// @notice Stores `x` as lastValue.
    function setValue(uint256 x) external payable {
        _record();
        lastValue = x;
    }

    /// @notice Always reverts with Refused(code).
    function fail(uint256 code) external pure {
        revert Refused(code);
    }

    receive() external payable {
        _record();
    }

    fallback() external payable {
        _record();
    }

    function _record() internal {
        counter += 1;
        lastCaller = msg.sender;
        emit Called(msg.sender, msg.value, msg.data);
    }
}
