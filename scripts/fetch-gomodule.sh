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
#   GOPROXY        the proxy list, read as the go command reads it; unset: `go env GOPROXY` (the
#                  user's Go configuration, `go env -w GOPROXY=...` included) when go is on PATH,
#                  else Go's documented default https://proxy.golang.org,direct. Entries are tried
#                  in order: after a ',' only when the proxy says 404/410, after a '|' on any error.
#                  `direct` (fetching from the origin's VCS) is not done here: it is skipped.
#                  Proxy credentials: in ~/.netrc (as the go command reads them), or in the URL
#                  (never printed, never on a command line).
#   RAY101_CACHE   cache folder (default ${XDG_CACHE_HOME:-~/.cache}/ray101)
# Runs on Linux and macOS: bash 3.2, curl, python3 (no sha256sum, no GNU-only flags).
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
for tool in curl python3; do
  command -v "$tool" >/dev/null || die "$tool is required"
done

# The proxy list: GOPROXY, else the go command's own setting, else Go's default.
proxies="${GOPROXY:-}" source_of_list="GOPROXY"
if [[ -z "$proxies" ]] && command -v go >/dev/null 2>&1; then
  proxies="$(go env GOPROXY 2>/dev/null || true)" source_of_list="go env GOPROXY"
fi
if [[ -z "$proxies" ]]; then
  proxies="https://proxy.golang.org,direct" source_of_list="Go's default (no GOPROXY, no go on PATH)"
fi
# A URL without its user:password@ part, for messages.
shown() { if [[ "$1" =~ ^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@(.*)$ ]]; then
  echo "${BASH_REMATCH[1]}***@${BASH_REMATCH[2]}"; else echo "$1"; fi; }

mkdir -p "$cache"
work="$(mktemp -d "$cache/.fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Try each entry in order, as the go command does; the separator after an entry says whether a
# failure other than "not found" may fall through to the next one.
downloaded="" tried="" rest="$proxies"
while [[ -n "$rest" && -z "$downloaded" ]]; do
  entry="${rest%%[,|]*}"
  if [[ "$entry" == "$rest" ]]; then sep="" rest=""; else sep="${rest:${#entry}:1}" rest="${rest:${#entry}+1}"; fi
  case "$entry" in
    "") continue ;;
    off) die "the proxy list ($source_of_list) says 'off': module downloads are disabled" ;;
    direct | noproxy) tried="$tried $entry (skipped: only module proxies are used)"; continue ;;
  esac
  url="${entry%/}/$module/@v/$version.zip"
  say "downloading $(shown "$url")"
  # The URL goes to curl on stdin, not on its command line: it may carry credentials.
  status=0
  code="$(printf 'url = "%s"\n' "$url" | curl --config - --silent --show-error --location \
    --netrc-optional --retry 3 --connect-timeout 20 --max-time 900 \
    --output "$work/module.zip" --write-out '%{http_code}' 2>"$work/curl.err")" || status=$?
  if [[ $status -eq 0 && "$code" =~ ^(200|000)$ ]]; then  # 000: a file:// proxy
    downloaded="$url"
    break
  fi
  why="HTTP $code"; [[ $status -eq 0 ]] || why="$(tail -n 1 "$work/curl.err" | sed 's|//[^/@ ]*@|//***@|g')"
  tried="$tried $(shown "$entry") ($why)"
  [[ "$code" == 404 || "$code" == 410 || "$sep" == "|" ]] || break
done
[[ -n "$downloaded" ]] || die "could not download $module@$version from the proxy list of $source_of_list:$tried"

# Verify the zip's sha256 and its go.sum hash, and unpack it, stripping the "<module>@<version>/"
# prefix. Members are checked to stay inside the folder (a zip from the proxy never escapes, but
# do not trust it).
python3 - "$work/module.zip" "$work/unpacked" "$module@$version/" "$zip_sha256" "$gosum_h1" "$tag" \
  "$(shown "$downloaded")" <<'PY' || exit 1
import base64, hashlib, os, sys, zipfile

zip_path, out, prefix, want_sha256, want_h1, tag, url = sys.argv[1:8]
digest = hashlib.sha256()
with open(zip_path, "rb") as f:
    while chunk := f.read(1 << 20):
        digest.update(chunk)
if digest.hexdigest() != want_sha256:
    sys.exit(f"{tag}: error: sha256 of {url} is {digest.hexdigest()}, expected {want_sha256}")
try:
    zf = zipfile.ZipFile(zip_path)
except zipfile.BadZipFile:
    sys.exit(f"{tag}: error: {url} is not a zip file")
with zf:
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

# Swap in atomically with rename(2), which replaces an empty folder and refuses a full one (what
# GNU `mv -T` does, which BSD mv lacks): a concurrent fetch that finished first wins and ours is
# dropped.
[[ -f "$marker" ]] || rm -rf "$dest"
python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$work/unpacked" "$dest" 2>/dev/null ||
  [[ -f "$marker" ]] || die "could not move the module into $dest"
say "verified ($gosum_h1) and unpacked into $dest"
echo "$dest"
