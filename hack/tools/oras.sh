#!/usr/bin/env bash
# Build oras (pushes OCI artifacts; hack/gitops/publish-manifests.sh publishes the operator's
# manifests with it) into a cache outside the repository, keyed by version, like promtool.sh.
# Prints the path of the binary on stdout; build progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/versions.env"
source "$here/go-tool.sh"
go_tool_cached oras "$ORAS_VERSION"
go_tool_install oras "$ORAS_VERSION" oras.land/oras/cmd/oras \
  "-s -w" "~1 min on 2 cores"
