# Ishtar build, test and benchmark entry points. See README.md.
GO ?= go
BIN := bin/ishtar
DATA ?= .devnet

# Packages with real concurrency run under the race detector.
RACE_PKGS := ./meta/... ./node/... ./s3api/... ./gateway/...
PLAIN_PKGS := ./shard/... ./cmd/... ./integration/...

.PHONY: build test vet bench devnet clean

build:
	$(GO) build -o $(BIN) ./cmd/ishtar

vet:
	$(GO) vet ./...

test: vet
	$(GO) test -race -timeout 30m $(RACE_PKGS)
	$(GO) test -timeout 40m $(PLAIN_PKGS)

# End-to-end figures (BENCH lines) of a devnet against a plain fsync-to-file
# server, then the per-stage micro-benchmarks.
bench:
	$(GO) run ./integration/bench
	GOMAXPROCS=1 $(GO) test -run '^$$' -bench Pipeline ./shard/
	$(GO) test -run '^$$' -bench StoreShard -benchtime 10x ./node/

devnet:
	$(GO) run ./cmd/ishtar devnet --data $(DATA)

clean:
	rm -rf bin
