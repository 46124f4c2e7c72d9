#!/usr/bin/env bash
# `podman` on the image build's own storage: hack/image/podman.sh images | run | save ...
# The images that hack/image/build.sh makes live here, in the cache outside the repository
# (${ATLASSIAN_OPERATOR_CACHE:-~/.cache/atlassian-operator}/image/storage), not in the host's
# default store; the engine settings this host needs are in hack/image/containers.conf.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache="${ATLASSIAN_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/atlassian-operator}/image"
command -v podman >/dev/null || {
  echo "error: podman is not installed: run hack/node/packages.sh (Debian: apt-get install podman)" >&2
  exit 1
}
export CONTAINERS_CONF="$here/containers.conf"
# Locks and container state belong on a tmpfs that a reboot clears; one directory per cache.
run_base="${XDG_RUNTIME_DIR:-}"
if [ -z "$run_base" ]; then
  if [ -w /run ]; then run_base=/run; else run_base="${TMPDIR:-/tmp}"; fi
fi
run="$run_base/atlassian-operator-image-$(printf '%s' "$cache" | sha256sum | cut -c1-12)"
mkdir -p "$cache/storage" "$run"
# Our own storage.conf, so that the host's (/etc/containers/storage.conf) is not read.
conf=$(printf '[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"' "$cache/storage" "$run/storage")
if [ "$(cat "$run/storage.conf" 2>/dev/null)" != "$conf" ]; then
  printf '%s\n' "$conf" >"$run/storage.conf.$$"
  mv "$run/storage.conf.$$" "$run/storage.conf"
fi
export CONTAINERS_STORAGE_CONF="$run/storage.conf"
exec podman --root "$cache/storage" --runroot "$run/storage" --tmpdir "$run/libpod" "$@"
