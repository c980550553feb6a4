#!/usr/bin/env bash
# Install what tests/test_app/test_app_browser.py needs: Debian's chromium and Playwright for Python.
# Idempotent: apt runs only when /usr/bin/chromium is missing. Playwright drives that system
# chromium (executable_path), so `playwright install` (a browser download) is never run.
set -euo pipefail

PLAYWRIGHT_VERSION=1.65.2

if [ ! -x /usr/bin/chromium ]; then
    SUDO=''
    if [ "$(id -u)" -ne 0 ]; then SUDO='sudo'; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q chromium
fi

if ! python3 -c "import playwright, importlib.metadata as m, sys; \
sys.exit(m.version('playwright') != '${PLAYWRIGHT_VERSION}')" 2>/dev/null; then
    python3 -m pip install -q "playwright==${PLAYWRIGHT_VERSION}"
fi
