# k8s/kind/common.sh: settings shared by the kind scripts (sourced, not run).
#
# Two ways to run kind with ray101:
#   - Docker with a registry (laptops, most CI): `make cluster` runs `kind create cluster` with the
#     published kindest/node image pinned in k8s/kind-config.yaml, and the chart pulls public images.
#     Nothing in this folder is used.
#   - No registry (KIND_NODE_IMAGE=local; this project's CI): these scripts start a private Docker
#     Engine (k8s/kind/docker.sh), build kind at a pinned version from the Go module proxy, make the
#     node image from the Kubernetes binaries k8s/host/build.sh caches (k8s/kind/node-image.sh), and
#     load the images k8s/host/images.sh builds with `kind load image-archive`.
#
# Layout on the host:
#   ${RAY101_CACHE:-~/.cache/ray101}/kind-<ver>/bin/kind, crictl-<ver>/, local-path-provisioner-<ver>/,
#       images/kind-*.tar (image archives only kind nodes use)
#   ${RAY101_KIND_STATE:-/var/lib/ray101-kind}/docker/  the private Docker Engine: data-root, exec-root,
#       socket, pid file, log, and host.env (what to put back when it stops)
# Every value can be overridden from the environment.
# The host provider's settings first: its build cache (binaries, image tarballs) is ours too.
source "$(dirname "${BASH_SOURCE[0]}")/../host/common.sh"
: "${KIND_VERSION:=v0.33.0}"                    # sigs.k8s.io/kind
: "${CRICTL_VERSION:=v1.34.0}"                  # sigs.k8s.io/cri-tools
: "${LOCAL_PATH_VERSION:=v0.0.30}"              # github.com/rancher/local-path-provisioner
: "${KIND_CLUSTER_NAME:=ray101}"
: "${RAY101_KIND_STATE:=/var/lib/ray101-kind}"
# The node image made here (bump NODE_RECIPE when node-image.sh's recipe changes: a new tag).
NODE_RECIPE=1
: "${KIND_LOCAL_NODE_IMAGE:=localhost/ray101/kind-node:$KUBERNETES_VERSION-r$NODE_RECIPE}"
export KIND_VERSION CRICTL_VERSION LOCAL_PATH_VERSION KIND_CLUSTER_NAME RAY101_KIND_STATE

KIND_BIN=$RAY101_CACHE/kind-$KIND_VERSION/bin/kind
IMAGES=$RAY101_CACHE/images
DOCKER_STATE=$RAY101_KIND_STATE/docker
DOCKER_SOCK=$DOCKER_STATE/docker.sock

say() { echo "$(date +%H:%M:%S) kind: $*" >&2; }
die() { echo "kind: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "must run as root (it starts a Docker Engine): sudo $0"; }
# The private engine when it runs, else whatever docker the environment points at.
use_private_docker() { [ -S "$DOCKER_SOCK" ] && export DOCKER_HOST="unix://$DOCKER_SOCK"; return 0; }
