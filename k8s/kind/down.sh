#!/usr/bin/env bash
# k8s/kind/down.sh: delete the kind cluster that k8s/kind/up.sh made and stop the private Docker
# Engine (k8s/kind/docker.sh stop: its containers, networks, mounts and state dir go, and the host's
# sysctls the kind nodes' kubelets changed are put back). A Docker Engine of the user's own
# (DOCKER_HOST, /var/run/docker.sock) keeps running; only the cluster goes. Safe to run twice.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/common.sh"
need_root
use_private_docker
if [ -x "$KIND_BIN" ] && docker info >/dev/null 2>&1; then
  "$KIND_BIN" delete cluster --name "$KIND_CLUSTER_NAME"
fi
"$here/docker.sh" stop
