#!/usr/bin/env bash
# Builds the test tools from their Go modules into a per-machine cache (nothing prebuilt can be
# downloaded here, and nothing needs root): etcd, kube-apiserver, helm, kubeconform, prometheus + promtool,
# and two small programs of ours around real Go libraries (tests/support/go): luahealth (Argo CD's Lua
# interpreter, gopher-lua) and kstatus (sigs.k8s.io/cli-utils/pkg/kstatus).
# Every version lives here, once. Idempotent and incremental: a tool already in the cache (same version, and
# for our programs a source no newer than the binary) is not rebuilt. Prints the bin directory on its last line.
#
# Honours KUBEBUILDER_ASSETS / TEST_ASSET_ETCD / TEST_ASSET_KUBE_APISERVER: when they point at
# existing binaries, those are used and not built.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.33.13}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${HELM_VERSION:-v3.19.0}"
KUBECONFORM_VERSION="${KUBECONFORM_VERSION:-v0.7.0}"
# Prometheus 3.5 (LTS); its Go module is versioned v0.<major*100+minor>.<patch>.
PROMETHEUS_VERSION="${PROMETHEUS_VERSION:-v3.5.1}"
GOPHER_LUA_VERSION="${GOPHER_LUA_VERSION:-v1.1.1}"   # the version Argo CD's go.mod requires
CLI_UTILS_VERSION="${CLI_UTILS_VERSION:-v0.37.2}"     # sigs.k8s.io/cli-utils (kstatus)
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GO_SRC="$HERE/../tests/support/go"
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

prometheus_module_version() {  # v3.5.1 -> v0.305.1
  local v="${PROMETHEUS_VERSION#v}" major minor patch
  IFS=. read -r major minor patch <<<"$v"
  echo "v0.$((major * 100 + minor)).$patch"
}

build_prometheus() {
  local out_p="$BIN/prometheus-$PROMETHEUS_VERSION" out_t="$BIN/promtool-$PROMETHEUS_VERSION"
  [ -x "$out_p" ] && [ -x "$out_t" ] && return
  local mod dir gomod
  mod=$(prometheus_module_version)
  say "building prometheus and promtool $PROMETHEUS_VERSION (module $mod; a wrapper module: its go.mod has replace and exclude lines)"
  dir="$CACHE/src/prometheus-$PROMETHEUS_VERSION"; rm -rf "$dir"; mkdir -p "$dir"
  gomod=$(go mod download -json "github.com/prometheus/prometheus@$mod" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  {
    echo "module local/prometheuswrap"
    grep -E '^go [0-9]' "$gomod"
    echo "require github.com/prometheus/prometheus $mod"
    # Carry its exclude and replace directives (single lines and blocks) so the build sees the same graph.
    awk '/^(exclude|replace) \(/{blk=1} blk{print; if ($0 ~ /^\)/) blk=0; next} /^(exclude|replace) /{print}' "$gomod"
  } >"$dir/go.mod"
  local ldflags="-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_VERSION#v} -X github.com/prometheus/common/version.Branch=release"
  (cd "$dir" && go build -mod=mod -trimpath -ldflags "$ldflags" -o "$out_t.tmp" github.com/prometheus/prometheus/cmd/promtool &&
    go build -mod=mod -trimpath -ldflags "$ldflags" -o "$out_p.tmp" github.com/prometheus/prometheus/cmd/prometheus)
  mv "$out_t.tmp" "$out_t"; mv "$out_p.tmp" "$out_p"
}

# One of our small programs (tests/support/go/<name>/main.go) in a wrapper module requiring $2 at $3.
build_goprog() {
  local name="$1" module="$2" version="$3"
  local src="$GO_SRC/$name/main.go" out="$BIN/$name-$version"
  [ -f "$src" ] || { say "missing $src"; exit 1; }
  [ -x "$out" ] && [ "$out" -nt "$src" ] && return
  say "building $name ($module $version)"
  local dir="$CACHE/src/$name-$version"; rm -rf "$dir"; mkdir -p "$dir"
  printf 'module local/%s\ngo 1.24\nrequire %s %s\n' "$name" "$module" "$version" >"$dir/go.mod"
  cp "$src" "$dir/main.go"
  (cd "$dir" && go build -mod=mod -trimpath -ldflags "-s -w" -o "$out.tmp" .)
  mv "$out.tmp" "$out"
}
build_luahealth() { build_goprog luahealth github.com/yuin/gopher-lua "$GOPHER_LUA_VERSION"; }
build_kstatus() { build_goprog kstatus sigs.k8s.io/cli-utils "$CLI_UTILS_VERSION"; }

what="${1:-all}"
case "$what" in
  etcd) build_etcd ;;
  kube-apiserver) build_apiserver ;;
  helm) build_helm ;;
  kubeconform) build_kubeconform ;;
  promtool|prometheus) build_prometheus ;;
  luahealth) build_luahealth ;;
  kstatus) build_kstatus ;;
  all) build_etcd; build_apiserver; build_helm; build_kubeconform; build_prometheus; build_luahealth; build_kstatus ;;
  *) say "usage: $0 [all|etcd|kube-apiserver|helm|kubeconform|prometheus|promtool|luahealth|kstatus]"; exit 2 ;;
esac

# Stable names for the fixtures and the demo (only for what exists).
link() { [ -e "$BIN/$2" ] && ln -sfn "$2" "$BIN/$1" || true; }
link etcd "etcd-$ETCD_VERSION"
link kube-apiserver "kube-apiserver-$K8S_VERSION"
link helm "helm-$HELM_VERSION"
link kubeconform "kubeconform-$KUBECONFORM_VERSION"
link prometheus "prometheus-$PROMETHEUS_VERSION"
link promtool "promtool-$PROMETHEUS_VERSION"
link luahealth "luahealth-$GOPHER_LUA_VERSION"
link kstatus "kstatus-$CLI_UTILS_VERSION"
echo "$BIN"
