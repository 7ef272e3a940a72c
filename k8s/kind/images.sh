#!/usr/bin/env bash
# k8s/kind/images.sh: the ray101 images for a kind cluster with no registry (root).
#
#   images.sh load [NAME...]   `kind load image-archive` into every node of $KIND_CLUSTER_NAME;
#                              NAME: operator, ferretdb, ray-stock (the default set), ray
#   images.sh ref NAME         print the image reference NAME loads
#
# The tarballs are the host provider's (k8s/host/images.sh --build-only, the newest of each), plus
#   ray-stock  localhost/ray101/ray:<ray>-stock: the host provider's Ray image without ray101_jobs
#              and pymongo (bson, gridfs, dns), as the published rayproject/ray image comes: the
#              chart's default (jobsBaked: false), where the CLI uploads them with every job. Made
#              once from the Ray tarball (umoci: one more layer, deleting them), cached beside it.
#   ray        localhost/ray101/ray:<ray>: everything baked in (what `make image` loads; then
#              jobsBaked=true).
# An image every node already has is not loaded again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/common.sh"
use_private_docker
RAY_STOCK_IMAGE=localhost/ray101/ray:$RAY_VERSION-stock
JOB_PACKAGES="ray101_jobs pymongo bson gridfs dns"   # cli/ray101/kube/connection.py JOB_PACKAGES
work=
trap '[ -z "$work" ] || rm -rf "$work"' EXIT

newest() { # newest GLOB: the newest file matching GLOB (the host provider's latest build)
  local f; f=$(ls -t $1 2>/dev/null | head -n 1)
  [ -n "$f" ] || die "no $1: build the images first with k8s/host/images.sh --build-only"
  echo "$f"
}
tar_of() {
  case $1 in
    operator) echo "$IMAGES/kuberay-operator-v$KUBERAY_VERSION.tar" ;;
    ferretdb) newest "$IMAGES/ferretdb-$FERRETDB_VERSION-*.tar" ;;
    ray) newest "$IMAGES/ray-$RAY_VERSION-*.tar" ;;
    ray-stock) local baked; baked=$(newest "$IMAGES/ray-$RAY_VERSION-*.tar")
               echo "$IMAGES/kind-stock-$(basename "$baked")" ;;
    *) echo "images.sh: unknown image '$1' (operator, ferretdb, ray-stock, ray)" >&2; exit 2 ;;
  esac
}
ref_of() {
  case $1 in
    operator) echo "$OPERATOR_IMAGE" ;;
    ferretdb) echo "$FERRETDB_IMAGE" ;;
    ray) echo "$RAY_IMAGE" ;;
    ray-stock) echo "$RAY_STOCK_IMAGE" ;;
    *) echo "images.sh: unknown image '$1' (operator, ferretdb, ray-stock, ray)" >&2; exit 2 ;;
  esac
}

make_stock() { # the stock-like Ray tarball from the baked one
  local baked out; baked=$(tar_of ray); out=$(tar_of ray-stock)
  [ -f "$out" ] && return 0
  need_root
  "$here/packages.sh"   # umoci
  local t0 w; t0=$(date +%s); w=$(mktemp -d "$RAY101_CACHE/.kind-stock.XXXXXX")
  work=$w
  mkdir "$w/layout"; tar -C "$w/layout" -xf "$baked"
  umoci unpack --image "$w/layout:$RAY_IMAGE" "$w/bundle" >/dev/null
  local site; site=$(cd "$w/bundle/rootfs" && ls -d usr/local/lib/python3*/dist-packages | head -n 1)
  [ -d "$w/bundle/rootfs/$site/ray101_jobs" ] || die "no ray101_jobs in $baked ($site)"
  local p; for p in $JOB_PACKAGES; do rm -rf "$w/bundle/rootfs/$site/$p"; done
  rm -rf "$w/bundle/rootfs/$site"/pymongo-*.dist-info "$w/bundle/rootfs/$site"/dnspython-*.dist-info
  umoci repack --image "$w/layout:$RAY_IMAGE" "$w/bundle"
  umoci tag --image "$w/layout:$RAY_IMAGE" "$RAY_STOCK_IMAGE"
  umoci rm --image "$w/layout:$RAY_IMAGE"
  umoci gc --layout "$w/layout"
  tar -C "$w/layout" -cf "$out.partial" . && mv "$out.partial" "$out"
  rm -rf "$w"; work=
  say "image: ray-stock ($(( $(date +%s) - t0 )) s) -> $out"
}

load() {
  local kind=$KIND_BIN names=("$@") nodes name ref tar node missing digest
  need_root
  [ ${#names[@]} -gt 0 ] || names=("operator" "ferretdb" "ray-stock")
  nodes=$("$kind" get nodes --name "$KIND_CLUSTER_NAME")
  [ -n "$nodes" ] || die "no kind cluster $KIND_CLUSTER_NAME: make cluster PROVIDER=kind KIND_NODE_IMAGE=local"
  for name in "${names[@]}"; do
    ref=$(ref_of "$name"); [ "$name" = ray-stock ] && make_stock
    tar=$(tar_of "$name")
    [ -f "$tar" ] || die "no $tar: build it with k8s/host/images.sh --build-only"
    # the manifest digest in the archive (OCI layout): a rebuilt image under the same name loads
    digest=$(tar -xOf "$tar" ./index.json | python3 -c 'import json, sys; print(json.load(sys.stdin)["manifests"][0]["digest"])')
    missing=0
    for node in $nodes; do
      docker exec "$node" ctr --namespace k8s.io images ls "name==$ref" | grep -qF "$digest" || missing=1
    done
    [ "$missing" = 1 ] || { say "image $ref ($digest) is on every node"; continue; }
    local t0; t0=$(date +%s)
    "$kind" load image-archive "$tar" --name "$KIND_CLUSTER_NAME" >/dev/null
    say "loaded $ref ($(( $(date +%s) - t0 )) s)"
  done
}

case "${1:-}" in
  load) shift; load "$@" ;;
  ref) [ $# -eq 2 ] || { echo "usage: $0 ref NAME" >&2; exit 2; }; ref_of "$2" ;;
  *) echo "usage: $0 load [operator|ferretdb|ray-stock|ray...] | ref NAME" >&2; exit 2 ;;
esac
