#!/usr/bin/env bash
# The browser tests (tests/ui, marker `browser`) drive Debian's Chromium at /usr/bin/chromium.
# Install it when it is missing (needs root and apt); harmless when it is there. Without it those
# tests skip with a reason, so a failed install only warns.
set -u
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: /usr/bin/chromium is missing and cannot be installed here (needs root and apt-get);" \
       "the browser tests will be skipped. Install Debian's package: apt-get install -y chromium" >&2
  exit 0
fi
echo "installing Debian's chromium for the browser tests ..."
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q chromium >/dev/null 2>&1 \
  || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } \
  || echo "warning: could not install chromium; the browser tests will be skipped" >&2
[ -x /usr/bin/chromium ] && echo "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n1)"
exit 0
