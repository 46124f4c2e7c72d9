#!/usr/bin/env bash
# Install checkov and zizmor (tests/scan runs them on the rendered manifests, the chart and the
# workflows) from PyPI into a virtual environment of their own in a cache outside the repository,
# keyed by both versions: checkov pins many libraries exactly, and those pins would fight the
# project's own dependencies in .venv. Does nothing when it is already there. Prints the venv's
# bin directory on stdout (checkov and zizmor are in it); progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/versions.env"
cache_root="${ATLASSIAN_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/atlassian-operator}"
venv="$cache_root/tools/scanners-checkov-${CHECKOV_VERSION}-zizmor-${ZIZMOR_VERSION}"
# Written last: a venv without it is an interrupted install, started again from scratch. (A venv
# cannot be built elsewhere and moved: its scripts name its path.)
done_mark="$venv/.installed"
if [ -f "$done_mark" ]; then
  echo "$venv/bin"
  exit 0
fi
command -v python3 >/dev/null || { echo "error: python3 (>= 3.11) is required to install checkov and zizmor" >&2; exit 1; }
echo "installing checkov $CHECKOV_VERSION and zizmor $ZIZMOR_VERSION into $venv (first time only; ~2 min)" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "checkov==$CHECKOV_VERSION" "zizmor==$ZIZMOR_VERSION" >&2
"$venv/bin/checkov" --version >/dev/null
"$venv/bin/zizmor" --version >/dev/null
touch "$done_mark"
echo "$venv/bin"
