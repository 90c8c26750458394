import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NamespaceType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NAMESPACE_TYPE_UNSPECIFIED: _ClassVar[NamespaceType]
    NAMESPACE_TYPE_BLOB: _ClassVar[NamespaceType]
    NAMESPACE_TYPE_WORKSPACE: _ClassVar[NamespaceType]

class Scope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCOPE_UNSPECIFIED: _ClassVar[Scope]
    SCOPE_SESSION: _ClassVar[Scope]
    SCOPE_USER: _ClassVar[Scope]
    SCOPE_SANDBOX: _ClassVar[Scope]

class MetadataUpdateMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    METADATA_UPDATE_MODE_UNSPECIFIED: _ClassVar[MetadataUpdateMode]
    METADATA_UPDATE_MODE_REPLACE: _ClassVar[MetadataUpdateMode]
    METADATA_UPDATE_MODE_MERGE: _ClassVar[MetadataUpdateMode]

class EntryKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENTRY_KIND_UNSPECIFIED: _ClassVar[EntryKind]
    ENTRY_KIND_FILE: _ClassVar[EntryKind]
    ENTRY_KIND_DIRECTORY: _ClassVar[EntryKind]
NAMESPACE_TYPE_UNSPECIFIED: NamespaceType
NAMESPACE_TYPE_BLOB: NamespaceType
NAMESPACE_TYPE_WORKSPACE: NamespaceType
SCOPE_UNSPECIFIED: Scope
SCOPE_SESSION: Scope
SCOPE_USER: Scope
SCOPE_SANDBOX: Scope
METADATA_UPDATE_MODE_UNSPECIFIED: MetadataUpdateMode
METADATA_UPDATE_MODE_REPLACE: MetadataUpdateMode
METADATA_UPDATE_MODE_MERGE: MetadataUpdateMode
ENTRY_KIND_UNSPECIFIED: EntryKind
ENTRY_KIND_FILE: EntryKind
ENTRY_KIND_DIRECTORY: EntryKind

class Owner(_message.Message):
    __slots__ = ("sandbox", "user", "session")
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    sandbox: str
    user: str
    session: str
    def __init__(self, sandbox: _Optional[str] = ..., user: _Optional[str] = ..., session: _Optional[str] = ...) -> None: ...

class Entry(_message.Message):
    __slots__ = ("path", "kind", "size", "sha256", "mime_type", "metadata", "version", "created_at", "modified_at", "grid_key")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PATH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_AT_FIELD_NUMBER: _ClassVar[int]
    GRID_KEY_FIELD_NUMBER: _ClassVar[int]
    path: str
    kind: EntryKind
    size: int
    sha256: str
    mime_type: str
    metadata: _containers.ScalarMap[str, str]
    version: int
    created_at: _timestamp_pb2.Timestamp
    modified_at: _timestamp_pb2.Timestamp
    grid_key: str
    def __init__(self, path: _Optional[str] = ..., kind: _Optional[_Union[EntryKind, str]] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ..., mime_type: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., version: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., modified_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., grid_key: _Optional[str] = ...) -> None: ...

class Precondition(_message.Message):
    __slots__ = ("must_not_exist", "if_version_match")
    MUST_NOT_EXIST_FIELD_NUMBER: _ClassVar[int]
    IF_VERSION_MATCH_FIELD_NUMBER: _ClassVar[int]
    must_not_exist: bool
    if_version_match: int
    def __init__(self, must_not_exist: _Optional[bool] = ..., if_version_match: _Optional[int] = ...) -> None: ...

class ItemError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...
