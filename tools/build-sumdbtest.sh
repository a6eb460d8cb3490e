#!/usr/bin/env bash
# Build the test checksum database server (golang.org/x/mod/sumdb on loopback) when its sources
# changed, and print the binary's path. The module comes from the go command's configured GOPROXY.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/sumdbtest"
out="$here/../.cache/sumdbtest"
mkdir -p "$(dirname "$out")"
if [ ! -x "$out" ] || [ -n "$(find "$src" -newer "$out" -type f 2>/dev/null | head -1)" ]; then
  (cd "$src" && GOFLAGS=-mod=mod go build -o "$out" .)
fi
echo "$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
