"""Streamed upload and download: bounded memory, progress, SHA-256 checked,
and resumed after a dropped connection.

Upload: every byte is read from the source once and hashed then; bytes the
server has received but not yet made durable stay in a retained window so a
resumed stream (`UploadResume`, continuing at the server's persisted offset)
can resend them even from a source that cannot rewind. When the window
grows past `max_retained`, the sender asks for the state (which makes the
server persist) and waits, so memory stays bounded whatever the source.

Download: chunks are checked for order and hashed as they arrive; after a
dropped connection the rest is asked for again pinned to the same version
(`if_version_match`), so a resumed download never mixes two versions. A
whole-file download is checked against the trailer's digest.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import inspect
import os
import pathlib
from collections.abc import AsyncIterable, Iterable
from typing import IO, AsyncIterator, Awaitable, Callable, Iterator, Optional, Union, cast

import grpc
import grpc.aio

from ._rpc import Rpc
from .errors import ArcaError, DataLoss, Unavailable, translate
from .types import NodeInfo
from .v1 import common_pb2, file_pb2

#: Progress callback: (bytes done, total bytes or 0 when unknown); sync or async.
Progress = Callable[[int, int], Union[None, Awaitable[None]]]
#: What `upload` reads from.
Source = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", IO[bytes], AsyncIterable[bytes], Iterable[bytes]]

CHUNK = 1 << 20
#: Stream failures after which a transfer resumes. Resuming is safe to
#: repeat (the server says where to continue), so besides UNAVAILABLE this
#: takes INTERNAL, which gRPC's core reports for a connection reset under a
#: stream; a persistent server fault still ends as its own error after
#: `retries` attempts.
STREAM_RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL})
MAX_RETAINED = 64 << 20
UPLOAD_METHOD = "/arca.v1.FileService/Upload"
DOWNLOAD_METHOD = "/arca.v1.FileService/Download"


async def report(progress: Optional[Progress], done: int, total: int) -> None:
    """Calls a sync or async progress callback."""
    if progress is None:
        return
    result = progress(done, total)
    if inspect.isawaitable(result):
        await result


class _Reader:
    """Reads any source as chunks of at most `chunk` bytes, once."""

    def __init__(self, source: Source, chunk: int) -> None:
        self.chunk = chunk
        self.size: Optional[int] = None
        self._close: Optional[IO[bytes]] = None
        self._file: Optional[IO[bytes]] = None
        self._buffer: Optional[memoryview] = None
        self._aiter: Optional[AsyncIterator[bytes]] = None
        self._iter: Optional[Iterator[bytes]] = None
        self._pending = b""
        if isinstance(source, (bytes, bytearray, memoryview)):
            self._buffer = memoryview(source).cast("B")
            self.size = len(self._buffer)
        elif isinstance(source, (str, os.PathLike)):
            self._file = self._close = open(pathlib.Path(source), "rb")
            self.size = os.fstat(self._file.fileno()).st_size
        elif isinstance(source, AsyncIterable):
            self._aiter = source.__aiter__()
        elif isinstance(source, Iterable) and not hasattr(source, "read"):
            self._iter = iter(source)
        else:
            self._file = cast(IO[bytes], source)

    async def read(self) -> bytes:
        """The next chunk; b"" at the end."""
        if self._buffer is not None:
            data = bytes(self._buffer[: self.chunk])
            self._buffer = self._buffer[len(data):]
            return data
        if self._file is not None:
            data = await asyncio.to_thread(self._file.read, self.chunk)
            return bytes(data or b"")
        # Iterators: re-chunk what they yield to at most `chunk` bytes.
        while len(self._pending) < self.chunk:
            if self._aiter is not None:
                try:
                    piece = await self._aiter.__anext__()
                except StopAsyncIteration:
                    break
            else:
                assert self._iter is not None
                step = next(self._iter, None)
                if step is None:
                    break
                piece = step
            self._pending += bytes(piece)
        data, self._pending = self._pending[: self.chunk], self._pending[self.chunk:]
        return data

    def close(self) -> None:
        if self._close is not None:
            self._close.close()


class _SourceFailed(Exception):
    """The upload's source raised (the cause): the caller's error, not the
    stream's, so it ends the upload instead of resuming it."""


class _Upload:
    """One upload across however many streams it takes."""

    def __init__(self, rpc: Rpc, start: file_pb2.UploadStart, reader: _Reader, progress: Optional[Progress], max_retained: int) -> None:
        self.rpc = rpc
        self.start = start
        self.reader = reader
        self.progress = progress
        self.max_retained = max_retained
        self.total = start.total_size if start.HasField("total_size") else (reader.size or 0)
        self.hasher = hashlib.sha256()
        self.digest: Optional[str] = None  # set once the source is exhausted
        self.read_offset = 0  # bytes taken from the source
        self.retained: collections.deque[tuple[int, bytes]] = collections.deque()
        self.retained_bytes = 0
        self.persisted = 0
        self.upload_id = ""
        self.advanced = asyncio.Event()
        self.reading: Optional[asyncio.Task[bytes]] = None
        self.last_error: Optional[grpc.aio.AioRpcError] = None

    def acknowledge(self, persisted: int) -> None:
        self.persisted = max(self.persisted, persisted)
        while self.retained and self.retained[0][0] + len(self.retained[0][1]) <= self.persisted:
            _, data = self.retained.popleft()
            self.retained_bytes -= len(data)
        self.advanced.set()

    async def next_chunk(self) -> bytes:
        data = await self.reader.read()
        if data:
            self.hasher.update(data)
            self.retained.append((self.read_offset, data))
            self.retained_bytes += len(data)
            self.read_offset += len(data)
        elif self.digest is None:
            self.digest = self.hasher.hexdigest()
        return data

    async def send(self, call: grpc.aio.StreamStreamCall[file_pb2.UploadRequest, file_pb2.UploadResponse], resume_at: int) -> None:
        Req, Data = file_pb2.UploadRequest, file_pb2.UploadData
        sent = resume_at
        while True:
            # Send what the window holds past `sent`: after a resume, what the
            # server had not made durable; otherwise the chunk just read.
            tail = []
            for offset, data in reversed(self.retained):
                if offset + len(data) <= sent:
                    break
                tail.append((offset, data))
            for offset, data in reversed(tail):
                skip = max(0, sent - offset)
                await call.write(Req(data=Data(offset=offset + skip, data=data[skip:])))
                sent = offset + len(data)
            if self.digest is not None:
                break
            if self.retained_bytes >= self.max_retained:
                self.advanced.clear()
                await call.write(Req(query_state=file_pb2.QueryState()))
                await self.advanced.wait()
                continue
            # The read is shielded: a broken stream cancels this sender, but a
            # chunk taken from the source must land in the window, or a
            # source that cannot rewind would lose it.
            if self.reading is None:
                self.reading = asyncio.ensure_future(self.next_chunk())
            try:
                await asyncio.shield(self.reading)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                raise _SourceFailed() from e
            self.reading = None
        # A digest the caller declared is the one the server must check;
        # otherwise ours (of every byte read), so the commit is exactly them.
        expected = self.start.expected_sha256 or self.digest
        await call.write(Req(finish=file_pb2.UploadFinish(expected_sha256=expected)))
        await call.done_writing()

    @staticmethod
    async def next_answer(
        call: grpc.aio.StreamStreamCall[file_pb2.UploadRequest, file_pb2.UploadResponse],
        sender: Optional["asyncio.Task[None]"],
    ) -> object:
        """The server's next message; if the sender fails first for a reason
        of its own (the source raised), that error, with the call cancelled
        so nothing commits."""
        read = asyncio.ensure_future(call.read())
        if sender is not None and not sender.done():
            await asyncio.wait({read, sender}, return_when=asyncio.FIRST_COMPLETED)
        if not read.done() and sender is not None and sender.done():
            failure = None if sender.cancelled() else sender.exception()
            if isinstance(failure, _SourceFailed) and failure.__cause__ is not None:
                read.cancel()
                call.cancel()
                raise failure.__cause__
            # Any other sender failure is the stream breaking: `read` says how.
        return await read

    async def attempt(self) -> Optional[common_pb2.Entry]:
        """One stream; the committed entry, or None if the stream broke in a
        way worth resuming (raises otherwise)."""
        call = self.rpc.stream(UPLOAD_METHOD, file_pb2.UploadRequest, file_pb2.UploadResponse)
        sender: Optional[asyncio.Task[None]] = None
        try:
            if self.upload_id:
                await call.write(file_pb2.UploadRequest(resume=file_pb2.UploadResume(upload_id=self.upload_id)))
            else:
                await call.write(file_pb2.UploadRequest(start=self.start))
            while True:
                answer = await self.next_answer(call, sender)
                if not isinstance(answer, file_pb2.UploadResponse):
                    raise ArcaError("the upload stream ended without a commit")
                kind = answer.WhichOneof("message")
                if kind == "accepted":
                    if answer.accepted.deduplicated:
                        continue  # `committed` follows; nothing to send
                    self.upload_id = answer.accepted.upload_id
                    self.acknowledge(answer.accepted.persisted_offset)
                    sender = asyncio.ensure_future(self.send(call, answer.accepted.persisted_offset))
                elif kind == "progress":
                    self.acknowledge(answer.progress.persisted_offset)
                    await report(self.progress, answer.progress.persisted_offset, self.total)
                elif kind == "committed":
                    return answer.committed
        except grpc.aio.AioRpcError as e:
            if e.code() in STREAM_RETRYABLE:
                self.last_error = e
                return None
            raise translate(e) from None
        finally:
            if sender is not None:
                if not sender.done():
                    sender.cancel()
                try:
                    await sender
                except (asyncio.CancelledError, grpc.RpcError):
                    pass  # the stream broke; reported through `read`
                except Exception:
                    pass  # the source failed; `next_answer` raised it

    async def run(self, retries: int) -> NodeInfo:
        try:
            attempt = 0
            while (committed := await self.attempt()) is None:
                if attempt == retries:
                    raise gave_up(f"upload {self.upload_id or '(not started)'}", retries, self.last_error)
                await asyncio.sleep(min(2.0, 0.1 * 2**attempt))
                attempt += 1
            entry = NodeInfo.from_pb(committed)
            if self.digest is not None and entry.sha256 != self.digest:
                raise DataLoss(f"the server committed {entry.sha256}, not the {self.digest} that was sent")
            await report(self.progress, entry.size, self.total or entry.size)
            return entry
        finally:
            if self.reading is not None:
                self.reading.cancel()
            self.reader.close()


def gave_up(what: str, retries: int, last: Optional[grpc.aio.AioRpcError]) -> ArcaError:
    """The error of a transfer that could not be resumed: the last failure's
    kind, saying how often it was tried."""
    if last is None:
        return Unavailable(f"{what} gave up after {retries} resumes", grpc.StatusCode.UNAVAILABLE)
    error = translate(last)
    error.message = f"{what} gave up after {retries} resumes: {error.message}"
    return error


async def upload(
    rpc: Rpc,
    start: file_pb2.UploadStart,
    source: Source,
    *,
    chunk_size: int = CHUNK,
    progress: Optional[Progress] = None,
    retries: int = 5,
    max_retained: int = MAX_RETAINED,
) -> NodeInfo:
    """Streams `source` as the file `start` names; resumes up to `retries`
    times after a dropped connection."""
    if chunk_size <= 0 or chunk_size > 4 << 20:
        raise ValueError("chunk_size must be between 1 byte and 4 MiB (the server's chunk limit)")
    reader = _Reader(source, chunk_size)
    if reader.size is not None and not start.HasField("total_size"):
        start.total_size = reader.size
    return await _Upload(rpc, start, reader, progress, max(max_retained, chunk_size)).run(retries)


class Download:
    """An async iterator of a file's content (or a range of it), resumed
    after a dropped connection and checked against the trailer's digest.
    `entry` is set once the first header arrived."""

    def __init__(self, rpc: Rpc, namespace_id: str, path: str, offset: int = 0, length: int = 0,
                 progress: Optional[Progress] = None, retries: int = 5) -> None:
        self.rpc, self.namespace_id, self.path = rpc, namespace_id, path
        self.offset, self.length = offset, length
        self.progress, self.retries = progress, retries
        self.entry: Optional[NodeInfo] = None
        self.received = 0

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        hasher = hashlib.sha256()
        version: Optional[int] = None
        whole = False
        span = 0  # bytes this download covers, known after the first header
        for attempt in range(self.retries + 1):
            request = file_pb2.DownloadRequest(namespace_id=self.namespace_id, path=self.path,
                                               offset=self.offset + self.received)
            if version is not None:
                request.if_version_match = version
                if span == self.received:
                    break
                request.length = span - self.received
            elif self.length:
                request.length = self.length
            call = self.rpc.stream(DOWNLOAD_METHOD, file_pb2.DownloadRequest, file_pb2.DownloadResponse)
            try:
                await call.write(request)
                await call.done_writing()
                async for answer in call:
                    kind = answer.WhichOneof("message")
                    if kind == "header":
                        if version is None:
                            version = answer.header.entry.version
                            span = answer.header.length
                            whole = answer.header.offset == 0 and answer.header.length == answer.header.total_size
                            self.entry = NodeInfo.from_pb(answer.header.entry)
                    elif kind == "data":
                        # Each read of a bytes field copies it: read it once.
                        chunk = answer.data
                        data = chunk.data
                        if chunk.offset != self.offset + self.received:
                            raise DataLoss(f"chunk at {chunk.offset} arrived out of order")
                        hasher.update(data)
                        self.received += len(data)
                        yield data
                        if self.progress is not None:
                            await report(self.progress, self.received, span)
                    elif kind == "trailer":
                        if whole and answer.trailer.sha256 != hasher.hexdigest():
                            raise DataLoss(f"{self.path}: received content does not match its SHA-256 {answer.trailer.sha256}")
                        return
                raise ArcaError("the download stream ended without a trailer")
            except grpc.aio.AioRpcError as e:
                if e.code() not in STREAM_RETRYABLE:
                    raise translate(e) from None
                if attempt == self.retries:
                    raise gave_up(f"download of {self.path}", self.retries, e) from None
            await asyncio.sleep(min(2.0, 0.1 * 2**attempt))
        if version is not None and span == self.received:
            # Every byte came, only the trailer was lost: check what we have.
            if whole and self.entry is not None and hasher.hexdigest() != self.entry.sha256:
                raise DataLoss(f"{self.path}: received content does not match its SHA-256")
            return
        raise gave_up(f"download of {self.path}", self.retries, None)
