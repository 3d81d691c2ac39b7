#!/usr/bin/env bash
# Starts the image against the sandbox's emulators and checks it the way an
# operator's runtime would: read-only root filesystem, user 10001, the
# sandbox config mounted as /etc/stagegate/stagegate.toml, /data a volume;
# its HEALTHCHECK (`stagegate healthcheck`) must report healthy, and /readyz
# and /metrics answer 200 from the host. The emulators run on the host
# (`stagegate-lab sandbox --emulators-only`), the container on the host's
# network, so the sandbox config's loopback addresses hold.
# `podman healthcheck run` runs the image's HEALTHCHECK on demand.
#   deploy/image/check.sh [--lab PATH] [--tag NAME]
# PODMAN_FLAGS as for build.sh; PODMAN_RUN_FLAGS is added to `podman run`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
lab="$repo/target/release/stagegate-lab"
tag="localhost/stagegate:latest"
while [ $# -gt 0 ]; do
  case "$1" in
    --lab) lab="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    *) echo "usage: $0 [--lab PATH] [--tag NAME]" >&2; exit 2 ;;
  esac
done
# shellcheck disable=SC2206
podman=(podman ${PODMAN_FLAGS:-})
work="$(mktemp -d)"
name="stagegate-check-$$"
cleanup() {
  "${podman[@]}" rm -f "$name" >/dev/null 2>&1 || true
  [ -z "${emulators:-}" ] || kill "$emulators" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Can this machine start a container at all? Where the runtime itself
# refuses (no user namespaces, cgroups it cannot use), say so: the image was
# built and is not started. Anything else failing is the image's fault.
if ! probe="$("${podman[@]}" run --rm --network none ${PODMAN_RUN_FLAGS:-} "$tag" --version 2>&1)"; then
  if grep -qiE 'OCI runtime|crun:|runc:|cgroup|namespace' <<<"$probe"; then
    echo "image $tag: built; this machine cannot start containers, so it was not started: $probe"
    exit 0
  fi
  echo "the image does not run: $probe" >&2
  exit 1
fi

"$lab" sandbox --emulators-only --config "$repo/sandbox/stagegate.sandbox.toml" \
  >"$work/emulators.log" 2>&1 &
emulators=$!
mkdir "$work/data"
# The sandbox config's secrets are marked not-for-production, so the bot only
# accepts them on loopback: bind there (the host's network namespace).
# shellcheck disable=SC2086
"${podman[@]}" run --detach --name "$name" --network host --read-only \
  --tmpfs /tmp --volume "$work/data:/data:U" \
  --volume "$repo/sandbox/stagegate.sandbox.toml:/etc/stagegate/stagegate.toml:ro" \
  --env STAGEGATE_SERVER__BIND=127.0.0.1:3978 ${PODMAN_RUN_FLAGS:-} "$tag" \
  >/dev/null 2>"$work/podman-run.log" || { cat "$work/podman-run.log" >&2; exit 1; }

healthy=""
for _ in $(seq 1 60); do
  if "${podman[@]}" healthcheck run "$name" >/dev/null 2>&1; then healthy=yes; break; fi
  if [ "$("${podman[@]}" inspect --format '{{.State.Running}}' "$name")" != true ]; then break; fi
  sleep 1
done
if [ -z "$healthy" ]; then
  echo "the container never became healthy; its log:" >&2
  "${podman[@]}" logs "$name" >&2 || true
  echo "emulators' log:" >&2
  cat "$work/emulators.log" >&2
  exit 1
fi
"$lab" healthcheck --url http://127.0.0.1:3978/readyz >/dev/null
"$lab" healthcheck --url http://127.0.0.1:9464/metrics >/dev/null
user="$("${podman[@]}" inspect --format '{{.Config.User}}' "$name")"
readonly_root="$("${podman[@]}" inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$name")"
size="$("${podman[@]}" image inspect --format '{{.Size}}' "$tag")"
[ "$user" = "10001:10001" ] || { echo "runs as $user, not 10001:10001" >&2; exit 1; }
[ "$readonly_root" = true ] || { echo "root filesystem is not read-only" >&2; exit 1; }
[ -s "$work/data/stagegate.db" ] || { echo "no database in the /data volume" >&2; exit 1; }
echo "image $tag: healthy, metrics on :9464, user $user, read-only root, database in /data, $((size / 1000000)) MB"
