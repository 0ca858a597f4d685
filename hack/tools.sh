#!/usr/bin/env bash
# Builds the pinned development tools into bin/ from Go modules.
# Idempotent: a tool whose binary and version stamp are present is skipped,
# so a second run takes well under a second.
#
# usage: hack/tools.sh [tool...]   (default: all)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin"
stamps="$bin/.stamps"

KUBERNETES_VERSION=v1.37.2
ETCD_VERSION=v3.6.6
CONTROLLER_TOOLS_VERSION=v0.23.0
GOLANGCI_LINT_VERSION=v2.15.0

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

# chromium is Debian's package, for the web view's tests in a real browser:
# installed with apt-get when running as root, else named in one line.
install_chromium() {
	command -v chromium >/dev/null 2>&1 && return
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		echo "hack/tools.sh: the web view's tests need Chromium: install the Debian package chromium (sudo apt-get update && sudo apt-get install -y chromium)" >&2
		return
	fi
	echo "installing chromium (apt-get)"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
}

tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(etcd kube-apiserver kube-controller-manager kubectl controller-gen golangci-lint chromium)
for t in "${tools[@]}"; do
	case "$t" in
	kube-apiserver | kube-controller-manager | kubectl) build_kube "$t" ;;
	etcd) build_etcd ;;
	controller-gen) build_controller_gen ;;
	golangci-lint) build_golangci_lint ;;
	chromium) install_chromium ;;
	*) echo "hack/tools.sh: unknown tool $t" >&2; exit 2 ;;
	esac
done
