#!/usr/bin/env bash
# Install Debian's Chromium and ChromeDriver for the browser tests (tests/web/test_browser.py).
# The tests drive /usr/bin/chromium through the Python `playwright` package with
# executable_path; Playwright's own browser download (`playwright install`) is never used.
# Where the packages cannot be installed (no root and no sudo, no Debian), this says so and
# exits 0: the browser tests then skip with that reason, and everything else still runs.
set -uo pipefail
if [ -x /usr/bin/chromium ]; then
    /usr/bin/chromium --version || true
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo"
    else
        echo "install-browser: not root and no passwordless sudo; browser tests will skip" >&2
        exit 0
    fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: no apt-get (not Debian); browser tests will skip" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if $SUDO apt-get update -qq && \
        $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver; then
    /usr/bin/chromium --version
else
    echo "install-browser: apt-get could not install chromium; browser tests will skip" >&2
fi
exit 0
