"""Real servers for the SDK's tests: `arca-server` (ARCA_SERVER_BIN) started
on a free loopback port with a fresh data directory, plain and with TLS (a
CA and a server certificate made with openssl), and a TCP proxy that cuts
connections to test resume. Tests run against both facades: the async
client, and the sync client called from a worker thread."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import threading
from typing import Any, Iterator

import pytest

import arca


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Server:
    def __init__(self, config: str = "", tls: bool = False) -> None:
        binary = os.environ.get("ARCA_SERVER_BIN")
        if not binary:
            pytest.fail("set ARCA_SERVER_BIN to the arca-server binary (tests/run.sh does)")
        self.data = pathlib.Path(tempfile.mkdtemp(prefix="arca-py-"))
        self.ca_file = None
        if tls:
            config += self._make_pki()
        config_file = self.data / "config.toml"
        config_file.write_text(config)
        self.proc = subprocess.Popen(
            [binary, "--config", str(config_file), "--listen", "127.0.0.1:0", "--data-dir", str(self.data / "d"),
             "--log-format", "json"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        assert self.proc.stdout is not None
        address = None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("fields", {}).get("message") == "arca listening":
                address = event["fields"]["address"]
                break
        if address is None:
            self.proc.kill()
            pytest.fail("the server did not start")
        threading.Thread(target=lambda: [None for _ in self.proc.stdout or []], daemon=True).start()
        self.port = int(address.rsplit(":", 1)[1])
        self.address = f"{'https://localhost' if tls else 'http://127.0.0.1'}:{self.port}"
        self.key_file = self.data / "d" / "admin.key"
        self.admin_key = self.key_file.read_text().strip()

    def _make_pki(self) -> str:
        d = self.data
        run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)  # noqa: E731
        run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=arca test CA", "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))
        run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost",
            "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"))
        (d / "ext.cnf").write_text("subjectAltName=DNS:localhost\n")
        run("x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
            "-CAcreateserial", "-days", "2", "-extfile", str(d / "ext.cnf"), "-out", str(d / "server.pem"))
        os.chmod(d / "server.key", 0o600)
        self.ca_file = str(d / "ca.pem")
        return f'\n[tls]\ncert_file = "{d / "server.pem"}"\nkey_file = "{d / "server.key"}"\n'

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=15)
        shutil.rmtree(self.data, ignore_errors=True)


QUOTAS = """
[quotas.sandboxes.tight.user]
max_bytes = 100000
max_file_bytes = 50000
"""


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    s = Server(QUOTAS)
    yield s
    s.stop()


@pytest.fixture(scope="session")
def tls_server() -> Iterator[Server]:
    s = Server(tls=True)
    yield s
    s.stop()


class SyncAsAsync:
    """The sync facade, awaited through a worker thread, so one test body
    exercises both facades. Iterators come back as lists."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = await asyncio.to_thread(attr, *args, **kwargs)
            if isinstance(result, arca.Workspace):
                return SyncAsAsync(result)
            if inspect.isgenerator(result):
                return await asyncio.to_thread(list, result)
            return result

        if name == "workspace" or name == "get_namespace_vfs":
            return lambda *a, **k: SyncAsAsync(attr(*a, **k))
        return call


@pytest.fixture(params=["async", "sync"])
async def client(request: Any, server: Server) -> Any:
    if request.param == "async":
        async with arca.connect(server.address, server.admin_key) as c:
            yield c
    else:
        c = await asyncio.to_thread(arca.connect_sync, server.address, server.admin_key)
        yield SyncAsAsync(c)
        await asyncio.to_thread(c.close)


async def pieces(stream: Any) -> list[bytes]:
    """The chunks of an async iterator (async facade) or of what the sync
    facade returned."""
    if inspect.iscoroutine(stream):
        stream = await stream
    if isinstance(stream, list):
        return stream
    return [chunk async for chunk in stream]


async def collect(stream: Any) -> bytes:
    """The bytes of an async iterator (async facade) or a list (sync)."""
    if isinstance(stream, list):
        return b"".join(stream)
    if inspect.iscoroutine(stream):
        stream = await stream
        if isinstance(stream, list):
            return b"".join(stream)
    return b"".join([chunk async for chunk in stream])


class CuttingProxy:
    """A loopback TCP proxy to `port` that cuts its first connection after
    `cut_after` bytes have passed in the given direction ("up": client to
    server, "down": server to client), then forwards normally."""

    def __init__(self, port: int, cut_after: int, direction: str) -> None:
        self.target = port
        self.cut_after = cut_after
        self.direction = direction
        self.connections = 0
        self.cuts = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(("127.0.0.1", self.target))
            budget = [self.cut_after if self.connections == 1 else -1]
            for src, dst, way in ((client, upstream, "up"), (upstream, client, "down")):
                threading.Thread(target=self._pump, args=(src, dst, way, budget, client, upstream), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, way: str, budget: list[int],
              a: socket.socket, b: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                if way == self.direction and budget[0] >= 0:
                    budget[0] -= len(data)
                    if budget[0] < 0:
                        self.cuts += 1
                        raise OSError("cut")
                dst.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self.listener.close()
