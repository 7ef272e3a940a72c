#!/usr/bin/env bash
# Fetch one Go module zip from the Go module proxy, verify it against two pinned hashes, unpack it
# into the cache and print the unpacked folder on stdout (progress on stderr). The one downloader
# behind scripts/fetch-kuberay.sh and scripts/fetch-go.sh, which hold the pins.
#
#   scripts/fetch-gomodule.sh MODULE VERSION ZIP_SHA256 GOSUM_H1 FOLDER_NAME
#
# Cached: a folder whose marker holds GOSUM_H1 is returned without downloading. The zip is checked
# twice: its sha256, and the go.sum hash (h1:, Go's dirhash over the zip's files).
# Settings (environment):
#   GOPROXY        module proxy (the first real entry of a Go-style list; default proxy.golang.org)
#   RAY101_CACHE   cache folder (default ${XDG_CACHE_HOME:-~/.cache}/ray101)
set -euo pipefail

[[ $# -eq 5 ]] || { echo "usage: $0 MODULE VERSION ZIP_SHA256 GOSUM_H1 FOLDER_NAME" >&2; exit 2; }
module=$1 version=$2 zip_sha256=$3 gosum_h1=$4 name=$5
tag="fetch ${module##*/}"
say() { echo "$tag: $*" >&2; }
die() { say "error: $*"; exit 1; }

cache="${RAY101_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ray101}"
dest="$cache/$name"
# The marker is written last: a folder without it is a half-finished unpack and is redone.
marker="$dest/.ray101-verified"
if [[ -f "$marker" && "$(cat "$marker")" == "$gosum_h1" ]]; then
  say "cached: $dest"
  echo "$dest"
  exit 0
fi
for tool in curl python3 sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is required"
done

proxy="https://proxy.golang.org"
IFS=',|' read -r -a entries <<<"${GOPROXY:-}"
for entry in "${entries[@]}"; do
  case "$entry" in
    "" | direct | off) continue ;;
    *) proxy="${entry%/}"; break ;;
  esac
done
url="$proxy/$module/@v/$version.zip"

mkdir -p "$cache"
work="$(mktemp -d "$cache/.fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT

say "downloading $url"
curl --fail --silent --show-error --location --retry 3 --connect-timeout 20 --max-time 900 \
  -o "$work/module.zip" "$url" || die "could not download $url"
got="$(sha256sum "$work/module.zip" | cut -d' ' -f1)"
[[ "$got" == "$zip_sha256" ]] || die "sha256 of $url is $got, expected $zip_sha256"

# Verify the go.sum hash and unpack, stripping the "<module>@<version>/" prefix. Members are
# checked to stay inside the folder (a zip from the proxy never escapes, but do not trust it).
python3 - "$work/module.zip" "$work/unpacked" "$module@$version/" "$gosum_h1" "$tag" <<'PY' || exit 1
import base64, hashlib, os, sys, zipfile

zip_path, out, prefix, want_h1, tag = sys.argv[1:6]
with zipfile.ZipFile(zip_path) as zf:
    files = sorted(n for n in zf.namelist() if not n.endswith("/"))
    # golang.org/x/mod/sumdb/dirhash.Hash1: sha256 over "<sha256 hex>  <name>\n" lines, sorted.
    summary = "".join(f"{hashlib.sha256(zf.read(n)).hexdigest()}  {n}\n" for n in files)
    h1 = "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()
    if h1 != want_h1:
        sys.exit(f"{tag}: error: go.sum hash of the module is {h1}, expected {want_h1}")
    root = os.path.realpath(out)
    for name in files:
        if not name.startswith(prefix):
            sys.exit(f"{tag}: error: unexpected member {name!r} in the module zip")
        target = os.path.realpath(os.path.join(out, name[len(prefix):]))
        if not target.startswith(root + os.sep):
            sys.exit(f"{tag}: error: member {name!r} escapes the folder")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with zf.open(name) as src, open(target, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
PY
echo "$gosum_h1" >"$work/unpacked/.ray101-verified"

# Swap in atomically; a concurrent fetch that finished first wins and ours is dropped.
[[ -f "$marker" ]] || rm -rf "$dest"
mv -T "$work/unpacked" "$dest" 2>/dev/null || [[ -f "$marker" ]] || die "could not move the module into $dest"
say "verified ($gosum_h1) and unpacked into $dest"
echo "$dest"
