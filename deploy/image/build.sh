#!/usr/bin/env bash
# Builds the stagegate container image offline, with podman (or buildah) from
# Debian's packages: the production binary (`cargo build --release -p
# stagegate`, or --binary), the shared libraries `ldd` names, /etc/passwd for
# the unprivileged user 10001, on `scratch`.
#   deploy/image/build.sh [--binary PATH] [--tag NAME]
# PODMAN_FLAGS is passed to podman (e.g. "--storage-driver vfs" where the
# overlay driver is not available, as in CI).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
binary=""
tag="localhost/stagegate:latest"
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--tag NAME]" >&2; exit 2 ;;
  esac
done
if [ -z "$binary" ]; then
  (cd "$repo" && cargo build --release --locked -p stagegate)
  binary="$repo/target/release/stagegate"
fi
[ -x "$binary" ] || { echo "no stagegate binary at $binary" >&2; exit 1; }

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
rootfs="$context/rootfs"
install -D -m 0755 "$binary" "$rootfs/stagegate"
# glibc's loader, libc, libm, libgcc_s: what the binary links, at the paths
# it asks for them (the loader's path is compiled into the binary).
ldd "$binary" | grep -o '/[^ ]*' | sort -u | while read -r lib; do
  install -D -m 0755 "$(readlink -f "$lib")" "$rootfs$lib"
done
mkdir -p "$rootfs/etc" "$rootfs/etc/stagegate" "$rootfs/tmp" "$context/data"
echo 'stagegate:x:10001:10001:stagegate:/data:/nonexistent' >"$rootfs/etc/passwd"
echo 'stagegate:x:10001:' >"$rootfs/etc/group"
cp "$here/Containerfile" "$context/Containerfile"

if command -v podman >/dev/null 2>&1; then
  # shellcheck disable=SC2086
  podman ${PODMAN_FLAGS:-} build --format docker --tag "$tag" "$context"
elif command -v buildah >/dev/null 2>&1; then
  buildah bud --format docker --tag "$tag" "$context"
else
  echo "neither podman nor buildah is installed: apt-get install podman" >&2
  exit 1
fi
echo "built $tag from $binary"
