#!/usr/bin/env bash
# k8s/kind/packages.sh: install the Debian packages the local kind path uses, when missing (root).
# First the host provider's (k8s/host/packages.sh: mmdebstrap, umoci, containerd's ctr, iptables,
# nftables...: the node image is made from the same build), then:
#
#   package     commands
#   docker.io   dockerd, docker (the private Docker Engine of k8s/kind/docker.sh, started by hand
#               with its own paths, never as a system service)
# Usage: packages.sh [--check]   (--check: list what is missing, exit 1 if anything is)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KIND_PACKAGES="docker.io"
"$here/../host/packages.sh" "$@"
# Docker's own packages (docker-ce) provide dockerd too: then nothing more is installed.
command -v dockerd >/dev/null && exit 0
"$here/../host/packages.sh" "$@" $KIND_PACKAGES
