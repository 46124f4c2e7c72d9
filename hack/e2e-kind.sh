#!/usr/bin/env bash
# The end-to-end suite (tests/e2e) against a throwaway kind cluster instead of the local control
# plane, for people who have Docker. Not run in CI here (no Docker engine on these machines).
#
#   hack/e2e-kind.sh [pytest args...]      # e.g. hack/e2e-kind.sh -k rbac
#
# KIND_CLUSTER_NAME (default atlassian-operator-e2e) and KIND_NODE_IMAGE (optional, e.g.
# kindest/node:v1.34.0) choose the cluster. The cluster is deleted at the end, pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "error: $*" >&2; exit 1; }
command -v docker >/dev/null || die "docker is required: kind runs Kubernetes nodes as containers"
docker info >/dev/null 2>&1 || die "the Docker engine is not reachable ('docker info' failed)"
command -v kind >/dev/null || die "kind is required on PATH: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
command -v kubectl >/dev/null || die "kubectl is required on PATH"
[[ -x .venv/bin/pytest ]] || die ".venv/bin/pytest not found: run 'make install' first"

cluster="${KIND_CLUSTER_NAME:-atlassian-operator-e2e}"
if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  die "a kind cluster named '$cluster' already exists; delete it or set KIND_CLUSTER_NAME"
fi
mkdir -p .dev
kubeconfig="$PWD/.dev/kind-$cluster.kubeconfig"

kind create cluster --name "$cluster" --kubeconfig "$kubeconfig" --wait 180s \
  ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"}
trap 'kind delete cluster --name "$cluster" --kubeconfig "$kubeconfig"; rm -f "$kubeconfig"' EXIT

KUBECONFIG_E2E="$kubeconfig" .venv/bin/pytest -q tests/e2e "$@"
