#!/usr/bin/env bash
# The Debian packages the test suite needs (a real PostgreSQL server, a real headless Chromium):
# installed when missing if we are root, else one line saying what to run. Called by `make test`.
set -euo pipefail

# The dashboard builds with Vite, which wants Node.js 20.19 or newer (Debian 12 ships 18).
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null; then
  echo "error: the dashboard needs Node.js 20.19 or newer with npm (found: $(node --version 2>/dev/null || echo none)); install it from nodejs.org or NodeSource" >&2
  exit 1
fi

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0

install="apt-get install -y --no-install-recommends ${need[*]}"
if [ "$(id -u)" != 0 ]; then
  echo "error: the tests need Debian's ${need[*]}; run: sudo apt-get update && sudo $install" >&2
  exit 1
fi
echo "installing Debian packages the tests need: ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive $install -qq >/dev/null
