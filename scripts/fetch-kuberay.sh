#!/usr/bin/env bash
# Fetch the KubeRay operator's Go module (github.com/ray-project/kuberay/ray-operator) at the
# pinned version from the Go module proxy, verified and cached by scripts/fetch-gomodule.sh, and
# print the unpacked module folder on stdout (progress goes to stderr). The module holds the CRDs
# (config/crd/bases/ray.io_rayclusters.yaml, ...) and the operator's kustomize manifests.
#
#   dir="$(scripts/fetch-kuberay.sh)"      # e.g. ~/.cache/ray101/kuberay-ray-operator-v1.6.0
#   ls "$dir/config/crd/bases"
#
# v1.6.0 is the newest version the proxy serves (it refuses v1.7.0 today); moving the pin means
# updating VERSION and both hashes. KUBERAY_VERSION (the Makefile's, with or without the v) asks
# for a version: anything but the pinned one is refused, as there are no hashes to verify it with.
set -euo pipefail

MODULE="github.com/ray-project/kuberay/ray-operator"
VERSION="v1.6.0"
ZIP_SHA256="08bccad7be7e18eae8689d3759ee834882aff1e18e30bf9865ee097e61e8660e"
GOSUM_H1="h1:1hs7Di2U/vm09ot7MIU8jUqEo7gHDc4gkbv1eFvqCsQ="

asked="${KUBERAY_VERSION:-$VERSION}"
[[ "v${asked#v}" == "$VERSION" ]] || {
  echo "fetch-kuberay: error: KUBERAY_VERSION=$asked is not pinned (only ${VERSION#v} is): add its" \
    "module zip's sha256 and go.sum hash to scripts/fetch-kuberay.sh, or leave KUBERAY_VERSION unset" >&2
  exit 2; }

dir="$("$(dirname "$0")/fetch-gomodule.sh" "$MODULE" "$VERSION" "$ZIP_SHA256" "$GOSUM_H1" \
  "kuberay-ray-operator-$VERSION")"
[[ -f "$dir/config/crd/bases/ray.io_rayclusters.yaml" ]] || {
  echo "fetch-kuberay: error: $dir has no config/crd/bases/ray.io_rayclusters.yaml" >&2; exit 1; }
echo "$dir"
