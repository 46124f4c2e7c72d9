#!/usr/bin/env bash
# Build helm (tests/chart lints and renders charts/atlassian-operator with it; tests/node installs
# it) into a cache outside the repository, keyed by version. Does nothing when it is already
# there. Prints the path of the binary on stdout; build progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/versions.env"
source "$here/go-tool.sh"
go_tool_cached helm "$HELM_VERSION"
# The ldflags of helm's own Makefile: the version `helm version` prints, and the Kubernetes
# version `helm template` and `helm lint` assume (client-go v0.MM.P -> 1.MM), taken from helm's go.mod.
gomod="$(go mod download -json "helm.sh/helm/v3@${HELM_VERSION}" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')"
client_go="$(sed -n 's/^[[:space:]]*k8s\.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$gomod")"
[ -n "$client_go" ] || { echo "error: no k8s.io/client-go in $gomod" >&2; exit 1; }
pkg=helm.sh/helm/v3
ldflags="-s -w -X $pkg/internal/version.version=${HELM_VERSION} -X $pkg/internal/version.gitTreeState=clean"
for p in pkg/lint/rules pkg/chartutil; do
  ldflags+=" -X $pkg/$p.k8sVersionMajor=1 -X $pkg/$p.k8sVersionMinor=${client_go}"
done
go_tool_install helm "$HELM_VERSION" "$pkg/cmd/helm" "$ldflags" "~3 min on 2 cores"
