# Gatehouse — the two commands a fresh machine needs are `make run` and
# `make test`; both need only Go.

GO      ?= go
BIN     := bin
DEV     := .dev
QS      := examples/quickstart
PKG     := ./...
# wrk is used by `make bench` for the load comparison (Debian package).
WRK     ?= wrk

# Stamped into `gatehouse version` and the gatehouse_build_info metric.
# DATE is the commit's time, not the clock, so two builds of one commit are
# byte-identical (`make release-check`).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
DATE    ?= $(shell git log -1 --format=%cI 2>/dev/null)
BUILDINFO := github.com/gatehouse/gatehouse/gateway/buildinfo
LDFLAGS := -X $(BUILDINFO).version=$(VERSION) -X $(BUILDINFO).commit=$(COMMIT) -X $(BUILDINFO).date=$(DATE)
DIST    := dist
PLATFORMS := linux/amd64 linux/arm64

.PHONY: all build release release-check image run test test-go test-policy lint bench bench-go bench-load bench-proxies fuzz soak pki clean tools test-deps

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/gatehouse ./cmd/gatehouse
	$(GO) build -o $(BIN)/upstream ./examples/upstream

# Static (CGO_ENABLED=0), stripped, path-free binaries for every platform in
# PLATFORMS and their SHA256SUMS, in dist/. No VCS stamp and no build id
# (-buildvcs=false, -buildid=): the commit comes in through LDFLAGS, so the
# output depends only on the source tree and the Go version.
release:
	rm -rf $(DIST) && mkdir -p $(DIST)
	@set -e; for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; echo "== $$os/$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -buildvcs=false \
			-ldflags '-s -w -buildid= $(LDFLAGS)' -o $(DIST)/gatehouse-$$os-$$arch ./cmd/gatehouse; \
	done
	cd $(DIST) && sha256sum gatehouse-* > SHA256SUMS && cat SHA256SUMS && ls -l gatehouse-*

# Reproducibility: build the release a second time from a copy of the
# committed tree at another path with an empty build cache, and compare the
# checksums. Slow (a cold build of everything, twice the platforms), so not
# part of `make test`.
release-check: release
	@set -e; tmp=$$(mktemp -d); trap 'chmod -R u+w $$tmp; rm -rf $$tmp' EXIT; \
	git archive --format=tar HEAD | tar -x -C $$tmp; \
	GOCACHE=$$tmp/.gocache $(MAKE) -C $$tmp release VERSION='$(VERSION)' COMMIT='$(COMMIT)' DATE='$(DATE)' >/dev/null; \
	diff $(DIST)/SHA256SUMS $$tmp/$(DIST)/SHA256SUMS && echo "release-check: reproducible (identical SHA256SUMS)"

# The container image from the release binary of this machine's
# architecture: no base image is pulled (deploy/container/Dockerfile,
# BINARY_FROM=prebuilt). CONTAINER=docker works too.
CONTAINER ?= podman
IMAGE     ?= gatehouse:$(VERSION)
image: release
	cp /etc/ssl/certs/ca-certificates.crt $(DIST)/ca-certificates.crt
	$(CONTAINER) build -f deploy/container/Dockerfile --build-arg BINARY_FROM=prebuilt -t $(IMAGE) .
	@$(CONTAINER) image ls $(IMAGE)

# Development PKI, the demo issuer's keys and demo tokens (git-ignored).
pki: build
	$(BIN)/gatehouse pki -out $(DEV)/pki

# Build, generate dev certificates, start the demo upstream and the quickstart
# gateway, and print curl commands that exercise every scheme.
run: pki
	@sh $(QS)/curls.sh $(DEV)/pki
	@set -e; \
	$(BIN)/upstream -addr 127.0.0.1:9000 & up=$$!; \
	trap 'kill $$up 2>/dev/null' EXIT INT TERM; \
	$(BIN)/gatehouse run -c $(QS)/gatehouse.yaml

# The opa CLI comes from the `tool` line in go.mod, so it is exactly the
# engine the gateway embeds.
test: test-go test-policy

test-go:
	$(GO) vet $(PKG)
	$(GO) test -race -count=1 -timeout 20m $(PKG)

# The last lines check the example user bundles the way their README tells
# users to: under the gateway's capabilities (schemas/capabilities.json),
# type-checked against the input schema, tested with the base policy — once
# with the stock opa CLI, once with `gatehouse policy test`. OPA's 5 s
# per-test timeout fails rules on a loaded 2-core machine; OPA_TIMEOUT widens it.
OPA_TIMEOUT ?= 60s
EXAMPLE_BUNDLES := $(sort $(dir $(wildcard examples/bundles/*/.manifest)))
test-policy:
	$(GO) tool opa fmt --fail --list policies/ examples/
	$(GO) tool opa check --strict --capabilities schemas/capabilities.json policies/
	$(GO) tool opa test --timeout $(OPA_TIMEOUT) policies/
	$(GO) tool opa test --timeout $(OPA_TIMEOUT) $(QS)/bundle/ policies/
	$(GO) tool opa check --strict --capabilities schemas/capabilities.json --schema schemas/input.schema.json policies/ $(EXAMPLE_BUNDLES)
	@set -e; for b in $(EXAMPLE_BUNDLES); do \
		echo "$(GO) tool opa test policies/ $$b"; $(GO) tool opa test --timeout $(OPA_TIMEOUT) policies/ $$b; \
		echo "$(GO) run ./cmd/gatehouse policy test $$b"; $(GO) run ./cmd/gatehouse policy test -timeout $(OPA_TIMEOUT) $$b; \
	done

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet $(PKG)
	$(GO) tool opa fmt --fail --list policies/ examples/
	$(GO) tool opa check --strict policies/

# Go benchmarks (ns/op, allocs/op) of the request path, then a loopback load
# comparison against a bare reverse proxy, printed as ratios.
bench: bench-go bench-load bench-proxies

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./authn/ ./authn/jose/ ./authn/keymanager/ ./gateway/ ./gateway/assertion/ ./gateway/edge/ ./gateway/frontdoor/ ./policies/ ./bundles/

bench-load: tools
	$(GO) run ./cmd/loadbench -wrk $(WRK)

# A real NGINX proxying alone vs the same NGINX with auth_request to the
# gateway's forward-auth endpoint (nginx from make test-deps), as a ratio,
# with the gateway's CPU time per authorized request.
bench-proxies: tools
	$(GO) run ./cmd/proxybench -wrk $(WRK)

tools:
	@command -v $(WRK) >/dev/null 2>&1 || { echo "installing wrk (Debian package)"; \
		(apt-get install -y wrk >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y wrk >/dev/null)) \
		|| sudo apt-get install -y wrk; }

# redis-server is used by the Redis token store tests, nginx and caddy by the
# front-door tests behind real proxies (Debian packages); the tests start
# their own private instances on free loopback ports and skip, loudly,
# without them. podman and buildah build and run the container image
# (deploy/container), runc runs it where crun cannot (cgroup v1/v2 hybrid
# hosts); zsh and fish syntax-check the completion scripts. CI (.ci/run)
# installs them and makes a skip a failure.
TEST_DEPS := redis-server nginx caddy podman buildah runc zsh fish
test-deps:
	@for p in $(TEST_DEPS); do \
		command -v $$p >/dev/null 2>&1 && continue; \
		echo "installing $$p (Debian package)"; \
		(apt-get install -y $$p >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y $$p >/dev/null)) \
			|| sudo apt-get install -y $$p || exit 1; \
	done

# Every go test -fuzz target of the module, each for FUZZTIME (default 30s).
# Seeds are in the tests and in <pkg>/testdata/fuzz/FuzzX; a crasher is
# written there too and becomes a regression case once committed.
FUZZTIME ?= 30s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

# The soak (not part of make test): the built gateway for SOAKTIME (default
# 10m) at half its measured maximum rate on loopback, mixed valid and hostile
# traffic, a policy rewrite every 10 s (every third broken), a flapping JWKS;
# prints goroutines, heap and fds over time and exits 1 when a target is
# missed. SOAKFLAGS adds flags (e.g. -out soak.txt).
SOAKTIME ?= 10m
soak: build
	$(GO) run ./cmd/soak -gatehouse $(BIN)/gatehouse -duration $(SOAKTIME) $(SOAKFLAGS)

clean:
	rm -rf $(BIN) $(DEV) $(DIST)
