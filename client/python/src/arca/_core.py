"""The SDK's calls on namespaces, files, checkpoints, sessions and presigned
URLs, with the reference libraries' names where they have one. Artifacts
(`artifacts.py`) and workspaces (`workspace.py`) are built on these."""

from __future__ import annotations

import datetime as _dt
import os
import pathlib
from typing import IO, Any, Optional, TypeVar, Union

import grpc
from google.protobuf.duration_pb2 import Duration

from . import _transfer
from ._rpc import Rpc
from ._transfer import Download, Progress, Source
from . import errors
from .errors import ArcaError, FailedPrecondition, InvalidArgument, NotFound
from .types import (
    CheckpointInfo,
    Diff,
    NamespaceInfo,
    NamespaceType,
    NodeInfo,
    OpenedSession,
    SessionInfo,
    StorageScope,
    UploadPlan,
    pb_scope,
    pb_type,
)
from .v1 import checkpoint_pb2, common_pb2, file_pb2, namespace_pb2, presign_pb2, session_pb2

#: Content up to this size goes in one unary call; larger streams.
UNARY_LIMIT = 4 << 20
#: A duration: seconds, or a timedelta.
Seconds = Union[int, float, _dt.timedelta]

NS = "/arca.v1.NamespaceService/"
FS = "/arca.v1.FileService/"
CS = "/arca.v1.CheckpointService/"
SS = "/arca.v1.SessionService/"
PS = "/arca.v1.PresignService/"


def duration(value: Seconds) -> Duration:
    """A protobuf Duration from seconds or a timedelta (positive)."""
    seconds = value.total_seconds() if isinstance(value, _dt.timedelta) else float(value)
    if seconds <= 0:
        raise InvalidArgument("a duration must be positive")
    d = Duration()
    d.FromNanoseconds(int(seconds * 1e9))
    return d


def access_profile(profile: Union[str, dict[str, Any]]) -> namespace_pb2.AccessProfile:
    """An AccessProfile from a preset name, or a dict of its fields."""
    if isinstance(profile, str):
        return namespace_pb2.AccessProfile(preset=profile)
    try:
        return namespace_pb2.AccessProfile(**profile)
    except (TypeError, ValueError) as e:
        raise InvalidArgument(f"bad access profile: {e}") from e


T = TypeVar("T")


def _error(e: common_pb2.ItemError) -> ArcaError:
    try:
        code = grpc.StatusCode[_CODE_NAMES[e.code]]
    except (KeyError, IndexError):
        code = grpc.StatusCode.UNKNOWN
    return errors.by_code(code)(e.message, code)


def _item(result: file_pb2.BatchItemResult, value: T) -> Union[T, ArcaError]:
    return _error(result.error) if result.WhichOneof("result") == "error" else value


#: google.rpc.Code numbers to names.
_CODE_NAMES = {c.value[0]: c.name for c in grpc.StatusCode}


class CoreCalls:
    """Calls that map one to one onto the contract."""

    def __init__(self, rpc: Rpc) -> None:
        self._rpc = rpc

    # ------------------------------------------------------------ namespaces

    async def create_namespace(
        self,
        type: Optional[NamespaceType] = None,
        scope: Union[StorageScope, str] = StorageScope.SESSION,
        name: Optional[str] = None,
        user_id: Optional[str] = None,
        session_id: Optional[str] = None,
        ttl_hours: Optional[float] = None,
        *,
        ttl: Optional[Seconds] = None,
        summary: Optional[str] = None,
        metadata: Optional[dict[str, str]] = None,
        backend: Optional[str] = None,
        sandbox: Optional[str] = None,
        source: Optional[str] = None,
        checkpoint_id: Optional[str] = None,
        variables: Optional[dict[str, str]] = None,
        template: bool = False,
        profile: Optional[Union[str, dict[str, Any]]] = None,
    ) -> NamespaceInfo:
        """Creates a namespace. The owner comes from the credential: a
        session token's own user and session; a key names `user_id` (and,
        for SESSION scope, a live `session_id` from `open_session`).

        With `source` (a namespace id, and optionally one of its
        `checkpoint_id`s) the namespace is a fork: the source's tree,
        shared and not copied, of its type (WORKSPACE otherwise). Forking a
        template substitutes `variables` for its `${name}` placeholders.
        `template` marks the new namespace as one; `profile` is an access
        profile preset name ("strict", "readonly", "untrusted", ...) or a
        dict of AccessProfile fields."""
        if type is None:
            type = None if source else NamespaceType.WORKSPACE
        request = namespace_pb2.CreateNamespaceRequest(
            type=pb_type(type) if type is not None else common_pb2.NAMESPACE_TYPE_UNSPECIFIED,
            template=template,
            scope=pb_scope(scope),
            owner=common_pb2.Owner(sandbox=sandbox or "", user=user_id or "", session=session_id or ""),
            name=name or "",
            metadata=metadata or {},
            backend=backend or "",
            summary=summary or "",
        )
        if source:
            request.source.CopyFrom(namespace_pb2.NamespaceSource(
                namespace_id=source, checkpoint_id=checkpoint_id or "", variables=variables or {}))
        if profile is not None:
            request.profile.CopyFrom(access_profile(profile))
        if ttl is not None or ttl_hours is not None:
            request.ttl.CopyFrom(duration(ttl if ttl is not None else _dt.timedelta(hours=ttl_hours or 0)))
        return NamespaceInfo.from_pb(await self._rpc.call(NS + "CreateNamespace", request, namespace_pb2.Namespace))

    async def get_namespace(self, namespace_id: str) -> NamespaceInfo:
        """One live namespace (NotFound once expired)."""
        request = namespace_pb2.GetNamespaceRequest(namespace_id=namespace_id)
        return NamespaceInfo.from_pb(await self._rpc.call(NS + "GetNamespace", request, namespace_pb2.Namespace))

    async def list_namespaces(
        self,
        session_id: Optional[str] = None,
        user_id: Optional[str] = None,
        type: Optional[NamespaceType] = None,
        *,
        scope: Optional[Union[StorageScope, str]] = None,
        name_prefix: str = "",
        metadata: Optional[dict[str, str]] = None,
        mime_prefix: str = "",
        sandbox: str = "",
    ) -> list[NamespaceInfo]:
        """Every namespace the credential may read that matches all filters
        (all pages)."""
        request = namespace_pb2.ListNamespacesRequest(
            sandbox=sandbox,
            scope=pb_scope(scope) if scope is not None else None,
            user=user_id or "",
            session=session_id or "",
            type=pb_type(type) if type is not None else None,
            name_prefix=name_prefix,
            metadata=metadata or {},
            mime_prefix=mime_prefix,
            page_size=1000,
        )
        return await self._rpc.every_page(NS + "ListNamespaces", request, namespace_pb2.ListNamespacesResponse,
                                          lambda page: map(NamespaceInfo.from_pb, page.namespaces))

    async def destroy_namespace(self, namespace_id: str) -> int:
        """Destroys a namespace and all its content; returns files removed."""
        request = namespace_pb2.DestroyNamespaceRequest(namespace_id=namespace_id)
        answer = await self._rpc.call(NS + "DestroyNamespace", request, namespace_pb2.DestroyNamespaceResponse)
        return answer.files_removed

    async def update_namespace(
        self,
        namespace_id: str,
        *,
        summary: Optional[str] = None,
        metadata: Optional[dict[str, str]] = None,
        merge: bool = True,
        remove_keys: Optional[list[str]] = None,
        expires_in: Optional[Seconds] = None,
        extend_by: Optional[Seconds] = None,
        clear_ttl: bool = False,
        template: Optional[bool] = None,
        profile: Optional[Union[str, dict[str, Any]]] = None,
        clear_profile: bool = False,
    ) -> NamespaceInfo:
        """Changes summary, metadata, expiry, the template flag and the
        access profile in one commit (a profile change needs a key, not a
        session token)."""
        if (expires_in is not None) + (extend_by is not None) + clear_ttl > 1:
            raise InvalidArgument("give at most one of expires_in, extend_by and clear_ttl")
        request = namespace_pb2.UpdateNamespaceRequest(
            namespace_id=namespace_id,
            mode=common_pb2.METADATA_UPDATE_MODE_MERGE if merge else common_pb2.METADATA_UPDATE_MODE_REPLACE,
            metadata=metadata or {},
            remove_keys=remove_keys or [],
        )
        if not merge and metadata is None:
            request.mode = common_pb2.METADATA_UPDATE_MODE_MERGE  # nothing to replace with: keep
        if summary is not None:
            request.summary = summary
        if expires_in is not None:
            request.expires_in.CopyFrom(duration(expires_in))
        elif extend_by is not None:
            request.extend_by.CopyFrom(duration(extend_by))
        elif clear_ttl:
            request.clear_ttl = True
        if template is not None:
            request.template = template
        if profile is not None:
            request.profile.CopyFrom(access_profile(profile))
        request.clear_profile = clear_profile
        return NamespaceInfo.from_pb(await self._rpc.call(NS + "UpdateNamespace", request, namespace_pb2.Namespace))

    # ------------------------------------------------------------ files

    async def stat(self, namespace_id: str, path: str = "") -> NodeInfo:
        """One entry (NotFound if absent)."""
        request = file_pb2.StatRequest(namespace_id=namespace_id, path=path)
        return NodeInfo.from_pb(await self._rpc.call(FS + "Stat", request, common_pb2.Entry))

    async def list_entries(self, namespace_id: str, path: str = "", recursive: bool = False) -> list[NodeInfo]:
        """A directory's entries (or its whole subtree), sorted, all pages."""
        request = file_pb2.ListRequest(namespace_id=namespace_id, path=path, recursive=recursive, page_size=10000)
        return await self._rpc.every_page(FS + "List", request, file_pb2.ListResponse,
                                          lambda page: map(NodeInfo.from_pb, page.entries))

    async def write_file(
        self,
        namespace_id: str,
        path: str,
        data: Union[bytes, str],
        *,
        mime_type: str = "",
        metadata: Optional[dict[str, str]] = None,
        must_not_exist: bool = False,
        if_version_match: Optional[int] = None,
    ) -> NodeInfo:
        """Writes a whole file: one call up to the unary limit, a stream
        above it. `str` is written as UTF-8."""
        content = data.encode() if isinstance(data, str) else bytes(data)
        precondition = common_pb2.Precondition()
        if must_not_exist:
            precondition.must_not_exist = True
        elif if_version_match is not None:
            precondition.if_version_match = if_version_match
        if len(content) > UNARY_LIMIT:
            start = file_pb2.UploadStart(namespace_id=namespace_id, path=path, mime_type=mime_type,
                                         metadata=metadata or {}, precondition=precondition)
            return await _transfer.upload(self._rpc, start, content)
        request = file_pb2.WriteFileRequest(namespace_id=namespace_id, path=path, data=content,
                                            mime_type=mime_type, metadata=metadata or {}, precondition=precondition)
        answer = await self._rpc.call(FS + "WriteFile", request, file_pb2.WriteFileResponse)
        return NodeInfo.from_pb(answer.entry)

    async def read_file(self, namespace_id: str, path: str, offset: int = 0, length: int = 0) -> bytes:
        """A whole file (or a range), in one call when it fits the unary
        limit and streamed otherwise."""
        request = file_pb2.ReadFileRequest(namespace_id=namespace_id, path=path, offset=offset, length=length)
        try:
            return (await self._rpc.call(FS + "ReadFile", request, file_pb2.ReadFileResponse)).data
        except FailedPrecondition as refused:
            # Over the unary limit (or a directory, which Download refuses too).
            try:
                return b"".join([c async for c in Download(self._rpc, namespace_id, path, offset, length)])
            except FailedPrecondition:
                raise refused from None

    async def upload(
        self,
        namespace_id: str,
        path: str,
        source: Source,
        *,
        mime_type: str = "",
        metadata: Optional[dict[str, str]] = None,
        total_size: Optional[int] = None,
        expected_sha256: str = "",
        must_not_exist: bool = False,
        if_version_match: Optional[int] = None,
        progress: Optional[Progress] = None,
        chunk_size: int = _transfer.CHUNK,
        retries: int = 5,
    ) -> NodeInfo:
        """Streams bytes, a file path, a binary file object, or a sync or
        async iterator of bytes to `path` with bounded memory; calls
        `progress(persisted, total)` as the server makes bytes durable;
        checks the committed SHA-256; resumes after a dropped connection."""
        start = file_pb2.UploadStart(namespace_id=namespace_id, path=path, mime_type=mime_type,
                                     metadata=metadata or {}, expected_sha256=expected_sha256)
        if total_size is not None:
            start.total_size = total_size
        if must_not_exist:
            start.precondition.must_not_exist = True
        elif if_version_match is not None:
            start.precondition.if_version_match = if_version_match
        return await _transfer.upload(self._rpc, start, source, chunk_size=chunk_size, progress=progress, retries=retries)

    def stream_download(
        self, namespace_id: str, path: str, *, offset: int = 0, length: int = 0,
        progress: Optional[Progress] = None, retries: int = 5,
    ) -> Download:
        """An async iterator over a file's content (or range), resumed after
        a dropped connection and checked against the file's SHA-256."""
        return Download(self._rpc, namespace_id, path, offset, length, progress, retries)

    async def download(
        self,
        namespace_id: str,
        path: str,
        sink: Union[str, "os.PathLike[str]", IO[bytes]],
        *,
        offset: int = 0,
        length: int = 0,
        progress: Optional[Progress] = None,
        retries: int = 5,
    ) -> NodeInfo:
        """Streams a file (or range) into a path or a binary file object;
        returns the entry that was read. A path is written whole or not at
        all (a temporary file renamed on success)."""
        stream = Download(self._rpc, namespace_id, path, offset, length, progress, retries)
        if isinstance(sink, (str, os.PathLike)):
            target = pathlib.Path(sink)
            partial = target.with_name(target.name + ".arca-partial")
            try:
                with open(partial, "wb") as out:
                    async for chunk in stream:
                        out.write(chunk)
                partial.replace(target)
            finally:
                partial.unlink(missing_ok=True)
        else:
            async for chunk in stream:
                sink.write(chunk)
        if stream.entry is None:
            raise NotFound(f"{path}: no content was sent")
        return stream.entry

    async def mkdir(self, namespace_id: str, path: str, *, parents: bool = True, exist_ok: bool = False) -> NodeInfo:
        """Creates a directory (and its parents unless `parents=False`)."""
        request = file_pb2.MkdirRequest(namespace_id=namespace_id, path=path, parents=parents, exist_ok=exist_ok)
        return NodeInfo.from_pb(await self._rpc.call(FS + "Mkdir", request, common_pb2.Entry))

    async def remove(self, namespace_id: str, path: str, *, recursive: bool = False) -> int:
        """Removes a file or directory; returns the entries removed."""
        request = file_pb2.RemoveRequest(namespace_id=namespace_id, path=path, recursive=recursive)
        return (await self._rpc.call(FS + "Remove", request, file_pb2.RemoveResponse)).entries_removed

    async def copy(self, namespace_id: str, source: str, destination: str, *, overwrite: bool = False,
                   parents: bool = True, target_namespace_id: str = "") -> NodeInfo:
        """Copies a file or tree, within the namespace or into
        `target_namespace_id` (metadata only within one sandbox and backend:
        no content moves)."""
        request = file_pb2.CopyRequest(namespace_id=namespace_id, source=source, destination=destination,
                                       overwrite=overwrite, parents=parents,
                                       target_namespace_id=target_namespace_id)
        return NodeInfo.from_pb(await self._rpc.call(FS + "Copy", request, common_pb2.Entry))

    async def move(self, namespace_id: str, source: str, destination: str, *, overwrite: bool = False,
                   parents: bool = True, target_namespace_id: str = "") -> NodeInfo:
        """Moves (renames) a file or tree, within the namespace or into
        `target_namespace_id`, in one commit (across backends: the source
        goes once the target is committed)."""
        request = file_pb2.MoveRequest(namespace_id=namespace_id, source=source, destination=destination,
                                       overwrite=overwrite, parents=parents,
                                       target_namespace_id=target_namespace_id)
        return NodeInfo.from_pb(await self._rpc.call(FS + "Move", request, common_pb2.Entry))

    async def find_entries(self, namespace_id: str, pattern: str = "", path: str = "", *, mime_prefix: str = "",
                           metadata: Optional[dict[str, str]] = None) -> list[NodeInfo]:
        """Files under `path` whose relative path matches the glob (`*`
        within a segment, `**` across), MIME prefix and metadata."""
        request = file_pb2.FindRequest(namespace_id=namespace_id, path=path, pattern=pattern,
                                       mime_prefix=mime_prefix, metadata=metadata or {}, page_size=10000)
        return await self._rpc.every_page(FS + "Find", request, file_pb2.FindResponse,
                                          lambda page: map(NodeInfo.from_pb, page.entries))

    async def set_metadata(self, namespace_id: str, path: str, metadata: dict[str, str], *, merge: bool = True,
                           remove_keys: Optional[list[str]] = None) -> NodeInfo:
        """Merges (or replaces) an entry's metadata."""
        request = file_pb2.SetMetadataRequest(
            namespace_id=namespace_id, path=path, metadata=metadata, remove_keys=remove_keys or [],
            mode=common_pb2.METADATA_UPDATE_MODE_MERGE if merge else common_pb2.METADATA_UPDATE_MODE_REPLACE,
        )
        return NodeInfo.from_pb(await self._rpc.call(FS + "SetMetadata", request, common_pb2.Entry))

    async def get_metadata(self, namespace_id: str, path: str) -> dict[str, str]:
        """An entry's metadata."""
        request = file_pb2.GetMetadataRequest(namespace_id=namespace_id, path=path)
        return dict((await self._rpc.call(FS + "GetMetadata", request, file_pb2.GetMetadataResponse)).metadata)

    async def batch_write(self, namespace_id: str, files: dict[str, Union[bytes, str]]) -> dict[str, Union[NodeInfo, ArcaError]]:
        """Writes several small files in one call; each succeeds or fails on
        its own (the failure as an exception object in its place)."""
        request = file_pb2.BatchWriteRequest(namespace_id=namespace_id, items=[
            file_pb2.WriteFileRequest(path=path, data=data.encode() if isinstance(data, str) else bytes(data))
            for path, data in files.items()
        ])
        answer = await self._rpc.call(FS + "BatchWrite", request, file_pb2.BatchWriteResponse)
        return {r.path: _item(r, NodeInfo.from_pb(r.entry)) for r in answer.results}

    async def batch_read(self, namespace_id: str, paths: list[str]) -> dict[str, Union[bytes, ArcaError]]:
        """Reads several small files in one call."""
        request = file_pb2.BatchReadRequest(namespace_id=namespace_id, paths=paths)
        answer = await self._rpc.call(FS + "BatchRead", request, file_pb2.BatchReadResponse)
        return {r.path: _item(r, r.data) for r in answer.results}

    async def batch_delete(self, namespace_id: str, paths: list[str], *, recursive: bool = False) -> dict[str, Union[int, ArcaError]]:
        """Removes several paths in one call."""
        request = file_pb2.BatchDeleteRequest(namespace_id=namespace_id, paths=paths, recursive=recursive)
        answer = await self._rpc.call(FS + "BatchDelete", request, file_pb2.BatchDeleteResponse)
        out: dict[str, Union[int, ArcaError]] = {}
        for r in answer.results:
            out[r.path] = _error(r.error) if r.HasField("error") else r.entries_removed
        return out

    # ------------------------------------------------------------ checkpoints

    async def checkpoint_namespace(self, namespace_id: str, name: str = "", description: Optional[str] = None) -> CheckpointInfo:
        """Snapshots the namespace's whole tree (metadata only, instant)."""
        request = checkpoint_pb2.CreateCheckpointRequest(namespace_id=namespace_id, name=name, description=description or "")
        return CheckpointInfo.from_pb(await self._rpc.call(CS + "CreateCheckpoint", request, checkpoint_pb2.Checkpoint))

    async def list_checkpoints(self, namespace_id: str) -> list[CheckpointInfo]:
        """A namespace's checkpoints, oldest first (all pages)."""
        request = checkpoint_pb2.ListCheckpointsRequest(namespace_id=namespace_id, page_size=1000)
        return await self._rpc.every_page(CS + "ListCheckpoints", request, checkpoint_pb2.ListCheckpointsResponse,
                                          lambda page: map(CheckpointInfo.from_pb, page.checkpoints))

    async def get_checkpoint(self, namespace_id: str, checkpoint_id: str) -> CheckpointInfo:
        """One checkpoint."""
        request = checkpoint_pb2.GetCheckpointRequest(namespace_id=namespace_id, checkpoint_id=checkpoint_id)
        return CheckpointInfo.from_pb(await self._rpc.call(CS + "GetCheckpoint", request, checkpoint_pb2.Checkpoint))

    async def restore_namespace(self, namespace_id: str, checkpoint_id: str) -> int:
        """Makes the live tree exactly the checkpoint's, in one commit;
        returns the entries it now holds."""
        request = checkpoint_pb2.RestoreCheckpointRequest(namespace_id=namespace_id, checkpoint_id=checkpoint_id)
        answer = await self._rpc.call(CS + "RestoreCheckpoint", request, checkpoint_pb2.RestoreCheckpointResponse)
        return answer.entry_count

    async def delete_checkpoint(self, namespace_id: str, checkpoint_id: str) -> None:
        """Deletes a checkpoint."""
        request = checkpoint_pb2.DeleteCheckpointRequest(namespace_id=namespace_id, checkpoint_id=checkpoint_id)
        await self._rpc.call(CS + "DeleteCheckpoint", request, checkpoint_pb2.DeleteCheckpointResponse)

    async def diff_checkpoints(self, namespace_id: str, from_checkpoint_id: str, to_checkpoint_id: str = "") -> Diff:
        """What changed from a checkpoint to another, or to the live tree."""
        request = checkpoint_pb2.DiffCheckpointsRequest(namespace_id=namespace_id, from_checkpoint_id=from_checkpoint_id,
                                                        to_checkpoint_id=to_checkpoint_id)
        return Diff.from_pb(await self._rpc.call(CS + "DiffCheckpoints", request, checkpoint_pb2.DiffCheckpointsResponse))

    async def abort_upload(self, upload_id: str) -> int:
        """Ends an unfinished streamed or presigned upload now (its staged
        bytes deleted, nothing committed); returns the bytes it had staged."""
        request = file_pb2.AbortUploadRequest(upload_id=upload_id)
        answer = await self._rpc.call(FS + "AbortUpload", request, file_pb2.AbortUploadResponse)
        return int(answer.discarded_bytes)

    # ------------------------------------------------------------ sessions

    async def open_session(self, user_id: str, ttl: Optional[Seconds] = None, *, sandbox: str = "",
                           name: str = "") -> OpenedSession:
        """Opens a session lease for a user (keys only); its token is shown
        only here. This is the safe form of the reference's caller-chosen
        `session_id` strings: ids are the server's, tokens are secrets. With
        a `name` (a conversation or workflow id), opening it again while the
        session lives returns that session with a new token."""
        request = session_pb2.OpenSessionRequest(user=user_id, sandbox=sandbox, name=name)
        if ttl is not None:
            request.ttl.CopyFrom(duration(ttl))
        answer = await self._rpc.call(SS + "OpenSession", request, session_pb2.OpenSessionResponse)
        return OpenedSession(SessionInfo.from_pb(answer.session), answer.token, answer.reopened)

    async def renew_session(self, session_id: str = "", ttl: Optional[Seconds] = None) -> SessionInfo:
        """Extends a lease (empty id: the caller's own session)."""
        request = session_pb2.RenewSessionRequest(session_id=session_id)
        if ttl is not None:
            request.ttl.CopyFrom(duration(ttl))
        return SessionInfo.from_pb(await self._rpc.call(SS + "RenewSession", request, session_pb2.Session))

    async def close_session(self, session_id: str = "") -> int:
        """Ends a session; returns how many SESSION namespaces went with it."""
        request = session_pb2.CloseSessionRequest(session_id=session_id)
        answer = await self._rpc.call(SS + "CloseSession", request, session_pb2.CloseSessionResponse)
        return answer.namespaces_destroyed

    async def get_session(self, session_id: str = "") -> SessionInfo:
        """One session (empty id: the caller's own)."""
        request = session_pb2.GetSessionRequest(session_id=session_id)
        return SessionInfo.from_pb(await self._rpc.call(SS + "GetSession", request, session_pb2.Session))

    async def list_sessions(self, user_id: str = "") -> list[SessionInfo]:
        """Live sessions of the sandbox (keys only), all pages."""
        request = session_pb2.ListSessionsRequest(user=user_id, page_size=1000)
        return await self._rpc.every_page(SS + "ListSessions", request, session_pb2.ListSessionsResponse,
                                          lambda page: map(SessionInfo.from_pb, page.sessions))

    # ------------------------------------------------------------ presigned URLs

    async def presign_download(self, namespace_id: str, path: str, expires: int = 3600) -> str:
        """A plain-HTTP GET URL for one file's current content."""
        request = presign_pb2.PresignDownloadRequest(namespace_id=namespace_id, path=path, expires_in_secs=expires)
        return (await self._rpc.call(PS + "PresignDownload", request, presign_pb2.PresignDownloadResponse)).url

    async def presign_upload_file(
        self, namespace_id: str, path: str, *, mime_type: str = "", metadata: Optional[dict[str, str]] = None,
        total_size: Optional[int] = None, expected_sha256: str = "", expires: int = 1800,
    ) -> UploadPlan:
        """Presigned PUT URLs for one file; nothing is visible until
        `finalize_upload`."""
        request = presign_pb2.PresignUploadRequest(namespace_id=namespace_id, path=path, mime_type=mime_type,
                                                   metadata=metadata or {}, expected_sha256=expected_sha256,
                                                   expires_in_secs=expires)
        if total_size is not None:
            request.total_size = total_size
        return UploadPlan.from_pb(await self._rpc.call(PS + "PresignUpload", request, presign_pb2.PresignUploadResponse))

    async def finalize_upload(self, upload_id: str, *, expected_sha256: str = "",
                              parts: Optional[list[tuple[int, str]]] = None) -> NodeInfo:
        """Verifies and commits a presigned upload (`parts`: (number, ETag)
        of a multipart plan)."""
        request = presign_pb2.FinalizeUploadRequest(
            upload_id=upload_id, expected_sha256=expected_sha256,
            parts=[presign_pb2.UploadedPart(part_number=n, etag=e) for n, e in (parts or [])],
        )
        answer = await self._rpc.call(PS + "FinalizeUpload", request, presign_pb2.FinalizeUploadResponse)
        return NodeInfo.from_pb(answer.entry)
