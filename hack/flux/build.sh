#!/usr/bin/env bash
# Build Flux's source-controller and kustomize-controller, and take their CRDs from the same
# module versions, into a cache outside the repository keyed by version, like
# hack/tools/promtool.sh. Does nothing when they are already there. Prints the directory
# (bin/, crds/) on stdout; build progress goes to stderr.
#
# `go install <module>@<version>` refuses both modules: their go.mod replaces their own API module
# with `./api`, a nested module the module zip leaves out. So each module's source is copied out
# of the module cache and built with its own go.mod and go.sum, that one replace pointed at the
# API module of the same version on the module proxy.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/versions.env"
cache_root="${ATLASSIAN_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/atlassian-operator}"
out="$cache_root/flux-sc-${SOURCE_CONTROLLER_VERSION}-kc-${KUSTOMIZE_CONTROLLER_VERSION}"

if [ -x "$out/bin/source-controller" ] && [ -x "$out/bin/kustomize-controller" ] && [ -d "$out/crds" ]; then
  echo "$out"
  exit 0
fi
command -v go >/dev/null || { echo "error: Go is required to build Flux (https://go.dev/dl)" >&2; exit 1; }
echo "building Flux source-controller ${SOURCE_CONTROLLER_VERSION} and kustomize-controller ${KUSTOMIZE_CONTROLLER_VERSION} into $out (first time only; ~12 min on 2 cores)" >&2
mkdir -p "$cache_root"
# Build into a scratch dir beside the target and move it into place: no half-built cache entry.
tmp="$(mktemp -d "$cache_root/.flux-build.XXXXXX")"
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/out/bin" "$tmp/out/crds"
export CGO_ENABLED=0 GOFLAGS=-mod=mod

build() {  # build <name> <version>
  local name="$1" version="$2" module="github.com/fluxcd/$1" dir
  dir="$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -n "$dir" ] || { echo "error: go mod download $module@$version gave no directory" >&2; exit 1; }
  cp -r "$dir" "$tmp/$name" && chmod -R u+w "$tmp/$name"
  (
    cd "$tmp/$name"
    go mod edit -replace "$module/api=$module/api@$version"
    go build -trimpath -ldflags "-s -w" -o "$tmp/out/bin/$name" .
  ) >&2
  cp "$dir"/config/crd/bases/*.yaml "$tmp/out/crds/" && chmod u+w "$tmp"/out/crds/*.yaml
}

start=$SECONDS
build source-controller "$SOURCE_CONTROLLER_VERSION"
echo "source-controller built after $((SECONDS - start))s" >&2
build kustomize-controller "$KUSTOMIZE_CONTROLLER_VERSION"
echo "kustomize-controller built after $((SECONDS - start))s" >&2
rm -rf "$out"
mv "$tmp/out" "$out"
echo "$out"
