"""A workspace with the reference virtual filesystem's calls
(chuk-virtual-fs' `AsyncVirtualFileSystem`): `ls`, `mkdir`, `touch`,
`write_file`, `read_file`, `read_text`, `rm`, `rmdir`, `cp`, `mv`, `find`,
`get_node_info`, `stream_write`, `stream_read` and checkpoints, over one
namespace. Paths are namespace paths; a leading "/" is accepted."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, AsyncIterable, AsyncIterator, Optional, Union

from ._transfer import CHUNK, Progress, Source
from .errors import AlreadyExists, FailedPrecondition, NotFound
from .types import CheckpointInfo, Diff, NodeInfo

if TYPE_CHECKING:
    from ._core import CoreCalls


class AsyncWorkspace:
    """The file tree of namespace `namespace_id`, reached through `client`."""

    def __init__(self, client: "CoreCalls", namespace_id: str) -> None:
        self.client = client
        self.namespace_id = namespace_id

    async def ls(self, path: str = "/") -> list[str]:
        """Names of a directory's children, sorted."""
        return [e.name for e in await self.client.list_entries(self.namespace_id, path)]

    async def list_entries(self, path: str = "/", recursive: bool = False) -> list[NodeInfo]:
        """A directory's entries (or its subtree) with their details."""
        return await self.client.list_entries(self.namespace_id, path, recursive)

    async def mkdir(self, path: str, *, parents: bool = True, exist_ok: bool = False) -> NodeInfo:
        """Creates a directory (and missing parents)."""
        return await self.client.mkdir(self.namespace_id, path, parents=parents, exist_ok=exist_ok)

    async def touch(self, path: str) -> NodeInfo:
        """Creates an empty file if `path` does not exist; an existing file
        is left as it is (its content is never truncated)."""
        try:
            return await self.client.write_file(self.namespace_id, path, b"", must_not_exist=True)
        except AlreadyExists:
            return await self.client.stat(self.namespace_id, path)

    async def write_file(self, path: str, content: Union[bytes, str], *, mime_type: str = "",
                         metadata: Optional[dict[str, str]] = None) -> NodeInfo:
        """Writes a whole file (str as UTF-8), creating parent directories."""
        return await self.client.write_file(self.namespace_id, path, content, mime_type=mime_type, metadata=metadata)

    async def write_text(self, path: str, text: str, encoding: str = "utf-8") -> NodeInfo:
        """Writes text in `encoding`."""
        return await self.write_file(path, text.encode(encoding), mime_type="text/plain")

    write_binary = write_file

    async def read_file(self, path: str, offset: int = 0, length: int = 0) -> bytes:
        """A file's content (or a range of it)."""
        return await self.client.read_file(self.namespace_id, path, offset, length)

    read_binary = read_file

    async def read_text(self, path: str, encoding: str = "utf-8") -> str:
        """A file's content decoded as text."""
        return (await self.read_file(path)).decode(encoding)

    async def rm(self, path: str, recursive: bool = False) -> int:
        """Removes a file, or a directory (non-empty ones need recursive)."""
        return await self.client.remove(self.namespace_id, path, recursive=recursive)

    async def rmdir(self, path: str) -> int:
        """Removes an empty directory (FailedPrecondition for a file or a
        non-empty directory)."""
        node = await self.client.stat(self.namespace_id, path)
        if not node.is_dir:
            raise FailedPrecondition(f"{node.path} is not a directory")
        return await self.client.remove(self.namespace_id, path)

    async def cp(self, source: str, destination: str, *, overwrite: bool = False) -> NodeInfo:
        """Copies a file or tree (metadata only)."""
        return await self.client.copy(self.namespace_id, source, destination, overwrite=overwrite)

    async def mv(self, source: str, destination: str, *, overwrite: bool = False) -> NodeInfo:
        """Moves a file or tree in one commit."""
        return await self.client.move(self.namespace_id, source, destination, overwrite=overwrite)

    async def find(self, pattern: str = "*", path: str = "/", recursive: bool = True) -> list[str]:
        """Paths of files under `path` whose name matches `pattern` (at any
        depth when recursive; a pattern with "/" is matched against the
        path relative to `path`)."""
        glob = pattern
        if recursive and "/" not in pattern and not pattern.startswith("**"):
            glob = "**/" + pattern
        return [e.path for e in await self.client.find_entries(self.namespace_id, glob, path)]

    async def exists(self, path: str) -> bool:
        """Whether a file or directory is at `path`."""
        return await self.get_node_info(path) is not None

    async def is_dir(self, path: str) -> bool:
        """Whether `path` is a directory."""
        node = await self.get_node_info(path)
        return node is not None and node.is_dir

    async def is_file(self, path: str) -> bool:
        """Whether `path` is a file."""
        node = await self.get_node_info(path)
        return node is not None and not node.is_dir

    async def get_node_info(self, path: str) -> Optional[NodeInfo]:
        """The entry at `path`, or None if there is none."""
        try:
            return await self.client.stat(self.namespace_id, path)
        except NotFound:
            return None

    async def set_metadata(self, path: str, metadata: dict[str, str]) -> NodeInfo:
        """Merges metadata into an entry's."""
        return await self.client.set_metadata(self.namespace_id, path, metadata)

    async def get_metadata(self, path: str) -> dict[str, str]:
        """An entry's metadata."""
        return await self.client.get_metadata(self.namespace_id, path)

    async def stream_write(self, /, path: str, stream: Union[AsyncIterable[bytes], Source], chunk_size: int = CHUNK,
                           progress_callback: Optional[Progress] = None, *, mime_type: str = "",
                           **metadata: str) -> NodeInfo:
        """Streams content to `path` with progress `(bytes_written,
        total_bytes)`; atomic (nothing visible until committed) and resumed
        after a dropped connection."""
        return await self.client.upload(self.namespace_id, path, stream, mime_type=mime_type, metadata=metadata,
                                        progress=progress_callback, chunk_size=min(chunk_size, 4 << 20))

    async def stream_read(self, path: str, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
        """A file's content as chunks of at most `chunk_size` bytes."""
        async for piece in self.client.stream_download(self.namespace_id, path):
            for start in range(0, len(piece), chunk_size):
                yield piece[start:start + chunk_size]

    async def upload(self, path: str, source: Source, *, progress: Optional[Progress] = None,
                     mime_type: str = "") -> NodeInfo:
        """Streams a local file (path or file object), bytes or an iterator."""
        return await self.client.upload(self.namespace_id, path, source, progress=progress, mime_type=mime_type)

    async def download(self, path: str, sink: Union[str, IO[bytes]], *, progress: Optional[Progress] = None) -> NodeInfo:
        """Streams a file into a local path or file object."""
        return await self.client.download(self.namespace_id, path, sink, progress=progress)

    async def batch_write_files(self, files: dict[str, Union[bytes, str]]) -> dict[str, object]:
        """Writes several small files in one call."""
        return dict(await self.client.batch_write(self.namespace_id, files))

    async def batch_read_files(self, paths: list[str]) -> dict[str, object]:
        """Reads several small files in one call."""
        return dict(await self.client.batch_read(self.namespace_id, paths))

    async def batch_delete_paths(self, paths: list[str], recursive: bool = False) -> dict[str, object]:
        """Removes several paths in one call."""
        return dict(await self.client.batch_delete(self.namespace_id, paths, recursive=recursive))

    async def checkpoint(self, name: str = "", description: Optional[str] = None) -> CheckpointInfo:
        """Snapshots the tree."""
        return await self.client.checkpoint_namespace(self.namespace_id, name, description)

    async def restore(self, checkpoint_id: str) -> int:
        """Restores the tree to a checkpoint."""
        return await self.client.restore_namespace(self.namespace_id, checkpoint_id)

    async def list_checkpoints(self) -> list[CheckpointInfo]:
        """The checkpoints, oldest first."""
        return await self.client.list_checkpoints(self.namespace_id)

    async def diff(self, from_checkpoint_id: str, to_checkpoint_id: str = "") -> Diff:
        """What changed since a checkpoint (or between two)."""
        return await self.client.diff_checkpoints(self.namespace_id, from_checkpoint_id, to_checkpoint_id)
