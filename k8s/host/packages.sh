#!/usr/bin/env bash
# k8s/host/packages.sh: install the Debian packages the host provider uses, when missing (root).
# The one list, run first by build.sh --images, up.sh and the Kubernetes test tier (before it
# takes its snapshot of the host: the snapshot lists nftables tables and iptables chains).
#
#   package                      commands the provider runs
#   containerd                   containerd, ctr
#   runc                         runc (containerd's runtime)
#   containernetworking-plugins  /usr/lib/cni/{bridge,host-local,portmap,loopback}
#   iptables                     iptables-save, ip6tables-save (snapshots; the kubelet's chains)
#   nftables                     nft (the pod bridge's table; kube-proxy --proxy-mode=nftables)
#   conntrack                    conntrack (kube-proxy)
#   umoci, mmdebstrap            images.sh (OCI images without a registry)
#   openssl                      up.sh (the cluster's certificates)
#   gcc, libc6-dev, binutils     build.sh (pause, static; strip)
#   iproute2, util-linux, procps ip, setsid and flock, pgrep
# Usage: packages.sh [--check] [PACKAGE...]   (--check: list what is missing, exit 1 if anything
# is; PACKAGE...: these instead of the host provider's list, for k8s/kind/packages.sh)
set -euo pipefail
source "$(dirname "$0")/common.sh"
HOST_PACKAGES="containerd runc containernetworking-plugins iptables nftables conntrack umoci mmdebstrap
  openssl gcc libc6-dev binutils iproute2 util-linux procps"
check=; [ "${1:-}" != --check ] || { check=1; shift; }
[ $# -gt 0 ] || set -- $HOST_PACKAGES
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ -n "$check" ]; then
  [ ${#missing[@]} -eq 0 ] || { echo "missing: ${missing[*]}"; exit 1; }
  exit 0
fi
[ ${#missing[@]} -eq 0 ] && exit 0
need_root
command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} (Debian/Ubuntu package names)"
# A package that Docker's own repository installed (containerd.io) provides containerd too: never
# let apt replace it, which would remove Docker.
if dpkg-query -W -f='${Status}' containerd.io 2>/dev/null | grep -q "ok installed"; then
  kept=(); for p in "${missing[@]}"; do [ "$p" = containerd ] || [ "$p" = runc ] || kept+=("$p"); done
  missing=("${kept[@]}")
  [ ${#missing[@]} -eq 0 ] && exit 0
fi
echo "host provider: apt-get install ${missing[*]}"
apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
# A machine whose package lists are old or empty gets them refreshed once.
apt_install "${missing[@]}" 2>/dev/null || { apt-get update -qq && apt_install "${missing[@]}"; } \
  || die "apt-get install ${missing[*]} failed"
