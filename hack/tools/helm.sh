#!/usr/bin/env bash
# Build helm (tests/chart lints and renders charts/atlassian-operator with it) into a cache outside
# the repository, keyed by version, like promtool.sh. Does nothing when it is already there.
# Prints the path of the binary on stdout; build progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/versions.env"
cache_root="${ATLASSIAN_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/atlassian-operator}"
bin="$cache_root/tools/helm-${HELM_VERSION}/bin"

if [ -x "$bin/helm" ]; then
  echo "$bin/helm"
  exit 0
fi
command -v go >/dev/null || { echo "error: Go is required to build helm (https://go.dev/dl)" >&2; exit 1; }
echo "building helm ${HELM_VERSION} into $bin (first time only; ~3 min on 2 cores)" >&2
mkdir -p "$bin"
# Install into a scratch dir and move into place, so an interrupted build leaves no half binary.
tmp="$(mktemp -d "$bin/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
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
CGO_ENABLED=0 GOBIN="$tmp" \
  go install -trimpath -ldflags "$ldflags" "$pkg/cmd/helm@${HELM_VERSION}" >&2
mv "$tmp/helm" "$bin/helm"
echo "$bin/helm"
