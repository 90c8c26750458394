from arca.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetStatsRequest(_message.Message):
    __slots__ = ("sandbox",)
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    sandbox: str
    def __init__(self, sandbox: _Optional[str] = ...) -> None: ...

class UsageRow(_message.Message):
    __slots__ = ("sandbox", "backend", "scope", "namespaces", "files", "bytes", "stored_objects", "stored_bytes")
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    STORED_OBJECTS_FIELD_NUMBER: _ClassVar[int]
    STORED_BYTES_FIELD_NUMBER: _ClassVar[int]
    sandbox: str
    backend: str
    scope: _common_pb2.Scope
    namespaces: int
    files: int
    bytes: int
    stored_objects: int
    stored_bytes: int
    def __init__(self, sandbox: _Optional[str] = ..., backend: _Optional[str] = ..., scope: _Optional[_Union[_common_pb2.Scope, str]] = ..., namespaces: _Optional[int] = ..., files: _Optional[int] = ..., bytes: _Optional[int] = ..., stored_objects: _Optional[int] = ..., stored_bytes: _Optional[int] = ...) -> None: ...

class BackendStatus(_message.Message):
    __slots__ = ("name", "kind", "reachable", "location")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REACHABLE_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    reachable: bool
    location: str
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., reachable: _Optional[bool] = ..., location: _Optional[str] = ...) -> None: ...

class GetStatsResponse(_message.Message):
    __slots__ = ("usage", "active_sessions", "uploads_in_progress", "checkpoints", "metadata_bytes", "backends", "version", "quotas")
    USAGE_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    UPLOADS_IN_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    METADATA_BYTES_FIELD_NUMBER: _ClassVar[int]
    BACKENDS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    QUOTAS_FIELD_NUMBER: _ClassVar[int]
    usage: _containers.RepeatedCompositeFieldContainer[UsageRow]
    active_sessions: int
    uploads_in_progress: int
    checkpoints: int
    metadata_bytes: int
    backends: _containers.RepeatedCompositeFieldContainer[BackendStatus]
    version: str
    quotas: _containers.RepeatedCompositeFieldContainer[QuotaUsage]
    def __init__(self, usage: _Optional[_Iterable[_Union[UsageRow, _Mapping]]] = ..., active_sessions: _Optional[int] = ..., uploads_in_progress: _Optional[int] = ..., checkpoints: _Optional[int] = ..., metadata_bytes: _Optional[int] = ..., backends: _Optional[_Iterable[_Union[BackendStatus, _Mapping]]] = ..., version: _Optional[str] = ..., quotas: _Optional[_Iterable[_Union[QuotaUsage, _Mapping]]] = ...) -> None: ...

class QuotaUsage(_message.Message):
    __slots__ = ("sandbox", "user", "bytes", "retained_bytes", "namespaces", "entries", "metadata_bytes", "checkpoints", "staged_bytes", "limits")
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    RETAINED_BYTES_FIELD_NUMBER: _ClassVar[int]
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    METADATA_BYTES_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    STAGED_BYTES_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    sandbox: str
    user: str
    bytes: int
    retained_bytes: int
    namespaces: int
    entries: int
    metadata_bytes: int
    checkpoints: int
    staged_bytes: int
    limits: QuotaLimits
    def __init__(self, sandbox: _Optional[str] = ..., user: _Optional[str] = ..., bytes: _Optional[int] = ..., retained_bytes: _Optional[int] = ..., namespaces: _Optional[int] = ..., entries: _Optional[int] = ..., metadata_bytes: _Optional[int] = ..., checkpoints: _Optional[int] = ..., staged_bytes: _Optional[int] = ..., limits: _Optional[_Union[QuotaLimits, _Mapping]] = ...) -> None: ...

class QuotaLimits(_message.Message):
    __slots__ = ("max_bytes", "max_namespaces", "max_file_bytes", "max_entries", "max_metadata_bytes", "max_checkpoints", "max_staged_bytes")
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    MAX_FILE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    MAX_METADATA_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    MAX_STAGED_BYTES_FIELD_NUMBER: _ClassVar[int]
    max_bytes: int
    max_namespaces: int
    max_file_bytes: int
    max_entries: int
    max_metadata_bytes: int
    max_checkpoints: int
    max_staged_bytes: int
    def __init__(self, max_bytes: _Optional[int] = ..., max_namespaces: _Optional[int] = ..., max_file_bytes: _Optional[int] = ..., max_entries: _Optional[int] = ..., max_metadata_bytes: _Optional[int] = ..., max_checkpoints: _Optional[int] = ..., max_staged_bytes: _Optional[int] = ...) -> None: ...
