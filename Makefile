# Ishtar build, test and benchmark entry points. See README.md.
GO ?= go
BIN := bin/ishtar
DATA ?= .devnet

# Packages with real concurrency run under the race detector.
RACE_PKGS := ./meta/... ./node/... ./s3api/... ./gateway/... ./cmd/ishtar/daemon/...
PLAIN_PKGS := ./shard/... ./cmd/ishtar ./integration/...

# Fuzzing (.ci/fuzz): every Fuzz target of every package, one go test
# -fuzz run each. `make test` fuzzes each for FUZZTIME_SHORT after the
# tests (2s: about 80s for the 26 targets on 2 cores, 2 min when the
# instrumented builds are not cached yet); `make fuzz` for FUZZTIME (make
# fuzz FUZZTIME=10m). A fuzz failure fails make test (or make fuzz) and
# leaves the failing input in PKG/testdata/fuzz/FuzzName/, where plain go
# test runs it too: fix the bug and commit the input as its regression
# test.
FUZZTIME ?= 1m
FUZZTIME_SHORT ?= 2s

.PHONY: build test vet bench fuzz devnet clean

build:
	$(GO) build -o $(BIN) ./cmd/ishtar

vet:
	$(GO) vet ./...

test: vet
	$(GO) test -race -timeout 30m $(RACE_PKGS)
	$(GO) test -timeout 40m $(PLAIN_PKGS)
	GO=$(GO) .ci/fuzz $(FUZZTIME_SHORT)

fuzz:
	GO=$(GO) .ci/fuzz $(FUZZTIME)

# End-to-end figures (BENCH lines) of a devnet against a plain fsync-to-file
# server, the owner's PUTs with and without a capacity-hostage attack on
# every node, then the per-stage micro-benchmarks.
bench:
	$(GO) run ./integration/bench
	$(GO) test -run '^$$' -bench PutUnderAttack -benchtime 100x ./integration/
	GOMAXPROCS=1 $(GO) test -run '^$$' -bench Pipeline ./shard/
	$(GO) test -run '^$$' -bench StoreShard -benchtime 10x ./node/
	$(GO) test -run '^$$' -bench Exchange -benchmem ./node/

devnet:
	$(GO) run ./cmd/ishtar devnet --data $(DATA)

clean:
	rm -rf bin
