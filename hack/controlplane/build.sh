#!/usr/bin/env bash
# Build kube-apiserver and etcd into a cache outside the repository, keyed by version.
# `build.sh node` also builds what a real node needs (kubelet, kube-controller-manager,
# kube-scheduler, kube-proxy) from the same module pins; only tests/node and
# `make cluster-up NODE=1` ask for them. Does nothing when the binaries are already there.
# Prints the bin directory on stdout; progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/versions.env"
cache_root="${ATLASSIAN_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/atlassian-operator}"
bin="$cache_root/controlplane/kube-${KUBE_VERSION}-etcd-${ETCD_VERSION}/bin"

kube_cmds=(kube-apiserver)
[ "${1:-}" = node ] && kube_cmds+=(kubelet kube-controller-manager kube-scheduler kube-proxy)

missing=()
[ -x "$bin/etcd" ] || missing+=(etcd)
for cmd in "${kube_cmds[@]}"; do [ -x "$bin/$cmd" ] || missing+=("$cmd"); done
if [ ${#missing[@]} -eq 0 ]; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "error: Go is required to build the control plane (https://go.dev/dl)" >&2; exit 1; }
mkdir -p "$bin"
export GOFLAGS=-mod=mod

if [ ! -x "$bin/etcd" ]; then
  echo "building etcd ${ETCD_VERSION} into $bin (first time only)" >&2
  (cd "$here/etcd" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3) >&2
  mv "$bin/etcd.tmp" "$bin/etcd"
fi

minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${KUBE_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor}"
for cmd in "${kube_cmds[@]}"; do
  [ -x "$bin/$cmd" ] && continue
  case "$cmd" in
    kube-apiserver) hint="~15-30 min on 2 cores" ;;
    *) hint="~2-8 min on 2 cores once kube-apiserver is built" ;;
  esac
  echo "building $cmd ${KUBE_VERSION} into $bin (first time only; $hint)" >&2
  # Upstream builds the kubelet with cgo (it is not in hack/lib/golang.sh's static list);
  # the others are static.
  cgo=0; [ "$cmd" = kubelet ] && cgo=1
  (cd "$here/kube" && CGO_ENABLED=$cgo go build -trimpath -tags selinux,notest -ldflags "$ldflags" -o "$bin/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd") >&2
  mv "$bin/$cmd.tmp" "$bin/$cmd"
done
echo "$bin"
