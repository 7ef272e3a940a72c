#!/usr/bin/env bash
# k8s/policy/build.sh: build the NetworkPolicy engine both Kubernetes providers run:
# sigs.k8s.io/kube-network-policies (kind's own policy engine) from the Go module proxy, with
# ray101's patches in patches/ applied in byte order of their names:
#
#   kubeconfig-sigterm  a --kubeconfig flag (upstream knows only the in-cluster configuration), and
#                       SIGTERM ends it cleanly (upstream catches SIGINT only, so a pod stopped by
#                       the kubelet left its table behind, queueing to a queue nobody reads)
#   xt-nfqueue          packets reach the nfqueue through the xtables NFQUEUE target (nft_compat)
#                       when the kernel has no nftables `queue` expression (CONFIG_NFT_QUEUE unset:
#                       upstream then fails with "netlink receive: no such file or directory" and
#                       enforces nothing); upstream's nftables path where `queue` works. Flag
#                       --nfqueue-via=auto|nft|xt (auto: probe the kernel at start).
#
# The binary lands in ${RAY101_CACHE:-~/.cache/ray101}/kube-network-policies-<ver>-<hash>/bin/,
# <hash> the first 12 hex digits of the patches' sha256 ("none" for KNP_PATCHES=none), with a
# `kube-network-policies.build` file naming the build. Upstream's tests of the patched package run
# before the binary is published (as root they program nftables in scratch network namespaces).
#
# Usage: build.sh              build the binary (once; prints its path)
#        build.sh --image      and the OCI image tarball in $RAY101_CACHE/images/ (prints its path)
#        build.sh --manifest   print the DaemonSet manifest with this build's image (kubectl apply -f -)
#        build.sh --build-id | --image-ref | --bin | --tar   print that and exit
set -euo pipefail
export LC_ALL=C  # patches apply, and are hashed, in byte order of their file names
here=$(cd "$(dirname "$0")" && pwd)
: "${RAY101_CACHE:=${HOME}/.cache/ray101}"
: "${KNP_VERSION:=v0.8.0}"
MODULE=sigs.k8s.io/kube-network-policies
die() { echo "k8s/policy/build.sh: $*" >&2; exit 1; }
# python3 rather than sha256sum, which macOS lacks
sha256() { python3 -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'; }

patches=()
if [ "${KNP_PATCHES:-all}" != none ]; then patches=("$here"/patches/*.patch); fi
names=$(for p in "${patches[@]}"; do basename "$p" .patch; done | paste -sd, -)
hash=none
if [ ${#patches[@]} -gt 0 ]; then hash=$(cat "${patches[@]}" | sha256 | cut -c1-12); fi
BUILD="$KNP_VERSION patches=${names:-none} sha256=$hash"
DIR=$RAY101_CACHE/kube-network-policies-$KNP_VERSION-$hash
BIN=$DIR/bin/kube-network-policies
IMAGE_REF=localhost/ray101/kube-network-policies:$KNP_VERSION-$hash
TAR=$RAY101_CACHE/images/kube-network-policies-$KNP_VERSION-$hash.tar

case "${1:-}" in
  ""|--image|--manifest) ;;
  --build-id) echo "$BUILD"; exit 0 ;;
  --image-ref) echo "$IMAGE_REF"; exit 0 ;;
  --bin) echo "$BIN"; exit 0 ;;
  --tar) echo "$TAR"; exit 0 ;;
  *) echo "usage: k8s/policy/build.sh [--image|--manifest|--build-id|--image-ref|--bin|--tar]" >&2; exit 2 ;;
esac

if [ "${1:-}" = --manifest ]; then  # the manifest names this build's image; nothing is built
  sed "s|image: localhost/ray101/kube-network-policies:BUILD|image: $IMAGE_REF|" \
    "$here/kube-network-policies.yaml"
  exit 0
fi

# The Debian packages used here (nftables: upstream's tests read their tables back with nft;
# umoci: the image) are the host provider's: its packages.sh installs what is missing (root).
host_packages() {
  if [ "$(id -u)" = 0 ]; then "$here/../host/packages.sh"
  else "$here/../host/packages.sh" --check >/dev/null || die "run as root once to install the host packages (k8s/host/packages.sh)"; fi
}

work=""; iw=""
trap 'for d in "$work" "$iw"; do [ -z "$d" ] || { chmod -R u+w "$d" 2>/dev/null; rm -rf "$d"; }; done' EXIT
if [ -x "$BIN" ] && [ "$(cat "$BIN.build" 2>/dev/null)" = "$BUILD" ]; then
  echo "build: kube-network-policies $BUILD cached in $DIR/bin" >&2
else
  command -v go >/dev/null || die "go not found: install Go >= 1.23 (in a ray101 checkout: export PATH=\"\$(scripts/fetch-go.sh):\$PATH\")"
  host_packages
  start=$(date +%s)
  export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
  mkdir -p "$RAY101_CACHE"
  work=$(mktemp -d "$RAY101_CACHE/.knp-build.XXXXXX")
  src=$(cd "$work" && go mod download -json "$MODULE@$KNP_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -n "$src" ] && [ -d "$src" ] || die "go mod download $MODULE@$KNP_VERSION gave no source dir"
  mkdir -p "$work/src" && cp -R "$src/." "$work/src/"
  chmod -R u+w "$work/src"
  for p in "${patches[@]}"; do
    # GIT_CEILING_DIRECTORIES: the scratch copy is no repository; git must not look above it.
    GIT_CEILING_DIRECTORIES="$work" git -C "$work/src" apply "$p" \
      || die "$(basename "$p") does not apply to $MODULE $KNP_VERSION; KNP_PATCHES=none builds it as released"
  done
  if [ ${#patches[@]} -gt 0 ]; then
    (cd "$work/src" && go test ./pkg/networkpolicy/ >"$work/test.log" 2>&1) || {
      grep -E '^(---|\s+---|\s+\S+_test\.go:|FAIL|panic)' "$work/test.log" | head -n 30 >&2
      die "kube-network-policies' tests fail with ray101's patches (full log: go test ./pkg/networkpolicy/)"; }
  fi
  mkdir -p "$work/bin"
  (cd "$work/src" && go build -trimpath -ldflags "-s -w" -o "$work/bin/kube-network-policies" ./cmd)
  printf '%s\n' "$BUILD" > "$work/bin/kube-network-policies.build"
  mkdir -p "$DIR"; rm -rf "$DIR/bin.tmp"; mv "$work/bin" "$DIR/bin.tmp"; rm -rf "$DIR/bin"; mv "$DIR/bin.tmp" "$DIR/bin"
  echo "build: kube-network-policies $BUILD ($(( $(date +%s) - start )) s) -> $DIR/bin" >&2
fi

if [ "${1:-}" = --image ]; then
  if [ -f "$TAR" ]; then
    echo "image: $IMAGE_REF cached in $TAR" >&2
  else
    host_packages
    start=$(date +%s)
    mkdir -p "$RAY101_CACHE/images"
    iw=$(mktemp -d "$RAY101_CACHE/.knp-image.XXXXXX")
    rootless=(); [ "$(id -u)" = 0 ] || rootless=(--rootless)
    # A static binary alone, as upstream's distroless image: it programs nftables over netlink and
    # needs no nft or iptables command.
    umoci init --layout "$iw/layout"
    umoci new --image "$iw/layout:$IMAGE_REF"
    umoci unpack "${rootless[@]}" --image "$iw/layout:$IMAGE_REF" "$iw/bundle" >/dev/null
    mkdir -p "$iw/bundle/rootfs/bin" "$iw/bundle/rootfs/tmp"; chmod 1777 "$iw/bundle/rootfs/tmp"
    install -m 755 "$BIN" "$iw/bundle/rootfs/bin/netpol"
    umoci repack "${rootless[@]}" --image "$iw/layout:$IMAGE_REF" "$iw/bundle"
    arch=$(go env GOARCH 2>/dev/null || dpkg --print-architecture)
    umoci config --image "$iw/layout:$IMAGE_REF" --architecture "$arch" \
      --config.entrypoint /bin/netpol --config.user 0:0
    umoci gc --layout "$iw/layout"
    tar -C "$iw/layout" -cf "$TAR.tmp" . && mv "$TAR.tmp" "$TAR"
    echo "image: $IMAGE_REF ($(( $(date +%s) - start )) s) -> $TAR" >&2
  fi
  echo "$TAR"
else
  echo "$BIN"
fi
