#!/usr/bin/env bash
# k8s/host/build.sh: build the binaries of the `host` provider from the Go module proxy, once.
#
#   Kubernetes v1.34.4  (kube-apiserver, kubelet, kube-controller-manager, kube-scheduler, kube-proxy,
#                        kubectl) from the module k8s.io/kubernetes, staging modules taken at v0.34.4
#   etcd v3.6.16        a wrapper module whose main calls etcdmain.Main
#   CoreDNS v1.15.0     the module github.com/coredns/coredns
#   KubeRay v1.6.0      the operator, from github.com/ray-project/kuberay/ray-operator
#   pause               build/pause/linux/pause.c of the kubernetes module, gcc -static
#
# Everything lands in ${RAY101_CACHE:-$HOME/.cache/ray101}/<name>-<version>/bin; a component whose
# binaries are there is skipped, so a second run (or a fresh clone on the same machine) builds nothing.
# Needs go (>= 1.24) and gcc. Usage: k8s/host/build.sh   (prints one line per component)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.sh"
command -v go >/dev/null || { echo "build.sh: go not found (install Go >= 1.24)" >&2; exit 2; }
command -v gcc >/dev/null || { echo "build.sh: gcc not found (apt-get install gcc libc6-dev)" >&2; exit 2; }
export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
mkdir -p "$RAY101_CACHE"
work=$(mktemp -d "$RAY101_CACHE/.build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# done NAME DIR BIN...: true when every BIN is already in DIR/bin
built() { local d=$1; shift; for b; do [ -x "$d/bin/$b" ] || return 1; done; }
publish() { # publish STAGING DIR: move a finished bin dir into place atomically
  mkdir -p "$(dirname "$2")"; rm -rf "$2.tmp"; mv "$1" "$2.tmp"; rm -rf "$2"; mv "$2.tmp" "$2"; }
t0() { start=$(date +%s); }
t1() { echo "build: $1 ($(( $(date +%s) - start )) s) -> $2"; }

kubernetes_src() { # the kubernetes module, made buildable outside its repository
  if [ ! -d "$work/kubernetes" ]; then
    local mod; mod=$(cd "$work" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" \
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
  fi
  echo "$work/kubernetes"
}

K8S_DIR="$RAY101_CACHE/kubernetes-$KUBERNETES_VERSION"
if built "$K8S_DIR" kube-apiserver kubelet kube-controller-manager kube-scheduler kube-proxy kubectl; then
  echo "build: kubernetes $KUBERNETES_VERSION cached in $K8S_DIR"
else
  t0; src=$(kubernetes_src)
  IFS=. read -r major minor _ <<<"${KUBERNETES_VERSION#v}"
  mkdir -p "$work/k8s-bin"
  ( cd "$src" && go build -trimpath -o "$work/k8s-bin/" -ldflags "-s -w \
      -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION \
      -X k8s.io/component-base/version.gitMajor=$major \
      -X k8s.io/component-base/version.gitMinor=$minor \
      -X k8s.io/component-base/version.gitTreeState=clean" \
      ./cmd/kube-apiserver ./cmd/kubelet ./cmd/kube-controller-manager ./cmd/kube-scheduler \
      ./cmd/kube-proxy ./cmd/kubectl 2>&1 | tail -n 20 )
  publish "$work/k8s-bin" "$K8S_DIR/bin"; t1 "kubernetes $KUBERNETES_VERSION" "$K8S_DIR/bin"
fi

PAUSE_DIR="$RAY101_CACHE/pause-$KUBERNETES_VERSION"
if built "$PAUSE_DIR" pause; then echo "build: pause cached in $PAUSE_DIR"; else
  t0; src=$(kubernetes_src); mkdir -p "$work/pause-bin"
  gcc -Os -Wall -Werror -static -DVERSION="$KUBERNETES_VERSION" -o "$work/pause-bin/pause" \
    "$src/build/pause/linux/pause.c"
  strip "$work/pause-bin/pause"
  publish "$work/pause-bin" "$PAUSE_DIR/bin"; t1 pause "$PAUSE_DIR/bin"
fi

ETCD_DIR="$RAY101_CACHE/etcd-$ETCD_VERSION"
if built "$ETCD_DIR" etcd; then echo "build: etcd $ETCD_VERSION cached in $ETCD_DIR"; else
  t0; mkdir -p "$work/etcd" "$work/etcd-bin"
  cat > "$work/etcd/main.go" <<'GO'
// etcd built as a module dependency: the same main as the etcd binary.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  ( cd "$work/etcd" && go mod init ray101/etcd >/dev/null 2>&1 \
      && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null 2>&1 && go mod tidy >/dev/null 2>&1 \
      && go build -trimpath -ldflags "-s -w" -o "$work/etcd-bin/etcd" . )
  publish "$work/etcd-bin" "$ETCD_DIR/bin"; t1 "etcd $ETCD_VERSION" "$ETCD_DIR/bin"
fi

COREDNS_DIR="$RAY101_CACHE/coredns-$COREDNS_VERSION"
if built "$COREDNS_DIR" coredns; then echo "build: coredns $COREDNS_VERSION cached in $COREDNS_DIR"; else
  t0; mkdir -p "$work/coredns-bin"
  ( cd "$work" && GOBIN="$work/coredns-bin" go install -trimpath -ldflags "-s -w" \
      "github.com/coredns/coredns@$COREDNS_VERSION" )
  publish "$work/coredns-bin" "$COREDNS_DIR/bin"; t1 "coredns $COREDNS_VERSION" "$COREDNS_DIR/bin"
fi

KUBERAY_DIR="$RAY101_CACHE/kuberay-v$KUBERAY_VERSION"
if built "$KUBERAY_DIR" manager; then echo "build: kuberay operator v$KUBERAY_VERSION cached in $KUBERAY_DIR"; else
  t0; mod=$("$here/../../scripts/fetch-kuberay.sh")
  cp -r "$mod" "$work/ray-operator"; chmod -R u+w "$work/ray-operator"; mkdir -p "$work/kuberay-bin"
  ( cd "$work/ray-operator" && go build -trimpath -ldflags "-s -w" -o "$work/kuberay-bin/manager" . )
  publish "$work/kuberay-bin" "$KUBERAY_DIR/bin"; t1 "kuberay operator v$KUBERAY_VERSION" "$KUBERAY_DIR/bin"
fi
