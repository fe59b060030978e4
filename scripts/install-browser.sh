#!/usr/bin/env bash
# Install Debian's Chromium and ChromeDriver for the browser tests (tests/web/test_browser.py).
# The tests drive /usr/bin/chromium through the Python `playwright` package with
# executable_path; Playwright's own browser download (`playwright install`) is never used.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    /usr/bin/chromium --version || true
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver
/usr/bin/chromium --version
