#!/usr/bin/env bash
# What the test suite needs beyond the Python packages, installed here so a clean machine (and CI)
# passes as is: Debian's headless Chromium, for the browser check of the Dagster UI, and Debian's
# PostgreSQL server, for the PostgreSQL-backed deployment tests (the tests start their own cluster
# in a temporary folder; the package's own service is not used).
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "test setup: installing ${missing[*]} (Debian packages)"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
command -v chromium >/dev/null
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
