#!/usr/bin/env bash
# Builds the pinned development tools into bin/ from Go modules, and installs
# the Debian packages the tests run (chromium, pebble, BIND) when missing.
# Idempotent: a tool whose binary and version stamp are present is skipped,
# so a second run takes well under a second.
#
# usage: hack/tools.sh [tool...]   (default: all; "debian" is every Debian
# package, each of which can also be named alone)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin"
stamps="$bin/.stamps"

KUBERNETES_VERSION=v1.37.2
ETCD_VERSION=v3.6.6
CONTROLLER_TOOLS_VERSION=v0.23.0
GOLANGCI_LINT_VERSION=v2.15.0
VAULT_VERSION=v1.21.4

mkdir -p "$stamps"

# fresh NAME VERSION: true when bin/NAME was built at VERSION.
fresh() { [ -x "$bin/$1" ] && [ -f "$stamps/$1@$2" ]; }

# stamp NAME VERSION: records the version bin/NAME was built at.
stamp() { rm -f "$stamps/$1@"*; touch "$stamps/$1@$2"; }

k8s_ldflags() {
	local v=${KUBERNETES_VERSION#v} pkg=k8s.io/component-base/version
	local major=${v%%.*} rest=${v#*.}
	local minor=${rest%%.*}
	echo "-s -w -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor" \
		"-X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
}

build_kube() { # kube-apiserver | kube-controller-manager | kubectl
	fresh "$1" "$KUBERNETES_VERSION" && return
	echo "building $1 $KUBERNETES_VERSION (a cold build takes several minutes)"
	(cd "$root/hack/tools" && go build -trimpath -ldflags "$(k8s_ldflags)" -o "$bin/$1" "k8s.io/kubernetes/cmd/$1")
	stamp "$1" "$KUBERNETES_VERSION"
}

build_etcd() {
	fresh etcd "$ETCD_VERSION" && return
	echo "building etcd $ETCD_VERSION"
	(cd "$root/hack/tools/etcd" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd" .)
	stamp etcd "$ETCD_VERSION"
}

build_controller_gen() {
	fresh controller-gen "$CONTROLLER_TOOLS_VERSION" && return
	echo "building controller-gen $CONTROLLER_TOOLS_VERSION"
	(cd "$root/hack/tools" && go build -trimpath -ldflags "-s -w" -o "$bin/controller-gen" sigs.k8s.io/controller-tools/cmd/controller-gen)
	stamp controller-gen "$CONTROLLER_TOOLS_VERSION"
}

build_golangci_lint() {
	fresh golangci-lint "$GOLANGCI_LINT_VERSION" && return
	echo "building golangci-lint $GOLANGCI_LINT_VERSION"
	GOBIN="$bin" go install -trimpath -ldflags "-s -w" "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION"
	stamp golangci-lint "$GOLANGCI_LINT_VERSION"
}

# Vault's server is BUSL-1.1: a test tool like etcd, built from its own
# nested module and never linked into certplane. The default (full) build:
# the kubernetes auth method is not in -tags minimal.
#
# Vault's go.mod replaces its api and sdk modules with its own folders,
# which a dependent module cannot do, and no published sdk matches v1.21.4
# (v0.20.0 is older, v0.21.0 newer). So the module's source is copied from
# the module cache into src/ (git-ignored), three calls are adapted to sdk
# v0.21.0 there, and it is built with a modfile that points at src/.
build_vault() {
	fresh vault "$VAULT_VERSION" && return
	echo "building vault $VAULT_VERSION (a cold build takes several minutes)"
	local dir="$root/hack/tools/vault" mod src
	mod=$(cd "$dir" && go mod download -json "github.com/hashicorp/vault@$VAULT_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -n "$mod" ] || { echo "hack/tools.sh: cannot find github.com/hashicorp/vault@$VAULT_VERSION in the module cache" >&2; exit 1; }
	src="$dir/src"
	rm -rf "$src"
	cp -r "$mod" "$src"
	chmod -R u+w "$src"
	sed -i 's/ActivationFunc: iStore.activateDeduplication,/ActivationFunc: func(ctx context.Context, req *logical.Request, _ string) error { return iStore.activateDeduplication(ctx, req) },/' "$src/vault/identity_store.go"
	sed -i 's/b.idStoreBackend.ActivationFunc(ctx, nil)/b.idStoreBackend.ActivationFunc(ctx, nil, "")/' "$src/vault/logical_system_activation_flags.go"
	sed -i 's/restoredKeyName, err := b.lm.RestorePolicy(ctx, req.Storage, keyName, backupB64, force)/restoredKeyName, err := keyName, b.lm.RestorePolicy(ctx, req.Storage, keyName, backupB64, force)/' "$src/builtin/logical/transit/path_restore.go"
	cp "$dir/go.mod" "$dir/build.mod"
	cp "$dir/go.sum" "$dir/build.sum"
	echo 'replace github.com/hashicorp/vault => ./src' >>"$dir/build.mod"
	(cd "$dir" && go build -modfile=build.mod -trimpath -ldflags "-s -w" -o "$bin/vault" github.com/hashicorp/vault)
	rm -rf "$src" "$dir/build.mod" "$dir/build.sum"
	stamp vault "$VAULT_VERSION"
}

# Debian's packages for the tests that drive real programs: chromium for the
# web view's tests in a real browser; pebble (an ACME server) and BIND
# (named, tsig-keygen, nsupdate, dig) for the ACME tests; SoftHSM2 and
# opensc's pkcs11-tool for the HSM tests. They are gathered
# while the tools are walked and installed at the end, only those missing, in
# one apt-get call when running as root, else named in one line.
debian=()

# want_debian PACKAGE...: asks for Debian packages.
want_debian() { debian+=("$@"); }

# debian_present PACKAGE: true when the files the tests use from PACKAGE are
# there.
debian_present() {
	case "$1" in
	chromium) command -v chromium >/dev/null 2>&1 ;;
	pebble) [ -x /usr/bin/pebble ] ;;
	bind9) [ -x /usr/sbin/named ] && [ -x /usr/sbin/tsig-keygen ] ;;
	bind9-utils) [ -x /usr/bin/named-checkconf ] ;;
	bind9-dnsutils) [ -x /usr/bin/nsupdate ] && [ -x /usr/bin/dig ] ;;
	softhsm2) [ -e /usr/lib/softhsm/libsofthsm2.so ] && [ -x /usr/bin/softhsm2-util ] ;;
	opensc) [ -x /usr/bin/pkcs11-tool ] ;;
	*) return 1 ;;
	esac
}

install_debian() {
	[ ${#debian[@]} -gt 0 ] || return 0
	local missing=() p
	for p in "${debian[@]}"; do
		case " ${missing[*]-} " in *" $p "*) continue ;; esac
		debian_present "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		echo "hack/tools.sh: the web view's, ACME and HSM tests need Debian packages: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
		return 0
	fi
	echo "installing ${missing[*]} (apt-get)"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(etcd kube-apiserver kube-controller-manager kubectl controller-gen golangci-lint vault debian)
for t in "${tools[@]}"; do
	case "$t" in
	kube-apiserver | kube-controller-manager | kubectl) build_kube "$t" ;;
	etcd) build_etcd ;;
	controller-gen) build_controller_gen ;;
	golangci-lint) build_golangci_lint ;;
	vault) build_vault ;;
	debian) want_debian chromium pebble bind9 bind9-utils bind9-dnsutils softhsm2 opensc ;;
	chromium | pebble | bind9 | bind9-utils | bind9-dnsutils | softhsm2 | opensc) want_debian "$t" ;;
	*) echo "hack/tools.sh: unknown tool $t" >&2; exit 2 ;;
	esac
done
install_debian
