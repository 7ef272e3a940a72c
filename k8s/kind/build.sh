#!/usr/bin/env bash
# k8s/kind/build.sh: build the Go tools the local kind path needs, once, from the Go module proxy.
#
#   kind                    sigs.k8s.io/kind@$KIND_VERSION (~1 min), and its images/base/files
#   crictl                  sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION  (in the node image)
#   local-path-provisioner  github.com/rancher/local-path-provisioner@$LOCAL_PATH_VERSION (storage)
#
# Each lands in ${RAY101_CACHE:-~/.cache/ray101}/<name>-<version>/bin and is skipped when there.
# Static (CGO_ENABLED=0), -trimpath, stripped. Needs go >= 1.24 (scripts/fetch-go.sh brings one).
# Prints the path of the kind binary.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
source "$here/common.sh"
go_ok() {
  command -v go >/dev/null 2>&1 || return 1
  local v; v=$(go env GOVERSION 2>/dev/null); v=${v#go}
  [ "$(printf '%s\n%s\n' 1.24 "$v" | sort -V | head -1)" = 1.24 ]
}
export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local

tool() { # tool NAME VERSION PACKAGE: go install PACKAGE@VERSION into the cache
  local name=$1 version=$2 pkg=$3 dir=$RAY101_CACHE/$1-$2
  [ -x "$dir/bin/$name" ] && return 0
  go_ok || PATH="$("$repo/scripts/fetch-go.sh"):$PATH"
  local start; start=$(date +%s)
  mkdir -p "$RAY101_CACHE"
  local tmp; tmp=$(mktemp -d "$RAY101_CACHE/.kind-build.XXXXXX")
  GOBIN=$tmp/bin go install -trimpath -ldflags='-s -w' "$pkg@$version" >&2 \
    || { rm -rf "$tmp"; die "go install $pkg@$version failed"; }
  [ -x "$tmp/bin/$name" ] || { rm -rf "$tmp"; die "go install $pkg@$version made no $name"; }
  rm -rf "$dir"; mv "$tmp" "$dir"
  say "built $name $version ($(( $(date +%s) - start )) s) -> $dir/bin/$name"
}

tool kind "$KIND_VERSION" sigs.k8s.io/kind
# kind's base image files (entrypoint, systemd units, sysctls) from the same module, for node-image.sh
files=$RAY101_CACHE/kind-$KIND_VERSION/base-files
if [ ! -d "$files" ]; then
  go_ok || PATH="$("$repo/scripts/fetch-go.sh"):$PATH"
  src=$(go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
  rm -rf "$files.tmp"; cp -r "$src/images/base/files" "$files.tmp"; chmod -R u+w "$files.tmp"; mv "$files.tmp" "$files"
fi
tool crictl "$CRICTL_VERSION" sigs.k8s.io/cri-tools/cmd/crictl
tool local-path-provisioner "$LOCAL_PATH_VERSION" github.com/rancher/local-path-provisioner
echo "$KIND_BIN"
