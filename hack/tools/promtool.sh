#!/usr/bin/env bash
# Build promtool (the Prometheus rule checker and rule unit-test runner) into a cache outside the
# repository, keyed by version, like hack/controlplane/build.sh. Does nothing when it is already
# there. Prints the path of the binary on stdout; build progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/versions.env"
cache_root="${ATLASSIAN_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/atlassian-operator}"
bin="$cache_root/tools/promtool-${PROMETHEUS_VERSION}/bin"

if [ -x "$bin/promtool" ]; then
  echo "$bin/promtool"
  exit 0
fi
command -v go >/dev/null || { echo "error: Go is required to build promtool (https://go.dev/dl)" >&2; exit 1; }
echo "building promtool ${PROMETHEUS_VERSION} into $bin (first time only; ~7 min on 2 cores)" >&2
mkdir -p "$bin"
# Install into a scratch dir and move into place, so an interrupted build leaves no half binary.
tmp="$(mktemp -d "$bin/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 GOBIN="$tmp" \
  go install -trimpath -ldflags "-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_VERSION}" \
  "github.com/prometheus/prometheus/cmd/promtool@${PROMETHEUS_VERSION}" >&2
mv "$tmp/promtool" "$bin/promtool"
echo "$bin/promtool"
