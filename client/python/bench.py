"""The generated Python client's upload and download rate, for the benchmark
program: `python bench.py HOST:PORT SECRET MIB` prints one JSON line."""

import io
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
if not os.path.isdir(os.path.join(HERE, "arca_client", "_generated")):
    subprocess.check_call([sys.executable, os.path.join(HERE, "generate.py")])

import arca_client as arca  # noqa: E402
from arca_client import common_pb2, namespace_pb2  # noqa: E402


def main() -> None:
    address, secret, mib = sys.argv[1], sys.argv[2], int(sys.argv[3])
    client = arca.connect(address, secret)
    ns = client.namespaces.CreateNamespace(
        namespace_pb2.CreateNamespaceRequest(
            type=common_pb2.NAMESPACE_TYPE_WORKSPACE, scope=common_pb2.SCOPE_USER, owner=common_pb2.Owner(user="python")
        )
    ).namespace_id
    data = os.urandom(mib << 20)
    start = time.perf_counter()
    arca.upload(client, ns, "python.bin", io.BytesIO(data))
    up = len(data) / 1e6 / (time.perf_counter() - start)
    sink = io.BytesIO()
    start = time.perf_counter()
    arca.download(client, ns, "python.bin", sink)
    down = len(data) / 1e6 / (time.perf_counter() - start)
    assert sink.getvalue() == data
    print(json.dumps({"figure": "python_client", "size_mib": mib, "upload_mb_s": round(up, 1), "download_mb_s": round(down, 1)}))


if __name__ == "__main__":
    main()
