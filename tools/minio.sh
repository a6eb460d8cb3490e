#!/usr/bin/env bash
# The MinIO server the S3 storage tests run against, built from the Go module proxy once and
# cached outside the work tree, so a second `make test` (or another clone) does not rebuild it.
#
#   tools/minio.sh          build when missing (minutes on a fresh machine), print the binary path
#   tools/minio.sh start    start that build in the background and return at once (make test
#                           overlaps it with lint and the oracle build)
#   tools/minio.sh wait     wait for a background build, then print the binary path
#   tools/minio.sh path     print the binary path if it is built (exit 1 if not), never build
#
# The tests find the binary through GOMODPROXY_MINIO or `tools/minio.sh path`.
set -euo pipefail
version="v0.0.0-20260212201848-7aac2a2c5b7c"
cache="${GOMODPROXY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gomodproxy}/minio-$version"
bin="$cache/minio"
log="$cache/build.log"
pidfile="$cache/build.pid"

build() {
  mkdir -p "$cache/bin"
  # A partial build never lands at $bin: go install writes to a private GOBIN, moved in whole.
  if GOBIN="$cache/bin" GOFLAGS=-mod=mod go install "github.com/minio/minio@$version" >"$log" 2>&1; then
    mv -f "$cache/bin/minio" "$bin"
  else
    echo "minio: go install failed; see $log (S3 tests will be skipped)" >&2
    tail -5 "$log" >&2 || true
    return 1
  fi
}

building() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "${1:-}" in
  start)
    [ -x "$bin" ] && exit 0
    building && exit 0
    command -v go >/dev/null || { echo "minio: no go toolchain; S3 tests will be skipped" >&2; exit 0; }
    mkdir -p "$cache"
    echo "minio: building $version in the background (log: $log)" >&2
    (build || true; rm -f "$pidfile") </dev/null >/dev/null 2>&1 &
    echo $! >"$pidfile"
    ;;
  wait)
    while building; do sleep 2; done
    [ -x "$bin" ] || build || exit 0
    echo "$bin"
    ;;
  path)
    [ -x "$bin" ] && echo "$bin"
    ;;
  "")
    while building; do sleep 2; done
    [ -x "$bin" ] || build
    echo "$bin"
    ;;
  *)
    echo "usage: $0 [start|wait|path]" >&2
    exit 2
    ;;
esac
