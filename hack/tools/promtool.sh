#!/usr/bin/env bash
# Build promtool (the Prometheus rule checker and rule unit-test runner) into a cache outside the
# repository, keyed by version, like hack/controlplane/build.sh. Does nothing when it is already
# there. Prints the path of the binary on stdout; build progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/versions.env"
source "$here/go-tool.sh"
go_tool_cached promtool "$PROMETHEUS_VERSION"
go_tool_install promtool "$PROMETHEUS_VERSION" github.com/prometheus/prometheus/cmd/promtool \
  "-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_VERSION}" "~7 min on 2 cores"
