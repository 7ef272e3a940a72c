#!/usr/bin/env bash
# k8s/host/up.sh: start a one-node Kubernetes cluster straight on this host (`make cluster
# PROVIDER=host`), in the spirit of minikube's "none" driver: no VM, no container engine besides
# containerd. Runs as root. Idempotent: a running cluster is left alone.
#
#   1. Debian packages (k8s/host/packages.sh: containerd, runc, CNI plugins, nftables, iptables,
#      conntrack, umoci, mmdebstrap, openssl, gcc) are installed with apt-get when missing.
#   2. Binaries and image tarballs are built once by k8s/host/build.sh --images into the cache.
#   3. Pod bridge ray101br0 10.244.0.1/24, forwarding switched on for that bridge only (global
#      ip_forward untouched) and an nftables table `ray101_host` dropping anything forwarded between
#      the bridge and any other interface: no pod traffic ever leaves the machine. Pods reach on the
#      host only the API server; nothing off the machine reaches the bridge address. Bridged
#      pod-to-pod traffic passes the IP hooks (net.bridge.bridge-nf-call-iptables=1).
#   4. Certificates (openssl), etcd, kube-apiserver (on the bridge address), controller-manager,
#      scheduler, containerd (CRI, state in $RAY101_HOST_STATE), kubelet, kube-proxy (nftables).
#   5. Images (k8s/host/images.sh), CoreDNS, a default StorageClass with pre-made local volumes,
#      and a kubeconfig context `ray101-host` merged into $KUBECONFIG (or ~/.kube/config).
#   6. The NetworkPolicy engine (k8s/policy/, the DaemonSet kind runs too).
# Certificates expiring within HOST_CERT_MIN_DAYS (7) days are renewed when nothing of ours runs;
# on a running cluster `make cluster` refuses in one line. What the host looked like before is
# recorded once in host.env (sysctls, directories, nftables tables), for down.sh.
# Logs: $RAY101_HOST_STATE/logs/*.log. Stop everything with k8s/host/down.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
source "$here/common.sh"
need_root

running() { our_pid "$1" >/dev/null; }
start() { # start NAME CMD...: a daemon in its own session, logging to logs/NAME.log
  local name=$1 exe; shift
  running "$name" && return 0
  exe=$(readlink -f "$(command -v "$1")")
  setsid "$@" >>"$STATE/logs/$name.log" 2>&1 < /dev/null &
  pid_record $! "$exe" > "$STATE/pids/$name.pid.tmp" && mv "$STATE/pids/$name.pid.tmp" "$STATE/pids/$name.pid"
}
foreign() { # foreign NAME: NAME processes in this pid namespace that this provider did not start
  local me p ours; me=$(readlink /proc/self/ns/pid); ours=$(our_pid "$1" || true)
  for p in $(pgrep -x "$1"); do
    # (a process that is exiting, or a zombie, runs nothing any more)
    [ "$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f1)" = Z ] && continue
    [ "$(readlink "/proc/$p/ns/pid")" = "$me" ] && [ "$p" != "$ours" ] && echo "$p"
  done
  return 0
}
wait_for() { # wait_for WHAT SECONDS CMD...: poll CMD until it succeeds
  local what=$1 secs=$2; shift 2
  for _ in $(seq "$secs"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  die "$what not ready after ${secs}s (logs: $STATE/logs)"
}

renew_hint="make clean-cluster PROVIDER=host && make cluster PROVIDER=host (a new cluster: its objects go)"
if running kubelet && running kube-apiserver; then
  expiring=$(cert_expiring)
  [ -z "$expiring" ] || die "certificate $expiring, within $HOST_CERT_MIN_DAYS days: renew them with $renew_hint"
  echo "host cluster is running (state: $STATE)"; exit 0
fi
# Another Kubernetes on this host (kind's nodes run in pid namespaces of their own and do not
# count): its kubelet and ours would fight over iptables chains and ports. A containerd of
# another program is fine: ours has its own socket, root and state.
for n in kubelet etcd kube-apiserver; do
  others=$(foreign "$n")
  [ -z "$others" ] || die "another $n is running on this host (pid $others): stop it first (the host provider runs alone; kind and minikube do not count)"
done

# 1. packages
"$here/packages.sh"
[ -d /sys/fs/cgroup/memory ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || die "no memory cgroup on this host"

# 2. binaries (HOST_SKIP_BUILD=1: use what is in the cache, for debugging)
[ -n "${HOST_SKIP_BUILD:-}" ] || "$here/build.sh" --images

# Bridged pod-to-pod traffic must pass the IP hooks, where the NetworkPolicy engine filters it.
[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] \
  || die "the kernel's br_netfilter is not loaded (no net.bridge.bridge-nf-call-iptables): NetworkPolicies could not be enforced between pods (modprobe br_netfilter)"

mkdir -p "$STATE"/{pki,logs,pids,etcd,containerd,kubelet,pod-logs,cni/net.d,cni/ipam,cni/cache,volumes}
chmod 700 "$STATE"

# What we change on the host, recorded once before the first change (down.sh restores it);
# written whole or not at all (an interrupted write leaves no half record).
if [ ! -f "$STATE/host.env" ]; then
  {
    for s in $HOST_SYSCTLS; do echo "sysctl $s $(sysctl -n "$s")"; done
    for d in $HOST_DIRS; do [ -e "$d" ] || echo "created $d"; done
    nft list tables 2>/dev/null | awk '{print "nft-table " $2 " " $3}'
    [ -e "$KUBECONFIG_FILE" ] || echo "kubeconfig-created $KUBECONFIG_FILE"
  } > "$STATE/host.env.tmp"
  mv "$STATE/host.env.tmp" "$STATE/host.env"
fi

# Certificates that expire soon: renewed while nothing of ours runs, else refused.
expiring=$(cert_expiring)
if [ -n "$expiring" ]; then
  for n in $DAEMONS; do
    running "$n" && die "certificate $expiring, within $HOST_CERT_MIN_DAYS days, and this provider's $n is running: renew them with $renew_hint"
  done
  echo "host provider: certificate $expiring, within $HOST_CERT_MIN_DAYS days: renewing every certificate"
  find "$PKI" -type f ! -name sa.key ! -name sa.pub -exec rm -f {} +  # (service account tokens stay valid)
  rm -f "$STATE"/*.kubeconfig
fi

# 3. network
if ! ip link show "$HOST_BRIDGE" >/dev/null 2>&1; then
  ip link add "$HOST_BRIDGE" type bridge
  ip addr add "$HOST_BRIDGE_CIDR" dev "$HOST_BRIDGE"
fi
ip link set "$HOST_BRIDGE" up
sysctl -qw "net.ipv4.conf.$HOST_BRIDGE.forwarding=1"
sysctl -qw net.bridge.bridge-nf-call-iptables=1
# A FORWARD policy of DROP (Docker sets one) would drop the bridged pod traffic: let pod-to-pod
# through, tagged, and only that (down.sh deletes the rule).
if iptables -S FORWARD 2>/dev/null | grep -qx -- '-P FORWARD DROP' \
   && ! iptables -C FORWARD -i "$HOST_BRIDGE" -o "$HOST_BRIDGE" -m comment --comment ray101-host -j ACCEPT 2>/dev/null; then
  iptables -I FORWARD -i "$HOST_BRIDGE" -o "$HOST_BRIDGE" -m comment --comment ray101-host -j ACCEPT
fi
nft -f - <<EOF
table inet $NFT_TABLE {}
delete table inet $NFT_TABLE
table inet $NFT_TABLE {
  chain forward {
    type filter hook forward priority filter - 10; policy accept;
    iifname "$HOST_BRIDGE" oifname != "$HOST_BRIDGE" drop
    oifname "$HOST_BRIDGE" iifname != "$HOST_BRIDGE" drop
  }
  # The host answers pods only where they need it (the API server, replies to the kubelet's
  # probes, ping), and nobody off the machine on the bridge address (API server, kubelet).
  chain input {
    type filter hook input priority filter - 10; policy accept;
    iifname "$HOST_BRIDGE" ct state established,related accept
    iifname "$HOST_BRIDGE" meta l4proto { icmp, ipv6-icmp } accept
    iifname "$HOST_BRIDGE" tcp dport $HOST_API_PORT accept
    iifname "$HOST_BRIDGE" drop
    ip daddr $HOST_IP iifname != { "lo", "$HOST_BRIDGE" } drop
  }
}
EOF

# 4a. certificates
pki() { # pki NAME SUBJECT [SANS [CA]]: a key and a certificate signed by CA (default: the cluster's)
  local name=$1 subj=$2 sans=${3:-} ca=${4:-ca}
  [ -f "$PKI/$name.crt" ] && return 0
  openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [ -n "$sans" ]; then echo "extendedKeyUsage=serverAuth,clientAuth"; echo "subjectAltName=$sans"
    else echo "extendedKeyUsage=clientAuth"; fi
  } > "$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -CAcreateserial \
    -days "$HOST_CERT_VALID_DAYS" -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt.tmp" 2>/dev/null
  mv "$PKI/$name.crt.tmp" "$PKI/$name.crt"   # a certificate is there whole or not at all
}
ca() { # ca NAME CN: a certificate authority
  [ -f "$PKI/$1.crt" ] && return 0
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/$1.key" -out "$PKI/$1.crt.tmp" \
    -days "$HOST_CERT_VALID_DAYS" -subj "/CN=$2" 2>/dev/null
  mv "$PKI/$1.crt.tmp" "$PKI/$1.crt"
}
ca ca ray101-host-ca
# etcd has a CA of its own: only the API server's etcd client certificate opens it (a
# certificate of the cluster CA, a kubelet's say, does not)
ca etcd-ca ray101-host-etcd-ca
# the service account signing key (kept when the certificates are renewed)
if [ ! -f "$PKI/sa.pub" ]; then
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub.tmp" 2>/dev/null && mv "$PKI/sa.pub.tmp" "$PKI/sa.pub"
fi
pki apiserver "/CN=kube-apiserver" "IP:127.0.0.1,IP:$HOST_IP,IP:$HOST_API_SERVICE_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost"
pki apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
pki admin "/O=system:masters/CN=ray101-admin"
pki controller-manager "/CN=system:kube-controller-manager"
pki scheduler "/CN=system:kube-scheduler"
pki kube-proxy "/CN=system:kube-proxy"
pki kubelet "/O=system:nodes/CN=system:node:$HOST_NODE_NAME"
pki kubelet-serving "/CN=$HOST_NODE_NAME" "IP:$HOST_IP,IP:127.0.0.1,DNS:$HOST_NODE_NAME"
pki etcd-server "/CN=ray101-host-etcd" "IP:127.0.0.1,DNS:localhost" etcd-ca
pki apiserver-etcd-client "/CN=kube-apiserver-etcd-client" "" etcd-ca
kubeconfig() { # kubeconfig NAME CERT (made aside, then moved in: there whole or not at all)
  local f=$STATE/$1.kubeconfig k=("$K8S_BIN/kubectl" --kubeconfig "$STATE/$1.kubeconfig.tmp")
  [ -f "$f" ] && return 0
  rm -f "$f.tmp"
  "${k[@]}" config set-cluster ray101-host --server "https://$HOST_IP:$HOST_API_PORT" \
    --certificate-authority "$PKI/ca.crt" --embed-certs >/dev/null
  "${k[@]}" config set-credentials "$2" --client-certificate "$PKI/$2.crt" --client-key "$PKI/$2.key" \
    --embed-certs >/dev/null
  "${k[@]}" config set-context ray101-host --cluster ray101-host --user "$2" >/dev/null
  "${k[@]}" config use-context ray101-host >/dev/null
  mv "$f.tmp" "$f"
}
for n in admin controller-manager scheduler kube-proxy kubelet; do kubeconfig "$n" "$n"; done

# 4b. control plane
# etcd: TLS with client certificates of its own CA required, on the client and the peer port
# (the Secrets are in there: no local user may read or write it).
start etcd "$ETCD_BIN/etcd" --name ray101-host --data-dir "$STATE/etcd" \
  --listen-client-urls "https://127.0.0.1:$HOST_ETCD_PORT" --advertise-client-urls "https://127.0.0.1:$HOST_ETCD_PORT" \
  --cert-file "$PKI/etcd-server.crt" --key-file "$PKI/etcd-server.key" \
  --client-cert-auth --trusted-ca-file "$PKI/etcd-ca.crt" \
  --listen-peer-urls https://127.0.0.1:2380 --initial-advertise-peer-urls https://127.0.0.1:2380 \
  --initial-cluster ray101-host=https://127.0.0.1:2380 --peer-client-cert-auth \
  --peer-cert-file "$PKI/etcd-server.crt" --peer-key-file "$PKI/etcd-server.key" \
  --peer-trusted-ca-file "$PKI/etcd-ca.crt" --listen-metrics-urls "" --log-level warn
wait_for etcd 60 bash -c "exec 3<>/dev/tcp/127.0.0.1/$HOST_ETCD_PORT"

start kube-apiserver "$K8S_BIN/kube-apiserver" --etcd-servers "https://127.0.0.1:$HOST_ETCD_PORT" \
  --etcd-cafile "$PKI/etcd-ca.crt" --etcd-certfile "$PKI/apiserver-etcd-client.crt" \
  --etcd-keyfile "$PKI/apiserver-etcd-client.key" --anonymous-auth=false \
  --bind-address "$HOST_IP" --advertise-address "$HOST_IP" --secure-port "$HOST_API_PORT" \
  --service-cluster-ip-range "$HOST_SERVICE_CIDR" --allow-privileged=false \
  --client-ca-file "$PKI/ca.crt" --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority "$PKI/ca.crt" --kubelet-preferred-address-types InternalIP \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --profiling=false --v 1
wait_for kube-apiserver 120 kubectl_ get --raw /readyz

start kube-controller-manager "$K8S_BIN/kube-controller-manager" --kubeconfig "$STATE/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$STATE/controller-manager.kubeconfig" --authorization-kubeconfig "$STATE/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials \
  --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
  --service-cluster-ip-range "$HOST_SERVICE_CIDR" --cluster-name ray101-host --profiling=false --v 1
start kube-scheduler "$K8S_BIN/kube-scheduler" --kubeconfig "$STATE/scheduler.kubeconfig" \
  --authentication-kubeconfig "$STATE/scheduler.kubeconfig" --authorization-kubeconfig "$STATE/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --leader-elect=false --profiling=false --v 1

# 4c. node: containerd, kubelet, kube-proxy
cat > "$STATE/cni/net.d/10-ray101.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "ray101",
  "plugins": [{
    "type": "bridge", "bridge": "$HOST_BRIDGE",
    "isGateway": false, "isDefaultGateway": false, "ipMasq": false, "hairpinMode": true,
    "ipam": {
      "type": "host-local", "dataDir": "$STATE/cni/ipam",
      "ranges": [[{"subnet": "$HOST_POD_SUBNET", "gateway": "$HOST_IP"}]],
      "routes": [{"dst": "0.0.0.0/0", "gw": "$HOST_IP"}]
    }
  }]
}
EOF
cat > "$STATE/containerd.toml" <<EOF
version = 2
root = "$STATE/containerd/root"
state = "$STATE/containerd/state"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$STATE/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
EOF
start containerd containerd --config "$STATE/containerd.toml"
wait_for containerd 60 ctr --address "$SOCK" version

"$here/images.sh" --load

# The kubelet's cgroup root (common.sh): made in every hierarchy before it starts.
for d in $(cgroup_roots); do
  mkdir -p "$d"
  case $d in */cpuset/*) [ -s "$d/cpuset.cpus" ] || { cat "${d%/*}/cpuset.cpus" > "$d/cpuset.cpus"; cat "${d%/*}/cpuset.mems" > "$d/cpuset.mems"; } ;; esac
done
cat > "$STATE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $HOST_IP
healthzBindAddress: 127.0.0.1
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_ROOT
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$SOCK
clusterDNS: [$HOST_DNS_IP]
clusterDomain: cluster.local
resolvConf: $STATE/resolv.conf
podLogsDir: $STATE/pod-logs
# Images are built locally and cannot be pulled again: never garbage-collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "200Mi", nodefs.available: "2%", imagefs.available: "2%", nodefs.inodesFree: "2%"}
serializeImagePulls: false
EOF
: > "$STATE/resolv.conf"
start kubelet "$K8S_BIN/kubelet" --config "$STATE/kubelet.yaml" --kubeconfig "$STATE/kubelet.kubeconfig" \
  --hostname-override "$HOST_NODE_NAME" --node-ip "$HOST_IP" --root-dir "$STATE/kubelet" --v 1

cat > "$STATE/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clientConnection: {kubeconfig: $STATE/kube-proxy.kubeconfig}
hostnameOverride: $HOST_NODE_NAME
clusterCIDR: $HOST_POD_SUBNET
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: ["$HOST_IP/32"]
# Service traffic is masqueraded, so replies come back through the host (no br_netfilter needed).
nftables: {masqueradeAll: true}
# Leave the host's conntrack sysctls as they are.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
start kube-proxy "$K8S_BIN/kube-proxy" --config "$STATE/kube-proxy.yaml" --v 1

wait_for "node $HOST_NODE_NAME" 120 bash -c \
  "'$K8S_BIN/kubectl' --kubeconfig '$STATE/admin.kubeconfig' get node '$HOST_NODE_NAME' -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"

# kubeconfig context for kubectl, helm and ray101, as kind does.
mkdir -p "$(dirname "$KUBECONFIG_FILE")"
k=("$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE")
"${k[@]}" config set-cluster "$CONTEXT" --server "https://$HOST_IP:$HOST_API_PORT" \
  --certificate-authority "$PKI/ca.crt" --embed-certs >/dev/null
"${k[@]}" config set-credentials "$CONTEXT" --client-certificate "$PKI/admin.crt" --client-key "$PKI/admin.key" --embed-certs >/dev/null
"${k[@]}" config set-context "$CONTEXT" --cluster "$CONTEXT" --user "$CONTEXT" >/dev/null
"${k[@]}" config use-context "$CONTEXT" >/dev/null

# 5. add-ons: CoreDNS, storage
sed -e "s|@DNS_IP@|$HOST_DNS_IP|g" -e "s|@COREDNS_IMAGE@|$COREDNS_IMAGE|g" "$here/coredns.yaml" | kubectl_ apply -f - >/dev/null
kubectl_ apply -f "$here/storage.yaml" >/dev/null
for i in $(seq 0 $((HOST_VOLUMES - 1))); do
  mkdir -p "$STATE/volumes/pv-$i"
  sed -e "s|@NAME@|ray101-host-pv-$i|g" -e "s|@PATH@|$STATE/volumes/pv-$i|g" \
      -e "s|@SIZE@|$HOST_VOLUME_SIZE|g" -e "s|@NODE@|$HOST_NODE_NAME|g" "$here/volume.yaml" \
    | kubectl_ apply -f - >/dev/null
done
kubectl_ -n kube-system rollout status deployment/coredns --timeout 180s >/dev/null \
  || die "CoreDNS did not start (kubectl -n kube-system describe pod -l k8s-app=kube-dns)"

# 6. NetworkPolicies: the engine kind runs too (k8s/policy/, the patched kube-network-policies), as
# its DaemonSet, with the image images.sh loaded. It filters pod traffic in the host's postrouting
# hook (bridged pod-to-pod traffic reaches it through br_netfilter, switched on above).
"$repo/k8s/policy/build.sh" --manifest | kubectl_ apply -f - >/dev/null
kubectl_ -n kube-system rollout status daemonset/kube-network-policies --timeout 180s >/dev/null \
  || die "the NetworkPolicy engine did not start (kubectl -n kube-system logs -l app.kubernetes.io/name=kube-network-policies)"

echo "host cluster is up: node $HOST_NODE_NAME, context $CONTEXT in $KUBECONFIG_FILE (state: $STATE)"
