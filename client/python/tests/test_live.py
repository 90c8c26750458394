"""The generated Python client against a live Arca server."""

import hashlib
import io
import os

import grpc
import pytest

import arca_client as arca
from arca_client import checkpoint_pb2, common_pb2, file_pb2, namespace_pb2, session_pb2


def workspace(client, user="alice"):
    return client.namespaces.CreateNamespace(
        namespace_pb2.CreateNamespaceRequest(
            type=common_pb2.NAMESPACE_TYPE_WORKSPACE,
            scope=common_pb2.SCOPE_USER,
            owner=common_pb2.Owner(sandbox="py", user=user),
        )
    ).namespace_id


def test_large_file_round_trip_with_progress(server):
    client = arca.connect(server["address"], server["admin_key"])
    ns = workspace(client)
    content = os.urandom(24 << 20)
    seen = []
    entry = arca.upload(client, ns, "data/big.bin", io.BytesIO(content), progress=seen.append)
    assert entry.size == len(content)
    assert entry.sha256 == hashlib.sha256(content).hexdigest()
    assert seen and seen[-1] == len(content)
    assert seen == sorted(seen), "progress only grows"
    assert any(0 < p < len(content) for p in seen), "progress came while uploading"
    sink = io.BytesIO()
    got = []
    header = arca.download(client, ns, "data/big.bin", sink, progress=got.append)
    assert header.total_size == len(content)
    assert sink.getvalue() == content
    assert got[-1] == len(content)


def test_ranged_read(server):
    client = arca.connect(server["address"], server["admin_key"])
    ns = workspace(client)
    content = bytes(range(256)) * 4096
    arca.upload(client, ns, "r.bin", io.BytesIO(content), chunk=100_000)
    sink = io.BytesIO()
    header = arca.download(client, ns, "r.bin", sink, offset=1000, length=5000)
    assert (header.offset, header.length) == (1000, 5000)
    assert sink.getvalue() == content[1000:6000]
    unary = client.files.ReadFile(file_pb2.ReadFileRequest(namespace_id=ns, path="r.bin", offset=10, length=20))
    assert unary.data == content[10:30]


def test_checkpoint_and_restore(server):
    client = arca.connect(server["address"], server["admin_key"])
    ns = workspace(client)
    client.files.WriteFile(file_pb2.WriteFileRequest(namespace_id=ns, path="notes.txt", data=b"version one"))
    cp = client.checkpoints.CreateCheckpoint(checkpoint_pb2.CreateCheckpointRequest(namespace_id=ns, name="v1"))
    client.files.WriteFile(file_pb2.WriteFileRequest(namespace_id=ns, path="notes.txt", data=b"version two"))
    client.files.WriteFile(file_pb2.WriteFileRequest(namespace_id=ns, path="later.txt", data=b"after"))
    client.checkpoints.RestoreCheckpoint(checkpoint_pb2.RestoreCheckpointRequest(namespace_id=ns, checkpoint_id=cp.checkpoint_id))
    assert client.files.ReadFile(file_pb2.ReadFileRequest(namespace_id=ns, path="notes.txt")).data == b"version one"
    listed = client.files.List(file_pb2.ListRequest(namespace_id=ns, recursive=True))
    assert [e.path for e in listed.entries] == ["notes.txt"]


def test_access_is_denied_without_the_right_credential(server):
    admin = arca.connect(server["address"], server["admin_key"])
    ns = workspace(admin, user="alice")
    with pytest.raises(grpc.RpcError) as no_credential:
        arca.connect(server["address"], None).files.ReadFile(file_pb2.ReadFileRequest(namespace_id=ns, path="x"))
    assert no_credential.value.code() == grpc.StatusCode.UNAUTHENTICATED
    opened = admin.sessions.OpenSession(session_pb2.OpenSessionRequest(user="bob", sandbox="py"))
    bob = arca.connect(server["address"], opened.token)
    with pytest.raises(grpc.RpcError) as denied:
        bob.files.WriteFile(file_pb2.WriteFileRequest(namespace_id=ns, path="x", data=b"bob was here"))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
