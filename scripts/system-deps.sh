#!/bin/sh
# Install what the browser tests need from Debian (Chromium; Playwright drives it, no browser download).
set -e
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ] && ! command -v sudo >/dev/null 2>&1; then
  echo "system-deps: chromium is missing and I am not root; install Debian's chromium package to run browser tests." >&2
  exit 0
fi
SUDO=""
[ "$(id -u)" = "0" ] || SUDO="sudo"
echo "system-deps: installing Debian chromium for the browser tests (once)..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
