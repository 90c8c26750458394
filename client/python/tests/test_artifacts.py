"""The reference artifact store's calls, by name, on both facades."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from typing import Any

import pytest

import arca
from conftest import Server

pytestmark = pytest.mark.anyio


async def test_store_retrieve_metadata_update_delete(client: Any) -> None:
    file_id = await client.store(b"Hello, world!", mime="text/plain", summary="greeting", filename="hello.txt",
                                 meta={"lang": "en"}, user_id="alice", scope="user", ttl=900)
    assert await client.exists(file_id)
    assert await client.retrieve(file_id) == b"Hello, world!"
    assert await client.read_artifact(file_id, as_text=True) == "Hello, world!"
    meta = await client.metadata(file_id)
    assert (meta.artifact_id, meta.filename, meta.mime, meta.bytes) == (file_id, "hello.txt", "text/plain", 13)
    assert (meta.summary, meta.meta, meta.scope, meta.user_id) == ("greeting", {"lang": "en"}, arca.StorageScope.USER, "alice")
    assert meta.sha256 == hashlib.sha256(b"Hello, world!").hexdigest()
    assert meta.key.startswith("grid/") and file_id in meta.key and meta.expires_at is not None
    updated = await client.update_file(file_id, data=b"Hello, updated world!", summary="Updated greeting")
    assert (updated.bytes, updated.summary, updated.mime) == (21, "Updated greeting", "text/plain")
    renamed = await client.update_file(file_id, filename="docs/greeting.txt", mime="text/markdown")
    assert (renamed.filename, renamed.mime) == ("greeting.txt", "text/markdown")
    assert await client.retrieve(file_id) == b"Hello, updated world!"
    merged = await client.update_metadata(file_id, summary="final", meta={"tags": "a,b"})
    assert merged.meta == {"lang": "en", "tags": "a,b"} and merged.summary == "final"
    replaced = await client.update_metadata(file_id, meta={"only": "this"}, merge=False)
    assert replaced.meta == {"only": "this"} and replaced.summary == "final"
    before = meta.expires_at
    extended = await client.extend_ttl(file_id, 3600)
    assert extended.expires_at is not None and before is not None and extended.expires_at > before
    assert await client.delete(file_id) is True
    # Gone: this key reaches every sandbox, so it is told NOT_FOUND.
    assert await client.delete(file_id) is False
    assert await client.exists(file_id) is False
    assert await client.exists("f" * 32) is False
    assert await client.exists("not an id") is False
    with pytest.raises(arca.NotFound):
        await client.retrieve(file_id)


async def test_store_over_the_unary_limit_streams(client: Any) -> None:
    big = os.urandom(6 << 20)
    file_id = await client.store(big, mime="application/octet-stream", filename="big.bin", user_id="alice", scope="user")
    assert await client.retrieve(file_id) == big
    assert (await client.metadata(file_id)).bytes == len(big)


def unique(name: str) -> str:
    """A user of this test run alone (each test runs on both facades)."""
    return f"{name}-{os.urandom(4).hex()}"


async def test_session_scope_search_and_listing(client: Any) -> None:
    grace = unique("grace")
    opened = await client.open_session(grace)
    session_id = opened.session.session_id
    tmp = await client.store(b"work", mime="text/plain", summary="wip", session_id=session_id, user_id=grace)
    auto = await client.store(b"auto", mime="text/plain", user_id=grace)  # session opened for grace
    pdf = await client.store(b"%PDF", mime="application/pdf", summary="Q4", user_id=grace, scope="user",
                             meta={"quarter": "Q4"})
    await client.store(b"png", mime="image/png", user_id=grace, scope="user", meta={"quarter": "Q3"})
    assert [a.artifact_id for a in await client.list_by_session(session_id)] == [tmp]
    auto_meta = await client.metadata(auto)
    assert auto_meta.scope == arca.StorageScope.SESSION and auto_meta.session_id not in ("", session_id)
    assert len(await client.list_by_user(grace)) == 4
    assert len(await client.list_by_user(grace, scope="user")) == 2
    assert [a.artifact_id for a in await client.search(user_id=grace, scope="user", mime_prefix="application/pdf")] == [pdf]
    assert [a.artifact_id for a in await client.search(user_id=grace, meta_filter={"quarter": "Q4"})] == [pdf]
    assert await client.search(user_id=grace, mime_prefix="video/") == []
    assert await client.close_session(session_id) == 1
    assert not await client.exists(tmp)


async def test_batch_and_presign(client: Any) -> None:
    files = [{"data": f"image {i}".encode(), "mime": "image/jpeg", "filename": f"products/img-{i}.jpg",
              "summary": f"Product image {i}", "meta": {"product_id": "LPT-001"}} for i in range(10)]
    files.append({"data": b"x", "mime": "bad\nmime"})
    ids = await client.store_batch(files, user_id="heidi", scope="user")
    assert len([i for i in ids if i]) == 10 and ids[-1] is None
    first = ids[0]
    assert first is not None
    for presign in (client.presign_short, client.presign_medium, client.presign_long):
        url = await presign(first)
        assert urllib.request.urlopen(url).read() == b"image 0"
    url = await client.presign(first, expires=60)
    assert urllib.request.urlopen(url).read() == b"image 0"
    upload = await client.presign_upload(filename="photo.jpg", mime_type="image/jpeg", user_id="heidi", scope="user",
                                         expires=600)
    url, artifact_id = upload
    assert upload.plan.upload_id and artifact_id == upload.artifact_id
    urllib.request.urlopen(urllib.request.Request(url, data=b"JPEG bytes", method="PUT",
                                                  headers={"Content-Type": "image/jpeg"}))
    registered = await client.register_uploaded_artifact(artifact_id, mime="image/jpeg", summary="Profile pic",
                                                         upload_id=upload.plan.upload_id)
    assert (registered.filename, registered.summary, registered.bytes) == ("photo.jpg", "Profile pic", 10)
    assert await client.retrieve(artifact_id) == b"JPEG bytes"
    with pytest.raises(arca.InvalidArgument):
        await client.register_uploaded_artifact("0" * 32)


async def test_namespace_calls_by_reference_name(client: Any) -> None:
    ivan = unique("ivan")
    blob = await client.create_namespace(type=arca.NamespaceType.BLOB, scope=arca.StorageScope.USER, user_id=ivan)
    await client.write_namespace(blob.namespace_id, data=b"My important data")
    assert await client.read_namespace(blob.namespace_id) == b"My important data"
    await client.write_namespace(blob.namespace_id, data=b"replaced")  # the same one file
    assert await client.read_namespace(blob.namespace_id) == b"replaced"
    with pytest.raises(arca.FailedPrecondition):
        await client.write_namespace(blob.namespace_id, data=b"second", path="/other")
    ws = await client.create_namespace(type=arca.NamespaceType.WORKSPACE, name="my-project",
                                       scope=arca.StorageScope.USER, user_id=ivan)
    await client.write_namespace(ws.namespace_id, path="/README.md", data=b"# My Project")
    assert await client.read_namespace(ws.namespace_id, path="/README.md") == b"# My Project"
    vfs = client.get_namespace_vfs(ws.namespace_id)
    assert await vfs.ls("/") == ["README.md"]
    checkpoint = await client.checkpoint_namespace(ws.namespace_id, name="initial-version", description="First")
    await client.write_namespace(ws.namespace_id, path="/README.md", data=b"# Updated")
    await client.restore_namespace(ws.namespace_id, checkpoint.checkpoint_id)
    assert await client.read_namespace(ws.namespace_id, path="/README.md") == b"# My Project"
    assert [c.name for c in await client.list_checkpoints(ws.namespace_id)] == ["initial-version"]
    ids = {n.namespace_id for n in await client.list_namespaces(user_id=ivan)}
    assert {blob.namespace_id, ws.namespace_id} <= ids
    await client.destroy_namespace(blob.namespace_id)
    assert not await client.exists(blob.namespace_id)


async def test_a_session_token_reads_shared_but_cannot_write_it(client: Any, server: Server) -> None:
    tag = unique("logo")
    shared = await client.store(b"logo", mime="image/png", summary="Company logo", scope="sandbox", meta={"tag": tag})
    opened = await client.open_session("judy")
    async with arca.connect(server.address, opened.token) as judy:
        assert await judy.retrieve(shared) == b"logo"
        assert [a.artifact_id for a in await judy.search(scope="sandbox", meta_filter={"tag": tag})] == [shared]
        with pytest.raises(arca.PermissionDenied):
            await judy.store(b"mine", mime="text/plain", scope="sandbox")
        with pytest.raises(arca.PermissionDenied):
            await judy.update_metadata(shared, summary="defaced")
        own = await judy.store(b"private", mime="text/plain")
        assert (await judy.metadata(own)).session_id == opened.session.session_id
