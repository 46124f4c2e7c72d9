#!/usr/bin/env bash
# Install the Debian packages a real local node and the image build need (see
# /work/shared/NODE.md): containerd + runc run the Pods, the CNI plugins give them a bridge
# network, iptables + conntrack serve kube-proxy, and podman/buildah/debootstrap build the
# operator image from Debian packages without a registry. Does nothing when all are there.
# apt-get's progress goes to stderr.
set -euo pipefail
need=(containerd runc containernetworking-plugins iptables conntrack podman buildah
  debootstrap conmon netavark uidmap fuse-overlayfs)
have() {
  dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'
}
missing=()
for p in "${need[@]}"; do have "$p" || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
command -v apt-get >/dev/null || {
  echo "error: Debian packages missing (${missing[*]}) and there is no apt-get to install them" >&2
  exit 1
}
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "error: installing ${missing[*]} needs root: run 'sudo $0' once" >&2; exit 1; }
  sudo=(sudo)
fi
echo "installing Debian packages ${missing[*]} (first time only; ~1 min)" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >&2
# The packages' own services (containerd.service) are not started: the node runs its own
# containerd with its own socket and state, and there is no systemd here anyway.
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
