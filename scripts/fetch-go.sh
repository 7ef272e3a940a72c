#!/usr/bin/env bash
# Fetch a Go toolchain new enough to build FerretDB (its go.mod asks for Go 1.24) from the Go
# module proxy, where the go command itself gets toolchains (module golang.org/toolchain),
# verified and cached by scripts/fetch-gomodule.sh, and print its bin/ folder on stdout.
#
#   export PATH="$(scripts/fetch-go.sh):$PATH"
#
# For machines whose packaged Go is too old (Debian 12's golang-go is 1.19). linux/amd64 only.
set -euo pipefail

MODULE="golang.org/toolchain"
VERSION="v0.0.1-go1.24.13.linux-amd64"
ZIP_SHA256="d2b048367a3d1a748b87f756fa06df12ce3b419e1d5f2a3612acb8950d615f9f"
GOSUM_H1="h1:5sgfUhn9QCgVl4UYj32GrIYFHI3bi2UX55tNfupXwxc="

[[ "$(uname -s)/$(uname -m)" == "Linux/x86_64" ]] || {
  echo "fetch-go: error: only linux/amd64 is pinned here; install Go >= 1.24 from https://go.dev/dl/" >&2
  exit 1; }

dir="$("$(dirname "$0")/fetch-gomodule.sh" "$MODULE" "$VERSION" "$ZIP_SHA256" "$GOSUM_H1" \
  "go-${VERSION#v0.0.1-}")"
# Module zips keep no file modes: mark the commands executable, as the go command does.
chmod 0755 "$dir"/bin/* "$dir"/pkg/tool/*/*
"$dir/bin/go" version >&2 || { echo "fetch-go: error: the unpacked go in $dir does not run" >&2; exit 1; }
echo "$dir/bin"
