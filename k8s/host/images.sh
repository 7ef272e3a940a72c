#!/usr/bin/env bash
# k8s/host/images.sh: build the images the host provider's cluster runs, with no registry, and load
# them into its containerd (`ctr -n k8s.io images import`). Run by up.sh; runs as root.
#
#   pause     localhost/ray101/pause:<k8s>        the kubernetes module's pause.c, gcc -static
#   coredns   localhost/ray101/coredns:<ver>      the CoreDNS binary built by build.sh
#   operator  localhost/ray101/kuberay-operator:v<ver>   the KubeRay operator built by build.sh
#   ferretdb  localhost/ray101/ferretdb:<ver>     FerretDB (cli/ray101/mongo/scripts/install-ferretdb.sh), the chart's
#                                                  MongoDB-compatible server (k8s/host/values.yaml)
#   ray       localhost/ray101/ray:<ray>          Debian 12 (mmdebstrap) + Python 3.11 + ray[default,serve],
#                                                  pymongo and ray101_jobs baked in (what k8s/Dockerfile
#                                                  adds for the jobs); uid 1000 gid 100, HOME
#                                                  /home/ray as in the official image
#   policy    localhost/ray101/kube-network-policies:<ver>-<patches>   the NetworkPolicy engine
#                                                  (k8s/policy/build.sh --image: the patched
#                                                  kube-network-policies, the DaemonSet up.sh applies)
# Each image is an OCI tarball in ${RAY101_CACHE}/images/, named by version and a hash of what goes
# into it (for ray: RAY_RECIPE and the jobs/ sources), so it is built once.
# Usage: images.sh [--build-only]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
source "$here/common.sh"
need_root
"$here/packages.sh"
build_only=${1:-}
IMAGES=$RAY101_CACHE/images
mkdir -p "$IMAGES"
work=$(mktemp -d "$RAY101_CACHE/.images.XXXXXX")

hash_of() { # hash_of PATH...: a short content hash of files (dirs walked, caches skipped)
  find "$@" -type f ! -path '*/__pycache__/*' ! -name '*.pyc' ! -path '*.egg-info/*' -print0 | sort -z \
    | xargs -0 sha256sum | sed "s|  $repo/|  |" | sha256sum | cut -c1-12
}
# oci NAME REF TAR USER ENTRYPOINT [ENV...]: pack $work/NAME/rootfs into an OCI tarball
oci() {
  local name=$1 ref=$2 tar=$3 user=$4 entry=$5; shift 5
  local L=$work/$name/layout B=$work/$name/bundle
  umoci init --layout "$L"
  umoci new --image "$L:$ref"
  umoci unpack --image "$L:$ref" "$B" >/dev/null
  cp -a "$work/$name/rootfs/." "$B/rootfs/"
  umoci repack --image "$L:$ref" "$B"
  local args=(--config.user "$user" --config.entrypoint "$entry" --architecture "$(dpkg --print-architecture)")
  for e; do args+=(--config.env "$e"); done
  umoci config --image "$L:$ref" "${args[@]}"
  umoci gc --layout "$L"
  tar -C "$L" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
  rm -rf "$work/$name"
}
static_rootfs() { # static_rootfs NAME UID: a minimal rootfs for one static binary
  local r=$work/$1/rootfs
  mkdir -p "$r"/{etc,tmp}; chmod 1777 "$r/tmp"
  printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:%s:%s:nonroot:/:/sbin/nologin\n' "$2" "$2" > "$r/etc/passwd"
  printf 'root:x:0:\nnonroot:x:%s:\n' "$2" > "$r/etc/group"
  echo "$r"
}
want() { [ -z "${IMAGES_ONLY:-}" ] || [[ " $IMAGES_ONLY " == *" $1 "* ]]; }  # IMAGES_ONLY="ray ..."
trap 'step_stop_ticker; rm -rf "$work"' EXIT

# pause
PAUSE_TAR=$IMAGES/pause-$KUBERNETES_VERSION.tar
if want pause && [ ! -f "$PAUSE_TAR" ]; then
  step_begin pause-image "$KUBERNETES_VERSION" image
  r=$(static_rootfs pause 65535)
  install -m 755 "$RAY101_CACHE/pause-$KUBERNETES_VERSION/bin/pause" "$r/pause"
  oci pause "$PAUSE_IMAGE" "$PAUSE_TAR" 65535:65535 /pause; step_end image "$PAUSE_TAR"
fi

# coredns
COREDNS_TAR=$IMAGES/coredns-${COREDNS_DIR##*/coredns-}.tar
if want coredns && [ ! -f "$COREDNS_TAR" ]; then
  step_begin coredns-image "$COREDNS_VERSION" image
  r=$(static_rootfs coredns 65532)
  install -m 755 "$COREDNS_DIR/bin/coredns" "$r/coredns"
  oci coredns "$COREDNS_IMAGE" "$COREDNS_TAR" 65532:65532 /coredns; step_end image "$COREDNS_TAR"
fi

# KubeRay operator (the upstream image is distroless, user 65532, entrypoint /manager)
OPERATOR_TAR=$IMAGES/kuberay-operator-v$KUBERAY_VERSION.tar
if want operator && [ ! -f "$OPERATOR_TAR" ]; then
  step_begin operator-image "v$KUBERAY_VERSION" image
  r=$(static_rootfs operator 65532)
  install -m 755 "$RAY101_CACHE/kuberay-v$KUBERAY_VERSION/bin/manager" "$r/manager"
  oci operator "$OPERATOR_IMAGE" "$OPERATOR_TAR" 65532:65532 /manager; step_end image "$OPERATOR_TAR"
fi

# FerretDB (a static Go binary; the chart runs it as uid 999 like the official mongo image), the
# build `make mongo-server` uses, with ray101's patches: the tarball is keyed by them.
FERRETDB_HASH=$(hash_of "$repo/cli/ray101/mongo/scripts/ferretdb-patches")
FERRETDB_TAR=$IMAGES/ferretdb-$FERRETDB_VERSION-$FERRETDB_HASH.tar
if want ferretdb && [ ! -f "$FERRETDB_TAR" ]; then
  step_begin ferretdb-image "$FERRETDB_VERSION" image
  tools=${RAY101_TOOLS:-$repo/.tools}
  FERRETDB_VERSION=$FERRETDB_VERSION "$repo/cli/ray101/mongo/scripts/install-ferretdb.sh" "$tools" >/dev/null
  r=$(static_rootfs ferretdb 999); mkdir -p "$r/data/db"; chown 999:999 "$r/data/db"
  install -m 755 "$tools/bin/ferretdb" "$r/ferretdb"
  oci ferretdb "$FERRETDB_IMAGE" "$FERRETDB_TAR" 999:999 /ferretdb; step_end image "$FERRETDB_TAR"
fi

# Ray: what k8s/Dockerfile adds for the jobs (ray[default], pymongo, ray101_jobs)
RAY_RECIPE=2   # bump when the recipe below changes: the tarball is then rebuilt
RAY_HASH=$( (echo "recipe $RAY_RECIPE"; hash_of "$repo/jobs") | sha256sum | cut -c1-12)
RAY_TAR=$IMAGES/ray-$RAY_VERSION-$RAY_HASH.tar
if want ray && [ ! -f "$RAY_TAR" ]; then
  step_begin ray-image "$RAY_VERSION" image
  r=$work/ray/rootfs; mkdir -p "$work/ray"
  mmdebstrap --quiet --variant=minbase --aptopt='Acquire::Check-Valid-Until "false"' \
    --include=python3,python3-pip,python3-venv,python-is-python3,ca-certificates,procps,wget,bash,coreutils,netbase \
    --customize-hook='chroot "$1" useradd --uid 1000 --gid 100 --create-home --shell /bin/bash ray' \
    bookworm "$r" >/dev/null
  # pip inside the rootfs, trusting the host's CA bundle (the host may sit behind a TLS proxy);
  # a clean environment, so the host's pip settings do not leak in.
  cp /etc/ssl/certs/ca-certificates.crt "$r/root/host-ca.crt"
  cp /etc/resolv.conf "$r/etc/resolv.conf"
  pip_() { chroot "$r" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
             PIP_CERT=/root/host-ca.crt PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
             PIP_BREAK_SYSTEM_PACKAGES=1 pip install --quiet "$@"; }
  pip_ "ray[default,serve]==$RAY_VERSION" 'pymongo>=4.10,<5'
  # ray101_jobs as a plain package (what the jobs import; the CLI is not needed on the pods)
  site=$(chroot "$r" python -c 'import os, ray; print(os.path.dirname(os.path.dirname(ray.__file__)))')
  mkdir -p "$r$site"; cp -r "$repo/jobs/ray101_jobs" "$r$site/"
  find "$r$site/ray101_jobs" -name __pycache__ -prune -exec rm -rf {} +
  chroot "$r" python -c 'import ray, ray101_jobs, pymongo; print("image: ray", ray.__version__, "pymongo", pymongo.version)'
  rm -rf "$r/root/host-ca.crt" "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*
  : > "$r/etc/resolv.conf"
  oci ray "$RAY_IMAGE" "$RAY_TAR" 1000:100 /bin/bash \
    HOME=/home/ray PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
  step_end image "$RAY_TAR"
fi

# the NetworkPolicy engine (built, tested and packed by k8s/policy/build.sh, kind's too)
POLICY_TAR=$("$repo/k8s/policy/build.sh" --tar)
if want policy && [ ! -f "$POLICY_TAR" ]; then
  step_begin policy-image "$("$repo/k8s/policy/build.sh" --image-ref | sed 's/.*://')" image
  logged "$repo/k8s/policy/build.sh" --image; step_end image "$POLICY_TAR"
fi

[ "$build_only" = --build-only ] && exit 0

# load into the cluster's containerd (once per cluster: the stamps live in the state dir)
mkdir -p "$STATE/images"
for pair in "pause $PAUSE_TAR" "coredns $COREDNS_TAR" "operator $OPERATOR_TAR" "ferretdb $FERRETDB_TAR" "ray $RAY_TAR" "policy $POLICY_TAR"; do
  name=${pair%% *}; tar=${pair#* }
  want "$name" || continue
  stamp=$STATE/images/$(basename "$tar").loaded
  [ -f "$stamp" ] && continue
  start=$(date +%s)
  ctr_ images import --all-platforms "$tar" >/dev/null
  touch "$stamp"; echo "image: loaded $(basename "$tar") ($(( $(date +%s) - start )) s)"
done
