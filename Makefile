# certplane: `make run` starts a local control plane, `make test` runs every test.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := build

MODULE  := github.com/certplane/certplane
VERSION ?= v0.1.0-dev
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X $(MODULE)/internal/version.Version=$(VERSION) -X $(MODULE)/internal/version.Commit=$(COMMIT)
BIN     := $(CURDIR)/bin

# How long `make fuzz` runs each fuzz target.
FUZZTIME ?= 30s
# Which benchmarks `make bench` runs, and how often.
BENCH      ?= .
BENCHCOUNT ?= 1

.PHONY: build tools test lint bench fuzz tidy clean run generate verify-generate

## build: the certplane binary, bin/certplane
build:
	go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/certplane ./cmd/certplane

## tools: the pinned kube-apiserver, kube-controller-manager, kubectl, etcd, controller-gen, golangci-lint and vault (a test tool, BUSL-1.1, never linked into certplane) in bin/, and the Debian packages the tests run: chromium for the web view, pebble and BIND (bind9, bind9-utils, bind9-dnsutils) for ACME, softhsm2 and opensc for the HSM (only what is missing)
tools:
	hack/tools.sh

## test: every test (unit, fuzz seed corpora, end-to-end against bin/ and openssl)
test: tools build
	CERTPLANE_BIN=$(BIN)/certplane go test -count=1 -timeout 45m ./...

## generate: deepcopy and CRDs from api/, the controllers' ClusterRole (config/rbac/role.yaml) from the +kubebuilder:rbac markers
generate: tools
	$(BIN)/controller-gen object:headerFile=hack/boilerplate.go.txt paths=./api/...
	$(BIN)/controller-gen crd paths=./api/... output:crd:dir=config/crd/bases
	$(BIN)/controller-gen rbac:roleName=certplane-controller paths=./internal/controller/... paths=./internal/web/... output:rbac:dir=config/rbac

## verify-generate: fail when generated files are not current with their sources
GENERATED = config/crd/bases/*.yaml config/rbac/role.yaml api/certmanager/v1/zz_generated.deepcopy.go api/trust/v1alpha1/zz_generated.deepcopy.go api/acme/v1/zz_generated.deepcopy.go api/policy/v1alpha1/zz_generated.deepcopy.go
verify-generate: tools
	@before=$$(cat $(GENERATED) | sha256sum); \
	  $(MAKE) -s generate; \
	  after=$$(cat $(GENERATED) | sha256sum); \
	  if [ "$$before" != "$$after" ]; then echo "generated files were stale: make generate has now updated them; commit them"; exit 1; fi

## lint: golangci-lint (with the import-direction rules in .golangci.yml) and gofmt
lint: tools verify-generate
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^hack/tools/')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(BIN)/golangci-lint run ./...

## bench: the benchmarks (BENCH=regexp, BENCHCOUNT=n); figures go in docs/performance.md
bench:
	go test -run '^$$' -bench '$(BENCH)' -benchmem -count $(BENCHCOUNT) ./...

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	@set -e; for pkg in $$(go list ./...); do \
	  for target in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzzing $$pkg $$target for $(FUZZTIME)"; \
	    go test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

tidy:
	go mod tidy
	cd hack/tools && go mod tidy
	cd hack/tools/etcd && go mod tidy
	cd hack/tools/vault && go mod tidy -e

clean:
	rm -f $(BIN)/certplane

## run: build what is missing and start a local control plane (`certplane up`); ARGS are passed on
run: tools build
	$(BIN)/certplane up $(ARGS)
