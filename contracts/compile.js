#!/usr/bin/env node
// Compiles keywarden's Solidity stand-ins (src/*.sol) with the pinned solc (package.json) through its
// standard-JSON API, writing build/<Name>.json = {contractName, abi, bytecode, deployedBytecode, compiler} for
// every deployable contract. Then copies the EntryPoint v0.6 artifact that ships in the npm package
// @account-abstraction/contracts@0.6.0 into build/entrypoint/EntryPoint.json (git-ignored: it is another
// project's bytecode and must never be committed).
//
// Usage: node compile.js [--check]   (--check: exit 1 if a committed artifact differs from a fresh build)
"use strict";

const fs = require("fs");
const path = require("path");
const solc = require("solc");

const root = __dirname;
const srcDir = path.join(root, "src");
const buildDir = path.join(root, "build");
const epDir = path.join(buildDir, "entrypoint");
const check = process.argv.includes("--check");

const pinned = require("./package.json").dependencies.solc;
if (!solc.version().startsWith(pinned + "+")) {
  console.error(`compile: solc ${solc.version()} is not the pinned ${pinned}; run npm ci in contracts/`);
  process.exit(1);
}

const sources = {};
for (const f of fs.readdirSync(srcDir).filter((f) => f.endsWith(".sol")).sort()) {
  sources[`src/${f}`] = { content: fs.readFileSync(path.join(srcDir, f), "utf8") };
}

const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    viaIR: false,
    evmVersion: "cancun",
    // No metadata hash: the bytecode depends on the code only, not on comments or paths.
    metadata: { bytecodeHash: "none", appendCBOR: false },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input)));
let failed = false;
for (const e of output.errors || []) {
  if (e.severity === "error") failed = true;
  console.error(e.formattedMessage || e.message);
}
if (failed) process.exit(1);

fs.mkdirSync(buildDir, { recursive: true });
const written = [];
let stale = false;
for (const [file, contracts] of Object.entries(output.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    if (!c.evm.bytecode.object) continue; // interfaces, libraries without code, abstract contracts
    if (name.endsWith("Lib")) continue;
    const artifact = {
      contractName: name,
      sourceName: file,
      compiler: `solc ${solc.version()}`,
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
    };
    const text = JSON.stringify(artifact, null, 1) + "\n";
    const out = path.join(buildDir, `${name}.json`);
    if (check) {
      const old = fs.existsSync(out) ? fs.readFileSync(out, "utf8") : "";
      if (old !== text) {
        console.error(`compile: build/${name}.json is out of date`);
        stale = true;
      }
    } else {
      fs.writeFileSync(out, text);
    }
    written.push(`${name} (${c.evm.deployedBytecode.object.length / 2} bytes)`);
  }
}
if (check && stale) process.exit(1);
console.log(`compile: ${check ? "checked" : "wrote"} ${written.join(", ")}`);

// EntryPoint v0.6.0: the npm package ships a Hardhat artifact with bytecode; copy its abi and bytecode.
const epSrc = require.resolve("@account-abstraction/contracts/artifacts/EntryPoint.json", { paths: [root] });
const ep = JSON.parse(fs.readFileSync(epSrc, "utf8"));
if (!ep.bytecode || ep.bytecode.length < 10) {
  console.error("compile: @account-abstraction/contracts has no EntryPoint bytecode");
  process.exit(1);
}
fs.mkdirSync(epDir, { recursive: true });
fs.writeFileSync(
  path.join(epDir, "EntryPoint.json"),
  JSON.stringify(
    {
      contractName: "EntryPoint",
      source: "@account-abstraction/contracts@0.6.0 artifacts/EntryPoint.json",
      abi: ep.abi,
      bytecode: ep.bytecode,
      deployedBytecode: ep.deployedBytecode,
    },
    null,
    1,
  ) + "\n",
);
console.log(`compile: copied EntryPoint v0.6.0 (${(ep.deployedBytecode.length - 2) / 2} bytes) to build/entrypoint/`);
