#!/usr/bin/env bash
# Debian's Chromium for the browser tests (playwright-core drives it; no browser download from elsewhere).
# Installs it with apt-get when missing (as root on Debian) and prints its path.
set -euo pipefail
for c in /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -x "$c" ]; then echo "$c"; exit 0; fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "chromium.sh: installing Debian's chromium with apt-get" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi
[ -x /usr/bin/chromium ] || { echo "chromium.sh: chromium is not installed and cannot be (apt-get install chromium)" >&2; exit 1; }
echo /usr/bin/chromium
