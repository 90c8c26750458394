"""The reference library on the same small-file workload as `bench.py
small`, for the benchmark program: chuk-artifacts with its filesystem
provider, in-process (no network, no server), 64 asyncio tasks storing then
retrieving N 1 KiB artifacts of one user (session scope: in 0.11.4 the
filesystem provider fails every USER-scope store, and every store without a
filename, with IsADirectoryError, so both sides name their files). Prints
one JSON line.

    python bench_reference.py ROOT N     # in a venv with chuk-artifacts installed
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

TASKS = 64


async def run(root: str, count: int) -> None:
    os.environ["ARTIFACT_FS_ROOT"] = root
    from chuk_artifacts import ArtifactStore
    import importlib.metadata

    payload = b"x" * 1024
    async with ArtifactStore(storage_provider="filesystem", session_provider="memory") as store:
        ids: list[str] = []

        async def put(worker: int) -> None:
            for i in range(worker, count, TASKS):
                ids.append(await store.store(payload, mime="text/plain", summary="bench", filename=f"a{i}.txt",
                                             user_id="bench"))

        start = time.perf_counter()
        await asyncio.gather(*(put(w) for w in range(TASKS)))
        stored = count / (time.perf_counter() - start)

        async def get(worker: int) -> None:
            for i in range(worker, count, TASKS):
                assert await store.retrieve(ids[i]) == payload

        start = time.perf_counter()
        await asyncio.gather(*(get(w) for w in range(TASKS)))
        retrieved = count / (time.perf_counter() - start)
    print(json.dumps({"figure": "reference_chuk_artifacts_small", "version": importlib.metadata.version("chuk-artifacts"),
                      "provider": "filesystem, in-process", "count": count, "tasks": TASKS, "size": 1024,
                      "store_per_s": round(stored), "retrieve_per_s": round(retrieved)}))


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1], int(sys.argv[2])))
