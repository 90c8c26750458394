"""A thin Python client for Arca over code generated from proto/.

`connect` opens a channel that sends the bearer credential on every call and
returns the generated stubs; `upload` and `download` stream files in chunks
with offsets, report progress from the server's answers, and check digests.
"""

from __future__ import annotations

import hashlib
import pathlib
import sys
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator, Optional

import grpc

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "_generated"))

from arca.v1 import checkpoint_pb2, checkpoint_pb2_grpc  # noqa: E402
from arca.v1 import common_pb2  # noqa: E402
from arca.v1 import file_pb2, file_pb2_grpc  # noqa: E402
from arca.v1 import namespace_pb2, namespace_pb2_grpc  # noqa: E402
from arca.v1 import session_pb2, session_pb2_grpc  # noqa: E402

__all__ = [
    "Client",
    "connect",
    "upload",
    "download",
    "checkpoint_pb2",
    "common_pb2",
    "file_pb2",
    "namespace_pb2",
    "session_pb2",
]

CHUNK = 1 << 20
MAX_MESSAGE = 16 << 20


class _Bearer(grpc.UnaryUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds `authorization: Bearer <secret>` to every call."""

    def __init__(self, secret: Optional[str]):
        self._metadata = [("authorization", f"Bearer {secret}")] if secret else []

    def _with_auth(self, details):
        metadata = list(details.metadata or []) + self._metadata
        return details._replace(metadata=metadata) if hasattr(details, "_replace") else _Details(details, metadata)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._with_auth(details), request)

    def intercept_stream_stream(self, continuation, details, request_iterator):
        return continuation(self._with_auth(details), request_iterator)


class _Details(grpc.ClientCallDetails):
    def __init__(self, base, metadata):
        self.method = base.method
        self.timeout = base.timeout
        self.metadata = metadata
        self.credentials = base.credentials
        self.wait_for_ready = getattr(base, "wait_for_ready", None)
        self.compression = getattr(base, "compression", None)


@dataclass
class Client:
    """The generated stubs over one authenticated channel."""

    channel: grpc.Channel
    namespaces: namespace_pb2_grpc.NamespaceServiceStub
    files: file_pb2_grpc.FileServiceStub
    sessions: session_pb2_grpc.SessionServiceStub
    checkpoints: checkpoint_pb2_grpc.CheckpointServiceStub

    def close(self) -> None:
        self.channel.close()


def connect(address: str, secret: Optional[str]) -> Client:
    """Connects (plaintext) to `address` ("host:port") with an API key or
    session token."""
    options = [("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.max_send_message_length", MAX_MESSAGE)]
    channel = grpc.intercept_channel(grpc.insecure_channel(address, options=options), _Bearer(secret))
    return Client(
        channel=channel,
        namespaces=namespace_pb2_grpc.NamespaceServiceStub(channel),
        files=file_pb2_grpc.FileServiceStub(channel),
        sessions=session_pb2_grpc.SessionServiceStub(channel),
        checkpoints=checkpoint_pb2_grpc.CheckpointServiceStub(channel),
    )


def _chunks(source: BinaryIO, chunk: int) -> Iterator[bytes]:
    while True:
        data = source.read(chunk)
        if not data:
            return
        yield data


def upload(
    client: Client,
    namespace_id: str,
    path: str,
    source: BinaryIO,
    *,
    chunk: int = CHUNK,
    mime_type: str = "",
    progress: Optional[Callable[[int], None]] = None,
) -> common_pb2.Entry:
    """Streams `source` to `path`; calls `progress(persisted_bytes)` on each
    progress answer; checks the committed digest against what was sent."""
    digest = hashlib.sha256()

    def requests():
        yield file_pb2.UploadRequest(start=file_pb2.UploadStart(namespace_id=namespace_id, path=path, mime_type=mime_type))
        offset = 0
        for data in _chunks(source, chunk):
            digest.update(data)
            yield file_pb2.UploadRequest(data=file_pb2.UploadData(offset=offset, data=data))
            offset += len(data)
        yield file_pb2.UploadRequest(finish=file_pb2.UploadFinish(expected_sha256=digest.hexdigest()))

    committed = None
    for answer in client.files.Upload(requests()):
        kind = answer.WhichOneof("message")
        if kind == "progress" and progress:
            progress(answer.progress.persisted_offset)
        elif kind == "committed":
            committed = answer.committed
    if committed is None:
        raise RuntimeError("upload ended without a commit")
    if committed.sha256 != digest.hexdigest():
        raise RuntimeError(f"committed digest {committed.sha256} is not what was sent")
    if progress:
        progress(committed.size)
    return committed


def download(
    client: Client,
    namespace_id: str,
    path: str,
    sink: BinaryIO,
    *,
    offset: int = 0,
    length: int = 0,
    progress: Optional[Callable[[int], None]] = None,
) -> file_pb2.DownloadHeader:
    """Streams `path` (or a range) into `sink`; checks the whole file's
    digest against the trailer when the whole file was asked for."""
    request = file_pb2.DownloadRequest(namespace_id=namespace_id, path=path, offset=offset, length=length)
    header = None
    digest = hashlib.sha256()
    received = 0
    for answer in client.files.Download(iter([request])):
        kind = answer.WhichOneof("message")
        if kind == "header":
            header = answer.header
        elif kind == "data":
            if answer.data.offset != header.offset + received:
                raise RuntimeError("chunk out of order")
            sink.write(answer.data.data)
            digest.update(answer.data.data)
            received += len(answer.data.data)
            if progress:
                progress(received)
        elif kind == "trailer":
            whole = header.offset == 0 and header.length == header.total_size
            if whole and answer.trailer.sha256 != digest.hexdigest():
                raise RuntimeError("downloaded content does not match its digest")
            return header
    raise RuntimeError("download ended without a trailer")
