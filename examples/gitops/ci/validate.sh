#!/usr/bin/env bash
# Review a pull request's Atlassian accounts before it merges: every change that Flux would
# apply, checked twice, the way the API server will check it after the merge.
#
#   1. kubeconform, offline: each object against the JSON schema generated from the operator's
#      CRDs (schemas/ beside this script; hack/crd_schemas.py in the operator's repository).
#      Names the field and the allowed values: `desiredState: suspended` fails with
#      "at '/spec/desiredState': value must be one of 'Active', 'Suspended'".
#   2. `kubectl apply --dry-run=server --validate=strict` against a cluster with the CRDs (your
#      own, or a throwaway one in CI): the API server's own validation, admission policies
#      included (the admission guard's limits, if you installed it), nothing stored.
#
# Usage: validate.sh [--offline] PATH...      (directories are read recursively)
#   --offline                 step 1 only (no cluster)
# Environment:
#   KUBECONFORM               the kubeconform binary (default: kubeconform on PATH)
#   KUBECTL                   the kubectl binary (default: kubectl on PATH; KUBECONFIG as usual)
#   SCHEMAS                   the operator's schemas (default: schemas/ beside this script)
#   EXTRA_SCHEMA_LOCATIONS    more kubeconform -schema-location values, space-separated, tried
#                             after SCHEMAS (e.g. `default` for Kubernetes' own kinds, or a
#                             directory of schemas for Flux's kinds); none by default, so an
#                             object of any other kind fails as "could not find schema"
#   NAMESPACE                 the namespace of objects that name none, as Flux's targetNamespace
#                             gives them (default: atlassian-operator); it must exist
# Exit status: 0 when both steps pass, 1 when a check fails, 2 on a usage error.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
offline=false
if [ "${1:-}" = "--offline" ]; then offline=true; shift; fi
if [ $# -eq 0 ]; then
  echo "usage: $0 [--offline] PATH...  (the files or directories a pull request changes)" >&2
  exit 2
fi
for path in "$@"; do
  [ -e "$path" ] || { echo "error: $path does not exist" >&2; exit 2; }
done
kubeconform="${KUBECONFORM:-kubeconform}"
kubectl="${KUBECTL:-kubectl}"
schemas="${SCHEMAS:-$here/schemas}"
namespace="${NAMESPACE:-atlassian-operator}"
command -v "$kubeconform" >/dev/null || {
  echo "error: kubeconform not found (set KUBECONFORM, or install it: go install github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0)" >&2
  exit 2
}
[ -d "$schemas" ] || { echo "error: no schema directory $schemas (set SCHEMAS)" >&2; exit 2; }

locations=(-schema-location "$schemas/{{.ResourceKind}}-{{.Group}}-{{.ResourceAPIVersion}}.json")
for location in ${EXTRA_SCHEMA_LOCATIONS:-}; do locations+=(-schema-location "$location"); done

status=0
echo "== kubeconform: the objects against the CRDs' schemas"
"$kubeconform" -strict -summary -output text "${locations[@]}" "$@" || status=1

if ! $offline; then
  command -v "$kubectl" >/dev/null || { echo "error: kubectl not found (set KUBECTL)" >&2; exit 2; }
  echo "== kubectl apply --dry-run=server: the API server's validation, nothing stored"
  for path in "$@"; do
    "$kubectl" apply --dry-run=server --validate=strict --namespace "$namespace" \
      --recursive --filename "$path" || status=1
  done
fi
if [ $status -ne 0 ]; then
  echo "FAILED: fix the fields named above (kubectl explain atlassianaccount.spec lists them)" >&2
fi
exit $status
