#!/usr/bin/env bash
# Build kube-apiserver and etcd into a cache outside the repository, keyed by version.
# Does nothing when the binaries are already there. Prints the bin directory on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/versions.env"
cache_root="${ATLASSIAN_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/atlassian-operator}"
bin="$cache_root/controlplane/kube-${KUBE_VERSION}-etcd-${ETCD_VERSION}/bin"

if [ -x "$bin/kube-apiserver" ] && [ -x "$bin/etcd" ]; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "error: Go is required to build the control plane (https://go.dev/dl)" >&2; exit 1; }
mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS=-mod=mod

if [ ! -x "$bin/etcd" ]; then
  echo "building etcd ${ETCD_VERSION} into $bin (first time only)" >&2
  (cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3) >&2
  mv "$bin/etcd.tmp" "$bin/etcd"
fi

if [ ! -x "$bin/kube-apiserver" ]; then
  echo "building kube-apiserver ${KUBE_VERSION} into $bin (first time only; ~15-30 min on 2 cores)" >&2
  minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${KUBE_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor}"
  (cd "$here/kube" && go build -trimpath -tags selinux,notest -ldflags "$ldflags" -o "$bin/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver) >&2
  mv "$bin/kube-apiserver.tmp" "$bin/kube-apiserver"
fi
echo "$bin"
