#!/usr/bin/env bash
# Build argocd-health (main.go here: Argo CD's own Lua health runtime, util/lua, as a command)
# into a cache outside the repository, keyed by the Argo CD version and this directory's
# sources, like hack/tools/promtool.sh. Does nothing when it is already there. Prints the path
# of the binary on stdout; build progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
argocd_version="$(awk '$1 == "github.com/argoproj/argo-cd/v2" { print $2; exit }' "$here/go.mod")"
sources="$(cat "$here/go.mod" "$here/go.sum" "$here/main.go" | sha256sum | cut -c1-12)"
cache_root="${ATLASSIAN_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/atlassian-operator}"
bin="$cache_root/tools/argocd-health-${argocd_version}-${sources}/bin"

if [ -x "$bin/argocd-health" ]; then
  echo "$bin/argocd-health"
  exit 0
fi
command -v go >/dev/null || { echo "error: Go is required to build argocd-health (https://go.dev/dl)" >&2; exit 1; }
echo "building argocd-health (Argo CD ${argocd_version} util/lua) into $bin (first time only; ~4 min on 2 cores)" >&2
mkdir -p "$bin"
tmp="$(mktemp -d "$bin/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
(cd "$here" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "-s -w" -o "$tmp/argocd-health" .) >&2
mv "$tmp/argocd-health" "$bin/argocd-health"
echo "$bin/argocd-health"
