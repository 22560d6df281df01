#!/usr/bin/env bash
# Builds the test tools from their Go modules into a per-machine cache (nothing prebuilt can be
# downloaded here): etcd, kube-apiserver, helm, kubeconform. promtool comes from Debian's prometheus.
# Idempotent: a tool already in the cache is not rebuilt. Prints the bin directory on its last line.
#
# Honours KUBEBUILDER_ASSETS / TEST_ASSET_ETCD / TEST_ASSET_KUBE_APISERVER: when they point at
# existing binaries, those are used and not built.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.33.13}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${HELM_VERSION:-v3.19.0}"
KUBECONFORM_VERSION="${KUBECONFORM_VERSION:-v0.7.0}"
CACHE="${PROMPTFLOW_NETISO_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/promptflow-netiso/tools}"
BIN="$CACHE/bin"
mkdir -p "$BIN" "$CACHE/src"

say() { printf '[build-tools] %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null 2>&1 || { say "missing '$1': $2"; exit 1; }; }
need go "install Go (https://go.dev) — the control plane is built from Go modules"

export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}"

have_asset() { [ -n "${1:-}" ] && [ -x "$1" ]; }

build_etcd() {
  local out="$BIN/etcd-$ETCD_VERSION"
  [ -x "$out" ] && return
  if have_asset "${TEST_ASSET_ETCD:-}"; then ln -sf "$TEST_ASSET_ETCD" "$out"; return; fi
  if have_asset "${KUBEBUILDER_ASSETS:-}/etcd"; then ln -sf "$KUBEBUILDER_ASSETS/etcd" "$out"; return; fi
  say "building etcd $ETCD_VERSION (a wrapper module; etcd's go.mod has replace lines)"
  local dir="$CACHE/src/etcd-$ETCD_VERSION"; rm -rf "$dir"; mkdir -p "$dir"
  cat >"$dir/go.mod" <<EOF
module local/etcdwrap
go 1.24
require go.etcd.io/etcd/server/v3 $ETCD_VERSION
EOF
  # -mod=mod lets go build fill go.sum itself (a main package cannot be imported from a tools file).
  (cd "$dir" && go build -mod=mod -trimpath -ldflags "-s -w" -o "$out" go.etcd.io/etcd/server/v3)
}

build_apiserver() {
  local out="$BIN/kube-apiserver-$K8S_VERSION"
  [ -x "$out" ] && return
  if have_asset "${TEST_ASSET_KUBE_APISERVER:-}"; then ln -sf "$TEST_ASSET_KUBE_APISERVER" "$out"; return; fi
  if have_asset "${KUBEBUILDER_ASSETS:-}/kube-apiserver"; then ln -sf "$KUBEBUILDER_ASSETS/kube-apiserver" "$out"; return; fi
  say "building kube-apiserver $K8S_VERSION (wrapper module replacing staging modules; several minutes, GiBs of RAM)"
  local dir="$CACHE/src/kube-apiserver-$K8S_VERSION"; rm -rf "$dir"; mkdir -p "$dir"
  local gomod minor
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  {
    echo "module local/apiserverwrap"
    grep -E '^go [0-9]' "$gomod"
    grep -E '^godebug' "$gomod" || true
    echo "require k8s.io/kubernetes $K8S_VERSION"
    # Every staging module k8s.io/kubernetes requires at v0.0.0 maps to its published v0.<minor>.<patch>.
    grep -oE 'k8s.io/[a-z0-9-]+ => \./staging/' "$gomod" | awk '{print $1}' | sort -u |
      while read -r m; do echo "replace $m => $m v0.$minor.${K8S_VERSION##*.}"; done
  } >"$dir/go.mod"
  local ver="$K8S_VERSION" ldflags=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags="$ldflags -X $pkg.gitVersion=$ver -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  (cd "$dir" && go build -mod=mod -trimpath -ldflags "-s -w $ldflags" -o "$out" k8s.io/kubernetes/cmd/kube-apiserver)
}

build_helm() {
  local out="$BIN/helm-$HELM_VERSION"
  [ -x "$out" ] && return
  say "building helm $HELM_VERSION"
  GOBIN="$CACHE/src/gobin-helm" go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
  mv "$CACHE/src/gobin-helm/helm" "$out"
}

build_kubeconform() {
  local out="$BIN/kubeconform-$KUBECONFORM_VERSION"
  [ -x "$out" ] && return
  say "building kubeconform $KUBECONFORM_VERSION"
  GOBIN="$CACHE/src/gobin-kc" go install -ldflags "-s -w" "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" >&2
  mv "$CACHE/src/gobin-kc/kubeconform" "$out"
}

ensure_promtool() {
  command -v promtool >/dev/null 2>&1 && return
  [ -x /usr/bin/promtool ] && return
  say "installing promtool and prometheus from Debian's prometheus package"
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) >&2 ||
      { say "could not install Debian's prometheus package (promtool): install it by hand"; exit 1; }
  else
    say "promtool is missing: 'sudo apt-get install prometheus' (Debian) provides it"; exit 1
  fi
  # The package starts a service on some systems; the tests start their own Prometheus.
  (command -v systemctl >/dev/null && systemctl stop prometheus 2>/dev/null) || pkill -x prometheus 2>/dev/null || true
}

what="${1:-all}"
case "$what" in
  etcd) build_etcd ;;
  kube-apiserver) build_apiserver ;;
  helm) build_helm ;;
  kubeconform) build_kubeconform ;;
  promtool) ensure_promtool ;;
  all) build_etcd; build_apiserver; build_helm; build_kubeconform; ensure_promtool ;;
  *) say "usage: $0 [all|etcd|kube-apiserver|helm|kubeconform|promtool]"; exit 2 ;;
esac

# Stable names for the fixtures and the demo (only for what exists).
link() { [ -e "$BIN/$2" ] && ln -sfn "$2" "$BIN/$1" || true; }
link etcd "etcd-$ETCD_VERSION"
link kube-apiserver "kube-apiserver-$K8S_VERSION"
link helm "helm-$HELM_VERSION"
link kubeconform "kubeconform-$KUBECONFORM_VERSION"
echo "$BIN"
