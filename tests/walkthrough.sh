#!/usr/bin/env bash
# The README's grpcurl walk-through, run against a live server: reflection,
# health, namespace creation, a write, a read, a download and a destroy.
# Usage: walkthrough.sh GRPCURL ARCA_SERVER
set -euo pipefail
grpcurl="$1"
server="$2"
work="$(mktemp -d)"
log="$work/server.log"
"$server" --listen 127.0.0.1:0 --data-dir "$work/data" --log-format json >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT

addr=""
for _ in $(seq 1 200); do
  addr="$(python3 -c 'import json,sys
for line in open(sys.argv[1]):
    try: e = json.loads(line)
    except ValueError: continue
    if e.get("fields", {}).get("message") == "arca listening": print(e["fields"]["address"]); break' "$log")"
  [ -n "$addr" ] && break
  sleep 0.05
done
[ -n "$addr" ] || { echo "server did not start"; cat "$log"; exit 1; }

# No keys configured: the server made an admin key in the data directory.
key_file="$work/data/admin.key"
[ "$(stat -c %a "$key_file")" = "600" ] || { echo "FAILED: $key_file is not 0600"; exit 1; }
auth=(-H "authorization: Bearer $(cat "$key_file")")

check() { # check NAME EXPECTED-SUBSTRING OUTPUT
  if grep -q -- "$2" <<<"$3"; then echo "ok: $1"; else echo "FAILED: $1: expected $2 in:"; echo "$3"; exit 1; fi
}

out="$("$grpcurl" -plaintext "$addr" list)"
check "reflection lists FileService" "arca.v1.FileService" "$out"
out="$("$grpcurl" -plaintext -d '{"service":"arca.v1.FileService"}' "$addr" grpc.health.v1.Health/Check)"
check "health SERVING" "SERVING" "$out"

out="$("$grpcurl" -plaintext -d '{}' "$addr" arca.v1.NamespaceService/ListNamespaces 2>&1 || true)"
check "no credential: Unauthenticated" "Unauthenticated" "$out"

out="$("$grpcurl" -plaintext "${auth[@]}" -d '{"type":"NAMESPACE_TYPE_WORKSPACE","scope":"SCOPE_USER","owner":{"sandbox":"demo","user":"alice"},"name":"notes"}' \
  "$addr" arca.v1.NamespaceService/CreateNamespace)"
check "create namespace" "grid/demo/user-alice/" "$out"
ns="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["namespaceId"])' <<<"$out")"

data="$(printf 'hello arca' | base64)"
out="$("$grpcurl" -plaintext "${auth[@]}" -d "{\"namespace_id\":\"$ns\",\"path\":\"docs/hello.txt\",\"data\":\"$data\",\"mime_type\":\"text/plain\"}" \
  "$addr" arca.v1.FileService/WriteFile)"
check "write file" "42f459086e967962f100f3de1f2f5898b860194164026621acc7d915d77b14c0" "$out"

out="$("$grpcurl" -plaintext "${auth[@]}" -d "{\"namespace_id\":\"$ns\",\"path\":\"docs/hello.txt\"}" "$addr" arca.v1.FileService/ReadFile)"
check "read file" "$data" "$out"

out="$("$grpcurl" -plaintext "${auth[@]}" -d "{\"namespace_id\":\"$ns\",\"path\":\"\",\"recursive\":true}" "$addr" arca.v1.FileService/List)"
check "list" "docs/hello.txt" "$out"

out="$("$grpcurl" -plaintext "${auth[@]}" -d "{\"namespace_id\":\"$ns\",\"path\":\"docs/hello.txt\",\"offset\":6}" "$addr" arca.v1.FileService/Download)"
check "ranged download" "$(printf 'arca' | base64)" "$out"
check "download trailer" "trailer" "$out"

out="$("$grpcurl" -plaintext "${auth[@]}" -d "{\"namespace_id\":\"$ns\",\"path\":\"docs/hello.txt\",\"expires_in_secs\":900}" "$addr" arca.v1.PresignService/PresignDownload)"
check "presign download" "/presigned/v1/objects/" "$out"
url="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])' <<<"$out")"
out="$(curl -sS -H 'Range: bytes=6-' "$url")"
check "presigned URL with curl, ranged" "arca" "$out"
out="$(curl -sS -o /dev/null -w '%{http_code}' -X PUT --data-binary x "$url")"
check "presigned URL refuses another method" "403" "$out"

out="$("$grpcurl" -plaintext "${auth[@]}" -d '{}' "$addr" arca.v1.AdminService/GetStats)"
check "admin stats" '"files": "1"' "$out"

out="$("$grpcurl" -plaintext "${auth[@]}" -d "{\"namespace_id\":\"$ns\",\"path\":\"../escape\",\"data\":\"$data\"}" "$addr" arca.v1.FileService/WriteFile 2>&1 || true)"
check "path traversal refused" "InvalidArgument" "$out"

out="$("$grpcurl" -plaintext "${auth[@]}" -d "{\"namespace_id\":\"$ns\"}" "$addr" arca.v1.NamespaceService/DestroyNamespace)"
check "destroy" "filesRemoved" "$out"
[ ! -e "$work/data/blobs/grid/demo/user-alice/$ns" ] || { echo "FAILED: content left on disk"; exit 1; }
echo "ok: content gone from disk"
echo "walk-through: all steps passed"
