"""The MCP server (`arca-mcp`) driven by the official MCP client over stdio:
initialize, list the tools, call every tool, and the error cases."""

from __future__ import annotations

import base64
import json
import os
import sys
import urllib.request
from typing import Any

import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

import arca
from conftest import Server

pytestmark = pytest.mark.anyio

TOOLS = {"list", "read", "write", "edit", "find", "mkdir", "move", "remove", "checkpoint", "list_checkpoints",
         "restore", "diff", "presign"}


def parameters(server: Server, namespace: str, token: str, *extra: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "arca.mcp_server", "--namespace", namespace, *extra],
        env={"ARCA_ADDR": server.address, "ARCA_TOKEN": token, "PATH": os.environ.get("PATH", "")},
    )


def value(result: Any) -> Any:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        structured = result.structured_content
        return structured.get("result", structured)
    return json.loads(result.content[0].text)


def error(result: Any) -> str:
    assert result.is_error, f"expected a tool error, got {result.content}"
    return str(result.content[0].text)


async def test_every_tool_over_stdio(server: Server) -> None:
    async with arca.connect(server.address, server.admin_key) as admin:
        ns = (await admin.create_namespace(arca.NamespaceType.WORKSPACE, "user", user_id="agent")).namespace_id
        await admin.write_file(ns, "big.bin", os.urandom(3000))
    async with stdio_client(parameters(server, ns, server.admin_key, "--max-read-bytes", "2048")) as streams:
        async with ClientSession(*streams) as session:
            init = await session.initialize()
            assert init.server_info.name == "arca"
            tools = await session.list_tools()
            assert {t.name for t in tools.tools} == TOOLS
            assert all(t.description for t in tools.tools)
            call = session.call_tool

            assert value(await call("write", {"path": "/src/app.py", "content": "def main():\n    return 1\n"}))["size"] == 25
            assert value(await call("mkdir", {"path": "/docs"}))["type"] == "directory"
            binary = base64.b64encode(b"\x00\xffbin").decode()
            assert value(await call("write", {"path": "/docs/b.dat", "content": binary, "encoding": "base64"}))["size"] == 5
            listed = value(await call("list", {"path": "/", "recursive": True}))
            assert [e["path"] for e in listed] == ["big.bin", "docs", "docs/b.dat", "src", "src/app.py"]
            read = value(await call("read", {"path": "/src/app.py"}))
            assert (read["encoding"], read["content"]) == ("utf-8", "def main():\n    return 1\n")
            assert value(await call("read", {"path": "/src/app.py", "offset": 4, "length": 4}))["content"] == "main"
            assert base64.b64decode(value(await call("read", {"path": "/docs/b.dat"}))["content"]) == b"\x00\xffbin"
            cp = value(await call("checkpoint", {"name": "before-edit"}))
            assert value(await call("edit", {"path": "/src/app.py", "old_string": "return 1", "new_string": "return 2"}))
            assert "return 2" in value(await call("read", {"path": "/src/app.py"}))["content"]
            assert value(await call("find", {"pattern": "*.py"})) == ["src/app.py"]
            assert value(await call("move", {"source": "/docs/b.dat", "destination": "/docs/c.dat"}))["path"] == "docs/c.dat"
            changes = value(await call("diff", {"checkpoint_id": cp["checkpoint_id"]}))
            assert changes == {"added": ["docs/c.dat"], "removed": ["docs/b.dat"], "changed": ["src/app.py"]}
            assert [c["name"] for c in value(await call("list_checkpoints", {}))] == ["before-edit"]
            url = value(await call("presign", {"path": "/src/app.py", "expires_in_secs": 60}))["url"]
            assert urllib.request.urlopen(url).read() == b"def main():\n    return 2\n"
            assert value(await call("remove", {"path": "/docs", "recursive": True}))["removed"] == 2
            assert value(await call("restore", {"checkpoint_id": cp["checkpoint_id"]}))["entries"] == 5
            assert "return 1" in value(await call("read", {"path": "/src/app.py"}))["content"]

            # Errors are tool errors with the reason, and the server goes on.
            assert "not found" in error(await call("read", {"path": "/missing.txt"}))
            assert "invalid argument" in error(await call("read", {"path": "/../etc/passwd"}))
            assert "too large" in error(await call("read", {"path": "/big.bin"}))
            assert len(base64.b64decode(value(await call("read", {"path": "/big.bin", "length": 1000}))["content"])) == 1000
            assert "directory" in error(await call("read", {"path": "/src"}))
            assert "occurs 0 times" in error(await call("edit", {"path": "/src/app.py", "old_string": "nope", "new_string": "x"}))
            await call("write", {"path": "/twice.txt", "content": "a a"})
            assert "occurs 2 times" in error(await call("edit", {"path": "/twice.txt", "old_string": "a", "new_string": "b"}))
            assert "base64" in error(await call("write", {"path": "/x", "content": "%%%", "encoding": "base64"}))
            assert "already exists" in error(await call("move", {"source": "/twice.txt", "destination": "/big.bin"}))
            assert "not possible now" in error(await call("remove", {"path": "/src"}))
            assert "not found" in error(await call("restore", {"checkpoint_id": "0" * 32}))
            assert error(await call("no_such_tool", {}))
            assert value(await call("list", {"path": "/src"}))  # still serving


async def test_a_denied_namespace_and_a_read_only_credential(server: Server) -> None:
    async with arca.connect(server.address, server.admin_key) as admin:
        other = (await admin.create_namespace(arca.NamespaceType.WORKSPACE, "user", user_id="someone")).namespace_id
        shared = await admin.create_namespace(arca.NamespaceType.WORKSPACE, "sandbox")
        await admin.write_file(shared.namespace_id, "readme.md", b"shared")
        opened = await admin.open_session("agent")
    async with stdio_client(parameters(server, other, opened.token)) as streams:
        async with ClientSession(*streams) as session:
            await session.initialize()
            assert "permission denied" in error(await session.call_tool("list", {}))
    async with stdio_client(parameters(server, shared.namespace_id, opened.token)) as streams:
        async with ClientSession(*streams) as session:
            await session.initialize()
            assert value(await session.call_tool("read", {"path": "readme.md"}))["content"] == "shared"
            assert "permission denied" in error(await session.call_tool("write", {"path": "x", "content": "y"}))


async def test_quota_is_a_tool_error(server: Server) -> None:
    async with arca.connect(server.address, server.admin_key) as admin:
        tight = await admin.create_namespace(arca.NamespaceType.WORKSPACE, "user", user_id="agent", sandbox="tight")
    async with stdio_client(parameters(server, tight.namespace_id, server.admin_key)) as streams:
        async with ClientSession(*streams) as session:
            await session.initialize()
            message = error(await session.call_tool("write", {"path": "big", "content": "x" * 60000}))
            assert "quota exceeded" in message


async def test_streamable_http_transport(server: Server) -> None:
    import socket
    import subprocess

    import anyio
    from mcp.client.streamable_http import streamable_http_client

    async with arca.connect(server.address, server.admin_key) as admin:
        ns = (await admin.create_namespace(arca.NamespaceType.WORKSPACE, "user", user_id="web-agent")).namespace_id
        await admin.write_file(ns, "hello.txt", b"over http")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "ARCA_ADDR": server.address, "ARCA_TOKEN": server.admin_key}
    proc = subprocess.Popen([sys.executable, "-m", "arca.mcp_server", "--namespace", ns, "--transport",
                             "streamable-http", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                await anyio.sleep(0.1)
        async with streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write, *_):
            async with ClientSession(read, write) as session:
                await session.initialize()
                assert {t.name for t in (await session.list_tools()).tools} == TOOLS
                assert value(await session.call_tool("read", {"path": "hello.txt"}))["content"] == "over http"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
