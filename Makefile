# HeliosDB-Lite Cluster. `make test` is what CI runs (.ci/run).
GO        ?= go
BIN       := bin/heliosdb-lite
PKGS      := ./...
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo $(HOME)/go/bin/staticcheck)
# Static build for FROM scratch images (pg_query_go is cgo).
STATIC_FLAGS := -tags netgo,osusergo -ldflags '-linkmode external -extldflags -static -s -w'

.PHONY: all build static test lint fmt-check vet staticcheck unit bench bench-smoke fuzz cluster cluster-down e2e chaos clean tools

all: build

build:
	$(GO) build -o $(BIN) ./cmd/heliosdb-lite

static:
	CGO_ENABLED=1 $(GO) build $(STATIC_FLAGS) -o bin/heliosdb-lite-static ./cmd/heliosdb-lite

tools:
	@test -x "$(STATICCHECK)" || $(GO) install honnef.co/go/tools/cmd/staticcheck@2026.1

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

staticcheck: tools
	$(STATICCHECK) $(PKGS)

lint: fmt-check vet staticcheck

# The whole suite: formatting, vet, staticcheck, then every test with the
# race detector (real clients, real processes, the compose cluster where a
# Docker engine runs).
test: lint build
	$(GO) test -race -timeout 25m $(PKGS)

unit:
	$(GO) test -short $(PKGS)

bench:
	$(GO) run ./cmd/heliosdb-bench $(if $(SIZE),-size $(SIZE))

bench-smoke:
	$(GO) run ./cmd/heliosdb-bench -smoke

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeChangeSet -fuzztime 30s ./engine
	$(GO) test -run '^$$' -fuzz FuzzReader -fuzztime 30s ./snapshot
	$(GO) test -run '^$$' -fuzz FuzzFrontendMessages -fuzztime 30s ./pgwire
	$(GO) test -run '^$$' -fuzz FuzzExec -fuzztime 30s ./sql

clean:
	rm -rf bin
