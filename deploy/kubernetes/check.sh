#!/usr/bin/env bash
# Renders the base and every overlay with `kubectl kustomize` and validates
# each object against the Kubernetes schemas, strictly (an unknown field is
# an error), with kubernetes-validate from PyPI (installed into
# target/kubernetes-validate when missing).
#   deploy/kubernetes/check.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
command -v kubectl >/dev/null 2>&1 || {
  echo "kubectl not found: install it (Debian: apt-get install kubernetes-client)" >&2
  exit 1
}
validator="$(command -v kubernetes-validate || true)"
if [ -z "$validator" ]; then
  venv="$repo/target/kubernetes-validate"
  if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check kubernetes-validate==1.37.0
  fi
  validator="$venv/bin/kubernetes-validate"
fi
cd "$here"
rendered="$(mktemp -d)"
trap 'rm -rf "$rendered"' EXIT
for dir in base overlays/*; do
  out="$rendered/$(echo "$dir" | tr / -).yaml"
  kubectl kustomize "$dir" >"$out"
  "$validator" --strict --quiet "$out"
  kinds="$(grep '^kind:' "$out" | awk '{print $2}' | sort | tr '\n' ' ')"
  echo "$dir: valid ($kinds)"
done
