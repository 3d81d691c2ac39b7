#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) each, seeded from
# ../shared; prints each target's executions and whether it ran clean.
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). The stable
# toolchain is enough: RUSTC_BOOTSTRAP lets cargo-fuzz pass its -Z flags.
#   fuzz/run.sh [SECONDS] [TARGET…]
# FUZZ_JOBS=N runs N targets at once (default: one per core);
# FUZZ_ONLY_BUILD=1 builds the targets and stops.
# FUZZ_BUILD=--dev builds unoptimised (CI: minutes faster to build, fewer
# executions per second; debug assertions and overflow checks on).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
export RUSTC_BOOTSTRAP=1
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi
python3 seed.py "${SHARED_DIR:-../../shared}"
# No sanitizer and -O: a fast build, and panics (our bugs) still abort.
build="${FUZZ_BUILD:--O}"
cargo fuzz build --sanitizer none "$build"
[ -z "${FUZZ_ONLY_BUILD:-}" ] || exit 0
printf '%-20s %12s %10s %s\n' target executions seconds result
# FUZZ_JOBS targets at once (default: one per core); each is single-threaded.
jobs="${FUZZ_JOBS:-$(nproc)}"
logs="$(mktemp -d)"
run_one() {
  local t="$1"
  if cargo fuzz run --sanitizer none "$build" "$t" "corpus/$t" -- \
       -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 >"$logs/$t.log" 2>&1; then
    echo clean >"$logs/$t.result"
  else
    echo "CRASH (see fuzz/artifacts/$t)" >"$logs/$t.result"
  fi
}
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait
status=0
for t in "${targets[@]}"; do
  result="$(cat "$logs/$t.result")"
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$logs/$t.log" | grep -o '[0-9]*$' || echo '?')"
  printf '%-20s %12s %10s %s\n' "$t" "$execs" "$seconds" "$result"
  [ "$result" = clean ] || { tail -40 "$logs/$t.log"; status=1; }
done
rm -rf "$logs"
exit $status
