#!/usr/bin/env bash
# k8s/kuberay-operator/install.sh NAMESPACE IMAGE: install the KubeRay operator (CRDs server-side,
# RBAC, a Deployment watching NAMESPACE) from the ray-operator module's config with kustomize, and
# wait for it. Called by `make operator` with KUBERAY_VERSION, KUBECTL in the environment.
#
# It installs next to nothing else: when the cluster already has a KubeRay operator that this
# script did not install (a Helm release, KubeRay's own kustomize install, an operator in another
# namespace), it stops with one line instead of taking over that install's cluster-wide RBAC and
# CRDs; use that operator then (it must watch NAMESPACE). The apply never forces field conflicts.
# Runs on Linux and macOS (no sed -i, no GNU-only flags).
set -euo pipefail
[[ $# -eq 2 && -n "$1" && -n "$2" ]] || { echo "usage: $0 NAMESPACE IMAGE" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
ns=$1 image=$2
kubectl=${KUBECTL:-kubectl}
die() { echo "kuberay-operator: error: $*" >&2; exit 1; }
[[ "$image" == *:* && "${image##*:}" != */* ]] || die "IMAGE must be name:tag, not '$image'"

# --- is there a KubeRay operator this script did not install? -----------------------------------
# Ours: Deployment kuberay-operator in NAMESPACE, ClusterRoleBinding kuberay-operator bound to its
# ServiceAccount, CRDs applied server-side by kubectl (field manager "kubectl"), none made by Helm.
query() {  # kubectl get ... that must work (a missing object is fine: --ignore-not-found)
  "$kubectl" get "$@" 2>"$work/kubectl.err" ||
    die "cannot read the cluster (kubectl get $1 $2: $(tail -n 1 "$work/kubectl.err"))"
}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
skip="skip \`make operator\` and use that operator (it must watch namespace $ns), or remove it first"
deployments=$(query deployments --all-namespaces -l 'app.kubernetes.io/name in (kuberay,kuberay-operator)' \
  -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name} {.metadata.labels.app\.kubernetes\.io/name} {.metadata.labels.app\.kubernetes\.io/managed-by}{"\n"}{end}')
while read -r where label managed; do
  [[ -n "$where" ]] || continue
  if [[ "$managed" == Helm ]]; then
    die "a KubeRay operator installed by Helm runs as deployment $where: $skip"
  elif [[ "$where" != "$ns/kuberay-operator" ]]; then
    die "a KubeRay operator (app.kubernetes.io/name=$label) runs as deployment $where: $skip"
  fi
done <<<"$deployments"
binding=$(query clusterrolebinding kuberay-operator --ignore-not-found \
  -o jsonpath='{.metadata.labels.app\.kubernetes\.io/managed-by}|{range .subjects[*]}{.kind}/{.namespace}/{.name} {end}')
if [[ -n "$binding" ]]; then
  [[ "${binding%%|*}" != Helm ]] || die "ClusterRoleBinding kuberay-operator belongs to a Helm release of KubeRay: $skip"
  subjects=${binding#*|}
  [[ "$subjects" == "ServiceAccount/$ns/kuberay-operator " ]] ||
    die "ClusterRoleBinding kuberay-operator is bound to ${subjects% } (another KubeRay install): $skip"
fi
managers=$(query crd rayclusters.ray.io --ignore-not-found \
  -o jsonpath='{range .metadata.managedFields[*]}{.manager}{"\n"}{end}')
for manager in $managers; do
  case "$manager" in
    kubectl | kube-apiserver) ;;  # our server-side apply; the API server's status updates
    *) die "CRD rayclusters.ray.io is managed by '$manager' (another KubeRay install): $skip" ;;
  esac
done

# --- render and apply ------------------------------------------------------------------------------
src=$("$here/../../scripts/fetch-kuberay.sh")  # KUBERAY_VERSION other than the pin: refused there
mkdir -p "$work/ray-operator"; cp -R "$src/config" "$work/ray-operator/"
name=${image%:*} tag=${image##*:}
sed -e "s|^namespace: ray101$|namespace: $ns|" -e "s|--watch-namespace=ray101$|--watch-namespace=$ns|" \
  -e "s|newName: quay.io/kuberay/operator$|newName: $name|" -e "s|newTag: v[0-9.]*$|newTag: $tag|" \
  "$here/kustomization.yaml" >"$work/kustomization.yaml"
"$kubectl" apply --server-side -k "$work" ||
  die "kubectl apply failed (above); a conflict means another manager owns those fields: $skip"
"$kubectl" -n "$ns" rollout status deployment/kuberay-operator --timeout 5m
