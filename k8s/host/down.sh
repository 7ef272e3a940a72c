#!/usr/bin/env bash
# k8s/host/down.sh: stop the host provider's cluster and leave the host as up.sh found it
# (`make clean-cluster PROVIDER=host`). Runs as root; safe to run twice or after a failed up.sh.
#
#   - every process it started (kubelet, kube-proxy, control plane, etcd, containerd, its shims
#     and all pod processes), found by pid files checked against start time and executable, the
#     kubelet's own cgroup root (/ray101-host) and its containerd socket
#   - mounts under the state dir and under the host directories the kubelet/containerd created
#   - kube-proxy's nftables tables (kube-proxy --cleanup), the kubelet's KUBE-* iptables chains,
#     the provider's own nftables table, the NetworkPolicy engine's tables, the FORWARD rule
#     up.sh adds on a host whose FORWARD policy drops, the bridge and its veths
#   - the sysctls the kubelet and up.sh changed (host.env), the kubepods cgroups, the
#     directories the kubelet and containerd created (only when nothing is mounted under them),
#     the `ray101-host` kubeconfig context, and the state dir itself
# Only things this provider made are touched: other bridges, tables and processes are left alone.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/common.sh"
need_root
set +e   # best effort from here: remove as much as possible, then report what is left

stop() { # stop NAME: TERM its process group, KILL after 20 s (only while the pid is still ours)
  local pid; pid=$(our_pid "$1") || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
  for _ in $(seq 40); do our_pid "$1" >/dev/null || return 0; sleep 0.5; done
  our_pid "$1" >/dev/null || return 0
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
}
pod_pids() { # every process under our kubelet's cgroup root (common.sh), and nothing else
  local d; for d in $(cgroup_roots); do
    [ -d "$d" ] && find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -u
}
shim_pids() { # containerd shims serving our socket (their command line names it)
  local f pid
  for f in $(grep -laF -- "$SOCK" /proc/[0-9]*/cmdline 2>/dev/null); do
    pid=${f#/proc/}; pid=${pid%/cmdline}
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = containerd-shim ] && echo "$pid"
  done
}

stop kubelet
# pods: kill their processes, then the shims, then containerd
for _ in 1 2 3; do
  pids=$(pod_pids); [ -z "$pids" ] && break
  kill -KILL $pids 2>/dev/null; sleep 1
done
pids=$(shim_pids); [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
stop containerd
pids=$(shim_pids); [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
stop kube-proxy
[ -x "$K8S_BIN/kube-proxy" ] && "$K8S_BIN/kube-proxy" --cleanup --proxy-mode nftables >/dev/null 2>&1
[ -x "$K8S_BIN/kube-proxy" ] && "$K8S_BIN/kube-proxy" --cleanup --proxy-mode iptables >/dev/null 2>&1
for p in kube-scheduler kube-controller-manager kube-apiserver etcd; do stop "$p"; done

# mounts (deepest first)
created_dirs=$(awk '$1 == "created" {print $2}' "$STATE/host.env" 2>/dev/null)
for root in "$STATE" $created_dirs; do
  findmnt -rn -o TARGET | awk -v r="$root" 'index($0, r) == 1' | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
done

# iptables chains the kubelet made (KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT, ...)
for ipt in iptables ip6tables; do
  command -v $ipt >/dev/null || continue
  for t in filter nat mangle; do
    $ipt-save -t $t 2>/dev/null | grep -E '^-A [A-Z]+ .*-j KUBE-' | grep -vE '^-A KUBE-' | sed 's/^-A //' \
      | while read -r rule; do eval "$ipt -t $t -D $rule" 2>/dev/null; done
    for c in $($ipt-save -t $t 2>/dev/null | sed -n 's/^:\(KUBE-[^ ]*\) .*/\1/p'); do $ipt -t $t -F "$c" 2>/dev/null; done
    for c in $($ipt-save -t $t 2>/dev/null | sed -n 's/^:\(KUBE-[^ ]*\) .*/\1/p'); do $ipt -t $t -X "$c" 2>/dev/null; done
  done
done
# iptables-nft tables that only exist because of the kubelet: dropped when not there before and empty now
before_tables=$(awk '$1 == "nft-table" {print $2 " " $3}' "$STATE/host.env" 2>/dev/null)
nft list tables 2>/dev/null | awk '{print $2 " " $3}' | while read -r fam name; do
  [ "$fam $name" = "inet $NFT_TABLE" ] && continue
  grep -qxF "$fam $name" <<<"$before_tables" && continue
  [ -f "$STATE/host.env" ] || continue
  # only tables made of empty chains (what iptables-nft leaves behind)
  nft list table "$fam" "$name" 2>/dev/null | grep -vqE '^\s*(table |chain |type |\}|$)' && continue
  nft delete table "$fam" "$name"
done
nft delete table inet "$NFT_TABLE" 2>/dev/null
# the NetworkPolicy engine's tables (a killed engine leaves them, queueing to a queue nobody reads)
for t in $POLICY_TABLES; do
  grep -qxF "inet $t" <<<"$before_tables" || nft delete table inet "$t" 2>/dev/null
done
# the FORWARD rule up.sh adds under a FORWARD policy of DROP (Docker's), tagged ray101-host
while iptables -D FORWARD -i "$HOST_BRIDGE" -o "$HOST_BRIDGE" -m comment --comment ray101-host -j ACCEPT 2>/dev/null; do :; done

# network: veths on our bridge, the bridge
for l in $(ip -o link show master "$HOST_BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do ip link del "$l"; done
ip link del "$HOST_BRIDGE" 2>/dev/null

# sysctls the kubelet changed
awk '$1 == "sysctl" {print $2 " " $3}' "$STATE/host.env" 2>/dev/null | while read -r k v; do
  [ "$(sysctl -n "$k")" = "$v" ] || sysctl -qw "$k=$v"
done

# our cgroup root and everything the kubelet made under it, deepest first
for top in $(cgroup_roots); do
  [ -d "$top" ] && find "$top" -depth -type d -exec rmdir {} + 2>/dev/null
done

# kubeconfig context
if [ -f "$KUBECONFIG_FILE" ] && [ -x "$K8S_BIN/kubectl" ]; then
  k=("$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE")
  [ "$("${k[@]}" config current-context 2>/dev/null)" = "$CONTEXT" ] && "${k[@]}" config unset current-context >/dev/null
  "${k[@]}" config delete-context "$CONTEXT" >/dev/null 2>&1
  "${k[@]}" config delete-cluster "$CONTEXT" >/dev/null 2>&1
  "${k[@]}" config delete-user "$CONTEXT" >/dev/null 2>&1
  if grep -qxF "kubeconfig-created $KUBECONFIG_FILE" "$STATE/host.env" 2>/dev/null \
     && [ -z "$("${k[@]}" config get-contexts -o name 2>/dev/null)" ]; then
    rm -f "$KUBECONFIG_FILE"; rmdir "$(dirname "$KUBECONFIG_FILE")" 2>/dev/null
  fi
fi

# directories the kubelet, containerd and CNI created, then our state: removed only when nothing
# is mounted under them (rm -rf would go into a mount and delete what is not ours)
mounted_under() { findmnt -rn -o TARGET | awk -v r="$1" 'index($0, r "/") == 1 || $0 == r' | paste -sd' ' -; }
# containerd's shims keep their sockets in /run/containerd/s whichever containerd they serve (a
# Docker Engine's too, kind's nodes say): ours are named sha256("<our socket>/<namespace>/<id>").
# Only those go, and /run/containerd only when that leaves it empty.
for t in "$STATE"/containerd/state/io.containerd.runtime.v2.task/*/*; do
  [ -d "$t" ] || continue
  ns=${t%/*}; ns=${ns##*/}
  rm -f "/run/containerd/s/$(printf '%s' "$SOCK/$ns/${t##*/}" | sha256sum | cut -d' ' -f1)"
done
kept=
for d in $created_dirs; do
  m=$(mounted_under "$d")
  if [ -n "$m" ]; then kept="$kept $m"
  elif [ "$d" = /run/containerd ]; then rmdir "$d/s" "$d" 2>/dev/null
  else rm -rf "$d"; fi
done
left=$(mounted_under "$STATE")
[ -z "$left$kept" ] || { echo "host provider: still mounted, kept (and $STATE):$kept $left" >&2; exit 1; }
rm -rf "$STATE"
echo "host cluster is down (state, bridge $HOST_BRIDGE, tables and sysctls restored)"
