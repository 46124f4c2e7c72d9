#!/usr/bin/env bash
# Install Debian's Chromium and ChromeDriver, which tests/report drives (selenium) to check the
# HTML access-review page as a reviewer sees it, and which `make demo` uses for its screenshot.
# Browser downloads from the internet (selenium-manager, playwright install) do not work on a
# closed network; Debian's packages do. Does nothing when both are there. Prints the path of the
# browser on stdout; apt-get's progress goes to stderr.
set -euo pipefail
chromium=/usr/bin/chromium
driver=/usr/bin/chromedriver

if [ -x "$chromium" ] && [ -x "$driver" ]; then
  echo "$chromium"
  exit 0
fi
command -v apt-get >/dev/null || {
  echo "error: $chromium and $driver are missing and there is no apt-get to install them;" \
    "install Chromium and a matching ChromeDriver at those paths" >&2
  exit 1
}
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || {
    echo "error: installing chromium needs root: run 'sudo $0' once" >&2
    exit 1
  }
  sudo=(sudo)
fi
echo "installing Debian packages chromium and chromium-driver (first time only; ~1 min)" >&2
export DEBIAN_FRONTEND=noninteractive
# A stale package index names versions the mirror no longer has: refresh it first.
"${sudo[@]}" apt-get update -qq >&2
"${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium chromium-driver >&2
[ -x "$chromium" ] && [ -x "$driver" ] || {
  echo "error: apt-get finished but $chromium or $driver is missing" >&2
  exit 1
}
echo "$chromium"
