#!/usr/bin/env bash
# Install the system packages the tests need, when missing and when running as root.
# Each package is checked by the command it provides, so re-running is fast.
set -u
need=()
check() { command -v "$1" >/dev/null 2>&1 || [ -x "$2" ] || need+=("$3"); }
check git /usr/bin/git git
check redis-server /usr/bin/redis-server redis-server
check docker-registry /usr/bin/docker-registry docker-registry
check nginx /usr/sbin/nginx nginx
check wrk /usr/bin/wrk wrk
check promtool /usr/bin/promtool prometheus
check chromium /usr/bin/chromium chromium
check tmux /usr/bin/tmux tmux
check unshare /usr/bin/unshare util-linux
check ip /usr/sbin/ip iproute2
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "sysdeps: missing ${need[*]}; run as root or install them (tests needing them are skipped)" >&2
  exit 0
fi
echo "sysdeps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
  || echo "sysdeps: apt-get install ${need[*]} failed" >&2
# Debian starts some services on install; tests start their own on loopback ports.
for svc in redis-server nginx docker-registry prometheus; do
  (service "$svc" stop || systemctl stop "$svc") >/dev/null 2>&1 || true
done
exit 0
