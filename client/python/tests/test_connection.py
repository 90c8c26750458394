"""Connecting: the environment, TLS with a custom CA, and transfers that
resume after the connection is cut (through a proxy that cuts it)."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest

import arca
from conftest import CuttingProxy, Server

pytestmark = pytest.mark.anyio


async def test_configuration_from_the_environment(server: Server, monkeypatch: Any, tmp_path: Any) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(server.admin_key + "\n")
    token_file.chmod(0o600)
    monkeypatch.setenv("ARCA_ADDR", server.address)
    monkeypatch.setenv("ARCA_TOKEN_FILE", str(token_file))
    monkeypatch.delenv("ARCA_TOKEN", raising=False)
    monkeypatch.delenv("ARCA_CA_FILE", raising=False)
    async with arca.connect() as client:
        assert isinstance(await client.list_namespaces(), list)
    with arca.connect_sync() as sync:
        assert isinstance(sync.list_namespaces(), list)
    monkeypatch.setenv("ARCA_TOKEN", server.admin_key)
    monkeypatch.setenv("ARCA_ADDR", f"127.0.0.1:{server.port}")  # bare host:port is plaintext
    async with arca.connect() as client:
        assert isinstance(await client.list_namespaces(), list)
    token_file.chmod(0o644)
    monkeypatch.delenv("ARCA_TOKEN")
    with pytest.raises(arca.ArcaError, match="world-readable"):
        arca.connect()
    for bad in ("ftp://x:1", "http://", "http://a:1/path"):
        with pytest.raises(arca.ArcaError):
            arca.connect(bad, "t")
    with pytest.raises(arca.ArcaError, match="CA file"):
        arca.connect("https://localhost:1", "t", ca_file=str(tmp_path / "missing.pem"))


async def test_tls_with_a_custom_ca(tls_server: Server, monkeypatch: Any) -> None:
    assert tls_server.ca_file is not None
    async with arca.connect(tls_server.address, tls_server.admin_key, ca_file=tls_server.ca_file) as client:
        ns = await client.create_namespace(arca.NamespaceType.WORKSPACE, "user", user_id="tls")
        await client.upload(ns.namespace_id, "f.bin", os.urandom(5 << 20))
        assert len(await client.read_file(ns.namespace_id, "f.bin")) == 5 << 20
    monkeypatch.setenv("ARCA_CA_FILE", tls_server.ca_file)
    with arca.connect_sync(tls_server.address, tls_server.admin_key) as sync:
        assert sync.get_namespace(ns.namespace_id).user_id == "tls"
    monkeypatch.delenv("ARCA_CA_FILE")
    # The system's roots (here through SSL_CERT_FILE, as OpenSSL reads it)
    # are trusted for an https:// address without a CA file.
    monkeypatch.setenv("SSL_CERT_FILE", tls_server.ca_file)
    async with arca.connect(tls_server.address, tls_server.admin_key) as system:
        assert (await system.get_namespace(ns.namespace_id)).user_id == "tls"
    monkeypatch.delenv("SSL_CERT_FILE")
    # Without the CA the server's certificate is not trusted: no connection.
    async with arca.connect(tls_server.address, tls_server.admin_key) as untrusting:
        with pytest.raises(arca.Unavailable):
            await untrusting.list_namespaces()
    # Plaintext to a TLS port fails too, as a clear error.
    async with arca.connect(f"http://127.0.0.1:{tls_server.port}", tls_server.admin_key) as plain:
        with pytest.raises(arca.ArcaError):
            await plain.list_namespaces()


async def test_an_upload_resumes_after_the_connection_is_cut(server: Server) -> None:
    proxy = CuttingProxy(server.port, cut_after=11 << 20, direction="up")
    try:
        content = os.urandom(24 << 20)
        async with arca.connect(f"http://127.0.0.1:{proxy.port}", server.admin_key) as client:
            ns = (await client.create_namespace(arca.NamespaceType.WORKSPACE, "user", user_id="resume")).namespace_id

            async def source() -> Any:  # not rewindable: resends come from the SDK's window
                for i in range(0, len(content), 1 << 20):
                    yield content[i:i + (1 << 20)]

            seen: list[int] = []
            entry = await client.upload(ns, "big.bin", source(), progress=lambda d, t: seen.append(d))
            assert proxy.cuts == 1 and proxy.connections >= 2, "the connection was cut and made again"
            assert entry.size == len(content) and entry.sha256 == hashlib.sha256(content).hexdigest()
            assert seen[-1] == len(content)
        async with arca.connect(server.address, server.admin_key) as direct:
            assert await direct.read_file(ns, "big.bin") == content
    finally:
        proxy.close()


async def test_a_download_resumes_after_the_connection_is_cut(server: Server, tmp_path: Any) -> None:
    content = os.urandom(20 << 20)
    async with arca.connect(server.address, server.admin_key) as direct:
        ns = (await direct.create_namespace(arca.NamespaceType.WORKSPACE, "user", user_id="resume")).namespace_id
        await direct.upload(ns, "big.bin", content)
    proxy = CuttingProxy(server.port, cut_after=7 << 20, direction="down")
    try:
        with arca.connect_sync(f"http://127.0.0.1:{proxy.port}", server.admin_key) as client:
            node = client.download(ns, "big.bin", str(tmp_path / "big.bin"))
        assert proxy.cuts == 1 and proxy.connections >= 2
        assert node.size == len(content)
        assert (tmp_path / "big.bin").read_bytes() == content
    finally:
        proxy.close()


async def test_giving_up_is_a_clear_unavailable(server: Server) -> None:
    async with arca.connect("http://127.0.0.1:1", server.admin_key) as nowhere:
        with pytest.raises(arca.Unavailable):
            await nowhere.upload("0" * 32, "f", b"x" * 100, retries=1)
        with pytest.raises(arca.Unavailable):
            await nowhere.get_namespace("0" * 32)


async def test_a_failing_source_commits_nothing(server: Server) -> None:
    async with arca.connect(server.address, server.admin_key) as client:
        ns = (await client.create_namespace(arca.NamespaceType.WORKSPACE, "user", user_id="broken")).namespace_id

        async def source() -> Any:
            yield b"x" * (3 << 20)
            raise ValueError("the source broke")

        with pytest.raises(ValueError, match="the source broke"):
            await client.upload(ns, "partial.bin", source())
        with pytest.raises(arca.NotFound):
            await client.stat(ns, "partial.bin")
