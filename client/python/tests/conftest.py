"""Starts a real arca-server (the binary named by ARCA_SERVER_BIN) on a free
loopback port with a fresh data directory, for the whole test session."""

import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import threading

import pytest


@pytest.fixture(scope="session")
def server():
    binary = os.environ.get("ARCA_SERVER_BIN")
    if not binary:
        pytest.fail("set ARCA_SERVER_BIN to the arca-server binary (tests/run.sh does)")
    data = tempfile.mkdtemp(prefix="arca-py-")
    proc = subprocess.Popen(
        [binary, "--listen", "127.0.0.1:0", "--data-dir", data, "--log-format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    address = None
    for line in proc.stdout:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("fields", {}).get("message") == "arca listening":
            address = event["fields"]["address"]
            break
    if address is None:
        proc.kill()
        pytest.fail("the server did not start")
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    key = (pathlib.Path(data) / "admin.key").read_text().strip()
    yield {"address": address, "admin_key": key}
    proc.terminate()
    proc.wait(timeout=15)
    shutil.rmtree(data, ignore_errors=True)
