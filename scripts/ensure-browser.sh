#!/usr/bin/env bash
# Makes sure Debian's headless Chromium and its driver are installed, for the
# dashboard's browser tests and `make screenshots`. Installs them only when run
# as root and they are missing; never downloads a browser any other way.
# Never fails the build: without them the browser tests skip with a message.
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-browser: chromium/chromedriver missing and not root (or no apt-get); browser tests will be skipped." >&2
  echo "ensure-browser: install them with: sudo apt-get install -y chromium chromium-driver" >&2
  exit 0
fi
echo "ensure-browser: installing chromium and chromium-driver (Debian packages)..." >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-liberation fonts-dejavu-core; } >/tmp/aiprod-ensure-browser.log 2>&1; then
  echo "ensure-browser: install failed (see /tmp/aiprod-ensure-browser.log); browser tests will be skipped." >&2
fi
exit 0
