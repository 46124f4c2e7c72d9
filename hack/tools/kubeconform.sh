#!/usr/bin/env bash
# Build kubeconform (validates Kubernetes manifests against JSON schemas, offline when the schemas
# are local) into a cache outside the repository, keyed by version, like promtool.sh. Does nothing
# when it is already there. Prints the path of the binary on stdout (its whole interface: other
# scripts run "$(hack/tools/kubeconform.sh)"); build progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/versions.env"
source "$here/go-tool.sh"
go_tool_cached kubeconform "$KUBECONFORM_VERSION"
go_tool_install kubeconform "$KUBECONFORM_VERSION" github.com/yannh/kubeconform/cmd/kubeconform \
  "-s -w" "~1 min on 2 cores"
