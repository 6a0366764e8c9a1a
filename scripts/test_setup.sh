#!/usr/bin/env bash
# What the test suite needs beyond the Python packages: Debian's headless Chromium, for the
# browser check of the Dagster UI. Installed here so a clean machine (and CI) passes as is.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
echo "test setup: installing chromium (Debian package)"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null
