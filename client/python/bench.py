"""The Python SDK's figures, for the benchmark program (one JSON line each):

    python bench.py transfer HOST:PORT SECRET MIB   # upload and download of MIB MiB, best of 3
    python bench.py small HOST:PORT SECRET N        # N 1 KiB store then retrieve, 64 asyncio tasks

Run with the test command's venv, where the SDK is installed."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import time

import arca

TASKS = 64


async def transfer(address: str, secret: str, mib: int, runs: int = 3) -> None:
    data = os.urandom(mib << 20)
    ups, downs = [], []
    async with arca.connect(address, secret) as client:
        ns = (await client.create_namespace(arca.NamespaceType.WORKSPACE, "user", user_id="python")).namespace_id
        for _ in range(runs):
            start = time.perf_counter()
            entry = await client.upload(ns, "python.bin", data)
            ups.append(len(data) / 1e6 / (time.perf_counter() - start))
            assert entry.sha256 == hashlib.sha256(data).hexdigest()
            received = 0
            start = time.perf_counter()
            async for chunk in client.stream_download(ns, "python.bin"):
                received += len(chunk)
            downs.append(len(data) / 1e6 / (time.perf_counter() - start))
            assert received == len(data)
    print(json.dumps({"figure": "python_sdk_transfer", "size_mib": mib, "runs": runs,
                      "upload_mb_s": round(max(ups), 1), "download_mb_s": round(max(downs), 1)}))


async def small(address: str, secret: str, count: int) -> None:
    payload = b"x" * 1024
    async with arca.connect(address, secret) as client:
        ids: list[str] = []

        async def store(worker: int) -> None:
            for i in range(worker, count, TASKS):
                ids.append(await client.store(payload, mime="text/plain", summary="bench", filename=f"a{i}.txt",
                                             user_id="bench"))

        start = time.perf_counter()
        await asyncio.gather(*(store(w) for w in range(TASKS)))
        stored = count / (time.perf_counter() - start)

        async def retrieve(worker: int) -> None:
            for i in range(worker, count, TASKS):
                assert await client.retrieve(ids[i]) == payload

        start = time.perf_counter()
        await asyncio.gather(*(retrieve(w) for w in range(TASKS)))
        retrieved = count / (time.perf_counter() - start)
    print(json.dumps({"figure": "python_sdk_small", "count": count, "tasks": TASKS, "size": 1024,
                      "store_per_s": round(stored), "retrieve_per_s": round(retrieved)}))


def main() -> None:
    mode, address, secret, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    asyncio.run(transfer(address, secret, n) if mode == "transfer" else small(address, secret, n))


if __name__ == "__main__":
    main()
