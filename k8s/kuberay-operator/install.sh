#!/usr/bin/env bash
# k8s/kuberay-operator/install.sh NAMESPACE IMAGE: install the KubeRay operator (CRDs server-side,
# RBAC, a Deployment watching NAMESPACE) from the ray-operator module's config with kustomize, and
# wait for it. Called by `make operator` with KUBERAY_VERSION, KUBECTL in the environment.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ns=${1:?namespace}; image=${2:?image}
kubectl=${KUBECTL:-kubectl}
src=$("$here/../../scripts/fetch-kuberay.sh")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ray-operator"; cp -R "$src/config" "$work/ray-operator/"
name=${image%:*}; tag=${image##*:}
# Not `sed -i`: BSD sed (macOS) reads the word after -i as a backup suffix.
sed -e "s|^namespace: ray101$|namespace: $ns|" -e "s|--watch-namespace=ray101$|--watch-namespace=$ns|" \
  -e "s|newName: quay.io/kuberay/operator$|newName: $name|" -e "s|newTag: v[0-9.]*$|newTag: $tag|" \
  "$here/kustomization.yaml" >"$work/kustomization.yaml"
"$kubectl" apply --server-side --force-conflicts -k "$work"
"$kubectl" -n "$ns" rollout status deployment/kuberay-operator --timeout 5m
