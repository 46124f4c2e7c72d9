#!/usr/bin/env bash
# Build kube-score (tests/scan checks the rendered manifests and chart with it) into a cache
# outside the repository, keyed by version. Does nothing when it is already there. Prints the path
# of the binary on stdout; build progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/versions.env"
source "$here/go-tool.sh"
go_tool_cached kube-score "$KUBE_SCORE_VERSION"
go_tool_install kube-score "$KUBE_SCORE_VERSION" github.com/zegl/kube-score/cmd/kube-score \
  "-s -w -X main.version=${KUBE_SCORE_VERSION#v}" "~2 min on 2 cores"
