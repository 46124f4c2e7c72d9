#!/usr/bin/env bash
# Publish the operator's install manifests (crds/ and manifests/, the kustomize base and what it
# includes) as an OCI artifact in the format Flux's OCIRepository reads, with what
# `flux push artifact` would write: one tar+gzip layer of media type
# application/vnd.cncf.flux.content.v1.tar+gzip, the config media type
# application/vnd.cncf.flux.config.v1+json, and the source and revision annotations Flux shows.
# Flux then installs the operator with two Kustomizations of that artifact, ./crds and
# ./manifests (examples/gitops/clusters/production/atlassian-operator.yaml).
#
# Usage: hack/gitops/publish-manifests.sh [--plain-http] REGISTRY/REPOSITORY:TAG
#   --plain-http   the registry speaks HTTP (a registry on loopback in tests)
# The tarball is reproducible (sorted, owner 0, mtime 0, gzip without a name or time), so the
# same commit publishes the same digest. Prints the pushed reference with its digest.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
plain=()
if [ "${1:-}" = "--plain-http" ]; then plain=(--plain-http); shift; fi
ref="${1:-}"
case "$ref" in
  oci://*) ref="${ref#oci://}" ;;
esac
if [ -z "$ref" ] || [ $# -ne 1 ] || [[ "$ref" != *:* ]]; then
  echo "usage: $0 [--plain-http] REGISTRY/REPOSITORY:TAG  (e.g. ghcr.io/atlassian-operator/manifests:0.1.0)" >&2
  exit 2
fi
oras="$("$root/hack/tools/oras.sh")"
commit="$(git -C "$root" rev-parse HEAD)"
created="$(git -C "$root" log -1 --format=%cI)"  # the commit's time, not now: reproducible
source_url="${SOURCE_URL:-https://github.com/atlassian-operator/atlassian-operator}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tar -C "$root" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - crds manifests \
  | gzip -n -9 > "$work/manifests.tar.gz"
echo '{}' > "$work/config.json"
cd "$work"
"$oras" push "${plain[@]}" --no-tty --format go-template='{{.reference}}' \
  --config config.json:application/vnd.cncf.flux.config.v1+json \
  --annotation "org.opencontainers.image.source=$source_url" \
  --annotation "org.opencontainers.image.revision=sha1:$commit" \
  --annotation "org.opencontainers.image.created=$created" \
  "$ref" manifests.tar.gz:application/vnd.cncf.flux.content.v1.tar+gzip
echo
