"""Every public call of the SDK against a live server, through both the
async client and the sync facade (the `client` fixture), errors included."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import urllib.error
import urllib.request
from typing import Any

import pytest

import arca
from conftest import Server, collect, pieces

pytestmark = pytest.mark.anyio


async def workspace(client: Any, user: str = "alice") -> str:
    ns = await client.create_namespace(arca.NamespaceType.WORKSPACE, "user", user_id=user)
    return str(ns.namespace_id)


async def test_namespaces(client: Any) -> None:
    carol = f"carol-{os.urandom(4).hex()}"
    made = await client.create_namespace(arca.NamespaceType.WORKSPACE, arca.StorageScope.USER, name="proj",
                                         user_id=carol, summary="a project", metadata={"kind": "code"}, ttl=3600)
    assert made.type == arca.NamespaceType.WORKSPACE and made.scope == arca.StorageScope.USER
    assert (made.user_id, made.name, made.summary) == (carol, "proj", "a project")
    assert made.grid_prefix.startswith("grid/") and made.expires_at is not None
    got = await client.get_namespace(made.namespace_id)
    assert got.metadata == {"kind": "code"}
    with pytest.raises(arca.AlreadyExists):
        await client.create_namespace(arca.NamespaceType.WORKSPACE, "user", name="proj", user_id=carol)
    listed = await client.list_namespaces(user_id=carol, type=arca.NamespaceType.WORKSPACE)
    assert made.namespace_id in [n.namespace_id for n in listed]
    assert [n.namespace_id for n in await client.list_namespaces(user_id=carol, name_prefix="pr")] == [made.namespace_id]
    updated = await client.update_namespace(made.namespace_id, summary="renamed", metadata={"x": "1"}, extend_by=60)
    assert updated.summary == "renamed" and updated.metadata == {"kind": "code", "x": "1"}
    assert updated.expires_at is not None and got.expires_at is not None and updated.expires_at > got.expires_at
    cleared = await client.update_namespace(made.namespace_id, clear_ttl=True, metadata={"only": "this"}, merge=False)
    assert cleared.expires_at is None and cleared.metadata == {"only": "this"}
    with pytest.raises(arca.FailedPrecondition):
        await client.update_namespace(made.namespace_id, extend_by=5)
    with pytest.raises(arca.InvalidArgument):
        await client.update_namespace(made.namespace_id, extend_by=5, clear_ttl=True)
    await client.write_file(made.namespace_id, "f.txt", b"x")
    assert await client.destroy_namespace(made.namespace_id) == 1
    with pytest.raises(arca.NotFound):  # this key reaches every sandbox, so it is told
        await client.get_namespace(made.namespace_id)
    with pytest.raises(arca.InvalidArgument):
        await client.get_namespace("not-an-id")


async def test_files_and_tree(client: Any) -> None:
    ns = await workspace(client)
    entry = await client.write_file(ns, "docs/a.txt", "hello", mime_type="text/plain", metadata={"k": "v"})
    assert (entry.path, entry.size, entry.sha256) == ("docs/a.txt", 5, hashlib.sha256(b"hello").hexdigest())
    assert await client.read_file(ns, "docs/a.txt") == b"hello"
    assert await client.read_file(ns, "docs/a.txt", 1, 3) == b"ell"
    assert (await client.stat(ns, "docs")).is_dir
    with pytest.raises(arca.AlreadyExists):
        await client.write_file(ns, "docs/a.txt", b"again", must_not_exist=True)
    with pytest.raises(arca.FailedPrecondition):
        await client.write_file(ns, "docs/a.txt", b"again", if_version_match=entry.version + 100)
    await client.mkdir(ns, "empty/deep")
    await client.mkdir(ns, "empty/deep", exist_ok=True)
    with pytest.raises(arca.AlreadyExists):
        await client.mkdir(ns, "empty/deep")
    copied = await client.copy(ns, "docs", "backup")
    assert copied.is_dir
    moved = await client.move(ns, "backup/a.txt", "moved/b.txt")
    assert moved.path == "moved/b.txt" and moved.sha256 == entry.sha256
    paths = [e.path for e in await client.list_entries(ns, "", recursive=True)]
    assert paths == ["backup", "docs", "docs/a.txt", "empty", "empty/deep", "moved", "moved/b.txt"]
    assert [e.path for e in await client.find_entries(ns, "**/*.txt")] == ["docs/a.txt", "moved/b.txt"]
    assert [e.path for e in await client.find_entries(ns, "", metadata={"k": "v"})] == ["docs/a.txt", "moved/b.txt"]
    assert (await client.set_metadata(ns, "docs/a.txt", {"n": "1"})).metadata == {"k": "v", "n": "1"}
    assert await client.get_metadata(ns, "docs/a.txt") == {"k": "v", "n": "1"}
    written = await client.batch_write(ns, {"b/1": b"one", "b/2": "two", "../bad": b"x"})
    assert isinstance(written["b/1"], arca.NodeInfo) and isinstance(written["../bad"], arca.InvalidArgument)
    read = await client.batch_read(ns, ["b/1", "b/2", "missing"])
    assert read["b/1"] == b"one" and read["b/2"] == b"two" and isinstance(read["missing"], arca.NotFound)
    deleted = await client.batch_delete(ns, ["b/1", "missing"])
    assert deleted["b/1"] == 1 and isinstance(deleted["missing"], arca.NotFound)
    with pytest.raises(arca.FailedPrecondition):
        await client.remove(ns, "docs")
    assert await client.remove(ns, "docs", recursive=True) == 2
    with pytest.raises(arca.NotFound):
        await client.read_file(ns, "docs/a.txt")
    with pytest.raises(arca.InvalidArgument) as bad:
        await client.write_file(ns, "a/../../etc", b"x")
    assert bad.value.code is not None and bad.value.message


async def test_large_transfers_with_progress(client: Any, tmp_path: Any) -> None:
    ns = await workspace(client)
    content = os.urandom(9 << 20)
    seen: list[tuple[int, int]] = []
    durable_inside = asyncio.Event()

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if 0 < done < len(content):
            durable_inside.set()

    async def gated() -> Any:
        # The server flushes beside the stream and reports a flush when it
        # ends. Past the first persist interval (4 MiB) the source waits
        # until the server says something inside the file is durable: it
        # must say so while the client sends nothing, not only at the commit.
        for i in range(0, len(content), 1 << 20):
            if i >= 5 << 20:
                await asyncio.wait_for(durable_inside.wait(), timeout=60)
            yield content[i:i + (1 << 20)]

    entry = await client.upload(ns, "big.bin", gated(), progress=progress)
    assert entry.size == len(content) and entry.sha256 == hashlib.sha256(content).hexdigest()
    assert seen[-1] == (len(content), len(content)) and any(0 < d < len(content) for d, _ in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen), "progress only grows"
    # From a file path, a file object, and async and sync iterators.
    source = tmp_path / "src.bin"
    source.write_bytes(content)
    assert (await client.upload(ns, "from-path.bin", str(source))).sha256 == entry.sha256
    with open(source, "rb") as f:
        assert (await client.upload(ns, "from-file.bin", f, chunk_size=1 << 20)).sha256 == entry.sha256

    async def pieces() -> Any:
        for i in range(0, len(content), 300_000):
            yield content[i:i + 300_000]

    async_seen: list[int] = []

    async def async_progress(done: int, total: int) -> None:
        async_seen.append(done)

    assert (await client.upload(ns, "from-aiter.bin", pieces(), progress=async_progress)).sha256 == entry.sha256
    assert async_seen[-1] == len(content)
    assert (await client.upload(ns, "from-iter.bin", iter([content[:10], content[10:]]))).sha256 == entry.sha256
    # Reads: whole (streamed past the unary limit), ranged, to a path, to a file object.
    assert await client.read_file(ns, "big.bin") == content
    assert await client.read_file(ns, "big.bin", 5 << 20, 100) == content[5 << 20:(5 << 20) + 100]
    got: list[int] = []
    node = await client.download(ns, "big.bin", str(tmp_path / "out.bin"), progress=lambda d, t: got.append(d))
    assert node.sha256 == entry.sha256 and (tmp_path / "out.bin").read_bytes() == content and got[-1] == len(content)
    sink = io.BytesIO()
    await client.download(ns, "big.bin", sink, offset=100, length=1000)
    assert sink.getvalue() == content[100:1100]
    assert await collect(client.stream_download(ns, "big.bin", offset=1 << 20, length=10)) == content[1 << 20:(1 << 20) + 10]
    with pytest.raises(arca.OutOfRange):
        await collect(client.stream_download(ns, "big.bin", offset=len(content) + 1))
    # A declared digest that does not match commits nothing.
    with pytest.raises(arca.InvalidArgument):
        await client.upload(ns, "wrong.bin", b"abc", expected_sha256=hashlib.sha256(b"abd").hexdigest())
    with pytest.raises(arca.NotFound):
        await client.stat(ns, "wrong.bin")
    with pytest.raises(ValueError):
        await client.upload(ns, "x", b"x", chunk_size=0)


async def test_checkpoints(client: Any) -> None:
    ns = await workspace(client)
    await client.write_file(ns, "notes.txt", b"version one")
    cp = await client.checkpoint_namespace(ns, "v1", description="first")
    assert (cp.name, cp.description, cp.file_count) == ("v1", "first", 1)
    await client.write_file(ns, "notes.txt", b"version two")
    await client.write_file(ns, "later.txt", b"after")
    diff = await client.diff_checkpoints(ns, cp.checkpoint_id)
    assert [c.path for c in diff.added] == ["later.txt"] and [c.path for c in diff.changed] == ["notes.txt"]
    assert diff.changed[0].before is not None and diff.changed[0].after is not None
    assert (await client.get_checkpoint(ns, cp.checkpoint_id)).checkpoint_id == cp.checkpoint_id
    assert [c.checkpoint_id for c in await client.list_checkpoints(ns)] == [cp.checkpoint_id]
    assert await client.restore_namespace(ns, cp.checkpoint_id) == 1
    assert await client.read_file(ns, "notes.txt") == b"version one"
    await client.delete_checkpoint(ns, cp.checkpoint_id)
    with pytest.raises(arca.NotFound):
        await client.get_checkpoint(ns, cp.checkpoint_id)


async def test_sessions_and_their_tokens(client: Any, server: Server) -> None:
    opened = await client.open_session("dave", ttl=600)
    assert opened.session.user_id == "dave" and opened.token
    assert (await client.get_session(opened.session.session_id)).user_id == "dave"
    assert opened.session.session_id in [s.session_id for s in await client.list_sessions("dave")]
    assert opened.session.session_id in [s.session_id for s in await client.list_sessions()]
    renewed = await client.renew_session(opened.session.session_id, ttl=1200)
    assert renewed.expires_at is not None and opened.session.expires_at is not None
    assert renewed.expires_at > opened.session.expires_at
    async with arca.connect(server.address, opened.token) as dave:
        own = await dave.create_namespace(arca.NamespaceType.BLOB, "session")
        assert own.session_id == opened.session.session_id and own.user_id == "dave"
        assert (await dave.get_session()).session_id == opened.session.session_id
        with pytest.raises(arca.PermissionDenied):  # a session token may not open sessions
            await dave.open_session("dave")
        with pytest.raises(arca.PermissionDenied):  # nor reach another user's namespace
            await dave.read_file(await workspace(client, "erin"), "x")
    assert await client.close_session(opened.session.session_id) == 1
    async with arca.connect(server.address, opened.token) as dave:
        with pytest.raises(arca.Unauthenticated):
            await dave.get_session()


async def test_named_sessions_and_aborted_uploads(client: Any, server: Server) -> None:
    name = f"chat-{os.urandom(4).hex()}"  # the sync and async runs share a server
    first = await client.open_session("frank", ttl=600, name=name)
    again = await client.open_session("frank", ttl=60, name=name)
    assert again.reopened and not first.reopened and again.session.name == name
    assert again.session.session_id == first.session.session_id and again.token != first.token
    for token in (first.token, again.token):
        async with arca.connect(server.address, token) as frank:
            assert (await frank.get_session()).session_id == first.session.session_id
    ns = await workspace(client)
    plan = await client.presign_upload_file(ns, "never.bin", total_size=5, expires=60)
    assert await client.abort_upload(plan.upload_id) == 0
    with pytest.raises(arca.NotFound):
        await client.finalize_upload(plan.upload_id)
    with pytest.raises(arca.NotFound):
        await client.abort_upload(plan.upload_id)
    # A file named without a MIME type gets the one its name suggests.
    await client.write_file(ns, "notes.md", b"# notes")
    assert (await client.stat(ns, "notes.md")).mime_type == "text/markdown"


async def test_presigned_urls(client: Any) -> None:
    ns = await workspace(client)
    await client.write_file(ns, "page.html", b"<h1>hi</h1>", mime_type="text/html")
    url = await client.presign_download(ns, "page.html", 60)
    assert urllib.request.urlopen(url).read() == b"<h1>hi</h1>"
    plan = await client.presign_upload_file(ns, "up.bin", total_size=5, expires=60)
    assert plan.method == "PUT" and len(plan.parts) == 1
    urllib.request.urlopen(urllib.request.Request(plan.url, data=b"12345", method="PUT"))
    with pytest.raises(arca.NotFound):
        await client.stat(ns, "up.bin")  # invisible until finalized
    assert (await client.finalize_upload(plan.upload_id)).size == 5
    assert await client.read_file(ns, "up.bin") == b"12345"
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(url + "0")


async def test_quota_and_access_errors(client: Any, server: Server) -> None:
    tight = await client.create_namespace(arca.NamespaceType.WORKSPACE, "user", user_id="frank", sandbox="tight")
    with pytest.raises(arca.QuotaExceeded) as over:
        await client.write_file(tight.namespace_id, "big", os.urandom(60_000))
    assert "50000" in over.value.message
    with pytest.raises(arca.QuotaExceeded):
        await client.upload(tight.namespace_id, "big", os.urandom(60_000))
    with pytest.raises(arca.NotFound):
        await client.stat(tight.namespace_id, "big")
    async with arca.connect(server.address, None) as anonymous:
        with pytest.raises(arca.Unauthenticated):
            await anonymous.list_namespaces()
    async with arca.connect(server.address, "made-up") as wrong:
        with pytest.raises(arca.Unauthenticated):
            await wrong.list_namespaces()
    # Every error is an ArcaError carrying the code and the server's message.
    with pytest.raises(arca.ArcaError) as caught:
        await client.read_file(tight.namespace_id, "missing")
    assert isinstance(caught.value, arca.NotFound) and "missing" in str(caught.value)


async def test_workspace_calls(client: Any) -> None:
    ws = client.workspace(await workspace(client))
    await ws.mkdir("/src")
    await ws.write_file("/src/main.py", "print('hello')")
    await ws.write_text("/README.md", "# Project")
    assert await ws.ls("/") == ["README.md", "src"]
    assert await ws.read_text("/README.md") == "# Project"
    assert await ws.read_file("/src/main.py") == b"print('hello')"
    assert await ws.read_binary("/src/main.py", 0, 5) == b"print"
    await ws.touch("/src/__init__.py")
    await ws.touch("/src/main.py")  # an existing file is left alone
    assert await ws.read_file("/src/main.py") == b"print('hello')"
    await ws.cp("/src/main.py", "/src/backup.py")
    await ws.mv("/src/backup.py", "/old/backup.py")
    assert await ws.find("*.py") == ["old/backup.py", "src/__init__.py", "src/main.py"]
    assert await ws.find("*.py", "/src", recursive=False) == ["src/__init__.py", "src/main.py"]
    info = await ws.get_node_info("/src/main.py")
    assert info is not None and info.size == 14 and info.name == "main.py"
    assert await ws.get_node_info("/nope") is None
    assert await ws.exists("/src") and await ws.is_dir("/src") and await ws.is_file("/README.md")
    assert not await ws.exists("/nope") and not await ws.is_file("/src")
    await ws.set_metadata("/README.md", {"author": "alice"})
    assert await ws.get_metadata("/README.md") == {"author": "alice"}
    assert [e.path for e in await ws.list_entries("/old")] == ["old/backup.py"]
    written = await ws.batch_write_files({"/batch/a": b"a", "/batch/b": b"b"})
    assert all(isinstance(v, arca.NodeInfo) for v in written.values())
    assert (await ws.batch_read_files(["/batch/a"]))["/batch/a"] == b"a"
    assert (await ws.batch_delete_paths(["/batch"], recursive=True))["/batch"] == 3
    with pytest.raises(arca.FailedPrecondition):
        await ws.rmdir("/README.md")
    with pytest.raises(arca.FailedPrecondition):
        await ws.rmdir("/src")
    await ws.mkdir("/gone")
    assert await ws.rmdir("/gone") == 1
    assert await ws.rm("/old", recursive=True) == 2
    cp = await ws.checkpoint("before")
    await ws.rm("/README.md")
    assert [c.path for c in (await ws.diff(cp.checkpoint_id)).removed] == ["README.md"]
    assert [c.name for c in await ws.list_checkpoints()] == ["before"]
    await ws.restore(cp.checkpoint_id)
    assert await ws.exists("/README.md")


async def test_workspace_streaming(client: Any, tmp_path: Any) -> None:
    ws = client.workspace(await workspace(client))
    lines = [f"Line {i}: {'x' * 1000}\n".encode() for i in range(3000)]

    async def data_generator() -> Any:
        for line in lines:
            yield line

    reported: list[tuple[int, int]] = []
    entry = await ws.stream_write("/large_file.txt", data_generator(),
                                  progress_callback=lambda w, t: reported.append((w, t)), mime_type="text/plain")
    whole = b"".join(lines)
    assert entry.size == len(whole) and reported[-1][0] == len(whole)
    chunks = await pieces(ws.stream_read("/large_file.txt", chunk_size=8192))
    assert all(len(c) <= 8192 for c in chunks) and b"".join(chunks) == whole
    local = tmp_path / "copy.txt"
    await ws.download("/large_file.txt", str(local))
    assert local.read_bytes() == whole
    assert (await ws.upload("/again.txt", str(local))).sha256 == entry.sha256


async def test_forks_templates_cross_namespace_copies_and_profiles(client: Any) -> None:
    source = await workspace(client)
    await client.write_file(source, "app/README.md", b"# ${project_name}")
    await client.write_file(source, "app/data.bin", b"\x00\x01")
    # A template is forked with variables; other files are shared as they are.
    await client.update_namespace(source, template=True)
    fork = await client.create_namespace(scope="user", user_id="alice", source=source,
                                         variables={"project_name": "My App"})
    assert fork.type == arca.NamespaceType.WORKSPACE and fork.file_count == 2 and not fork.template
    assert await client.read_file(fork.namespace_id, "app/README.md") == b"# My App"
    assert (await client.stat(fork.namespace_id, "app/data.bin")).sha256 == \
        (await client.stat(source, "app/data.bin")).sha256
    with pytest.raises(arca.InvalidArgument) as missing:
        await client.create_namespace(scope="user", user_id="alice", source=source)
    assert "project_name" in missing.value.message
    # Copy and move into another namespace.
    other = await workspace(client)
    await client.copy(fork.namespace_id, "app", "copied", target_namespace_id=other)
    await client.move(fork.namespace_id, "app/data.bin", "moved.bin", target_namespace_id=other)
    assert sorted(e.path for e in await client.list_entries(other, "", recursive=True)) == \
        ["copied", "copied/README.md", "copied/data.bin", "moved.bin"]
    with pytest.raises(arca.NotFound):
        await client.stat(fork.namespace_id, "app/data.bin")
    # An access profile, by preset name or field by field.
    fenced = await client.create_namespace(scope="user", user_id="alice", profile="strict")
    assert fenced.profile == "strict"
    with pytest.raises(arca.PermissionDenied) as denied:
        await client.write_file(fenced.namespace_id, "config/.env", b"KEY=1")
    assert "**/.env" in denied.value.message
    await client.update_namespace(fenced.namespace_id, profile={"preset": "readonly"})
    with pytest.raises(arca.PermissionDenied):
        await client.write_file(fenced.namespace_id, "ok.txt", b"ok")
    cleared = await client.update_namespace(fenced.namespace_id, clear_profile=True)
    assert cleared.profile is None
    await client.write_file(fenced.namespace_id, "config/.env", b"KEY=1")
