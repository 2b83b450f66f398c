# keywarden build and test entry points. Every target installs what it needs first.
SHELL := /bin/bash
GO ?= go
# Tests that start ClickHouse and NATS per package: keep parallel packages low on 2 cores.
GOTEST_FLAGS ?= -count=1 -timeout 15m -p 2

.PHONY: all deps test demo bench lint fuzz contracts build grafana-plugin

all: build

## deps: install what the tests need: Go modules, Debian's clickhouse-server/-client when
## missing, and the npm packages pinned under contracts/ and conformance/.
deps:
	bash scripts/deps.sh

## build: compile every command into bin/.
build:
	$(GO) build -o bin/ ./cmd/...

## test: deps, then vet and the whole Go suite (unit, fuzz seed corpora, SDK conformance,
## integration against real ClickHouse and embedded NATS).
test: deps
	$(GO) vet ./...
	$(GO) test $(GOTEST_FLAGS) ./...

## demo: the main job on a local chain (see README).
demo: deps
	bash scripts/demo.sh

## bench: benchmarks (decoder vs go-ethereum abi, and more as components land).
bench: deps
	bash scripts/bench.sh

## lint: gofmt, go vet and staticcheck (pinned, from the Go module proxy).
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.7.0 ./...

## fuzz: run each fuzz target for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./pkg/decoder -run '^$$' -fuzz '^FuzzDecodeLog$$' -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/decoder -run '^$$' -fuzz '^FuzzDecodeUpdates$$' -fuzztime $(FUZZTIME)

## contracts: recompile the Solidity stand-ins (solc from npm, pinned) into contracts/build.
contracts:
	bash scripts/contracts.sh

## grafana-plugin: build the Grafana data source plugin (backend binaries + plugin.json) into
## dist/keywarden-keywarden-datasource (GRAFANA_PLUGIN_TARGETS=linux/amd64 builds one target only).
grafana-plugin:
	bash scripts/grafana-plugin.sh
