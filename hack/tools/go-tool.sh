# Sourced by promtool.sh, helm.sh and actionlint.sh: a Go tool built once from the module proxy
# into a cache outside the repository, keyed by version.
#   go_tool_cached NAME VERSION        prints the binary's path and exits if it is already built
#   go_tool_install NAME VERSION PKG LDFLAGS HINT
#                                      builds PKG@VERSION (progress to stderr), prints the path
# Installs into a scratch dir and moves into place, so an interrupted build leaves no half binary.
cache_root="${ATLASSIAN_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/atlassian-operator}"

go_tool_cached() {
  local bin="$cache_root/tools/$1-$2/bin"
  if [ -x "$bin/$1" ]; then
    echo "$bin/$1"
    exit 0
  fi
  command -v go >/dev/null || { echo "error: Go is required to build $1 (https://go.dev/dl)" >&2; exit 1; }
}

go_tool_install() {
  local name="$1" version="$2" pkg="$3" ldflags="$4" hint="$5"
  local bin="$cache_root/tools/$name-$version/bin"
  echo "building $name $version into $bin (first time only; $hint)" >&2
  mkdir -p "$bin"
  tmp="$(mktemp -d "$bin/.build.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  CGO_ENABLED=0 GOBIN="$tmp" go install -trimpath -ldflags "$ldflags" "$pkg@$version" >&2
  mv "$tmp/$name" "$bin/$name"
  echo "$bin/$name"
}
