"""The reference documents' own examples (../shared/reference/), rewritten
for Arca and run against a live server. Each test names the example it
follows; the changes are the ones the migration table lists: a connected
client instead of an in-process store, server sessions instead of made-up
session ids, exceptions from `arca` instead of the reference's."""

from __future__ import annotations

import os
import urllib.request
from typing import Any

import pytest

import arca
from arca import NamespaceType, StorageScope
from conftest import Server

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(server: Server) -> Any:
    async with arca.connect(server.address, server.admin_key) as client:
        yield client


async def test_artifacts_quick_start(store: Any) -> None:
    # artifacts-scopes-presign.md, "Quick Start"
    file_id = await store.store(data=b"Hello, world!", mime="text/plain", summary="greeting",
                                filename="hello.txt", user_id="alice", ttl=900)
    url = await store.presign_short(file_id)
    assert urllib.request.urlopen(url).read() == b"Hello, world!"
    text = await store.read_artifact(file_id, as_text=True)
    assert text == "Hello, world!"
    await store.update_file(file_id, data=b"Hello, updated world!", summary="Updated greeting")
    assert await store.retrieve(file_id) == b"Hello, updated world!"


async def test_namespaces_quick_start(store: Any) -> None:
    # artifacts-namespaces.md, opening example and "Quick Start"
    blob = await store.create_namespace(type=NamespaceType.BLOB, scope=StorageScope.SESSION, user_id="alice",
                                        session_id=(await store.open_session("alice")).session.session_id)
    await store.write_namespace(blob.namespace_id, data=b"Hello, World!")
    assert await store.read_namespace(blob.namespace_id) == b"Hello, World!"
    workspace = await store.create_namespace(type=NamespaceType.WORKSPACE, name=f"my-project-{os.urandom(3).hex()}",
                                             scope=StorageScope.USER, user_id="alice")
    await store.write_namespace(workspace.namespace_id, path="/main.py", data=b"print('hello')")
    await store.write_namespace(workspace.namespace_id, path="/config.json", data=b'{"version": "1.0"}')
    await store.write_namespace(workspace.namespace_id, path="/src/main.py", data=b"print('hello')")
    vfs = store.get_namespace_vfs(workspace.namespace_id)
    assert await vfs.ls("/") == ["config.json", "main.py", "src"]  # no hidden ".workspace" file
    assert await vfs.ls("/src") == ["main.py"]
    await vfs.cp("/src/main.py", "/src/backup.py")
    assert await vfs.find(pattern="*.py", path="/", recursive=True) == ["main.py", "src/backup.py", "src/main.py"]
    checkpoint = await store.checkpoint_namespace(workspace.namespace_id, name="v1.0", description="First")
    await store.write_namespace(workspace.namespace_id, path="/README.md", data=b"# Updated")
    await store.restore_namespace(workspace.namespace_id, checkpoint.checkpoint_id)
    assert not await vfs.exists("/README.md")


async def test_user_and_sandbox_scopes_with_search(store: Any, server: Server) -> None:
    # artifacts-scopes-presign.md, "User-Scoped Storage" and "Sandbox-Scoped Storage"
    alice = f"alice-{os.urandom(3).hex()}"
    document_id = await store.store(data=b"%PDF-1.7", mime="application/pdf", summary="Q4 Sales Report",
                                    user_id=alice, scope="user", ttl=86400 * 365, meta={"quarter": "Q4"})
    assert await store.retrieve(document_id) == b"%PDF-1.7"
    assert [a.artifact_id for a in await store.search(user_id=alice, scope="user")] == [document_id]
    assert [a.artifact_id for a in await store.search(user_id=alice, scope="user",
                                                      mime_prefix="application/pdf")] == [document_id]
    assert [a.artifact_id for a in await store.search(user_id=alice, scope="user",
                                                      meta_filter={"quarter": "Q4"})] == [document_id]
    template_id = await store.store(data=b"PNG", mime="image/png", summary="Company logo", scope="sandbox", ttl=None)
    # "Anyone in sandbox can read": a session of any user.
    opened = await store.open_session("bob")
    async with arca.connect(server.address, opened.token) as bob:
        assert await bob.retrieve(template_id) == b"PNG"
        # "Access control in action": Bob cannot read Alice's document.
        with pytest.raises(arca.PermissionDenied):
            await bob.retrieve(document_id)


async def test_mcp_server_integration_example(store: Any) -> None:
    # artifacts-scopes-presign.md, "MCP Server Integration": upload_file / list_files
    import base64

    async def upload_file(data_b64: str, filename: str, user_id: str) -> dict[str, Any]:
        data = base64.b64decode(data_b64)
        file_id = await store.store(data=data, mime="application/octet-stream", summary=f"Uploaded: {filename}",
                                    filename=filename, user_id=user_id)
        url = await store.presign_medium(file_id)
        return {"file_id": file_id, "filename": filename, "size": len(data), "download_url": url}

    async def list_files(session_id: str) -> list[dict[str, Any]]:
        files = await store.list_by_session(session_id)
        return [{"id": f.artifact_id, "name": f.filename, "size": f.bytes, "type": f.mime} for f in files]

    uploaded = await upload_file(base64.b64encode(b"tool output").decode(), "out.txt", "carol")
    assert urllib.request.urlopen(uploaded["download_url"]).read() == b"tool output"
    session_id = (await store.metadata(uploaded["file_id"])).session_id
    assert await list_files(session_id) == [{"id": uploaded["file_id"], "name": "out.txt", "size": 11,
                                             "type": "application/octet-stream"}]


async def test_presigned_upload_recipe(store: Any) -> None:
    # artifacts-scopes-presign.md, "Upload with Presigned URL"
    url, artifact_id = await store.presign_upload(user_id="dave", filename="photo.jpg", mime_type="image/jpeg",
                                                  expires=1800)
    request = urllib.request.Request(url, data=b"\xff\xd8jpeg", method="PUT", headers={"Content-Type": "image/jpeg"})
    urllib.request.urlopen(request)  # curl -X PUT --data-binary @photo.jpg "$url"
    await store.register_uploaded_artifact(artifact_id, mime="image/jpeg", summary="Profile pic", filename="photo.jpg")
    meta = await store.metadata(artifact_id)
    assert (meta.filename, meta.summary, meta.bytes) == ("photo.jpg", "Profile pic", 6)


async def test_batch_store_recipe(store: Any) -> None:
    # artifacts-scopes-presign.md, "Batch Store"
    session_id = (await store.open_session("catalog")).session.session_id
    files = [{"data": f"image {i}".encode(), "mime": "image/jpeg", "filename": f"products/img-{i}.jpg",
              "summary": f"Product image {i}", "meta": {"product_id": "LPT-001"}} for i in range(10)]
    file_ids = await store.store_batch(files, session_id=session_id)
    assert len([i for i in file_ids if i]) == 10
    assert len(await store.list_by_session(session_id)) == 10


async def test_error_handling_example(store: Any, server: Server) -> None:
    # artifacts-scopes-presign.md, "Error Handling": the same cases, Arca's types
    async def handler(file_id: str, token: str) -> tuple[Any, int]:
        async with arca.connect(server.address, token) as caller:
            try:
                return await caller.retrieve(file_id), 200
            except arca.NotFound:
                return {"error": "File not found"}, 404
            except arca.PermissionDenied:
                return {"error": "Access denied"}, 403
            except arca.Unavailable:
                return {"error": "Storage unavailable"}, 502
            except arca.ArcaError:
                return {"error": "Bad request"}, 400

    private = await store.store(b"secret", mime="text/plain", user_id="erin", scope="user")
    assert (await handler(private, server.admin_key))[1] == 200
    assert (await handler("0" * 32, server.admin_key))[1] == 404
    assert (await handler(private, (await store.open_session("mallory")).token))[1] == 403
    assert (await handler("not-an-id", server.admin_key))[1] == 400


async def test_virtual_fs_streaming_with_progress(store: Any) -> None:
    # virtual-fs.md, "Streaming Operations" and "Progress Reporting"
    ns = await store.create_namespace(NamespaceType.WORKSPACE, "user", user_id="fs")
    fs = store.workspace(ns.namespace_id)

    async def data_generator() -> Any:
        for i in range(1000):
            yield f"Line {i}: {'x' * 1000}\n".encode()

    reports: list[int] = []

    def progress_callback(bytes_written: int, total_bytes: int) -> None:
        reports.append(bytes_written)

    await fs.stream_write("/large_file.txt", data_generator(), progress_callback=progress_callback)
    total_bytes = 0
    async for chunk in fs.stream_read("/large_file.txt", chunk_size=8192):
        total_bytes += len(chunk)
    assert total_bytes == sum(len(f"Line {i}: {'x' * 1000}\n") for i in range(1000)) == reports[-1]

    async def async_track_progress(bytes_written: int, total_bytes: int) -> None:
        reports.append(-bytes_written)

    async def generate_data() -> Any:
        for i in range(10000):
            yield f"Record {i}\n".encode()

    await fs.stream_write("/exports/large_dataset.csv", generate_data(), progress_callback=async_track_progress)
    assert reports[-1] < 0 and (await fs.get_node_info("/exports/large_dataset.csv")) is not None


async def test_virtual_fs_basic_operations(store: Any) -> None:
    # virtual-fs.md, "API Reference / Basic Operations", and the snapshot example
    ns = await store.create_namespace(NamespaceType.WORKSPACE, "user", user_id="fs")
    fs = store.workspace(ns.namespace_id)
    await fs.mkdir("/home/user")
    await fs.write_file("/home/user/file.txt", "Original content")
    snapshot = await fs.checkpoint("initial_state", "Initial filesystem setup")
    await fs.write_file("/home/user/file.txt", "Modified content")
    await fs.write_file("/home/user/new_file.txt", "New file")
    assert [c.name for c in await fs.list_checkpoints()] == ["initial_state"]
    await fs.restore(snapshot.checkpoint_id)
    assert await fs.read_text("/home/user/file.txt") == "Original content"
    assert await fs.get_node_info("/home/user/new_file.txt") is None
    await fs.touch("/home/user/empty")
    await fs.mv("/home/user/empty", "/home/user/moved")
    await fs.rm("/home/user/moved")
    assert await fs.ls("/home/user") == ["file.txt"]
