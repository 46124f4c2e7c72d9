#!/usr/bin/env bash
# Builds the operator image from this repository's Dockerfile, and the pod-sandbox ("pause")
# image, with no Docker engine and no registry; saves both as OCI archives for containerd
# (`ctr -n k8s.io images import ARCHIVE`).
#
#   hack/image/build.sh [--tag REF]      (default REF: localhost/atlassian-operator:dev,
#                                         or $ATLASSIAN_OPERATOR_IMAGE)
#
# 1. base: `debootstrap --variant=minbase bookworm` from the mirror apt uses, plus python3 and
#    python3-venv and the suite's security updates, imported with `podman import`;
# 2. wheels: the dependencies in pyproject.toml, built by the host's Python 3.11 (`pip wheel`),
#    mounted into the build at /wheels and installed with --no-index (no network in the build);
# 3. the image: `podman build --build-arg BASE_IMAGE=<base>` of the unchanged Dockerfile;
# 4. pause: Kubernetes' own build/pause/linux/pause.c (k8s.io/kubernetes@$KUBE_VERSION from
#    hack/controlplane/versions.env) compiled statically, alone in an image tagged
#    registry.k8s.io/pause:<TAG of that version's build/pause/Makefile>.
# Everything is cached in ${ATLASSIAN_OPERATOR_CACHE:-~/.cache/atlassian-operator}/image/,
# including podman's storage (hack/image/podman.sh reaches it); a step is redone only when its
# inputs change, so a run with nothing changed takes seconds. Needs root (debootstrap).
# Progress goes to stderr; the last lines on stdout are image=, archive=, pause_image=,
# pause_archive=.
set -euo pipefail
start=$SECONDS
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache="${ATLASSIAN_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/atlassian-operator}/image"
tag="${ATLASSIAN_OPERATOR_IMAGE:-localhost/atlassian-operator:dev}"
suite=bookworm
suite_python=3.11 # bookworm's python3: the wheels must be built for it
base_packages=(python3 python3-venv)
# Bump when the way the base or the wheels are made changes, so that cached ones are remade.
base_recipe=1
wheels_recipe=1

log() { echo "build.sh [$((SECONDS - start))s]: $*" >&2; }
die() {
  echo "error: $*" >&2
  exit 1
}
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --tag) [ $# -ge 2 ] || die "--tag needs an image reference, e.g. --tag localhost/atlassian-operator:dev"
      tag=$2
      shift 2 ;;
    --tag=*) tag=${1#--tag=}
      shift ;;
    -h | --help)
      usage
      exit 0 ;;
    *)
      echo "error: unknown argument '$1'" >&2
      usage >&2
      exit 2 ;;
  esac
done
case ${tag##*/} in
  ?*:?*) ;;
  *) die "--tag '$tag' has no tag part: use NAME:TAG, e.g. localhost/atlassian-operator:dev" ;;
esac

[ "$(id -u)" -eq 0 ] || die "hack/image/build.sh must run as root (debootstrap and podman's storage need it): sudo $0"
# podman, buildah, debootstrap, runc, ...: installs them the first time, else does nothing.
"$repo/hack/node/packages.sh" || die "hack/node/packages.sh could not install the Debian packages (above)"
need() { command -v "$1" >/dev/null || die "$1 is not installed; $2"; }
need podman "run hack/node/packages.sh (it installs podman, buildah, debootstrap, runc, ...)"
need runc "run hack/node/packages.sh"
need debootstrap "run hack/node/packages.sh"
need gcc "install gcc and libc6-dev (apt-get install gcc libc6-dev): pause.c is compiled statically"
need strip "install binutils (apt-get install binutils)"
need go "install Go: it fetches Kubernetes' pause.c (the module k8s.io/kubernetes)"
need flock "install util-linux"
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || [ -n "$(find /usr/lib -name libc.a -print -quit 2>/dev/null)" ] ||
  die "libc.a not found: install libc6-dev (apt-get install libc6-dev) to link pause statically"
wheel_python="${WHEEL_PYTHON:-python$suite_python}"
need "$wheel_python" "the wheels are built by the host's Python $suite_python ($suite's python3); set WHEEL_PYTHON=/path/to/python$suite_python"
have_python=$("$wheel_python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$have_python" = "$suite_python" ] ||
  die "$wheel_python is Python $have_python; $suite's python3 is $suite_python: set WHEEL_PYTHON to a Python $suite_python"
"$wheel_python" -m pip --version >/dev/null 2>&1 ||
  die "$wheel_python has no pip: install it (python$suite_python -m ensurepip) or set WHEEL_PYTHON"

podman=("$here/podman.sh")
mkdir -p "$cache/base" "$cache/wheels"
exec 9>"$cache/.lock"
if ! flock -n 9; then
  log "waiting for another hack/image/build.sh to finish (lock: $cache/.lock)"
  flock 9
fi
remove_tmp() {
  # Never recurse into something mounted inside a half-made root file system.
  awk -v dir="$1/" 'index($2, dir) == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r m; do umount -l "$m" || true; done
  rm -rf --one-file-system "$1"
}
# Left by a run that was killed: this one holds the lock, so nothing else uses them.
for stale in "$cache"/.tmp.*; do [ ! -e "$stale" ] || remove_tmp "$stale"; done
tmp=$(mktemp -d "$cache/.tmp.XXXXXX")
trap 'remove_tmp "$tmp"' EXIT
short_hash() { sha256sum | cut -c1-16; }
image_id() { "${podman[@]}" image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }

# --- 1. The base: Debian minbase + Python, from the Debian mirror apt uses -------------------
apt_uri() { # the URI of the mirror apt uses for "<suite>/main" (apt-cache policy)
  apt-cache policy 2>/dev/null | awk -v want="$1" '$3 == want { print $2; exit }'
}
arch=$(dpkg --print-architecture)
base_key=$(printf '%s\n' "$base_recipe" "$suite" minbase "$arch" "${base_packages[*]}" | short_hash)
base_tar="$cache/base/$suite-$base_key.tar"
base_ref="localhost/atlassian-operator-base:$suite-$base_key"
if [ ! -f "$base_tar" ]; then
  mirror="${DEBIAN_MIRROR:-$(apt_uri "$suite/main")}"
  security="${DEBIAN_SECURITY_MIRROR:-$(apt_uri "$suite-security/main")}"
  [ -n "$mirror" ] || die "apt has no source for $suite/main (apt-cache policy): set DEBIAN_MIRROR to the URI of a Debian mirror (the one you would put in sources.list)"
  log "debootstrap --variant=minbase $suite from $mirror (first time only; about a minute)"
  rootfs="$tmp/rootfs"
  include=$(
    IFS=,
    echo "${base_packages[*]}"
  )
  if ! debootstrap --variant=minbase --include="$include" "$suite" "$rootfs" "$mirror" >&2; then
    tail -n 20 "$rootfs/debootstrap/debootstrap.log" >&2 2>/dev/null || true
    die "debootstrap $suite from $mirror failed (log above); is the mirror reachable? Set DEBIAN_MIRROR to another one"
  fi
  {
    echo "deb $mirror $suite main"
    echo "deb $mirror $suite-updates main"
    [ -z "$security" ] || echo "deb $security $suite-security main"
  } >"$rootfs/etc/apt/sources.list"
  [ -n "$security" ] || log "warning: apt has no $suite-security source (set DEBIAN_SECURITY_MIRROR): the base gets no security updates"
  log "applying $suite's updates and security updates in the base"
  chroot "$rootfs" apt-get -qq update >&2 || die "apt-get update in the new $suite root failed (see above)"
  DEBIAN_FRONTEND=noninteractive chroot "$rootfs" apt-get -qq -y --no-install-recommends upgrade >&2 ||
    die "apt-get upgrade in the new $suite root failed (see above)"
  # Small where it is cheap: no package lists or caches, no docs but the copyrights, no logs,
  # and nothing of this host (its resolv.conf, hostname).
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old \
    "$rootfs"/var/lib/dpkg/*-old "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
    "$rootfs"/usr/share/lintian "$rootfs"/usr/share/locale/*
  find "$rootfs"/usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
  find "$rootfs"/usr/share/doc -mindepth 1 -type d -empty -delete
  find "$rootfs"/var/log -type f -delete
  : >"$rootfs/etc/resolv.conf"
  echo localhost >"$rootfs/etc/hostname"
  rm -f "$rootfs/etc/machine-id" && : >"$rootfs/etc/machine-id"
  tar --numeric-owner -C "$rootfs" --exclude=./dev/* -cf "$tmp/base.tar" .
  mv "$tmp/base.tar" "$base_tar"
  rm -rf --one-file-system "$rootfs"
  # Only the base of the current recipe is kept.
  find "$cache/base" -maxdepth 1 -name '*.tar' ! -name "${base_tar##*/}" -delete
fi
if [ -z "$(image_id "$base_ref")" ]; then
  log "podman import $base_tar as $base_ref"
  "${podman[@]}" import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["bash"]' "$base_tar" "$base_ref" >/dev/null
  "${podman[@]}" images --format '{{.Repository}}:{{.Tag}}' localhost/atlassian-operator-base |
    { grep -vxF "$base_ref" || true; } | xargs -r "${podman[@]}" rmi --force >/dev/null
fi

# --- 2. The wheels: pyproject.toml's requirements, for the base's Python ----------------------
requirements=$("$wheel_python" - "$repo/pyproject.toml" <<'EOF'
import sys
import tomllib

with open(sys.argv[1], "rb") as f:
    project = tomllib.load(f)
# The build requirements too: the image builds the project itself from its sources.
for requirement in project["build-system"]["requires"] + project["project"]["dependencies"]:
    print(requirement)
EOF
)
platform=$("$wheel_python" -c 'import sysconfig; print(sysconfig.get_platform())')
wheels_key=$(printf '%s\n' "$wheels_recipe" "$suite_python" "$platform" "$requirements" | short_hash)
wheels="$cache/wheels/$wheels_key"
if [ ! -d "$wheels" ]; then
  log "pip wheel: the dependencies for Python $suite_python into $wheels"
  printf '%s\n' "$requirements" >"$tmp/requirements.txt"
  "$wheel_python" -m pip wheel --quiet --wheel-dir "$tmp/wheels" -r "$tmp/requirements.txt" >&2 ||
    die "pip wheel failed (above): the wheels are built on this host from PyPI (or its pip configuration's index)"
  mv "$tmp/wheels" "$wheels"
  # Only the wheels of the current pyproject.toml are kept.
  find "$cache/wheels" -mindepth 1 -maxdepth 1 -type d ! -name "$wheels_key" -exec rm -rf {} +
fi

# --- 3. The operator image: the Dockerfile, unchanged, on that base ---------------------------
name=${tag##*/}
archive="$cache/${name//:/-}.oci.tar"
inputs=$(
  cd "$repo"
  {
    printf '%s\n' Dockerfile .dockerignore pyproject.toml README.md
    find operator -type f ! -path '*/__pycache__/*' ! -path '*.egg-info/*' ! -name '*.py[co]'
  } | LC_ALL=C sort | xargs -d '\n' sha256sum
  printf '%s\n' "$tag" "$base_ref" "$wheels_key"
)
inputs=$(printf '%s\n' "$inputs" | short_hash)
if [ -f "$archive" ] && [ "$(cat "$archive.stamp" 2>/dev/null)" = "$inputs $(image_id "$tag")" ]; then
  log "$tag is up to date ($archive)"
else
  log "podman build $tag (base $base_ref, wheels from $wheels)"
  "${podman[@]}" build --pull=never --network=none \
    --build-arg BASE_IMAGE="$base_ref" \
    --build-arg PIP_INSTALL_OPTIONS="--no-index --find-links=/wheels" \
    --volume "$wheels:/wheels:ro" \
    --iidfile "$tmp/iid" --tag "$tag" --file "$repo/Dockerfile" "$repo" >&2 ||
    die "podman build of $repo/Dockerfile failed (above)"
  "${podman[@]}" save --quiet --format oci-archive --output "$tmp/archive" "$tag" >&2
  mv "$tmp/archive" "$archive"
  iid=$(cat "$tmp/iid")
  echo "$inputs ${iid#sha256:}" >"$archive.stamp"
  # Earlier builds' images and the build stage's layers: not needed any more.
  "${podman[@]}" image prune --force >/dev/null
fi
size=$("${podman[@]}" image inspect --format '{{.Size}}' "$tag")
log "$tag: $((size / 1000000)) MB in podman's storage, $(($(stat -c %s "$archive") / 1000000)) MB as $archive"

# --- 4. The pod-sandbox (pause) image, from Kubernetes' own source ----------------------------
kube_version=$(sed -n 's/^KUBE_VERSION=//p' "$repo/hack/controlplane/versions.env")
[ -n "$kube_version" ] || die "no KUBE_VERSION=... in $repo/hack/controlplane/versions.env"
pause_src="$(go env GOMODCACHE)/k8s.io/kubernetes@$kube_version/build/pause"
if [ ! -f "$pause_src/linux/pause.c" ]; then
  log "go mod download k8s.io/kubernetes@$kube_version (for build/pause/linux/pause.c)"
  (cd "$tmp" && GOFLAGS=-mod=mod go mod download "k8s.io/kubernetes@$kube_version") >&2 ||
    die "go mod download k8s.io/kubernetes@$kube_version failed (above): check GOPROXY"
  [ -f "$pause_src/linux/pause.c" ] || die "k8s.io/kubernetes@$kube_version has no build/pause/linux/pause.c"
fi
pause_version=$(sed -n 's/^TAG ?= *//p' "$pause_src/Makefile")
[ -n "$pause_version" ] || die "no 'TAG ?= ...' in $pause_src/Makefile"
pause_ref="registry.k8s.io/pause:$pause_version"
pause_archive="$cache/pause-$pause_version.oci.tar"
# As build/pause/Makefile compiles it (CFLAGS there), then strips it.
cflags=(-Os -Wall -Werror -static "-DVERSION=v$pause_version-$kube_version")
pause_inputs=$(
  cat "$pause_src/linux/pause.c" "$here/pause.Containerfile" | sha256sum # contents, not paths
  printf '%s\n' "${cflags[*]}" "$pause_ref"
  gcc --version | head -n 1
)
pause_inputs=$(printf '%s\n' "$pause_inputs" | short_hash)
if [ -f "$pause_archive" ] &&
  [ "$(cat "$pause_archive.stamp" 2>/dev/null)" = "$pause_inputs $(image_id "$pause_ref")" ]; then
  log "$pause_ref is up to date ($pause_archive)"
else
  log "gcc ${cflags[*]} pause.c (k8s.io/kubernetes@$kube_version); podman build $pause_ref"
  mkdir "$tmp/pause"
  gcc "${cflags[@]}" -o "$tmp/pause/pause" "$pause_src/linux/pause.c" >&2 || die "gcc could not compile $pause_src/linux/pause.c (above)"
  strip "$tmp/pause/pause"
  "${podman[@]}" build --pull=never --network=none --iidfile "$tmp/pause.iid" --tag "$pause_ref" \
    --file "$here/pause.Containerfile" "$tmp/pause" >&2 || die "podman build of $pause_ref failed (above)"
  "${podman[@]}" save --quiet --format oci-archive --output "$tmp/pause.tar" "$pause_ref" >&2
  mv "$tmp/pause.tar" "$pause_archive"
  iid=$(cat "$tmp/pause.iid")
  echo "$pause_inputs ${iid#sha256:}" >"$pause_archive.stamp"
  "${podman[@]}" image prune --force >/dev/null
fi

log "done in $((SECONDS - start)) s; podman's storage: hack/image/podman.sh images"
echo "image=$tag"
echo "archive=$archive"
echo "pause_image=$pause_ref"
echo "pause_archive=$pause_archive"
