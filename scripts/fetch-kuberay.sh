#!/usr/bin/env bash
# Fetch the KubeRay operator's Go module (github.com/ray-project/kuberay/ray-operator) at the
# pinned version from the Go module proxy, verify it, unpack it into the cache and print the
# unpacked module folder on stdout (progress goes to stderr). The module holds the CRDs
# (config/crd/bases/ray.io_rayclusters.yaml, ...) and the operator's kustomize manifests.
#
#   dir="$(scripts/fetch-kuberay.sh)"      # e.g. ~/.cache/ray101/kuberay-ray-operator-v1.6.0
#   ls "$dir/config/crd/bases"
#
# Cached: a second call downloads nothing. Settings (environment):
#   GOPROXY        module proxy (first entry of a Go-style list is used; default proxy.golang.org)
#   RAY101_CACHE   cache folder (default ${XDG_CACHE_HOME:-~/.cache}/ray101)
#
# The zip is checked twice: its sha256 and the module's go.sum hash (h1:, Go's dirhash over the
# zip's files), both pinned below. v1.6.0 is the newest version the proxy serves (it refuses
# v1.7.0 today); moving the pin means updating VERSION and both hashes.
set -euo pipefail

MODULE="github.com/ray-project/kuberay/ray-operator"
VERSION="v1.6.0"
ZIP_SHA256="08bccad7be7e18eae8689d3759ee834882aff1e18e30bf9865ee097e61e8660e"
GOSUM_H1="h1:1hs7Di2U/vm09ot7MIU8jUqEo7gHDc4gkbv1eFvqCsQ="

say() { echo "fetch-kuberay: $*" >&2; }
die() { say "error: $*"; exit 1; }

cache="${RAY101_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ray101}"
dest="$cache/kuberay-ray-operator-$VERSION"
# The marker is written last: a folder without it is a half-finished unpack and is redone.
marker="$dest/.ray101-verified"

if [[ -f "$marker" && "$(cat "$marker")" == "$GOSUM_H1" ]]; then
  say "cached: $dest"
  echo "$dest"
  exit 0
fi

for tool in curl python3; do
  command -v "$tool" >/dev/null || die "$tool is required"
done

# GOPROXY is a comma/pipe separated list (Go's syntax); use the first real proxy in it.
proxy="https://proxy.golang.org"
IFS=',|' read -r -a entries <<<"${GOPROXY:-}"
for entry in "${entries[@]}"; do
  case "$entry" in
    "" | direct | off) continue ;;
    *) proxy="${entry%/}"; break ;;
  esac
done
url="$proxy/$MODULE/@v/$VERSION.zip"

mkdir -p "$cache"
work="$(mktemp -d "$cache/.kuberay-fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT

say "downloading $url"
curl --fail --silent --show-error --location --retry 3 --connect-timeout 20 --max-time 300 \
  -o "$work/module.zip" "$url" || die "could not download $url"

got="$(sha256sum "$work/module.zip" | cut -d' ' -f1)"
[[ "$got" == "$ZIP_SHA256" ]] || die "sha256 of $url is $got, expected $ZIP_SHA256"

# Verify the go.sum hash and unpack, stripping the "<module>@<version>/" prefix. Members are
# checked to stay inside the folder (a zip from the proxy never escapes, but do not trust it).
python3 - "$work/module.zip" "$work/unpacked" "$MODULE@$VERSION/" "$GOSUM_H1" <<'PY' || exit 1
import base64, hashlib, os, sys, zipfile

zip_path, out, prefix, want_h1 = sys.argv[1:5]
with zipfile.ZipFile(zip_path) as zf:
    files = sorted(n for n in zf.namelist() if not n.endswith("/"))
    # golang.org/x/mod/sumdb/dirhash.Hash1: sha256 over "<sha256 hex>  <name>\n" lines, sorted.
    summary = "".join(f"{hashlib.sha256(zf.read(n)).hexdigest()}  {n}\n" for n in files)
    h1 = "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()
    if h1 != want_h1:
        sys.exit(f"fetch-kuberay: error: go.sum hash of the module is {h1}, expected {want_h1}")
    root = os.path.realpath(out)
    for name in files:
        if not name.startswith(prefix):
            sys.exit(f"fetch-kuberay: error: unexpected member {name!r} in the module zip")
        target = os.path.realpath(os.path.join(out, name[len(prefix):]))
        if not target.startswith(root + os.sep):
            sys.exit(f"fetch-kuberay: error: member {name!r} escapes the folder")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with zf.open(name) as src, open(target, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
PY
[[ -f "$work/unpacked/config/crd/bases/ray.io_rayclusters.yaml" ]] ||
  die "the module has no config/crd/bases/ray.io_rayclusters.yaml"
echo "$GOSUM_H1" >"$work/unpacked/.ray101-verified"

# Swap in atomically; a concurrent fetch that finished first wins and ours is dropped.
[[ -f "$marker" ]] || rm -rf "$dest"
mv -T "$work/unpacked" "$dest" 2>/dev/null || [[ -f "$marker" ]] || die "could not move the module into $dest"
say "verified ($GOSUM_H1) and unpacked into $dest"
echo "$dest"
