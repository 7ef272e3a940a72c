# k8s/host/common.sh: settings shared by the `host` provider's scripts (sourced, not run).
#
# Layout on the host:
#   ${RAY101_CACHE:-~/.cache/ray101}/        built binaries and image tarballs, keyed by version
#   ${RAY101_HOST_STATE:-/var/lib/ray101-host}/  everything the running cluster owns: certs,
#       kubeconfigs, etcd data, containerd root/state/socket, kubelet root, pod logs, CNI config and
#       IPAM, local volumes, daemon logs and pids, and host.env (what to restore on teardown).
#   bridge ray101br0 10.244.0.1/24 (pods), Service range 10.96.0.0/16, DNS 10.96.0.10.
# Every value can be overridden from the environment.
source "$(dirname "${BASH_SOURCE[0]}")/versions.sh"
: "${RAY101_HOST_STATE:=/var/lib/ray101-host}"
: "${HOST_NODE_NAME:=ray101-host}"
: "${HOST_BRIDGE:=ray101br0}"
: "${HOST_BRIDGE_CIDR:=10.244.0.1/24}"
: "${HOST_POD_SUBNET:=10.244.0.0/24}"
: "${HOST_SERVICE_CIDR:=10.96.0.0/16}"
: "${HOST_API_SERVICE_IP:=10.96.0.1}"
: "${HOST_DNS_IP:=10.96.0.10}"
: "${HOST_API_PORT:=6443}"
: "${HOST_ETCD_PORT:=2379}"
: "${HOST_VOLUMES:=4}"             # pre-made local volumes for PersistentVolumeClaims
: "${HOST_VOLUME_SIZE:=2Gi}"
HOST_IP=${HOST_BRIDGE_CIDR%/*}
STATE=$RAY101_HOST_STATE
PKI=$STATE/pki
SOCK=$STATE/containerd/containerd.sock
K8S_BIN=$RAY101_CACHE/kubernetes-$KUBERNETES_VERSION/bin
ETCD_BIN=$RAY101_CACHE/etcd-$ETCD_VERSION/bin
# CoreDNS is keyed by its plugin list too (a different list is a different build).
COREDNS_DIR=$RAY101_CACHE/coredns-$COREDNS_VERSION-$(printf '%s' "$COREDNS_PLUGINS" | cksum | cut -d' ' -f1)
NFT_TABLE=ray101_host                # our own nftables table (inet family)
# kubeconfig the provider merges its context into, as kind does (KUBECONFIG's first path).
KUBECONFIG_FILE=${KUBECONFIG:-$HOME/.kube/config}; KUBECONFIG_FILE=${KUBECONFIG_FILE%%:*}
CONTEXT=ray101-host
# sysctls the kubelet sets on start (setupKernelTunables in pkg/kubelet/cm/container_manager_linux.go)
# and the one up.sh sets (bridged pod traffic through the IP hooks, where the NetworkPolicy engine
# filters it); their values before `up` are kept in host.env and put back by down.sh.
KUBELET_SYSCTLS="vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes"
HOST_SYSCTLS="$KUBELET_SYSCTLS net.bridge.bridge-nf-call-iptables"
# The NetworkPolicy engine (k8s/policy/, a DaemonSet) programs these nftables tables in the host's
# network namespace; down.sh removes them (a killed engine cannot).
POLICY_TABLES="kube-network-policies kube-network-policies-dnscache"
# Certificates are made for HOST_CERT_VALID_DAYS; `make cluster` renews them (cluster stopped) or
# refuses (cluster running) when one expires within HOST_CERT_MIN_DAYS.
: "${HOST_CERT_VALID_DAYS:=30}"
: "${HOST_CERT_MIN_DAYS:=7}"
# host directories the kubelet, containerd or CNI create on their own (removed on teardown only
# when `up` found them missing).
HOST_DIRS="/var/lib/kubelet /var/log/containers /var/log/pods /run/containerd /var/lib/cni /run/mount /etc/cni /opt/cni"

die() { echo "host provider: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "must run as root (it starts containerd, the kubelet and a bridge): sudo $0"; }
kubectl_() { "$K8S_BIN/kubectl" --kubeconfig "$STATE/admin.kubeconfig" "$@"; }
ctr_() { ctr --address "$SOCK" -n k8s.io "$@"; }

# Image references (full, normalised: containerd resolves pod images by exactly these names).
: "${FERRETDB_VERSION:=v1.24.2}"
PAUSE_IMAGE=localhost/ray101/pause:$KUBERNETES_VERSION
COREDNS_IMAGE=localhost/ray101/coredns:$COREDNS_VERSION
OPERATOR_IMAGE=localhost/ray101/kuberay-operator:v$KUBERAY_VERSION
FERRETDB_IMAGE=localhost/ray101/ferretdb:$FERRETDB_VERSION
RAY_IMAGE=localhost/ray101/ray:$RAY_VERSION

# Progress of the long steps (build.sh, images.sh): a line when a step starts, with the time the
# last build of the same step took here ($RAY101_CACHE/build-times.tsv) or, before the first one,
# on the reference 2-core machine (k8s/host/build-times.tsv); a line every STEP_TICK seconds while
# it runs; a line with its time when it ends. Every line also goes to $BUILD_LOG, with the tools'
# own output.
HOST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD_LOG=${BUILD_LOG:-$RAY101_CACHE/logs/build.log}
BUILD_TIMES=$RAY101_CACHE/build-times.tsv
: "${STEP_TICK:=30}"
say() { # say LINE: to the terminal and the log, time-stamped
  mkdir -p "${BUILD_LOG%/*}"
  printf '%s %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$BUILD_LOG"
}
last_build() { # last_build STEP VERSION: "N s here" or "N s on a 2-core machine", or nothing
  local t
  t=$(awk -F'\t' -v s="$1" -v v="$2" '$1 == s && $2 == v {t = $3} END {print t}' "$BUILD_TIMES" 2>/dev/null)
  if [ -n "$t" ]; then echo "$t s here"; return; fi
  t=$(awk -F'\t' -v s="$1" '$1 == s {t = $3} END {print t}' "$HOST_DIR/build-times.tsv" 2>/dev/null)
  [ -z "$t" ] || echo "$t s on a 2-core machine"
}
step_begin() { # step_begin STEP VERSION: announce a step and tick while it runs
  STEP=$1 STEP_VERSION=$2 STEP_T0=$(date +%s)
  local last; last=$(last_build "$1" "$2")
  say "$3: $1 $2: started${last:+ (last time: $last)}"
  # (the sleep runs in the background so that step_end's TERM ends the ticker at once)
  ( trap 'kill "$nap" 2>/dev/null; exit 0' TERM
    while :; do sleep "$STEP_TICK" & nap=$!; wait "$nap"
      say "$3: $1 $2: $(( $(date +%s) - STEP_T0 )) s${last:+ of ~${last%% *} s}"; done ) &
  STEP_TICKER=$!
}
step_end() { # step_end WHAT: stop ticking, say how long the step took and remember it
  kill "$STEP_TICKER" 2>/dev/null; wait "$STEP_TICKER" 2>/dev/null || true; STEP_TICKER=
  local secs=$(( $(date +%s) - STEP_T0 ))
  printf '%s\t%s\t%s\t%s\n' "$STEP" "$STEP_VERSION" "$secs" "$(date +%Y-%m-%dT%H:%M:%S)" >> "$BUILD_TIMES"
  say "$1: $STEP $STEP_VERSION: done in $secs s${2:+ -> $2}"
}
step_stop_ticker() { [ -z "${STEP_TICKER:-}" ] || kill "$STEP_TICKER" 2>/dev/null || true; }
logged() { # logged CMD...: run CMD with its output in the log only; on failure show its tail
  "$@" >>"$BUILD_LOG" 2>&1 || { local rc=$?; step_stop_ticker
    echo "--- last lines of $BUILD_LOG:" >&2; tail -n 25 "$BUILD_LOG" >&2; return "$rc"; }
}

# What this provider starts, and only that, is what teardown stops.
# - Pods: the kubelet's cgroup root is /$CGROUP_ROOT, so every pod process is under
#   /sys/fs/cgroup/<controller>/$CGROUP_ROOT/kubepods; other kubelets' pods (kind's nodes, another
#   cluster) are elsewhere and never touched.
# - Daemons: pids/NAME.pid holds "PID START EXE": the pid is ours only while the process with that
#   pid started at that clock tick and runs that executable (a pid file that survived a reboot, or
#   a pid reused by another program, points at nothing of ours).
CGROUP_ROOT=ray101-host
cgroup_roots() { # the cgroup root's directory in every hierarchy (cgroup v1), or the v2 one
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then echo "/sys/fs/cgroup/$CGROUP_ROOT"; return; fi
  local d; for d in /sys/fs/cgroup/*/; do [ -L "${d%/}" ] || echo "$d$CGROUP_ROOT"; done
}
proc_start() { [ -r "/proc/$1/stat" ] && sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f20; }
pid_record() { # pid_record PID EXE: the line a pid file holds
  echo "$1 $(proc_start "$1") $2"
}
our_pid() { # our_pid NAME: print the pid in pids/NAME.pid if it is still the process we started
  local pid start exe
  { read -r pid start exe < "$STATE/pids/$1.pid"; } 2>/dev/null || [ -n "${pid:-}" ] || return 1
  [ -n "$pid" ] && [ -n "$start" ] && [ "$(proc_start "$pid")" = "$start" ] \
    && [ "$(readlink "/proc/$pid/exe")" = "$exe" ] && echo "$pid"
}

# The daemons up.sh starts (pids/NAME.pid), in start order.
DAEMONS="etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy"
cert_expiring() { # the first certificate in pki/ that expires within HOST_CERT_MIN_DAYS: "NAME expires DATE"
  local c
  for c in "$PKI"/*.crt; do
    [ -f "$c" ] || continue
    openssl x509 -checkend $(( HOST_CERT_MIN_DAYS * 86400 )) -noout -in "$c" >/dev/null 2>&1 && continue
    echo "${c##*/} expires $(openssl x509 -enddate -noout -in "$c" 2>/dev/null | sed 's/^notAfter=//')"
    return 0
  done
}
