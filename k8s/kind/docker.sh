#!/usr/bin/env bash
# k8s/kind/docker.sh: a private Docker Engine for kind on a Linux host without one (root).
#
#   docker.sh start   start dockerd (Debian's docker.io: k8s/kind/packages.sh) with its own
#                     data-root, exec-root, pid file and socket under $RAY101_KIND_STATE/docker; the
#                     host firewall untouched (--iptables=false --ip6tables=false --ip-forward=false
#                     --ip-masq=false), no docker0 (--bridge=none), and the runtime k8s/kind/runc-nocap
#                     as the default (runc minus the capabilities this host's bounding set lacks:
#                     kind's privileged nodes fail without it on a VM without CAP_SYS_RESOURCE).
#                     Prints `export DOCKER_HOST=...` for the caller.
#   docker.sh stop    remove every container, network and mount of that engine, stop it, and put
#                     back what its containers changed on the host (the kubelets in kind's nodes set
#                     vm.overcommit_memory, kernel.panic, kernel.panic_on_oops), the cgroups it made
#                     and the state dir. Safe to run twice or after a failed start.
#   docker.sh status  exit 0 when it runs.
# Nothing else on the host is touched: a system Docker (/var/run/docker.sock) is neither used nor
# stopped. Log: $RAY101_KIND_STATE/docker/dockerd.log.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/common.sh"
# sysctls the kubelets inside kind's nodes set on the host (not namespaced); put back on stop.
NODE_SYSCTLS="vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes"
PIDFILE=$DOCKER_STATE/dockerd.pid
docker_() { docker --host "unix://$DOCKER_SOCK" "$@"; }
running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

start() {
  need_root
  if running && docker_ info >/dev/null 2>&1; then echo "export DOCKER_HOST=unix://$DOCKER_SOCK"; return; fi
  "$here/packages.sh" >&2   # docker.io
  mkdir -p "$DOCKER_STATE"/{data,exec}; chmod 700 "$RAY101_KIND_STATE" "$DOCKER_STATE"
  # what the host looked like before the engine's first start (stop puts it back)
  if [ ! -f "$DOCKER_STATE/host.env" ]; then
    { for s in $NODE_SYSCTLS; do echo "sysctl $s $(sysctl -n "$s")"; done
      for c in /sys/fs/cgroup/*/docker; do [ -d "$c" ] && echo "cgroup-existed $c"; done
    } > "$DOCKER_STATE/host.env.tmp"
    mv "$DOCKER_STATE/host.env.tmp" "$DOCKER_STATE/host.env"
  fi
  echo '{}' > "$DOCKER_STATE/daemon.json"   # never the host's /etc/docker/daemon.json
  say "starting dockerd (log: $DOCKER_STATE/dockerd.log)"
  setsid dockerd --config-file "$DOCKER_STATE/daemon.json" \
    --data-root "$DOCKER_STATE/data" --exec-root "$DOCKER_STATE/exec" \
    --pidfile "$PIDFILE" -H "unix://$DOCKER_SOCK" \
    --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --bridge=none \
    --storage-driver overlay2 --exec-opt native.cgroupdriver=cgroupfs \
    --add-runtime "ray101-runc=$here/runc-nocap" --default-runtime ray101-runc \
    --log-level warn >>"$DOCKER_STATE/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 60); do
    docker_ info >/dev/null 2>&1 && { echo "export DOCKER_HOST=unix://$DOCKER_SOCK"; return; }
    sleep 1
  done
  tail -20 "$DOCKER_STATE/dockerd.log" >&2
  die "dockerd did not answer on $DOCKER_SOCK within 60 s (log above)"
}

stop() {
  need_root
  set +e
  if running; then
    local ids; ids=$(docker_ ps -aq)
    [ -z "$ids" ] || docker_ rm -f -v $ids >/dev/null
    docker_ network prune -f >/dev/null
    docker_ volume prune -f >/dev/null
    local pid; pid=$(cat "$PIDFILE")
    kill -TERM "$pid"
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  # leftovers of a crashed engine: its containerd and shims (their command lines name our paths)
  local f p
  for f in $(grep -laF -- "$DOCKER_STATE" /proc/[0-9]*/cmdline 2>/dev/null); do
    p=${f#/proc/}; p=${p%/cmdline}; [ "$p" != $$ ] && kill -KILL "$p" 2>/dev/null
  done
  # its mounts, deepest first; its bridges (br-<network id>, veths go with the containers)
  awk -v s="$RAY101_KIND_STATE" 'index($5, s) == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m"; done
  if [ -f "$DOCKER_STATE/host.env" ]; then
    while read -r what a b; do
      case $what in sysctl) sysctl -qw "$a=$b" ;; esac
    done < "$DOCKER_STATE/host.env"
    for c in /sys/fs/cgroup/*/docker; do
      grep -qx "cgroup-existed $c" "$DOCKER_STATE/host.env" && continue
      [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
    done
  fi
  rm -rf "$DOCKER_STATE"
  rmdir "$RAY101_KIND_STATE" 2>/dev/null
  return 0
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) running && docker_ info >/dev/null 2>&1 ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
