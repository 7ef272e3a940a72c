#!/usr/bin/env bash
# k8s/kind/up.sh: a kind cluster with no registry (`make cluster PROVIDER=kind KIND_NODE_IMAGE=local`).
# Runs as root on Linux. Idempotent: an existing cluster is left alone (its images are loaded again
# only when missing).
#
#   1. a Docker Engine: the one DOCKER_HOST names if it answers, else k8s/kind/docker.sh's own
#   2. kind $KIND_VERSION (k8s/kind/build.sh), the Kubernetes binaries and the ray101 image tarballs
#      (k8s/host/build.sh --images: the same cache as the host provider), the node image
#      (k8s/kind/node-image.sh)
#   3. `kind create cluster` with k8s/kind-config.yaml (1 control plane + 2 workers, pod subnet
#      10.245.0.0/16) plus what the local node image needs: kubeadm takes the control plane,
#      etcd, CoreDNS and pause images from localhost/ray101 (they are in the node image), kube-proxy
#      in nftables mode (its image and the node agree on no iptables backend), and the kubelet runs
#      on cgroup v1 (failCgroupV1: false)
#   4. `kind load image-archive` of the KubeRay operator, FerretDB and the Ray images
#      (k8s/kind/images.sh)
#   5. the NetworkPolicy engine, as the published node images run one (kind's own
#      kube-network-policies, built with ray101's patches by k8s/policy/build.sh: this kernel has no
#      nftables `queue`); KIND_POLICY_ENGINE=none leaves it out (the chart's policies then do nothing)
# The kubeconfig context kind-$KIND_CLUSTER_NAME goes into $KUBECONFIG (or ~/.kube/config), as kind
# does. Stop and put everything back: k8s/kind/down.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
source "$here/common.sh"
need_root
stage() { say "$1 ($(( $(date +%s) - t0 )) s)"; t0=$(date +%s); }
t0=$(date +%s)

"$here/packages.sh"

# 1. Docker
if [ -n "${DOCKER_HOST:-}" ] && docker info >/dev/null 2>&1; then
  say "using the Docker Engine at $DOCKER_HOST"
else
  eval "$("$here/docker.sh" start)"
fi
stage docker

# 2. binaries, images, node image (KIND_SKIP_BUILD=1: use what is in the cache, for debugging)
kind=$KIND_BIN
if [ -z "${KIND_SKIP_BUILD:-}" ]; then
  "$here/build.sh" >/dev/null
  "$repo/k8s/host/build.sh" --images
  stage "kind, Kubernetes $KUBERNETES_VERSION and image tarballs"
  "$here/node-image.sh"
  stage "node image"
fi

# 3. the cluster
if "$kind" get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER_NAME"; then
  say "kind cluster $KIND_CLUSTER_NAME exists"
else
  config=$(mktemp); trap 'rm -f "$config"' EXIT
  # k8s/kind-config.yaml, and below its networking: block the settings of the local node image
  awk -v proxy="  kubeProxyMode: nftables" '{print} /^networking:/ {print proxy}' "$repo/k8s/kind-config.yaml" > "$config"
  cat >> "$config" <<EOF
# added by k8s/kind/up.sh for the node image $KIND_LOCAL_NODE_IMAGE
kubeadmConfigPatches:
  - |
    kind: ClusterConfiguration
    imageRepository: localhost/ray101
    dns:
      imageTag: $COREDNS_VERSION
    etcd:
      local:
        imageTag: $ETCD_VERSION
  - |
    kind: KubeletConfiguration
    failCgroupV1: false
EOF
  "$kind" create cluster --name "$KIND_CLUSTER_NAME" --config "$config" \
    --image "$KIND_LOCAL_NODE_IMAGE" --wait 5m
fi
stage "cluster $KIND_CLUSTER_NAME"

# 4. images
"$here/images.sh" load
stage "images loaded"

# 5. NetworkPolicy engine
if [ "${KIND_POLICY_ENGINE:-kube-network-policies}" = kube-network-policies ]; then
  kubeconfig=$(mktemp); trap 'rm -f "${config:-}" "$kubeconfig"' EXIT
  "$kind" get kubeconfig --name "$KIND_CLUSTER_NAME" > "$kubeconfig"
  k() { "$K8S_BIN/kubectl" --kubeconfig "$kubeconfig" "$@"; }
  policy_ref=$("$repo/k8s/policy/build.sh" --image-ref)
  running=$(k -n kube-system get daemonset kube-network-policies --ignore-not-found \
    -o jsonpath='{.spec.template.spec.containers[0].image}')
  if [ "$running" != "$policy_ref" ]; then
    policy_tar=$("$repo/k8s/policy/build.sh" --image)
    "$kind" load image-archive "$policy_tar" --name "$KIND_CLUSTER_NAME"
    "$repo/k8s/policy/build.sh" --manifest | k apply -f - >/dev/null
  fi
  k -n kube-system rollout status daemonset/kube-network-policies --timeout 180s
  stage "NetworkPolicy engine $policy_ref"
fi
