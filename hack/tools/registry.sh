#!/usr/bin/env bash
# Build the OCI registry of the distribution project (`registry serve CONFIG`) into a cache
# outside the repository, keyed by version, like promtool.sh. tests/node/test_gitops_install.py
# runs it on loopback so that Flux pulls the operator's manifests from a real registry. Prints
# the path of the binary on stdout; build progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/versions.env"
source "$here/go-tool.sh"
go_tool_cached registry "$DISTRIBUTION_VERSION"
go_tool_install registry "$DISTRIBUTION_VERSION" github.com/distribution/distribution/v3/cmd/registry \
  "-s -w -X github.com/distribution/distribution/v3/version.version=${DISTRIBUTION_VERSION}" "~2 min on 2 cores"
