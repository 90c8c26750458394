"""The reference artifact store's calls (chuk-artifacts' `ArtifactStore`)
on Arca: an artifact is a BLOB namespace holding one file, its id the
namespace id, its `summary` and `meta` the namespace's own fields, its
`ttl` the namespace's expiry.

What differs from the reference, and why:
- Identity is the credential's. The reference lets callers pass any
  `session_id` string (`f"user_{id}"`), so whoever names a session reaches
  it; Arca's sessions are server leases opened with `open_session`. With a
  key and a `user_id` but no `session_id`, a SESSION-scope `store` opens a
  session for that user once per client (the reference's "auto-created"
  session); a session token always stores in its own session.
- `store` of up to 4 MiB is one commit (CreateNamespace with its first
  file): the artifact appears whole or not at all. Larger data creates the
  namespace and then streams (destroying it if the stream fails).
- A BLOB keeps one file at its top level: a `filename` with directories
  keeps only its last segment as the file's name.
"""

from __future__ import annotations

import asyncio
from typing import Any, Optional, Union

from ._core import UNARY_LIMIT, CoreCalls, Seconds, duration
from .errors import ArcaError, InvalidArgument, NotFound
from .types import ArtifactInfo, NamespaceInfo, NamespaceType, NodeInfo, StorageScope, UploadPlan, pb_scope, pb_type
from .v1 import common_pb2, namespace_pb2

DEFAULT_FILENAME = "data"


def _blob_path(filename: Optional[str]) -> str:
    name = (filename or DEFAULT_FILENAME).rstrip("/").rsplit("/", 1)[-1]
    return name or DEFAULT_FILENAME


class PresignedUpload(tuple):  # type: ignore[type-arg]
    """`(url, artifact_id)` as the reference returns, plus the whole `plan`
    (its `upload_id` completes it from any process)."""

    plan: UploadPlan

    def __new__(cls, url: str, artifact_id: str, plan: UploadPlan) -> "PresignedUpload":
        made = super().__new__(cls, (url, artifact_id))
        made.plan = plan
        return made

    @property
    def url(self) -> str:
        return str(self[0])

    @property
    def artifact_id(self) -> str:
        return str(self[1])


class ArtifactCalls(CoreCalls):
    """`store`, `retrieve`, `metadata`, `search`, presign and the rest."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sessions: dict[str, str] = {}
        self._session_users: dict[str, str] = {}
        self._session_lock = asyncio.Lock()
        self._pending_uploads: dict[str, str] = {}

    async def _owner(self, user_id: Optional[str], session_id: Optional[str]) -> tuple[str, str]:
        """The (user, session) a SESSION-scope artifact belongs to: a given
        session's own user; for a user alone, a session opened for them once
        per client; neither, the credential's own (a session token)."""
        if session_id:
            if not user_id:
                if session_id not in self._session_users:
                    self._session_users[session_id] = (await self.get_session(session_id)).user_id
                user_id = self._session_users[session_id]
            return user_id, session_id
        if not user_id:
            return "", ""
        async with self._session_lock:
            if user_id not in self._sessions:
                self._sessions[user_id] = (await self.open_session(user_id)).session.session_id
            return user_id, self._sessions[user_id]

    async def _blob_file(self, artifact_id: str) -> Optional[NodeInfo]:
        files = [e for e in await self.list_entries(artifact_id) if not e.is_dir]
        return files[0] if files else None

    async def store(
        self,
        data: Union[bytes, str],
        *,
        mime: str = "",
        summary: str = "",
        filename: Optional[str] = None,
        meta: Optional[dict[str, str]] = None,
        ttl: Optional[Seconds] = None,
        scope: Union[StorageScope, str] = StorageScope.SESSION,
        user_id: Optional[str] = None,
        session_id: Optional[str] = None,
        sandbox: Optional[str] = None,
    ) -> str:
        """Stores `data` as a new artifact and returns its id."""
        content = data.encode() if isinstance(data, str) else bytes(data)
        scope = StorageScope.parse(scope)
        if scope == StorageScope.SESSION:
            user_id, session_id = await self._owner(user_id, session_id)
        request = namespace_pb2.CreateNamespaceRequest(
            type=pb_type(NamespaceType.BLOB),
            scope=pb_scope(scope),
            owner=common_pb2.Owner(sandbox=sandbox or "", user=user_id or "", session=session_id or ""),
            metadata=meta or {},
            summary=summary,
        )
        if ttl is not None:
            request.ttl.CopyFrom(duration(ttl))
        path = _blob_path(filename)
        if len(content) <= UNARY_LIMIT:
            request.initial_file.CopyFrom(namespace_pb2.InitialFile(path=path, data=content, mime_type=mime))
            ns = await self._rpc.call("/arca.v1.NamespaceService/CreateNamespace", request, namespace_pb2.Namespace)
            return ns.namespace_id
        ns = await self._rpc.call("/arca.v1.NamespaceService/CreateNamespace", request, namespace_pb2.Namespace)
        try:
            await self.upload(ns.namespace_id, path, content, mime_type=mime)
        except BaseException:
            await asyncio.shield(self.destroy_namespace(ns.namespace_id))
            raise
        return ns.namespace_id

    async def store_batch(
        self,
        items: list[dict[str, Any]],
        *,
        session_id: Optional[str] = None,
        user_id: Optional[str] = None,
        scope: Union[StorageScope, str] = StorageScope.SESSION,
        ttl: Optional[Seconds] = None,
    ) -> list[Optional[str]]:
        """Stores each item (`data`, `mime`, `summary`, `filename`, `meta`)
        concurrently; an item that fails gives None in its place."""
        if StorageScope.parse(scope) == StorageScope.SESSION:
            user_id, session_id = await self._owner(user_id, session_id)

        async def one(item: dict[str, Any]) -> Optional[str]:
            try:
                return await self.store(
                    item["data"], mime=item.get("mime", ""), summary=item.get("summary", ""),
                    filename=item.get("filename"), meta=item.get("meta"), ttl=item.get("ttl", ttl), scope=scope,
                    user_id=user_id, session_id=session_id,
                )
            except ArcaError:
                return None

        return list(await asyncio.gather(*(one(i) for i in items)))

    async def retrieve(self, artifact_id: str) -> bytes:
        """The artifact's content."""
        file = await self._blob_file(artifact_id)
        if file is None:
            raise NotFound(f"artifact {artifact_id} has no content yet")
        return await super().read_file(artifact_id, file.path)

    async def read_namespace(self, namespace_id: str, path: Optional[str] = None) -> bytes:
        """A file of a namespace; for a BLOB, `path` may be left out."""
        if path is None:
            return await self.retrieve(namespace_id)
        return await super().read_file(namespace_id, path)

    async def write_namespace(self, namespace_id: str, data: Union[bytes, str], path: Optional[str] = None,
                              *, mime: str = "", meta: Optional[dict[str, str]] = None) -> NodeInfo:
        """Writes a file of a namespace; for a BLOB, `path` may be left out
        (its existing file, or "data")."""
        if path is None:
            file = await self._blob_file(namespace_id)
            path = file.path if file else DEFAULT_FILENAME
        return await self.write_file(namespace_id, path, data, mime_type=mime, metadata=meta)

    async def read_artifact(self, artifact_id: str, as_text: bool = False, encoding: str = "utf-8") -> Union[bytes, str]:
        """The reference's `store.read_file(id, as_text=...)`."""
        data = await self.retrieve(artifact_id)
        return data.decode(encoding) if as_text else data

    async def metadata(self, artifact_id: str) -> ArtifactInfo:
        """The artifact's description: file name, MIME, size, digest,
        summary, meta, owner, expiry and grid key."""
        ns, file = await asyncio.gather(self.get_namespace(artifact_id), self._blob_file(artifact_id))
        return ArtifactInfo.of(ns, file)

    async def exists(self, artifact_id: str) -> bool:
        """Whether the artifact is live. A namespace the credential may not
        reach raises PermissionDenied, whether or not it exists."""
        try:
            await self.get_namespace(artifact_id)
            return True
        except NotFound:
            return False
        except InvalidArgument:
            return False  # not an id at all

    async def delete(self, artifact_id: str) -> bool:
        """Deletes the artifact; False if it did not exist."""
        try:
            await self.destroy_namespace(artifact_id)
            return True
        except NotFound:
            return False

    async def update_file(
        self,
        artifact_id: str,
        data: Optional[Union[bytes, str]] = None,
        *,
        mime: Optional[str] = None,
        summary: Optional[str] = None,
        meta: Optional[dict[str, str]] = None,
        filename: Optional[str] = None,
    ) -> ArtifactInfo:
        """Replaces the content (and MIME type), renames the file, and sets
        summary and meta. Content, rename and summary/meta are separate
        commits, in that order; each is atomic on its own."""
        file = await self._blob_file(artifact_id)
        path = file.path if file else _blob_path(filename)
        if data is not None:
            await self.write_file(artifact_id, path, data, mime_type=mime or (file.mime_type if file else ""))
        elif mime is not None and file is not None:
            content = await super().read_file(artifact_id, path)
            await self.write_file(artifact_id, path, content, mime_type=mime, if_version_match=file.version)
        if filename is not None and _blob_path(filename) != path:
            await self.move(artifact_id, path, _blob_path(filename))
        if summary is not None or meta is not None:
            await self.update_namespace(artifact_id, summary=summary, metadata=meta)
        return await self.metadata(artifact_id)

    async def update_metadata(self, artifact_id: str, *, summary: Optional[str] = None,
                              meta: Optional[dict[str, str]] = None, merge: bool = True) -> ArtifactInfo:
        """Sets summary and meta (merged or replaced) in one commit."""
        await self.update_namespace(artifact_id, summary=summary, metadata=meta, merge=merge)
        return await self.metadata(artifact_id)

    async def extend_ttl(self, artifact_id: str, additional_seconds: Seconds) -> ArtifactInfo:
        """Moves the expiry later (FailedPrecondition if it has none)."""
        await self.update_namespace(artifact_id, extend_by=additional_seconds)
        return await self.metadata(artifact_id)

    async def _artifacts(self, namespaces: list[NamespaceInfo]) -> list[ArtifactInfo]:
        files = await asyncio.gather(*(self._blob_file(n.namespace_id) for n in namespaces), return_exceptions=True)
        out = []
        for ns, file in zip(namespaces, files):
            if isinstance(file, NotFound):
                continue  # destroyed since it was listed
            if isinstance(file, BaseException):
                raise file
            out.append(ArtifactInfo.of(ns, file))
        return out

    async def search(
        self,
        *,
        user_id: Optional[str] = None,
        session_id: Optional[str] = None,
        scope: Optional[Union[StorageScope, str]] = None,
        mime_prefix: str = "",
        meta_filter: Optional[dict[str, str]] = None,
    ) -> list[ArtifactInfo]:
        """Artifacts matching every filter, filtered by the server."""
        found = await self.list_namespaces(session_id=session_id, user_id=user_id, type=NamespaceType.BLOB,
                                           scope=scope, metadata=meta_filter, mime_prefix=mime_prefix)
        return await self._artifacts(found)

    async def list_by_session(self, session_id: str) -> list[ArtifactInfo]:
        """The artifacts of one session (an id `open_session` returned)."""
        return await self.search(session_id=session_id, scope=StorageScope.SESSION)

    async def list_by_user(self, user_id: str, scope: Optional[Union[StorageScope, str]] = None) -> list[ArtifactInfo]:
        """A user's artifacts, of every scope or of one."""
        return await self.search(user_id=user_id, scope=scope)

    async def presign(self, artifact_id: str, *, expires: int = 3600) -> str:
        """A download URL for the artifact's content."""
        file = await self._blob_file(artifact_id)
        if file is None:
            raise NotFound(f"artifact {artifact_id} has no content yet")
        return await self.presign_download(artifact_id, file.path, expires)

    async def presign_short(self, artifact_id: str) -> str:
        """A download URL valid 15 minutes."""
        return await self.presign(artifact_id, expires=900)

    async def presign_medium(self, artifact_id: str) -> str:
        """A download URL valid 1 hour."""
        return await self.presign(artifact_id, expires=3600)

    async def presign_long(self, artifact_id: str) -> str:
        """A download URL valid 24 hours."""
        return await self.presign(artifact_id, expires=86400)

    async def presign_upload(
        self,
        session_id: Optional[str] = None,
        filename: Optional[str] = None,
        mime_type: str = "",
        expires: int = 1800,
        *,
        user_id: Optional[str] = None,
        scope: Union[StorageScope, str] = StorageScope.SESSION,
        summary: str = "",
        meta: Optional[dict[str, str]] = None,
        total_size: Optional[int] = None,
    ) -> PresignedUpload:
        """A PUT URL for a new artifact: `url, artifact_id = ...`. The
        artifact has no content until `register_uploaded_artifact`."""
        scope = StorageScope.parse(scope)
        if scope == StorageScope.SESSION:
            user_id, session_id = await self._owner(user_id, session_id)
        ns = await self.create_namespace(NamespaceType.BLOB, scope, user_id=user_id, session_id=session_id,
                                         summary=summary, metadata=meta)
        plan = await self.presign_upload_file(ns.namespace_id, _blob_path(filename), mime_type=mime_type,
                                              total_size=total_size, expires=expires)
        self._pending_uploads[ns.namespace_id] = plan.upload_id
        return PresignedUpload(plan.url, ns.namespace_id, plan)

    async def register_uploaded_artifact(
        self,
        artifact_id: str,
        *,
        upload_id: Optional[str] = None,
        mime: Optional[str] = None,
        summary: Optional[str] = None,
        filename: Optional[str] = None,
        meta: Optional[dict[str, str]] = None,
        expected_sha256: str = "",
    ) -> ArtifactInfo:
        """Completes a presigned upload: verifies and commits the content.
        `upload_id` (the plan's) is needed in another process than the one
        that asked for the URL; the MIME type was fixed when it was signed."""
        upload_id = upload_id or self._pending_uploads.get(artifact_id)
        if not upload_id:
            raise InvalidArgument(f"no presigned upload of artifact {artifact_id} is known here; pass upload_id")
        await self.finalize_upload(upload_id, expected_sha256=expected_sha256)
        self._pending_uploads.pop(artifact_id, None)
        if mime is not None:
            file = await self._blob_file(artifact_id)
            if file is not None and file.mime_type != mime:
                raise InvalidArgument(f"the upload was signed as {file.mime_type}, not {mime}")
        return await self.update_file(artifact_id, summary=summary, meta=meta, filename=filename)
