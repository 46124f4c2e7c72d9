#!/usr/bin/env bash
# Build actionlint (tests/chart checks .github/workflows with it) into a cache outside the
# repository, keyed by version. Does nothing when it is already there. Prints the path of the
# binary on stdout; build progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/versions.env"
source "$here/go-tool.sh"
go_tool_cached actionlint "$ACTIONLINT_VERSION"
go_tool_install actionlint "$ACTIONLINT_VERSION" github.com/rhysd/actionlint/cmd/actionlint \
  "-s -w -X github.com/rhysd/actionlint.version=${ACTIONLINT_VERSION#v}" "under a minute"
