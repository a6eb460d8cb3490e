#!/usr/bin/env bash
# Build the Go oracle (golang.org/x/mod behind a JSON-lines protocol) when its sources changed,
# and print the binary's path. The module comes from the go command's configured GOPROXY.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/xmodoracle"
out="$here/../.cache/xmodoracle"
mkdir -p "$(dirname "$out")"
if [ ! -x "$out" ] || [ -n "$(find "$src" -newer "$out" -type f 2>/dev/null | head -1)" ]; then
  (cd "$src" && GOFLAGS=-mod=mod go build -o "$out" .)
fi
echo "$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
