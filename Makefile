# HeliosDB-Lite Cluster. `make test` is what CI runs (.ci/run).
GO        ?= go
BIN       := bin/heliosdb-lite
PKGS      := ./...
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo $(HOME)/go/bin/staticcheck)
# Static build for FROM scratch images (pg_query_go is cgo).
STATIC_FLAGS := -tags netgo,osusergo -ldflags '-linkmode external -extldflags -static -s -w'

.PHONY: all build static test lint fmt-check vet staticcheck unit bench bench-smoke fuzz cluster cluster-down e2e chaos clean tools image cluster-bench

all: build

build:
	$(GO) build -o $(BIN) ./cmd/heliosdb-lite

static:
	CGO_ENABLED=1 $(GO) build $(STATIC_FLAGS) -o bin/heliosdb-lite-static ./cmd/heliosdb-lite

tools:
	@test -x "$(STATICCHECK)" || $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.7.0

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

# -fuzzminimizetime 0s: the snapshot reader decodes on goroutines, so the
# coverage of one input varies a little from run to run, and the fuzzer
# spent its whole time re-running ("minimizing") each new input (FuzzReader:
# 14 executions in 60 s; 113k in 30 s with minimizing off). Crashing inputs
# are then kept as found, which for these small inputs is fine.
FUZZTIME ?= 30s
FUZZ = $(GO) test -run '^$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 0s
fuzz:
	$(FUZZ) -fuzz FuzzDecodeChangeSet ./engine
	$(FUZZ) -fuzz FuzzDecodeRow ./engine
	$(FUZZ) -fuzz FuzzReader ./snapshot
	$(FUZZ) -fuzz FuzzColumns ./snapshot
	$(FUZZ) -fuzz FuzzFrontendMessages ./pgwire
	$(FUZZ) -fuzz FuzzExec ./sql
	$(FUZZ) -fuzz FuzzReadBinaryCopy ./sql

# --- cluster (docs/cluster.md) ---------------------------------------------
# docker compose v2 plugin if present, else the older docker-compose.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
IMAGE   ?= heliosdb-lite:local

# The FROM scratch image around the static binary (context: bin/ only).
image: static
	docker build -f Dockerfile -t $(IMAGE) bin

cluster: image
	HELIOSDB_IMAGE=$(IMAGE) $(COMPOSE) -f docker-compose.yml up -d
	@echo "cluster up: psql -h 127.0.0.1 -p 5433 -U postgres   (n2: 5434, n3: 5435)"

cluster-down:
	$(COMPOSE) -f docker-compose.yml down -v --remove-orphans

# Long chaos run: make chaos CHAOS_DURATION=30m (seed: HELIOSDB_SEED=...).
CHAOS_DURATION ?= 10m
chaos:
	HELIOSDB_CHAOS_DURATION=$(CHAOS_DURATION) $(GO) test -race -count=1 -v -timeout 0 -run 'TestChaos$$' ./cluster-tests/

# Failover time and replicated write throughput at 1/8/64 clients.
cluster-bench:
	HELIOSDB_CLUSTER_BENCH=1 $(GO) test -count=1 -v -timeout 30m -run 'TestClusterFigures$$' ./cluster-tests/

clean:
	rm -rf bin
