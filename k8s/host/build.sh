#!/usr/bin/env bash
# k8s/host/build.sh: build the binaries of the `host` provider from the Go module proxy, once.
#
#   Kubernetes v1.34.4  kube-apiserver, kubelet, kube-controller-manager, kube-scheduler, kube-proxy,
#                       kubectl, kubeadm (for the kind node image, k8s/kind/) from the module
#                       k8s.io/kubernetes, staging modules taken at v0.34.4
#   etcd v3.6.16        a wrapper module whose main calls etcdmain.Main
#   CoreDNS v1.15.0     coremain with only the plugins our Corefiles use (COREDNS_PLUGINS)
#   KubeRay v1.6.0      the operator, from github.com/ray-project/kuberay/ray-operator
#   pause               build/pause/linux/pause.c of the kubernetes module, gcc -static
#
# Everything lands in ${RAY101_CACHE:-$HOME/.cache/ray101}/<name>-<version>/bin; a component whose
# binaries are there is skipped, so a second run (or a fresh clone on the same machine) builds nothing.
# How: the sources of every component are fetched at once (network-bound, in parallel), then
# compiled one after the other (each `go build` already uses every core), stripped (-s -w) and
# -trimpath, with one Go build cache (GOCACHE) for all. With --images, the image tarballs are made
# too (k8s/host/images.sh --build-only, root): the Ray image, which downloads rather than compiles,
# while the Go components build.
# Progress: a line per component with the time its last build took, a tick every 30 s, all of it
# (and the compilers' output) in $RAY101_CACHE/logs/build.log. Concurrent runs wait for each other.
# Needs go (>= 1.24; fetched by scripts/fetch-go.sh when missing) and gcc.
# Usage: k8s/host/build.sh [--images]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
source "$here/common.sh"
with_images=
case "${1:-}" in --images) with_images=1 ;; "") ;; *) echo "usage: $0 [--images]" >&2; exit 2 ;; esac

if [ -n "$with_images" ]; then need_root; "$here/packages.sh"; fi
command -v gcc >/dev/null || die "gcc not found: k8s/host/packages.sh installs it (root), or apt-get install gcc libc6-dev"
go_ok() {
  command -v go >/dev/null 2>&1 || return 1
  local v; v=$(go env GOVERSION 2>/dev/null); v=${v#go}
  [ "$(printf '%s\n%s\n' 1.24 "$v" | sort -V | head -1)" = 1.24 ]
}
go_ok || { say "build: Go >= 1.24 not on PATH: scripts/fetch-go.sh"; PATH="$("$repo/scripts/fetch-go.sh"):$PATH"; }
export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
GOCACHE=$(go env GOCACHE); export GOCACHE
mkdir -p "$RAY101_CACHE"

exec 9>"$RAY101_CACHE/.build.lock"
flock -n 9 || { say "build: another build.sh is running: waiting for it"; flock 9; }
work=$(mktemp -d "$RAY101_CACHE/.build.XXXXXX")
images_pid=
cleanup() {
  step_stop_ticker
  [ -z "$images_pid" ] || kill "$images_pid" 2>/dev/null || true
  chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"
}
trap cleanup EXIT
say "build: log in $BUILD_LOG"

if [ -n "$with_images" ]; then # the Ray image downloads while Go compiles
  IMAGES_ONLY=ray "$here/images.sh" --build-only > "$work/images-ray.out" 2>&1 &
  images_pid=$!
fi

built() { local d=$1; shift; for b; do [ -x "$d/bin/$b" ] || return 1; done; }
publish() { # publish STAGING DIR: move a finished bin dir into place
  mkdir -p "$(dirname "$2")"; rm -rf "$2.tmp"; mv "$1" "$2.tmp"; rm -rf "$2"; mv "$2.tmp" "$2"; }

K8S_DIR=$RAY101_CACHE/kubernetes-$KUBERNETES_VERSION
K8S_CMDS="kube-apiserver kubelet kube-controller-manager kube-scheduler kube-proxy kubectl kubeadm"
PAUSE_DIR=$RAY101_CACHE/pause-$KUBERNETES_VERSION
ETCD_DIR=$RAY101_CACHE/etcd-$ETCD_VERSION
KUBERAY_DIR=$RAY101_CACHE/kuberay-v$KUBERAY_VERSION

# --- sources, fetched in parallel -------------------------------------------------------------
src_kubernetes() { # the kubernetes module, made buildable outside its repository
  local mod
  mod=$(cd "$work" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  cp -r "$mod" "$work/kubernetes"; chmod -R u+w "$work/kubernetes"; rm -rf "$work/kubernetes/vendor"
  # staging modules: v0.0.0 + replace => ./staging; take the published v0.X.Y instead
  python3 - "$work/kubernetes/go.mod" "$STAGING_VERSION" <<'PY'
import re, sys
path, ver = sys.argv[1], sys.argv[2]
text = open(path).read()
# the staging modules are the ones replaced by ./staging/src/k8s.io/<name>
staging = set(re.findall(r"(?m)^\s*(?:replace\s+)?(k8s\.io/\S+)\s+=>\s+\./staging/", text))
text = re.sub(r"(?ms)^replace \(.*?^\)\n", "", text)
text = re.sub(r"(?m)^replace k8s\.io/\S+ => \./staging/\S+\n", "", text)
for name in staging:
    text = re.sub(r"(?m)^(\s*(?:require\s+)?" + re.escape(name) + r") v0\.0\.0$", r"\1 " + ver, text)
assert staging and " v0.0.0\n" not in text, "go.mod: staging modules not found"
open(path, "w").write(text)
PY
  built "$K8S_DIR" $K8S_CMDS && return 0
  local pkgs=(); for c in $K8S_CMDS; do pkgs+=("./cmd/$c"); done
  (cd "$work/kubernetes" && go list -deps -f '' "${pkgs[@]}")   # downloads what they import
}
src_etcd() {
  mkdir -p "$work/etcd"
  cat > "$work/etcd/main.go" <<'GO'
// etcd built as a module dependency: the same main as the etcd binary.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$work/etcd" && go mod init ray101/etcd && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" && go mod tidy)
}
src_coredns() { # coremain and the chosen plugins; the order of the directives stays CoreDNS's own
  mkdir -p "$work/coredns"
  (cd "$work/coredns" && go mod init ray101/coredns && go get "github.com/coredns/coredns@$COREDNS_VERSION")
  local dir imports
  dir=$(cd "$work/coredns" && go list -m -f '{{.Dir}}' github.com/coredns/coredns)
  # plugin.cfg: "directive:package", the package under plugin/ unless it is a full path
  imports=$(awk -F: -v want=" $COREDNS_PLUGINS " '!/^#/ && NF == 2 && index(want, " " $1 " ") {
    print ($2 ~ /\//) ? $2 : "github.com/coredns/coredns/plugin/" $2 }' "$dir/plugin.cfg")
  [ "$(echo "$imports" | wc -l)" -eq "$(echo $COREDNS_PLUGINS | wc -w)" ] \
    || { echo "coredns: not every plugin of '$COREDNS_PLUGINS' is in plugin.cfg"; return 1; }
  {
    printf '// CoreDNS with only the plugins ray101 uses (k8s/host/versions.sh COREDNS_PLUGINS).\npackage main\n\n'
    printf 'import (\n\t"slices"\n\n\t"github.com/coredns/coredns/core/dnsserver"\n\t"github.com/coredns/coredns/coremain"\n\n'
    for p in $imports; do printf '\t_ "%s"\n' "$p"; done
    printf ')\n\nvar plugins = []string{'
    for p in $COREDNS_PLUGINS; do printf '"%s", ' "$p"; done
    printf '}\n\nfunc init() {\n\tdnsserver.Directives = slices.DeleteFunc(dnsserver.Directives, func(d string) bool {\n'
    printf '\t\treturn !slices.Contains(plugins, d)\n\t})\n}\n\nfunc main() { coremain.Run() }\n'
  } > "$work/coredns/main.go"
  (cd "$work/coredns" && go mod tidy)
}
src_kuberay() {
  local mod; mod=$("$repo/scripts/fetch-kuberay.sh")
  cp -r "$mod" "$work/ray-operator"; chmod -R u+w "$work/ray-operator"
  (cd "$work/ray-operator" && go list -deps -f '' .)
}
todo=()
{ built "$K8S_DIR" $K8S_CMDS && built "$PAUSE_DIR" pause; } || todo+=(kubernetes)
built "$ETCD_DIR" etcd || todo+=(etcd)
built "$COREDNS_DIR" coredns || todo+=(coredns)
built "$KUBERAY_DIR" manager || todo+=(kuberay)
if [ ${#todo[@]} -gt 0 ]; then
  step_begin sources "${todo[*]}" build
  pids=()
  for c in "${todo[@]}"; do src_"$c" >>"$BUILD_LOG" 2>&1 & pids+=($!); done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { step_stop_ticker; tail -n 25 "$BUILD_LOG" >&2; die "fetching the sources of ${todo[$i]} failed (log: $BUILD_LOG)"; }
  done
  step_end build
fi

# --- compiles, one at a time ------------------------------------------------------------------
if built "$K8S_DIR" $K8S_CMDS; then say "build: kubernetes $KUBERNETES_VERSION cached in $K8S_DIR"; else
  step_begin kubernetes "$KUBERNETES_VERSION" build
  IFS=. read -r major minor _ <<<"${KUBERNETES_VERSION#v}"
  pkgs=(); for c in $K8S_CMDS; do pkgs+=("./cmd/$c"); done
  mkdir -p "$work/k8s-bin"
  (cd "$work/kubernetes" && logged go build -trimpath -o "$work/k8s-bin/" -ldflags "-s -w \
      -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION \
      -X k8s.io/component-base/version.gitMajor=$major \
      -X k8s.io/component-base/version.gitMinor=$minor \
      -X k8s.io/component-base/version.gitTreeState=clean" "${pkgs[@]}")
  publish "$work/k8s-bin" "$K8S_DIR/bin"; step_end build "$K8S_DIR/bin"
fi

if built "$PAUSE_DIR" pause; then say "build: pause cached in $PAUSE_DIR"; else
  step_begin pause "$KUBERNETES_VERSION" build; mkdir -p "$work/pause-bin"
  logged gcc -Os -Wall -Werror -static -DVERSION="$KUBERNETES_VERSION" -o "$work/pause-bin/pause" \
    "$work/kubernetes/build/pause/linux/pause.c"
  strip "$work/pause-bin/pause"
  publish "$work/pause-bin" "$PAUSE_DIR/bin"; step_end build "$PAUSE_DIR/bin"
fi

if built "$ETCD_DIR" etcd; then say "build: etcd $ETCD_VERSION cached in $ETCD_DIR"; else
  step_begin etcd "$ETCD_VERSION" build; mkdir -p "$work/etcd-bin"
  (cd "$work/etcd" && logged go build -trimpath -ldflags "-s -w" -o "$work/etcd-bin/etcd" .)
  publish "$work/etcd-bin" "$ETCD_DIR/bin"; step_end build "$ETCD_DIR/bin"
fi

if built "$COREDNS_DIR" coredns; then say "build: coredns $COREDNS_VERSION cached in $COREDNS_DIR"; else
  step_begin coredns "$COREDNS_VERSION" build; mkdir -p "$work/coredns-bin"
  (cd "$work/coredns" && logged go build -trimpath -ldflags "-s -w" -o "$work/coredns-bin/coredns" .)
  "$work/coredns-bin/coredns" -plugins > "$work/coredns-plugins.txt"  # bare names, one a line
  grep -qx kubernetes "$work/coredns-plugins.txt" || die "coredns: the kubernetes plugin is missing"
  publish "$work/coredns-bin" "$COREDNS_DIR/bin"; step_end build "$COREDNS_DIR/bin"
fi

if built "$KUBERAY_DIR" manager; then say "build: kuberay operator v$KUBERAY_VERSION cached in $KUBERAY_DIR"; else
  step_begin kuberay-operator "v$KUBERAY_VERSION" build; mkdir -p "$work/kuberay-bin"
  (cd "$work/ray-operator" && logged go build -trimpath -ldflags "-s -w" -o "$work/kuberay-bin/manager" .)
  publish "$work/kuberay-bin" "$KUBERAY_DIR/bin"; step_end build "$KUBERAY_DIR/bin"
fi

if [ -n "$with_images" ]; then
  if ! wait "$images_pid"; then images_pid=; cat "$work/images-ray.out" >&2; die "the Ray image failed"; fi
  images_pid=; cat "$work/images-ray.out"
  "$here/images.sh" --build-only
fi
