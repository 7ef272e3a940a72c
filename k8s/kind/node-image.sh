#!/usr/bin/env bash
# k8s/kind/node-image.sh: make a kind node image with no registry, by kind's own recipe
# (images/base of the kind module), from what this machine already builds (root).
#
# `kind build node-image` cannot run here: it pulls its base image, etcd, CoreDNS, pause and kindnetd
# from registries, and needs a newer `ctr` than Debian's. This script follows the same steps:
#   1. a Debian 12 root file system (mmdebstrap) with systemd, containerd, runc, the CNI plugins,
#      iptables/nftables and kind's base files (entrypoint, systemd units, sysctls) from the kind
#      module at $KIND_VERSION; cached as $IMAGES/kind-node-base-r<recipe>.tar
#   2. the Kubernetes $KUBERNETES_VERSION binaries k8s/host/build.sh built (kubeadm, kubelet, kubectl
#      on the node; the control plane, etcd, CoreDNS, pause in images), crictl, and
#      local-path-provisioner for storage (k8s/kind/build.sh)
#   3. one image archive, /kind/images/ray101-kind.tar, holding every image the cluster itself runs,
#      all from one Debian 12 layer with the binaries (the layer is stored once per node):
#        localhost/ray101/kube-{apiserver,controller-manager,scheduler,proxy}:$KUBERNETES_VERSION,
#        localhost/ray101/etcd:$ETCD_VERSION, localhost/ray101/coredns:$COREDNS_VERSION,
#        localhost/ray101/pause:$KUBERNETES_VERSION, localhost/ray101/kind-tools:r<recipe> (the CNI
#        daemon k8s/kind/cni.sh and local-path-provisioner with its helper)
#      A unit in the node imports it into containerd before the kubelet starts. The kind config
#      (k8s/kind/up.sh) points kubeadm at these names (imageRepository localhost/ray101).
#   4. /kind/manifests/default-cni.yaml (k8s/kind/cni.yaml: kindnetd is not to be had here) and
#      default-storage.yaml (k8s/kind/storage.yaml), which `kind create cluster` applies itself.
# The result is the Docker image $KIND_LOCAL_NODE_IMAGE in the Docker Engine that DOCKER_HOST names
# (k8s/kind/docker.sh's when it runs); nothing is done when it is there already.
# Usage: node-image.sh [--force]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/common.sh"
need_root
use_private_docker
force=
case "${1:-}" in --force) force=1 ;; "") ;; *) echo "usage: $0 [--force]" >&2; exit 2 ;; esac
docker info >/dev/null 2>&1 || die "no Docker Engine answers${DOCKER_HOST:+ at $DOCKER_HOST}: k8s/kind/docker.sh start"
if [ -z "$force" ] && docker image inspect "$KIND_LOCAL_NODE_IMAGE" >/dev/null 2>&1; then
  say "node image $KIND_LOCAL_NODE_IMAGE is there"; exit 0
fi
start=$(date +%s)
[ -z "$force" ] || docker rmi "$KIND_LOCAL_NODE_IMAGE" >/dev/null 2>&1 || true  # unless a cluster runs it
"$here/packages.sh"                  # mmdebstrap, ctr (containerd), docker
"$here/build.sh" >/dev/null          # kind (its base files), crictl, local-path-provisioner
KIND_FILES=$RAY101_CACHE/kind-$KIND_VERSION/base-files
TOOLS_IMAGE=localhost/ray101/kind-tools:r$NODE_RECIPE
mkdir -p "$IMAGES"
work=$(mktemp -d "$RAY101_CACHE/.kind-node.XXXXXX")
trap 'rm -rf "$work"' EXIT

debian() { # debian TAR PACKAGES [HOOK...]: a cached mmdebstrap tarball
  local tar=$1 pkgs=$2; shift 2
  [ -f "$tar" ] && return 0
  local t0; t0=$(date +%s)
  local hooks=(); for h; do hooks+=(--customize-hook="$h"); done
  mmdebstrap --quiet --variant=minbase --aptopt='Acquire::Check-Valid-Until "false"' \
    --include="$pkgs" "${hooks[@]}" \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/usr/share/doc "$1"/usr/share/man' \
    bookworm "${tar%.tar}.partial.tar" >/dev/null
  mv "${tar%.tar}.partial.tar" "$tar"
  say "$(basename "$tar") ($(( $(date +%s) - t0 )) s)"
}

# 1. the two Debian bases: the node's and the one under the cluster's own images
NODE_BASE=$IMAGES/kind-node-base-r$NODE_RECIPE.tar
# kind's base image recipe: packages, then only the units kind keeps (no udev, no getty, no timers)
debian "$NODE_BASE" systemd,containerd,runc,containernetworking-plugins,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,bash,ca-certificates,procps,findutils \
  'find "$1"/lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete' \
  'rm -f "$1"/lib/systemd/system/multi-user.target.wants/* "$1"/etc/systemd/system/*.wants/* "$1"/lib/systemd/system/local-fs.target.wants/* "$1"/lib/systemd/system/sockets.target.wants/*udev* "$1"/lib/systemd/system/sockets.target.wants/*initctl* "$1"/lib/systemd/system/basic.target.wants/*' \
  'echo ReadKMsg=no >> "$1"/etc/systemd/journald.conf' \
  'ln -sf /usr/lib/systemd/systemd "$1"/sbin/init'
TOOLS_BASE=$IMAGES/kind-tools-base-r$NODE_RECIPE.tar
debian "$TOOLS_BASE" iptables,nftables,conntrack,iproute2,ca-certificates

# 2. the cluster's images: one layer (Debian + binaries), named as kubeadm will ask for them
PAUSE_BIN=$RAY101_CACHE/pause-$KUBERNETES_VERSION/bin/pause
for f in "$K8S_BIN"/{kubeadm,kubelet,kubectl,kube-apiserver,kube-controller-manager,kube-scheduler,kube-proxy} \
         "$ETCD_BIN/etcd" "$COREDNS_DIR/bin/coredns" "$PAUSE_BIN"; do
  [ -x "$f" ] || die "$f is missing: build it first with k8s/host/build.sh (make cluster does)"
done
r=$work/tools; mkdir -p "$r"
tar -C "$r" -xf "$TOOLS_BASE"
install -m 755 "$K8S_BIN"/{kube-apiserver,kube-controller-manager,kube-scheduler,kube-proxy,kubectl} \
  "$ETCD_BIN/etcd" "$COREDNS_DIR/bin/coredns" "$PAUSE_BIN" \
  "$RAY101_CACHE/local-path-provisioner-$LOCAL_PATH_VERSION/bin/local-path-provisioner" "$r/usr/local/bin/"
install -m 755 "$here/cni.sh" "$r/usr/local/bin/ray101-cni"
# CoreDNS runs as uid 65532 and binds port 53: cap_net_bind_service=+ep on its binary (a
# version-2 security.capability xattr: effective bit, permitted bit 10)
python3 -c 'import os, struct, sys; os.setxattr(sys.argv[1], "security.capability", struct.pack("<5I", 0x02000001, 1 << 10, 0, 0, 0))' \
  "$r/usr/local/bin/coredns"
grep -q '^nonroot:' "$r/etc/passwd" || echo 'nonroot:x:65532:65532:nonroot:/:/usr/sbin/nologin' >> "$r/etc/passwd"
grep -q '^nonroot:' "$r/etc/group" || echo 'nonroot:x:65532:' >> "$r/etc/group"
tar --xattrs --xattrs-include=security.capability -C "$r" -c . \
  | docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$TOOLS_IMAGE" >/dev/null
rm -rf "$r"
refs=("$TOOLS_IMAGE")
for b in kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
  docker tag "$TOOLS_IMAGE" "localhost/ray101/$b:$KUBERNETES_VERSION"; refs+=("localhost/ray101/$b:$KUBERNETES_VERSION")
done
docker tag "$TOOLS_IMAGE" "localhost/ray101/etcd:$ETCD_VERSION"; refs+=("localhost/ray101/etcd:$ETCD_VERSION")
child() { # child FROM REF DOCKERFILE-LINES: FROM's layers with another config (user, entrypoint...)
  local from=$1 ref=$2; shift 2
  printf 'FROM %s\n' "$from" > "$work/ctx/Dockerfile"; printf '%s\n' "$@" >> "$work/ctx/Dockerfile"
  # the legacy builder (no BuildKit needed for a config change); its deprecation notice is noise
  DOCKER_BUILDKIT=0 docker build -q -t "$ref" "$work/ctx" >/dev/null 2>"$work/build.err" \
    || { cat "$work/build.err" >&2; die "docker build of $ref failed"; }
}
mkdir -p "$work/ctx"
child "$TOOLS_IMAGE" "$PAUSE_IMAGE" 'USER 65535:65535' 'ENTRYPOINT ["/usr/local/bin/pause"]'
child "$TOOLS_IMAGE" "localhost/ray101/coredns:$COREDNS_VERSION" 'USER 65532:65532' 'ENTRYPOINT ["/usr/local/bin/coredns"]'
refs+=("$PAUSE_IMAGE" "localhost/ray101/coredns:$COREDNS_VERSION")

# 3. the node's root file system
n=$work/node; mkdir -p "$n"
tar -C "$n" -xf "$NODE_BASE"
f=$KIND_FILES
install -m 755 "$f/usr/local/bin/entrypoint" "$n/usr/local/bin/entrypoint"
mkdir -p "$n/kind/bin" "$n/kind/manifests" "$n/kind/images" "$n/etc/kubernetes/manifests" \
  "$n/etc/systemd/system/kubelet.service.d" "$n/etc/systemd/system/multi-user.target.wants" "$n/opt/cni/bin"
install -m 755 "$f"/kind/bin/*.sh "$n/kind/bin/"
install -m 644 "$f"/etc/systemd/system/{kubelet.service,kubelet.slice,undo-mount-hacks.service,containerd.service} "$n/etc/systemd/system/"
install -m 644 "$f"/etc/systemd/system/kubelet.service.d/*.conf "$n/etc/systemd/system/kubelet.service.d/"
install -m 644 "$f/etc/crictl.yaml" "$n/etc/crictl.yaml"
install -m 644 "$f/etc/default/kubelet" "$n/etc/default/kubelet"
install -m 644 "$f"/etc/sysctl.d/*.conf "$n/etc/sysctl.d/"
# Debian's containerd and runc where kind's units and containerd look for them
ln -sf /usr/bin/containerd "$n/usr/local/bin/containerd"
cp -a "$n"/usr/lib/cni/. "$n/opt/cni/bin/"
install -m 755 "$K8S_BIN"/{kubeadm,kubelet,kubectl} "$n/usr/bin/"
install -m 755 "$RAY101_CACHE/crictl-$CRICTL_VERSION/bin/crictl" "$n/usr/local/bin/crictl"
echo "$KUBERNETES_VERSION" > "$n/kind/version"
# containerd: kind's settings for Debian's containerd 1.6 (config version 2), with
#  - restrict_oom_score_adj: runc cannot lower oom_score_adj below the node's own without
#    CAP_SYS_RESOURCE, which this host's bounding set lacks (kubeadm init fails after 4 min
#    with "can't get final child's PID from pipe" otherwise)
#  - sandbox_image: the pause image in the node's archive
#  - no fuse-overlayfs proxy plugin (rootless only; not in this image)
cat > "$n/etc/containerd/config.toml" <<EOF
version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  tolerate_missing_hugepages_controller = true
  restrict_oom_score_adj = true

[plugins."io.containerd.grpc.v1.cri".containerd]
  discard_unpacked_layers = true
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  base_runtime_spec = "/etc/containerd/cri-base.json"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    SystemdCgroup = true
EOF
# containerd's default spec without its rlimits (1024 open files), as kind's base image does
ctr oci spec | python3 -c 'import json, sys; s = json.load(sys.stdin); s["process"].pop("rlimits", None); json.dump(s, sys.stdout, indent=2)' \
  > "$n/etc/containerd/cri-base.json"
install -m 755 "$here/import-images.sh" "$n/kind/bin/ray101-import-images.sh"
cat > "$n/etc/systemd/system/ray101-images.service" <<'EOF'
[Unit]
Description=Import the cluster's images into containerd (no registry: /kind/images/*.tar)
After=containerd.service
Requires=containerd.service
Before=kubelet.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/kind/bin/ray101-import-images.sh

[Install]
WantedBy=multi-user.target
EOF
printf '[Unit]\nWants=ray101-images.service\nAfter=ray101-images.service\n' \
  > "$n/etc/systemd/system/kubelet.service.d/20-ray101-images.conf"
for u in kubelet containerd undo-mount-hacks ray101-images; do
  ln -sf "/etc/systemd/system/$u.service" "$n/etc/systemd/system/multi-user.target.wants/$u.service"
done
ln -sf /dev/null "$n/etc/systemd/system/systemd-binfmt.service"
sed -e "s|@TOOLS_IMAGE@|$TOOLS_IMAGE|g" "$here/cni.yaml" > "$n/kind/manifests/default-cni.yaml"
sed -e "s|@TOOLS_IMAGE@|$TOOLS_IMAGE|g" "$here/storage.yaml" > "$n/kind/manifests/default-storage.yaml"
docker save "${refs[@]}" > "$n/kind/images/ray101-kind.tar"

# 4. the image, with kind's entrypoint and stop signal (`docker import` cannot set STOPSIGNAL)
tar -C "$n" -c . | docker import - "$KIND_LOCAL_NODE_IMAGE-rootfs" >/dev/null
child "$KIND_LOCAL_NODE_IMAGE-rootfs" "$KIND_LOCAL_NODE_IMAGE" 'ENV container=docker' \
  'STOPSIGNAL SIGRTMIN+3' 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]'
# the cluster's images live on in the node image only
docker rmi "${refs[@]}" "$KIND_LOCAL_NODE_IMAGE-rootfs" >/dev/null
say "node image $KIND_LOCAL_NODE_IMAGE ($(( $(date +%s) - start )) s)"
