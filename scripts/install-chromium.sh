#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium and its WebDriver (for history-http's browser
# tests) when either is missing. Idempotent: does nothing when both are there.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    echo "install-chromium: chromium and chromedriver already installed"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-chromium: chromium or chromedriver is missing and this is not root; install the Debian packages chromium and chromium-driver" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
echo "install-chromium: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
