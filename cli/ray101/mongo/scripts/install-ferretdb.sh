#!/usr/bin/env bash
# Build FerretDB from source into <tools>/bin/ferretdb (the one way ray101 installs it).
#
# `go install github.com/FerretDB/FerretDB/cmd/ferretdb@VERSION` builds a binary that panics at
# start ("Invalid build/version/version.txt file content"): the module zip lacks the generated
# version.txt. So: download the module, copy it to a scratch dir, write version.txt, go build.
#
# Three changes to the source, the patches in ferretdb-patches/ (applied in name order):
# - leak-tracker-off: FerretDB's leak tracker (internal/util/resource) is on in every build: each
#   document/array iterator is added to a pprof profile (a stack walk) and gets a finalizer. Its
#   pprof showed that at ~12% of the server's CPU on full reads. Only debug builds use what it
#   records, so Track/Untrack return at once in release builds.
# - sjson-one-pass: reading a stored document back, the SQLite backend decodes every nested level
#   and every scalar through a json.Decoder of its own: about 75% of the server's CPU on a full
#   read. The patch decodes it in one pass with the document's schema (parsed schemas are cached
#   by their text) and steps aside to the released decoder on anything unusual; its tests check
#   that both give the same documents. FerretDB's sjson tests run before the binary is installed.
# - sqlite-id-range: the SQLite backend pushes down only `_id` equality, so every `_id` range is a
#   full scan that decodes every stored document. The patch adds `_id` compared to an ObjectID
#   ($gt/$gte/$lt/$lte) to the SQL WHERE clause, so K range readers each make the server decode
#   only their share. The handler still applies the whole filter to what comes back.
# docs/performance.md ("MongoDB server") measures each.
#
# Usage: install-ferretdb.sh [TOOLS_DIR]   (default: $RAY101_TOOLS, else ~/.cache/ray101/tools)
#        install-ferretdb.sh --build-id    only print the build id (BUILD below)
# It ships inside the ray101 package (ray101/mongo/scripts/); `ray101 mongo install` runs it.
# Idempotent: does nothing when <tools>/bin/ferretdb reports the version and <tools>/bin/ferretdb.build
# names this build (BUILD below; ray101 compares it with --build-id's). FERRETDB_PATCHES=none
# builds FerretDB as released.
set -euo pipefail
export LC_ALL=C  # the patches apply, and are named in BUILD, in byte order of their file names

VERSION="${FERRETDB_VERSION:-v1.24.2}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
patches=()
if [[ "${FERRETDB_PATCHES:-all}" != none ]]; then
  patches=("$here"/ferretdb-patches/*.patch)
fi
names="$(for p in "${patches[@]}"; do basename "$p" .patch; done | paste -sd, -)"
sum=""
if [[ ${#patches[@]} -gt 0 ]]; then
  sum=" sha256=$(cat "${patches[@]}" | sha256sum | cut -c1-12)"  # a changed patch is a new build
fi
BUILD="$VERSION patches=${names:-none}$sum"
if [[ "${1:-}" == --build-id ]]; then
  echo "$BUILD"
  exit 0
fi
tools="${1:-${RAY101_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/ray101/tools}}"
bin="$tools/bin/ferretdb"

if [[ -x "$bin" ]] && "$bin" --version 2>/dev/null | grep -q "version: $VERSION\$\|$VERSION" &&
  [[ "$(cat "$bin.build" 2>/dev/null)" == "$BUILD" ]]; then
  echo "ferretdb $BUILD already installed: $bin"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "error: 'go' is not on PATH; install Go >= 1.24 (https://go.dev/dl/; in a ray101 checkout: export PATH=\"\$(scripts/fetch-go.sh):\$PATH\") to build FerretDB $VERSION" >&2
  exit 1
fi

echo "building ferretdb $VERSION into $bin (a few minutes with a cold Go cache)"
src="$(go mod download -json "github.com/FerretDB/FerretDB@$VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
if [[ -z "$src" || ! -d "$src" ]]; then
  echo "error: go mod download github.com/FerretDB/FerretDB@$VERSION gave no source dir" >&2
  exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/ferretdb-build.XXXXXX")"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -R "$src/." "$work/"
chmod -R u+w "$work"
mkdir -p "$work/build/version"
printf '%s' "$VERSION" > "$work/build/version/version.txt"
for p in "${patches[@]}"; do
  # GIT_CEILING_DIRECTORIES: $work is no repository, and git must not look for one above it.
  if ! GIT_CEILING_DIRECTORIES="$(dirname "$work")" git -C "$work" apply "$p"; then
    echo "error: $(basename "$p") does not apply to FerretDB $VERSION; FERRETDB_PATCHES=none builds it as released" >&2
    exit 1
  fi
done

if [[ ${#patches[@]} -gt 0 ]]; then
  # FerretDB's test helpers look for the repository's .git: give the scratch copy one.
  (cd "$work" && git init -q . && CGO_ENABLED=0 go test ./internal/handler/sjson/ >/dev/null) || {
    echo "error: FerretDB's sjson tests fail with ray101's patches; FERRETDB_PATCHES=none builds it as released" >&2
    exit 1
  }
fi

mkdir -p "$tools/bin"
# Build to a temp name, then rename: a half-written binary never looks installed.
(cd "$work" && CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" ./cmd/ferretdb)
mv -f "$bin.tmp" "$bin"
printf '%s\n' "$BUILD" > "$bin.build"
"$bin" --version
echo "installed $bin"
