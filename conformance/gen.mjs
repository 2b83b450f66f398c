#!/usr/bin/env node
// Generates keywarden's conformance vectors from the vendor SDK (pinned in package.json).
//
//   node gen.mjs --seed 42 [--permissions 320] [--logs 260] [--userops 64] > vectors.json
//
// Every value comes from a deterministic PRNG seeded on the command line, so the same seed and the
// same lock file always print the same JSON. README.md documents the schema.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import {
  SessionKeyPermissionsBuilder,
  SessionKeyAccessListType,
  SessionKeyPlugin,
  SessionKeyPluginAbi,
  SessionKeyPluginExecutionFunctionAbi,
  sessionKeyPluginActions,
  MultiOwnerPlugin,
  MultiOwnerPluginAbi,
  IPluginManagerAbi,
  IPluginAbi,
  IAccountLoupeAbi,
  IStandardExecutorAbi,
  UpgradeableModularAccountAbi,
  MultiOwnerModularAccountFactoryAbi,
  getDefaultMultiOwnerModularAccountFactoryAddress,
} from "@account-kit/smart-contracts";
import { EntryPointAbi_v6, getEntryPoint, smartAccountClientActions } from "@aa-sdk/core";
import {
  decodeEventLog,
  decodeFunctionData,
  encodeAbiParameters,
  encodeEventTopics,
  encodeFunctionResult,
  getAddress,
  keccak256,
  toEventSelector,
  toEventSignature,
  toFunctionSelector,
  toFunctionSignature,
  toHex,
} from "viem";
import { getUserOperationHash as viemGetUserOperationHash } from "viem/account-abstraction";
// The builder's own ABI is not re-exported by the package; read it from the file the builder imports.
import { SessionKeyPermissionsUpdatesAbi } from "./node_modules/@account-kit/smart-contracts/dist/esm/src/msca/plugins/session-key/SessionKeyPermissionsUpdatesAbi.js";

const SCHEMA = 1;

// ---------- command line ----------
function parseArgs(argv) {
  const opts = { seed: null, permissions: 320, logs: 260, userops: 64, calls: 30, installs: 30 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const m = /^--(seed|permissions|logs|userops|calls|installs)(?:=(.*))?$/.exec(a);
    if (!m) fail(`unknown argument ${a}`);
    const v = m[2] ?? argv[++i];
    if (v === undefined || !/^\d+$/.test(v)) fail(`--${m[1]} wants a non-negative integer`);
    opts[m[1]] = m[1] === "seed" ? BigInt(v) : Number(v);
  }
  if (opts.seed === null) fail("--seed N is required");
  return opts;
}

function fail(msg) {
  process.stderr.write(`gen.mjs: ${msg}\n`);
  process.exit(2);
}

// ---------- deterministic PRNG (splitmix64 over BigInt) ----------
const M64 = (1n << 64n) - 1n;
class Rng {
  constructor(seed) {
    this.s = seed & M64;
  }
  next64() {
    this.s = (this.s + 0x9e3779b97f4a7c15n) & M64;
    let z = this.s;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
    return z ^ (z >> 31n);
  }
  // int returns an integer in [0, n).
  int(n) {
    return Number(this.next64() % BigInt(n));
  }
  bool() {
    return (this.next64() & 1n) === 1n;
  }
  chance(p) {
    return this.int(1_000_000) < p * 1_000_000;
  }
  pick(xs) {
    return xs[this.int(xs.length)];
  }
  bytes(n) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 8) {
      let w = this.next64();
      for (let j = 0; j < 8 && i + j < n; j++) {
        out[i + j] = Number(w & 0xffn);
        w >>= 8n;
      }
    }
    return out;
  }
  hex(n) {
    return toHex(this.bytes(n));
  }
  // bits returns a random value below 2^bits.
  bits(bits) {
    let v = 0n;
    for (let got = 0; got < bits; got += 64) v = (v << 64n) | this.next64();
    return v & ((1n << BigInt(bits)) - 1n);
  }
}

// ---------- value generators with edge cases ----------
const MAX256 = (1n << 256n) - 1n;
const MAX48 = 2 ** 48 - 1;
const ZERO_ADDR = "0x0000000000000000000000000000000000000000";
const SENTINEL = "0x0000000000000000000000000000000000000000000000000000000000000001";

function u256(r) {
  switch (r.int(10)) {
    case 0:
      return MAX256;
    case 1:
      return 0n;
    case 2:
      return MAX256 - 1n;
    case 3:
      return 1n << 255n;
    case 4:
      return BigInt(MAX48);
    case 5:
      return r.bits(64);
    default:
      return r.bits(1 + r.int(256));
  }
}

function u48(r) {
  switch (r.int(8)) {
    case 0:
      return 0;
    case 1:
      return MAX48;
    case 2:
      return 1;
    case 3:
      return 1_700_000_000 + r.int(200_000_000); // a plausible unix time
    case 4:
      return r.int(90 * 86400); // a plausible interval
    default:
      return Number(r.bits(48));
  }
}

function address(r) {
  switch (r.int(16)) {
    case 0:
      return ZERO_ADDR;
    case 1:
      return getAddress("0xffffffffffffffffffffffffffffffffffffffff");
    case 2:
      return SessionKeyPlugin.meta.addresses[1];
    default:
      return getAddress(r.hex(20));
  }
}

function nonZeroAddress(r) {
  for (;;) {
    const a = address(r);
    if (a !== ZERO_ADDR) return a;
  }
}

function selector(r) {
  switch (r.int(10)) {
    case 0:
      return "0x00000000";
    case 1:
      return "0xffffffff";
    case 2:
      return "0xa9059cbb"; // transfer(address,uint256)
    default:
      return r.hex(4);
  }
}

function bytes32(r) {
  switch (r.int(8)) {
    case 0:
      return toHex(new Uint8Array(32));
    case 1:
      return toHex(new Uint8Array(32).fill(0xff));
    default:
      return r.hex(32);
  }
}

function predecessor(r) {
  if (r.bool()) return SENTINEL;
  // bytes32(bytes20(prev)): the address left-aligned.
  return (r.hex(20) + "000000000000000000000000").toLowerCase();
}

function str(v) {
  return typeof v === "bigint" ? v.toString(10) : v;
}

// ---------- permissions: random SessionKeyPermissionsBuilder configurations ----------
const ACCESS_TYPES = [
  SessionKeyAccessListType.ALLOWLIST,
  SessionKeyAccessListType.DENYLIST,
  SessionKeyAccessListType.ALLOW_ALL_ACCESS,
];

// randomBuilderCalls returns the ordered builder method calls of one configuration. The JSON form of
// each call is {method, args}; apply() replays it on a real builder.
function randomBuilderCalls(r, index) {
  const calls = [];
  // The first vectors walk every method alone, then everything at once; the rest are random.
  const single = [
    [],
    ["setContractAccessControlType"],
    ["addContractAddressAccessEntry"],
    ["addContractFunctionAccessEntry"],
    ["setTimeRange"],
    ["setNativeTokenSpendLimit"],
    ["addErc20TokenSpendLimit"],
    ["setGasSpendLimit"],
    ["setRequiredPaymaster"],
  ];
  let methods;
  if (index < single.length) {
    methods = single[index];
  } else if (index < single.length + 4) {
    methods = single.flat();
  } else {
    methods = [];
    const n = r.int(12);
    for (let i = 0; i < n; i++) methods.push(r.pick(single.slice(1))[0]);
  }
  for (const m of methods) calls.push(randomCall(r, m));
  return calls;
}

function optionalInterval(r) {
  // Leave refreshInterval out now and then: the builder sends 0 for a missing one.
  return r.chance(0.2) ? null : u48(r);
}

function randomCall(r, method) {
  switch (method) {
    case "setContractAccessControlType":
      return { method, args: { type: r.pick(ACCESS_TYPES) } };
    case "addContractAddressAccessEntry":
      return {
        method,
        args: { contractAddress: address(r), isOnList: r.bool(), checkSelectors: r.bool() },
      };
    case "addContractFunctionAccessEntry":
      return {
        method,
        args: { contractAddress: address(r), methodSelector: selector(r), isOnList: r.bool() },
      };
    case "setTimeRange":
      return { method, args: { validFrom: u48(r), validUntil: u48(r) } };
    case "setNativeTokenSpendLimit":
      return { method, args: { spendLimit: u256(r), refreshInterval: optionalInterval(r) } };
    case "addErc20TokenSpendLimit":
      return {
        method,
        args: { tokenAddress: address(r), spendLimit: u256(r), refreshInterval: optionalInterval(r) },
      };
    case "setGasSpendLimit":
      return { method, args: { spendLimit: u256(r), refreshInterval: optionalInterval(r) } };
    case "setRequiredPaymaster":
      return { method, args: { paymaster: address(r) } };
  }
  throw new Error(`unknown builder method ${method}`);
}

function applyCalls(calls) {
  const b = new SessionKeyPermissionsBuilder();
  for (const { method, args } of calls) {
    switch (method) {
      case "setContractAccessControlType":
        b.setContractAccessControlType(args.type);
        break;
      case "addContractAddressAccessEntry":
        b.addContractAddressAccessEntry({ ...args });
        break;
      case "addContractFunctionAccessEntry":
        b.addContractFunctionAccessEntry({ ...args });
        break;
      case "setTimeRange":
        b.setTimeRange({ ...args });
        break;
      case "setNativeTokenSpendLimit":
      case "setGasSpendLimit":
      case "addErc20TokenSpendLimit": {
        const limit = { ...args };
        if (limit.refreshInterval === null) delete limit.refreshInterval;
        b[method](limit);
        break;
      }
      case "setRequiredPaymaster":
        b.setRequiredPaymaster(args.paymaster);
        break;
      default:
        throw new Error(`unknown builder method ${method}`);
    }
  }
  return b.encode();
}

// describeUpdate decodes one element with the builder's own ABI: {name, args}, numbers as decimal strings.
function describeUpdate(hex) {
  const { functionName, args } = decodeFunctionData({ abi: SessionKeyPermissionsUpdatesAbi, data: hex });
  const fn = SessionKeyPermissionsUpdatesAbi.find((x) => x.type === "function" && x.name === functionName);
  const named = {};
  fn.inputs.forEach((inp, i) => {
    const v = args[i];
    named[inp.name] = typeof v === "bigint" || typeof v === "number" ? String(v) : v;
  });
  return { name: functionName, selector: hex.slice(0, 10), args: named };
}

function jsonCalls(calls) {
  return calls.map(({ method, args }) => {
    const out = {};
    for (const [k, v] of Object.entries(args)) out[k] = str(v);
    return { method, args: out };
  });
}

function genPermissions(r, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const calls = randomBuilderCalls(r, i);
    const encoded = applyCalls(calls);
    out.push({ id: `perm-${i}`, calls: jsonCalls(calls), encoded, elements: encoded.map(describeUpdate) });
  }
  return out;
}

// ---------- logs ----------
function eventAbi(abi, name) {
  const e = abi.find((x) => x.type === "event" && x.name === name);
  if (!e) throw new Error(`event ${name} not in the SDK ABI`);
  return e;
}

// encodeLog encodes one event with viem from the SDK's ABI entry, then decodes it back as a self-check.
function encodeLog(abi, name, args) {
  const ev = eventAbi(abi, name);
  const topics = encodeEventTopics({ abi: [ev], eventName: name, args });
  const nonIndexed = ev.inputs.filter((x) => !x.indexed);
  const data = nonIndexed.length
    ? encodeAbiParameters(
        nonIndexed,
        nonIndexed.map((x) => args[x.name]),
      )
    : "0x";
  const back = decodeEventLog({ abi: [ev], data, topics, strict: true });
  for (const inp of ev.inputs) {
    if (JSON.stringify(back.args[inp.name], big) !== JSON.stringify(args[inp.name], big)) {
      throw new Error(`self-check: ${name}.${inp.name} did not round-trip`);
    }
  }
  return { topics, data };
}

function big(_k, v) {
  return typeof v === "bigint" ? v.toString(10) : v;
}

const SDK_CHAINS = Object.keys(SessionKeyPlugin.meta.addresses).map(Number);

function position(r, i) {
  const edge = r.int(10);
  return {
    chain_id: r.chance(0.8) ? r.pick(SDK_CHAINS) : Number(r.bits(32)),
    block_number: edge === 0 ? 0 : edge === 1 ? Number.MAX_SAFE_INTEGER : Number(r.bits(30)),
    block_hash: r.hex(32),
    parent_hash: r.hex(32),
    block_time: edge === 2 ? 0 : 1_600_000_000 + r.int(300_000_000),
    tx_hash: r.hex(32),
    tx_index: r.int(500),
    log_index: edge === 3 ? 2 ** 32 - 1 - r.int(3) : edge === 4 ? 0 : r.int(2000),
    removed: r.chance(0.1),
  };
}

function pluginEmitter(r) {
  return r.chance(0.7) ? SessionKeyPlugin.meta.addresses[1] : getAddress("0x000000e30a00f600823700E975f1b1ac387f0017");
}

function genLogs(r, n, permissions) {
  const kinds = [
    ["SessionKeyAdded", 3],
    ["SessionKeyRemoved", 2],
    ["SessionKeyRotated", 2],
    ["PermissionsUpdated", 5],
    ["PluginInstalled", 1],
    ["PluginUninstalled", 1],
    ["OwnerUpdated", 1],
    ["UserOperationEvent", 1],
  ];
  const wheel = kinds.flatMap(([k, w]) => Array(w).fill(k));
  const out = [];
  for (let i = 0; i < n; i++) {
    // Walk every kind first so a small n still covers them all.
    const kind = i < kinds.length ? kinds[i][0] : r.pick(wheel);
    out.push({ id: `log-${i}`, ...genLog(r, kind, permissions), position: position(r, i) });
  }
  return out;
}

function genLog(r, kind, permissions) {
  switch (kind) {
    case "SessionKeyAdded": {
      const args = { account: address(r), sessionKey: address(r), tag: bytes32(r) };
      return logOut(kind, pluginEmitter(r), SessionKeyPluginAbi, args);
    }
    case "SessionKeyRemoved": {
      const args = { account: address(r), sessionKey: address(r) };
      return logOut(kind, pluginEmitter(r), SessionKeyPluginAbi, args);
    }
    case "SessionKeyRotated": {
      const same = r.chance(0.1); // rotating a key into itself is allowed
      const old = address(r);
      const args = { account: address(r), oldSessionKey: old, newSessionKey: same ? old : address(r) };
      return logOut(kind, pluginEmitter(r), SessionKeyPluginAbi, args);
    }
    case "PermissionsUpdated": {
      // Mostly one builder's output; sometimes an empty list, sometimes a shuffled mix of several.
      let updates;
      let from = null;
      const mode = r.int(10);
      if (mode === 0) {
        updates = [];
      } else if (mode === 1) {
        updates = [];
        const k = 1 + r.int(20);
        for (let j = 0; j < k; j++) updates.push(r.pick(r.pick(permissions).encoded));
      } else {
        const p = r.pick(permissions);
        updates = p.encoded;
        from = p.id;
      }
      const args = { account: address(r), sessionKey: address(r), updates };
      const out = logOut(kind, pluginEmitter(r), SessionKeyPluginAbi, args);
      out.permissions_id = from;
      out.elements = updates.map(describeUpdate);
      return out;
    }
    case "PluginInstalled": {
      const deps = [];
      const k = r.int(4);
      for (let j = 0; j < k; j++) deps.push((address(r) + toHex(r.int(256), { size: 1 }).slice(2)).toLowerCase());
      const args = {
        plugin: r.chance(0.5) ? SessionKeyPlugin.meta.addresses[1] : address(r),
        manifestHash: bytes32(r),
        dependencies: r.chance(0.5)
          ? [0, 1].map((id) => (MultiOwnerPlugin.meta.addresses[1] + toHex(id, { size: 1 }).slice(2)).toLowerCase())
          : deps,
      };
      return logOut(kind, nonZeroAddress(r), UpgradeableModularAccountAbi, args, true);
    }
    case "PluginUninstalled": {
      // The account's ABI names the bool onUninstallSucceeded (IPluginManagerAbi calls it callbacksSucceeded).
      const args = { plugin: address(r), onUninstallSucceeded: r.chance(0.8) };
      return logOut(kind, nonZeroAddress(r), UpgradeableModularAccountAbi, args, true);
    }
    case "OwnerUpdated": {
      const list = () => Array.from({ length: r.int(5) }, () => address(r));
      const args = { account: address(r), addedOwners: list(), removedOwners: list() };
      return logOut(kind, MultiOwnerPlugin.meta.addresses[1], MultiOwnerPluginAbi, args);
    }
    case "UserOperationEvent": {
      const args = {
        userOpHash: bytes32(r),
        sender: address(r),
        paymaster: r.chance(0.5) ? ZERO_ADDR : address(r),
        nonce: r.chance(0.5) ? (BigInt(r.hex(20)) << 64n) | r.bits(8) : u256(r),
        success: r.bool(),
        actualGasCost: u256(r),
        actualGasUsed: u256(r),
      };
      return logOut(kind, getEntryPoint({ id: 1 }, { version: "0.6.0" }).address, EntryPointAbi_v6, args);
    }
  }
  throw new Error(`unknown log kind ${kind}`);
}

// logOut builds one log vector. accountIsEmitter marks the account's own events (PluginInstalled/Uninstalled).
function logOut(event, emitter, abi, args, accountIsEmitter = false) {
  const { topics, data } = encodeLog(abi, event, args);
  const jsonArgs = {};
  for (const [k, v] of Object.entries(args)) jsonArgs[k] = Array.isArray(v) ? v.map(str) : str(v);
  if (accountIsEmitter) jsonArgs.account = emitter;
  return { event, signature: toEventSignature(eventAbi(abi, event)), address: emitter, topics, data, args: jsonArgs };
}

// ---------- actions: call data as the SDK's session-key actions build it ----------
// A stand-in smart account client: enough for the SDK's actions to run without a network. It answers
// pluginManifest() with a generated manifest and records the user operation instead of sending it.
function offlineClient(chainId, manifest) {
  const sent = [];
  const client = {
    ...smartAccountClientActions(undefined),
    middleware: {},
    chain: { id: chainId, name: `chain-${chainId}` },
    account: { address: "0x00000000000000000000000000000000000000A1" },
    readContract: async ({ functionName }) => {
      if (functionName !== "pluginManifest") throw new Error(`offline client: unexpected read ${functionName}`);
      return manifest;
    },
    sendUserOperation: async ({ uo }) => {
      sent.push(uo);
      return { hash: "0x", request: {} };
    },
  };
  return { client, sent };
}

function randomAbiValue(r, param) {
  const t = param.type;
  const arr = /^(.*)\[(\d*)\]$/.exec(t);
  if (arr) {
    const len = arr[2] ? Number(arr[2]) : r.int(3);
    return Array.from({ length: len }, () => randomAbiValue(r, { ...param, type: arr[1] }));
  }
  if (t === "tuple") {
    const o = {};
    for (const c of param.components) o[c.name] = randomAbiValue(r, c);
    return o;
  }
  if (t === "address") return address(r);
  if (t === "bool") return r.bool();
  if (t === "string") return `s${r.int(1000)}`;
  if (t === "bytes") return r.hex(r.int(8));
  const bn = /^bytes(\d+)$/.exec(t);
  if (bn) return r.hex(Number(bn[1]));
  const un = /^uint(\d+)$/.exec(t);
  if (un) {
    const bits = Number(un[1]);
    return bits <= 48 ? Number(r.bits(bits)) : r.bits(bits);
  }
  throw new Error(`randomAbiValue: unsupported type ${t}`);
}

function randomManifest(r) {
  const fn = IPluginAbi.find((x) => x.type === "function" && x.name === "pluginManifest");
  return randomAbiValue(r, fn.outputs[0]);
}

function builderUpdates(r, permissions) {
  return r.chance(0.15) ? [] : r.pick(permissions).encoded;
}

async function genActions(r, opts, permissions) {
  const sk = sessionKeyPluginActions(offlineClient(1, null).client);
  const calls = [];
  for (let i = 0; i < opts.calls; i++) {
    const key = address(r);
    const tag = bytes32(r);
    const updates = builderUpdates(r, permissions);
    calls.push({
      function: "addSessionKey",
      args: { sessionKey: key, tag, permissionUpdates: updates },
      call_data: sk.encodeAddSessionKey({ args: [key, tag, updates] }),
    });
  }
  for (let i = 0; i < opts.calls; i++) {
    const key = address(r);
    const pred = predecessor(r);
    calls.push({
      function: "removeSessionKey",
      args: { sessionKey: key, predecessor: pred },
      call_data: sk.encodeRemoveSessionKey({ args: [key, pred] }),
    });
  }
  for (let i = 0; i < opts.calls; i++) {
    const oldKey = address(r);
    const pred = predecessor(r);
    const newKey = address(r);
    calls.push({
      function: "rotateSessionKey",
      args: { oldSessionKey: oldKey, predecessor: pred, newSessionKey: newKey },
      call_data: sk.encodeRotateSessionKey({ args: [oldKey, pred, newKey] }),
    });
  }
  for (let i = 0; i < opts.calls; i++) {
    const key = address(r);
    const updates = builderUpdates(r, permissions);
    calls.push({
      function: "updateKeyPermissions",
      args: { sessionKey: key, updates },
      call_data: sk.encodeUpdateKeyPermissions({ args: [key, updates] }),
    });
  }
  for (let i = 0; i < opts.calls; i++) {
    const key = address(r);
    const batch = Array.from({ length: i === 0 ? 0 : 1 + r.int(4) }, () => ({
      target: address(r),
      value: r.chance(0.5) ? 0n : u256(r),
      data: r.chance(0.2) ? "0x" : r.hex(r.int(100)),
    }));
    calls.push({
      function: "executeWithSessionKey",
      args: { calls: batch.map((c) => ({ target: c.target, value: str(c.value), data: c.data })), sessionKey: key },
      call_data: sk.encodeExecuteWithSessionKey({ args: [batch, key] }),
    });
  }

  const installs = [];
  for (let i = 0; i < opts.installs; i++) {
    const chainId = r.pick(SDK_CHAINS);
    const manifest = randomManifest(r);
    const n = i === 0 ? 0 : r.int(5);
    const keys = Array.from({ length: n }, () => address(r));
    const tags = Array.from({ length: n }, () => bytes32(r));
    const perms = Array.from({ length: n }, () => builderUpdates(r, permissions));
    const { client, sent } = offlineClient(chainId, manifest);
    await sessionKeyPluginActions(client).installSessionKeyPlugin({ args: [keys, tags, perms] });
    if (sent.length !== 1) throw new Error("installSessionKeyPlugin did not send one user operation");
    const callData = sent[0];
    const { args } = decodeFunctionData({ abi: IPluginManagerAbi, data: callData });
    const manifestHash = keccak256(
      encodeFunctionResult({ abi: IPluginAbi, functionName: "pluginManifest", result: manifest }),
    );
    if (args[1] !== manifestHash) throw new Error("self-check: manifest hash differs");
    installs.push({
      chain_id: chainId,
      plugin: args[0],
      manifest_hash: args[1],
      keys,
      tags,
      permissions: perms,
      plugin_install_data: args[2],
      dependencies: args[3],
      call_data: callData,
    });
  }

  const userOps = [];
  for (let i = 0; i < opts.userops; i++) userOps.push(genUserOp(r, i));
  return { calls, installs, user_op_hashes: userOps };
}

function genUserOp(r, i) {
  const chainId = r.chance(0.7) ? r.pick(SDK_CHAINS) : Number(r.bits(r.pick([8, 32, 52])));
  const ep = getEntryPoint({ id: chainId }, { version: "0.6.0", addressOverride: r.chance(0.8) ? undefined : address(r) });
  const sizeOf = (k) => (r.chance(0.3) ? 0 : r.int(k));
  const op = {
    sender: address(r),
    nonce: r.chance(0.5) ? (BigInt(r.hex(20)) << 64n) | r.bits(64) : u256(r),
    initCode: i % 4 === 0 ? r.hex(20 + r.int(200)) : r.hex(sizeOf(3)),
    callData: r.hex(sizeOf(300)),
    callGasLimit: u256(r),
    verificationGasLimit: u256(r),
    preVerificationGas: u256(r),
    maxFeePerGas: u256(r),
    maxPriorityFeePerGas: u256(r),
    paymasterAndData: r.hex(sizeOf(120)),
    signature: r.hex(r.chance(0.5) ? 65 : sizeOf(100)),
  };
  // The SDK core's v0.6 hash takes hex quantities; viem's takes bigints. Both must agree.
  const asHex = Object.fromEntries(Object.entries(op).map(([k, v]) => [k, typeof v === "bigint" ? toHex(v) : v]));
  const hash = ep.getUserOperationHash(asHex);
  const viemHash = viemGetUserOperationHash({
    chainId,
    entryPointAddress: ep.address,
    entryPointVersion: "0.6",
    userOperation: op,
  });
  if (hash !== viemHash) throw new Error(`self-check: user op ${i}: SDK core hash ${hash} != viem ${viemHash}`);
  return {
    chain_id: chainId,
    entry_point: ep.address,
    op: Object.fromEntries(Object.entries(op).map(([k, v]) => [k, str(v)])),
    hash,
  };
}

// ---------- abi: topics and selectors by signature ----------
function genAbi() {
  const sources = {
    SessionKeyPluginAbi,
    SessionKeyPluginExecutionFunctionAbi,
    SessionKeyPermissionsUpdatesAbi,
    IPluginManagerAbi,
    IPluginAbi,
    IAccountLoupeAbi,
    IStandardExecutorAbi,
    UpgradeableModularAccountAbi,
    MultiOwnerPluginAbi,
    MultiOwnerModularAccountFactoryAbi,
    EntryPointAbi_v6,
  };
  const events = [];
  const functions = [];
  for (const [name, abi] of Object.entries(sources)) {
    for (const x of abi) {
      if (x.type === "event") {
        events.push({ abi: name, name: x.name, signature: toEventSignature(x).replace(/^event /, ""), topic: toEventSelector(x) });
      } else if (x.type === "function") {
        functions.push({
          abi: name,
          name: x.name,
          signature: toFunctionSignature(x).replace(/^function /, ""),
          selector: toFunctionSelector(x),
        });
      }
    }
  }
  return {
    events,
    functions,
    addresses: {
      session_key_plugin: SessionKeyPlugin.meta.addresses,
      multi_owner_plugin: MultiOwnerPlugin.meta.addresses,
      multi_owner_factory: Object.fromEntries(
        SDK_CHAINS.map((id) => [String(id), getDefaultMultiOwnerModularAccountFactoryAddress({ id })]),
      ),
      entry_point_v06: getEntryPoint({ id: 1 }, { version: "0.6.0" }).address,
    },
  };
}

// ---------- main ----------
function versions() {
  const require = createRequire(import.meta.url);
  const v = (p) => JSON.parse(readFileSync(require.resolve(`${p}/package.json`), "utf8")).version;
  return { "@account-kit/smart-contracts": v("@account-kit/smart-contracts"), "@aa-sdk/core": v("@aa-sdk/core"), viem: v("viem") };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  // Separate streams per section keep one section stable when another's size changes.
  const stream = (n) => new Rng(opts.seed * 1_000_003n + BigInt(n));
  const permissions = genPermissions(stream(1), opts.permissions);
  const logs = genLogs(stream(2), opts.logs, permissions);
  const actions = await genActions(stream(3), opts, permissions);
  const out = {
    schema: SCHEMA,
    seed: opts.seed.toString(10),
    versions: versions(),
    abi: genAbi(),
    permissions,
    logs,
    actions,
  };
  process.stdout.write(JSON.stringify(out, big) + "\n");
}

main().catch((e) => {
  process.stderr.write(`gen.mjs: ${e?.stack ?? e}\n`);
  process.exit(1);
});
