#!/usr/bin/env bash
# Build actionlint (tests/chart checks .github/workflows with it) into a cache outside the
# repository, keyed by version, like promtool.sh. Does nothing when it is already there.
# Prints the path of the binary on stdout; build progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/versions.env"
cache_root="${ATLASSIAN_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/atlassian-operator}"
bin="$cache_root/tools/actionlint-${ACTIONLINT_VERSION}/bin"

if [ -x "$bin/actionlint" ]; then
  echo "$bin/actionlint"
  exit 0
fi
command -v go >/dev/null || { echo "error: Go is required to build actionlint (https://go.dev/dl)" >&2; exit 1; }
echo "building actionlint ${ACTIONLINT_VERSION} into $bin (first time only; under a minute)" >&2
mkdir -p "$bin"
# Install into a scratch dir and move into place, so an interrupted build leaves no half binary.
tmp="$(mktemp -d "$bin/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 GOBIN="$tmp" \
  go install -trimpath \
  -ldflags "-s -w -X github.com/rhysd/actionlint.version=${ACTIONLINT_VERSION#v}" \
  "github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}" >&2
mv "$tmp/actionlint" "$bin/actionlint"
echo "$bin/actionlint"
