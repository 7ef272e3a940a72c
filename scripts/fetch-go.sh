#!/usr/bin/env bash
# Fetch a Go toolchain new enough to build FerretDB (its go.mod asks for Go 1.24) from the Go
# module proxy, where the go command itself gets toolchains (module golang.org/toolchain), verify
# it, unpack it into the cache and print its bin/ folder on stdout (progress on stderr).
#
#   export PATH="$(scripts/fetch-go.sh):$PATH"
#
# For machines whose packaged Go is too old (Debian 12's golang-go is 1.19). linux/amd64 only.
# Cached: a second call downloads nothing. GOPROXY and RAY101_CACHE as in fetch-kuberay.sh.
set -euo pipefail

MODULE="golang.org/toolchain"
VERSION="v0.0.1-go1.24.13.linux-amd64"
ZIP_SHA256="d2b048367a3d1a748b87f756fa06df12ce3b419e1d5f2a3612acb8950d615f9f"
GOSUM_H1="h1:5sgfUhn9QCgVl4UYj32GrIYFHI3bi2UX55tNfupXwxc="

say() { echo "fetch-go: $*" >&2; }
die() { say "error: $*"; exit 1; }

[[ "$(uname -s)/$(uname -m)" == "Linux/x86_64" ]] ||
  die "only linux/amd64 is pinned here; install Go >= 1.24 from https://go.dev/dl/"

cache="${RAY101_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ray101}"
dest="$cache/go-${VERSION#v0.0.1-}"
marker="$dest/.ray101-verified"

if [[ -f "$marker" && "$(cat "$marker")" == "$GOSUM_H1" ]]; then
  say "cached: $dest"
  echo "$dest/bin"
  exit 0
fi

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
work="$(mktemp -d "$cache/.go-fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT

say "downloading $url"
curl --fail --silent --show-error --location --retry 3 --connect-timeout 20 --max-time 900 \
  -o "$work/toolchain.zip" "$url" || die "could not download $url"
got="$(sha256sum "$work/toolchain.zip" | cut -d' ' -f1)"
[[ "$got" == "$ZIP_SHA256" ]] || die "sha256 of $url is $got, expected $ZIP_SHA256"

python3 - "$work/toolchain.zip" "$work/go" "$MODULE@$VERSION/" "$GOSUM_H1" <<'PY' || exit 1
import base64, hashlib, os, sys, zipfile

zip_path, out, prefix, want_h1 = sys.argv[1:5]
with zipfile.ZipFile(zip_path) as zf:
    files = sorted(n for n in zf.namelist() if not n.endswith("/"))
    summary = "".join(f"{hashlib.sha256(zf.read(n)).hexdigest()}  {n}\n" for n in files)
    h1 = "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()
    if h1 != want_h1:
        sys.exit(f"fetch-go: error: go.sum hash of the toolchain is {h1}, expected {want_h1}")
    root = os.path.realpath(out)
    for name in files:
        if not name.startswith(prefix):
            sys.exit(f"fetch-go: error: unexpected member {name!r}")
        rel = name[len(prefix):]
        target = os.path.realpath(os.path.join(out, rel))
        if not target.startswith(root + os.sep):
            sys.exit(f"fetch-go: error: member {name!r} escapes the folder")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with zf.open(name) as src, open(target, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        # Module zips keep no file modes: the go command marks these executable the same way.
        parts = rel.split("/")
        if parts[0] == "bin" or (parts[:2] == ["pkg", "tool"] and len(parts) == 4):
            os.chmod(target, 0o755)
PY
"$work/go/bin/go" version >&2 || die "the unpacked go does not run"
echo "$GOSUM_H1" >"$work/go/.ray101-verified"
[[ -f "$marker" ]] || rm -rf "$dest"
mv -T "$work/go" "$dest" 2>/dev/null || [[ -f "$marker" ]] || die "could not move Go into $dest"
say "verified ($GOSUM_H1) and unpacked into $dest"
echo "$dest/bin"
