"""Plain, typed results of SDK calls, converted from the protobuf messages
(which stay reachable as `.raw` where callers need a field not copied)."""

from __future__ import annotations

import datetime as _dt
import enum
from dataclasses import dataclass, field
from typing import Optional, cast

from google.protobuf.timestamp_pb2 import Timestamp

from .v1 import checkpoint_pb2, common_pb2, namespace_pb2, presign_pb2, session_pb2


class NamespaceType(enum.IntEnum):
    """What a namespace holds (the reference's `NamespaceType`)."""

    BLOB = common_pb2.NAMESPACE_TYPE_BLOB
    WORKSPACE = common_pb2.NAMESPACE_TYPE_WORKSPACE


class StorageScope(enum.IntEnum):
    """Who a namespace belongs to (the reference's `StorageScope`)."""

    SESSION = common_pb2.SCOPE_SESSION
    USER = common_pb2.SCOPE_USER
    SANDBOX = common_pb2.SCOPE_SANDBOX

    @classmethod
    def parse(cls, value: "StorageScope | str") -> "StorageScope":
        """Accepts the enum or the reference's strings ("session", ...)."""
        if isinstance(value, StorageScope):
            return value
        try:
            return cls[value.upper()]
        except KeyError:
            raise ValueError(f"unknown scope {value!r}: session, user or sandbox") from None


def pb_type(value: NamespaceType) -> "common_pb2.NamespaceType":
    """The wire enum of a namespace type."""
    return cast("common_pb2.NamespaceType", int(value))


def pb_scope(value: "StorageScope | str") -> "common_pb2.Scope":
    """The wire enum of a scope (enum or "session"/"user"/"sandbox")."""
    return cast("common_pb2.Scope", int(StorageScope.parse(value)))


def _time(ts: Timestamp, present: bool = True) -> Optional[_dt.datetime]:
    if not present:
        return None
    return _dt.datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, tz=_dt.timezone.utc)


@dataclass(frozen=True)
class NodeInfo:
    """A file or directory (the reference's `get_node_info`)."""

    path: str
    is_dir: bool
    size: int
    sha256: str
    mime_type: str
    metadata: dict[str, str]
    version: int
    created_at: Optional[_dt.datetime]
    modified_at: Optional[_dt.datetime]
    grid_key: str

    @property
    def name(self) -> str:
        """The last segment of the path ("" for the root)."""
        return self.path.rsplit("/", 1)[-1]

    @classmethod
    def from_pb(cls, e: common_pb2.Entry) -> "NodeInfo":
        return cls(
            path=e.path,
            is_dir=e.kind == common_pb2.ENTRY_KIND_DIRECTORY,
            size=e.size,
            sha256=e.sha256,
            mime_type=e.mime_type,
            metadata=dict(e.metadata),
            version=e.version,
            created_at=_time(e.created_at, e.HasField("created_at")),
            modified_at=_time(e.modified_at, e.HasField("modified_at")),
            grid_key=e.grid_key,
        )


@dataclass(frozen=True)
class NamespaceInfo:
    """A namespace (the reference's `NamespaceInfo`)."""

    namespace_id: str
    type: NamespaceType
    scope: StorageScope
    name: str
    summary: str
    sandbox: str
    user_id: str
    session_id: str
    metadata: dict[str, str]
    created_at: Optional[_dt.datetime]
    expires_at: Optional[_dt.datetime]
    backend: str
    grid_prefix: str
    file_count: int
    total_bytes: int
    template: bool = False
    # The access profile's preset name ("" for a custom one); None without a profile.
    profile: Optional[str] = None

    @classmethod
    def from_pb(cls, n: namespace_pb2.Namespace) -> "NamespaceInfo":
        return cls(
            namespace_id=n.namespace_id,
            type=NamespaceType(n.type),
            scope=StorageScope(n.scope),
            name=n.name,
            summary=n.summary,
            sandbox=n.owner.sandbox,
            user_id=n.owner.user,
            session_id=n.owner.session,
            metadata=dict(n.metadata),
            created_at=_time(n.created_at, n.HasField("created_at")),
            expires_at=_time(n.expires_at, n.HasField("expires_at")),
            backend=n.backend,
            grid_prefix=n.grid_prefix,
            file_count=n.file_count,
            total_bytes=n.total_bytes,
            template=n.template,
            profile=n.profile.preset if n.HasField("profile") else None,
        )


@dataclass(frozen=True)
class ArtifactInfo:
    """An artifact: a BLOB namespace and its one file (the reference's
    `metadata(artifact_id)` answer). `artifact_id` is the namespace id."""

    artifact_id: str
    filename: str
    mime: str
    bytes: int
    sha256: str
    summary: str
    meta: dict[str, str]
    scope: StorageScope
    sandbox_id: str
    user_id: str
    session_id: str
    stored_at: Optional[_dt.datetime]
    expires_at: Optional[_dt.datetime]
    #: The grid key of the stored object.
    key: str

    @classmethod
    def of(cls, ns: NamespaceInfo, file: Optional[NodeInfo]) -> "ArtifactInfo":
        return cls(
            artifact_id=ns.namespace_id,
            filename=file.path if file else "",
            mime=file.mime_type if file else "",
            bytes=file.size if file else 0,
            sha256=file.sha256 if file else "",
            summary=ns.summary,
            meta=ns.metadata,
            scope=ns.scope,
            sandbox_id=ns.sandbox,
            user_id=ns.user_id,
            session_id=ns.session_id,
            stored_at=file.modified_at if file else ns.created_at,
            expires_at=ns.expires_at,
            key=file.grid_key if file else "",
        )


@dataclass(frozen=True)
class CheckpointInfo:
    """A checkpoint (the reference's `CheckpointInfo`)."""

    checkpoint_id: str
    namespace_id: str
    name: str
    description: str
    created_at: Optional[_dt.datetime]
    entry_count: int
    file_count: int
    total_bytes: int

    @classmethod
    def from_pb(cls, c: checkpoint_pb2.Checkpoint) -> "CheckpointInfo":
        return cls(
            checkpoint_id=c.checkpoint_id,
            namespace_id=c.namespace_id,
            name=c.name,
            description=c.description,
            created_at=_time(c.created_at, c.HasField("created_at")),
            entry_count=c.entry_count,
            file_count=c.file_count,
            total_bytes=c.total_bytes,
        )


@dataclass(frozen=True)
class Change:
    """One path that differs between two trees."""

    path: str
    before: Optional[NodeInfo]
    after: Optional[NodeInfo]


@dataclass(frozen=True)
class Diff:
    """What changed from one checkpoint to another, or to the live tree."""

    added: list[Change] = field(default_factory=list)
    removed: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)

    @classmethod
    def from_pb(cls, d: checkpoint_pb2.DiffCheckpointsResponse) -> "Diff":
        def conv(items: "list[checkpoint_pb2.PathChange]") -> list[Change]:
            return [
                Change(
                    c.path,
                    NodeInfo.from_pb(c.before) if c.HasField("before") else None,
                    NodeInfo.from_pb(c.after) if c.HasField("after") else None,
                )
                for c in items
            ]

        return cls(conv(list(d.added)), conv(list(d.removed)), conv(list(d.changed)))


@dataclass(frozen=True)
class SessionInfo:
    """A session lease (never its token)."""

    session_id: str
    sandbox: str
    user_id: str
    created_at: Optional[_dt.datetime]
    expires_at: Optional[_dt.datetime]
    name: str = ""

    @classmethod
    def from_pb(cls, s: session_pb2.Session) -> "SessionInfo":
        return cls(
            session_id=s.session_id,
            sandbox=s.sandbox,
            user_id=s.user,
            created_at=_time(s.created_at, s.HasField("created_at")),
            expires_at=_time(s.expires_at, s.HasField("expires_at")),
            name=s.name,
        )


@dataclass(frozen=True)
class OpenedSession:
    """A newly opened session and its bearer token (shown only once);
    `reopened` when a live session of the requested name was returned."""

    session: SessionInfo
    token: str
    reopened: bool = False


@dataclass(frozen=True)
class UploadPart:
    """One URL of a presigned upload plan."""

    url: str
    part_number: int
    offset: int
    length: int


@dataclass(frozen=True)
class UploadPlan:
    """Presigned upload URLs and the id that completes them."""

    upload_id: str
    method: str
    parts: list[UploadPart]
    headers: dict[str, str]
    expires_at: Optional[_dt.datetime]
    finalize_by: Optional[_dt.datetime]

    @property
    def url(self) -> str:
        """The URL of a one-part plan (the reference's `presign_upload` url)."""
        return self.parts[0].url

    @classmethod
    def from_pb(cls, r: presign_pb2.PresignUploadResponse) -> "UploadPlan":
        return cls(
            upload_id=r.upload_id,
            method=r.method,
            parts=[UploadPart(p.url, p.part_number, p.offset, p.length) for p in r.parts],
            headers=dict(r.headers),
            expires_at=_time(r.expires_at, r.HasField("expires_at")),
            finalize_by=_time(r.finalize_by, r.HasField("finalize_by")),
        )
