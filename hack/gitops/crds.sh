#!/usr/bin/env bash
# The CRDs of the GitOps tools the examples use, in one directory, for tests/gitops to generate
# kubeconform schemas from (hack/crd_schemas.py): Flux's source and kustomize CRDs (from
# hack/flux/build.sh), notification-controller's (its module at the pinned version; nothing is
# built) and Argo CD's Application (from the argo-cd module hack/argocd/go.mod pins). Copied
# into a cache outside the repository keyed by the versions; prints the directory on stdout.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$root/hack/flux/versions.env"
argocd_version="$(awk '$1 == "github.com/argoproj/argo-cd/v2" { print $2; exit }' "$root/hack/argocd/go.mod")"
cache_root="${ATLASSIAN_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/atlassian-operator}"
out="$cache_root/gitops-crds-sc-${SOURCE_CONTROLLER_VERSION}-kc-${KUSTOMIZE_CONTROLLER_VERSION}-nc-${NOTIFICATION_CONTROLLER_VERSION}-argocd-${argocd_version}"
if [ -f "$out/.complete" ]; then
  echo "$out"
  exit 0
fi
command -v go >/dev/null || { echo "error: Go is required to fetch the GitOps CRDs (https://go.dev/dl)" >&2; exit 1; }
module_dir() {  # module_dir <module@version>
  local dir
  dir="$(go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -n "$dir" ] || { echo "error: go mod download $1 gave no directory" >&2; exit 1; }
  echo "$dir"
}
flux="$("$root/hack/flux/build.sh")"
notification="$(module_dir "github.com/fluxcd/notification-controller@${NOTIFICATION_CONTROLLER_VERSION}")"
argocd="$(module_dir "github.com/argoproj/argo-cd/v2@${argocd_version}")"
mkdir -p "$cache_root"
tmp="$(mktemp -d "$cache_root/.gitops-crds.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
cp "$flux"/crds/*.yaml "$notification"/config/crd/bases/*.yaml "$argocd/manifests/crds/application-crd.yaml" "$tmp/"
chmod u+w "$tmp"/*.yaml
touch "$tmp/.complete"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "$out"
