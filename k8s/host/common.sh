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
NFT_TABLE=ray101_host                # our own nftables table (inet family)
# kubeconfig the provider merges its context into, as kind does (KUBECONFIG's first path).
KUBECONFIG_FILE=${KUBECONFIG:-$HOME/.kube/config}; KUBECONFIG_FILE=${KUBECONFIG_FILE%%:*}
CONTEXT=ray101-host
# sysctls the kubelet sets on start; their values before `up` are kept in host.env and put back.
KUBELET_SYSCTLS="vm.overcommit_memory kernel.panic kernel.panic_on_oops"
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
