#!/usr/bin/env bash
# Runs every coverage-guided fuzz target (fuzz/fuzz_targets, libFuzzer via
# cargo-fuzz on the stable toolchain) for a bounded time each, starting
# from the committed corpus (fuzz/corpus/TARGET, never written here; new
# inputs go to a temporary directory). ARCA_FUZZ_SECS sets the time per
# target (default 10; e.g. 600 for a long run). A crash leaves its input
# under fuzz/artifacts/ and fails the run.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi
secs="${ARCA_FUZZ_SECS:-10}"
# cargo-fuzz passes flags only nightly accepts; the stable toolchain takes
# them this way. No sanitizer: the code is safe Rust, and what is looked for
# is a panic (a failed property) or a hang.
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${ARCA_FUZZ_TARGET_DIR:-$HOME/.cache/arca-fuzz-target}"
cargo fuzz build --sanitizer none -O
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in $(cargo fuzz list); do
  mkdir -p "$scratch/$target"
  echo "== fuzzing $target for ${secs}s"
  rc=0
  cargo fuzz run --sanitizer none -O "$target" "$scratch/$target" "corpus/$target" -- \
    -max_total_time="$secs" -timeout=10 -print_final_stats=1 >"$scratch/$target.log" 2>&1 || rc=$?
  grep -E '^stat::(number_of_executed_units|new_units_added)' "$scratch/$target.log" || true
  if [ "$rc" -ne 0 ]; then
    tail -n 60 "$scratch/$target.log"
    echo "== fuzz target $target failed (its input is under fuzz/artifacts/$target/)"
    exit "$rc"
  fi
done
