"""The synchronous facade, for scripts and notebooks: `arca.Client` and
`arca.Workspace` have the async client's calls under the same names and
arguments, blocking instead of returning coroutines.

Each sync client runs its own event loop on a daemon thread and hands it
the async client's coroutines, so both facades share one implementation
(and the sync one works inside a notebook whose own loop is running).
Callbacks run on that thread.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import Any, AsyncIterator, Callable, Coroutine, Iterator, Optional, TypeVar

from typing_extensions import Concatenate, ParamSpec

from . import _config
from ._config import PathLike
from ._transfer import CHUNK, Progress
from .client import AsyncClient
from .workspace import AsyncWorkspace

P = ParamSpec("P")
R = TypeVar("R")


class _Loop:
    """An event loop on its own thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="arca-sync", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, R]) -> R:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def iterate(self, source: AsyncIterator[bytes]) -> Iterator[bytes]:
        async def step() -> Optional[bytes]:
            try:
                return await source.__anext__()
            except StopAsyncIteration:
                return None

        while (item := self.run(step())) is not None:
            yield item

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


def _blocking(method: Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]) -> Callable[Concatenate[Any, P], R]:
    """The blocking twin of an async method of the wrapped object."""

    def call(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        result: R = self._loop.run(method(self._async, *args, **kwargs))
        return result

    call.__name__ = method.__name__
    call.__qualname__ = method.__qualname__
    call.__doc__ = method.__doc__
    return call


class Workspace:
    """The blocking twin of `AsyncWorkspace`."""

    def __init__(self, loop: _Loop, workspace: AsyncWorkspace) -> None:
        self._loop = loop
        self._async = workspace
        self.namespace_id = workspace.namespace_id

    ls = _blocking(AsyncWorkspace.ls)
    list_entries = _blocking(AsyncWorkspace.list_entries)
    mkdir = _blocking(AsyncWorkspace.mkdir)
    touch = _blocking(AsyncWorkspace.touch)
    write_file = _blocking(AsyncWorkspace.write_file)
    write_text = _blocking(AsyncWorkspace.write_text)
    write_binary = _blocking(AsyncWorkspace.write_file)
    read_file = _blocking(AsyncWorkspace.read_file)
    read_binary = _blocking(AsyncWorkspace.read_file)
    read_text = _blocking(AsyncWorkspace.read_text)
    rm = _blocking(AsyncWorkspace.rm)
    rmdir = _blocking(AsyncWorkspace.rmdir)
    cp = _blocking(AsyncWorkspace.cp)
    mv = _blocking(AsyncWorkspace.mv)
    find = _blocking(AsyncWorkspace.find)
    exists = _blocking(AsyncWorkspace.exists)
    is_dir = _blocking(AsyncWorkspace.is_dir)
    is_file = _blocking(AsyncWorkspace.is_file)
    get_node_info = _blocking(AsyncWorkspace.get_node_info)
    set_metadata = _blocking(AsyncWorkspace.set_metadata)
    get_metadata = _blocking(AsyncWorkspace.get_metadata)
    stream_write = _blocking(AsyncWorkspace.stream_write)
    upload = _blocking(AsyncWorkspace.upload)
    download = _blocking(AsyncWorkspace.download)
    batch_write_files = _blocking(AsyncWorkspace.batch_write_files)
    batch_read_files = _blocking(AsyncWorkspace.batch_read_files)
    batch_delete_paths = _blocking(AsyncWorkspace.batch_delete_paths)
    checkpoint = _blocking(AsyncWorkspace.checkpoint)
    restore = _blocking(AsyncWorkspace.restore)
    list_checkpoints = _blocking(AsyncWorkspace.list_checkpoints)
    diff = _blocking(AsyncWorkspace.diff)

    def stream_read(self, path: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """A file's content as chunks of at most `chunk_size` bytes."""
        return self._loop.iterate(self._async.stream_read(path, chunk_size))


class Client:
    """The blocking twin of `AsyncClient`: same calls, same arguments."""

    def __init__(self, target: _config.Target) -> None:
        self._loop = _Loop()

        async def make() -> AsyncClient:
            return AsyncClient(target)

        self._async = self._loop.run(make())
        self.target = target

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, kind: Optional[type[BaseException]], value: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        self.close()

    def close(self) -> None:
        """Closes the channel and stops the client's loop thread."""
        self._loop.run(self._async.close())
        self._loop.close()

    def workspace(self, namespace_id: str) -> Workspace:
        """The virtual-filesystem calls on one namespace."""
        return Workspace(self._loop, self._async.workspace(namespace_id))

    get_namespace_vfs = workspace

    def stream_download(self, namespace_id: str, path: str, *, offset: int = 0, length: int = 0,
                        progress: Optional[Progress] = None) -> Iterator[bytes]:
        """A file's content (or range) as chunks, resumed and verified."""
        stream = self._async.stream_download(namespace_id, path, offset=offset, length=length, progress=progress)
        return self._loop.iterate(stream.__aiter__())

    # namespaces
    create_namespace = _blocking(AsyncClient.create_namespace)
    get_namespace = _blocking(AsyncClient.get_namespace)
    list_namespaces = _blocking(AsyncClient.list_namespaces)
    destroy_namespace = _blocking(AsyncClient.destroy_namespace)
    update_namespace = _blocking(AsyncClient.update_namespace)
    write_namespace = _blocking(AsyncClient.write_namespace)
    read_namespace = _blocking(AsyncClient.read_namespace)
    # files
    stat = _blocking(AsyncClient.stat)
    list_entries = _blocking(AsyncClient.list_entries)
    write_file = _blocking(AsyncClient.write_file)
    read_file = _blocking(AsyncClient.read_file)
    upload = _blocking(AsyncClient.upload)
    download = _blocking(AsyncClient.download)
    mkdir = _blocking(AsyncClient.mkdir)
    remove = _blocking(AsyncClient.remove)
    copy = _blocking(AsyncClient.copy)
    move = _blocking(AsyncClient.move)
    find_entries = _blocking(AsyncClient.find_entries)
    set_metadata = _blocking(AsyncClient.set_metadata)
    get_metadata = _blocking(AsyncClient.get_metadata)
    batch_write = _blocking(AsyncClient.batch_write)
    batch_read = _blocking(AsyncClient.batch_read)
    batch_delete = _blocking(AsyncClient.batch_delete)
    # checkpoints
    checkpoint_namespace = _blocking(AsyncClient.checkpoint_namespace)
    list_checkpoints = _blocking(AsyncClient.list_checkpoints)
    get_checkpoint = _blocking(AsyncClient.get_checkpoint)
    restore_namespace = _blocking(AsyncClient.restore_namespace)
    delete_checkpoint = _blocking(AsyncClient.delete_checkpoint)
    diff_checkpoints = _blocking(AsyncClient.diff_checkpoints)
    # sessions
    open_session = _blocking(AsyncClient.open_session)
    renew_session = _blocking(AsyncClient.renew_session)
    close_session = _blocking(AsyncClient.close_session)
    abort_upload = _blocking(AsyncClient.abort_upload)
    get_session = _blocking(AsyncClient.get_session)
    list_sessions = _blocking(AsyncClient.list_sessions)
    # presigned URLs
    presign_download = _blocking(AsyncClient.presign_download)
    presign_upload_file = _blocking(AsyncClient.presign_upload_file)
    finalize_upload = _blocking(AsyncClient.finalize_upload)
    # artifacts
    store = _blocking(AsyncClient.store)
    store_batch = _blocking(AsyncClient.store_batch)
    retrieve = _blocking(AsyncClient.retrieve)
    read_artifact = _blocking(AsyncClient.read_artifact)
    metadata = _blocking(AsyncClient.metadata)
    exists = _blocking(AsyncClient.exists)
    delete = _blocking(AsyncClient.delete)
    update_file = _blocking(AsyncClient.update_file)
    update_metadata = _blocking(AsyncClient.update_metadata)
    extend_ttl = _blocking(AsyncClient.extend_ttl)
    search = _blocking(AsyncClient.search)
    list_by_session = _blocking(AsyncClient.list_by_session)
    list_by_user = _blocking(AsyncClient.list_by_user)
    presign = _blocking(AsyncClient.presign)
    presign_short = _blocking(AsyncClient.presign_short)
    presign_medium = _blocking(AsyncClient.presign_medium)
    presign_long = _blocking(AsyncClient.presign_long)
    presign_upload = _blocking(AsyncClient.presign_upload)
    register_uploaded_artifact = _blocking(AsyncClient.register_uploaded_artifact)


def connect_sync(
    address: Optional[str] = None,
    token: Optional[str] = None,
    *,
    token_file: Optional[PathLike] = None,
    ca_file: Optional[PathLike] = None,
    tls: Optional[bool] = None,
) -> Client:
    """A blocking client, configured as `arca.connect`."""
    return Client(_config.resolve(address, token, token_file=token_file, ca_file=ca_file, tls=tls))


__all__ = ["Client", "Workspace", "connect_sync"]
