#!/usr/bin/env bash
# Regenerate the wrapper modules' go.mod/go.sum from versions.env.
# The staging replace list is derived from the exact upstream go.mod of KUBE_VERSION,
# never typed by hand. Run after changing versions.env; commit the result.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/versions.env"
minor_patch="${KUBE_VERSION#v1.}"            # 34.4
staging_version="v0.${minor_patch}"          # v0.34.4

upstream_gomod="$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
modules="$(sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/.*#\1#p' "$upstream_gomod")"
[ -n "$modules" ] || { echo "no staging modules found in $upstream_gomod" >&2; exit 1; }

cd "$here/kube"
rm -f go.mod go.sum
go mod init atlassian-operator.dev/hack/controlplane/kube >/dev/null 2>&1
for m in $modules; do
  go mod edit -replace "${m}=${m}@${staging_version}"
done
for cmd in kube-apiserver kubelet kube-controller-manager kube-scheduler kube-proxy; do
  go get -tool "k8s.io/kubernetes/cmd/${cmd}@${KUBE_VERSION}"
done
go mod tidy

cd "$here/etcd"
rm -f go.mod go.sum
go mod init atlassian-operator.dev/hack/controlplane/etcd >/dev/null 2>&1
go get -tool "go.etcd.io/etcd/server/v3@${ETCD_VERSION}"
go mod tidy
echo "pinned kube-apiserver, kubelet, kube-controller-manager, kube-scheduler, kube-proxy ${KUBE_VERSION} (staging ${staging_version}, $(echo "$modules" | wc -l) modules) and etcd ${ETCD_VERSION}"
