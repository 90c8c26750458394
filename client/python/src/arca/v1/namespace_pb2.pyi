import datetime

from arca.v1 import common_pb2 as _common_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Namespace(_message.Message):
    __slots__ = ("namespace_id", "type", "scope", "name", "owner", "metadata", "created_at", "expires_at", "backend", "grid_prefix", "file_count", "total_bytes", "summary", "writable", "quota", "template", "profile")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    GRID_PREFIX_FIELD_NUMBER: _ClassVar[int]
    FILE_COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    WRITABLE_FIELD_NUMBER: _ClassVar[int]
    QUOTA_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    type: _common_pb2.NamespaceType
    scope: _common_pb2.Scope
    name: str
    owner: _common_pb2.Owner
    metadata: _containers.ScalarMap[str, str]
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    backend: str
    grid_prefix: str
    file_count: int
    total_bytes: int
    summary: str
    writable: bool
    quota: ByteQuota
    template: bool
    profile: AccessProfile
    def __init__(self, namespace_id: _Optional[str] = ..., type: _Optional[_Union[_common_pb2.NamespaceType, str]] = ..., scope: _Optional[_Union[_common_pb2.Scope, str]] = ..., name: _Optional[str] = ..., owner: _Optional[_Union[_common_pb2.Owner, _Mapping]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., backend: _Optional[str] = ..., grid_prefix: _Optional[str] = ..., file_count: _Optional[int] = ..., total_bytes: _Optional[int] = ..., summary: _Optional[str] = ..., writable: _Optional[bool] = ..., quota: _Optional[_Union[ByteQuota, _Mapping]] = ..., template: _Optional[bool] = ..., profile: _Optional[_Union[AccessProfile, _Mapping]] = ...) -> None: ...

class AccessProfile(_message.Message):
    __slots__ = ("preset", "read_only", "allowed_globs", "denied_globs", "max_file_bytes", "max_files", "allowed_mime_prefixes")
    PRESET_FIELD_NUMBER: _ClassVar[int]
    READ_ONLY_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_GLOBS_FIELD_NUMBER: _ClassVar[int]
    DENIED_GLOBS_FIELD_NUMBER: _ClassVar[int]
    MAX_FILE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_FILES_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_MIME_PREFIXES_FIELD_NUMBER: _ClassVar[int]
    preset: str
    read_only: bool
    allowed_globs: _containers.RepeatedScalarFieldContainer[str]
    denied_globs: _containers.RepeatedScalarFieldContainer[str]
    max_file_bytes: int
    max_files: int
    allowed_mime_prefixes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, preset: _Optional[str] = ..., read_only: _Optional[bool] = ..., allowed_globs: _Optional[_Iterable[str]] = ..., denied_globs: _Optional[_Iterable[str]] = ..., max_file_bytes: _Optional[int] = ..., max_files: _Optional[int] = ..., allowed_mime_prefixes: _Optional[_Iterable[str]] = ...) -> None: ...

class NamespaceSource(_message.Message):
    __slots__ = ("namespace_id", "checkpoint_id", "variables")
    class VariablesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    checkpoint_id: str
    variables: _containers.ScalarMap[str, str]
    def __init__(self, namespace_id: _Optional[str] = ..., checkpoint_id: _Optional[str] = ..., variables: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ByteQuota(_message.Message):
    __slots__ = ("used_bytes", "limit_bytes")
    USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    LIMIT_BYTES_FIELD_NUMBER: _ClassVar[int]
    used_bytes: int
    limit_bytes: int
    def __init__(self, used_bytes: _Optional[int] = ..., limit_bytes: _Optional[int] = ...) -> None: ...

class InitialFile(_message.Message):
    __slots__ = ("path", "data", "mime_type", "metadata", "expected_sha256")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PATH_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SHA256_FIELD_NUMBER: _ClassVar[int]
    path: str
    data: bytes
    mime_type: str
    metadata: _containers.ScalarMap[str, str]
    expected_sha256: str
    def __init__(self, path: _Optional[str] = ..., data: _Optional[bytes] = ..., mime_type: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., expected_sha256: _Optional[str] = ...) -> None: ...

class CreateNamespaceRequest(_message.Message):
    __slots__ = ("type", "scope", "owner", "name", "metadata", "ttl", "backend", "summary", "initial_file", "source", "template", "profile")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    INITIAL_FILE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    type: _common_pb2.NamespaceType
    scope: _common_pb2.Scope
    owner: _common_pb2.Owner
    name: str
    metadata: _containers.ScalarMap[str, str]
    ttl: _duration_pb2.Duration
    backend: str
    summary: str
    initial_file: InitialFile
    source: NamespaceSource
    template: bool
    profile: AccessProfile
    def __init__(self, type: _Optional[_Union[_common_pb2.NamespaceType, str]] = ..., scope: _Optional[_Union[_common_pb2.Scope, str]] = ..., owner: _Optional[_Union[_common_pb2.Owner, _Mapping]] = ..., name: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., backend: _Optional[str] = ..., summary: _Optional[str] = ..., initial_file: _Optional[_Union[InitialFile, _Mapping]] = ..., source: _Optional[_Union[NamespaceSource, _Mapping]] = ..., template: _Optional[bool] = ..., profile: _Optional[_Union[AccessProfile, _Mapping]] = ...) -> None: ...

class GetNamespaceRequest(_message.Message):
    __slots__ = ("namespace_id",)
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    def __init__(self, namespace_id: _Optional[str] = ...) -> None: ...

class ListNamespacesRequest(_message.Message):
    __slots__ = ("sandbox", "scope", "user", "session", "type", "name_prefix", "metadata", "mime_prefix", "page_size", "page_token")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_PREFIX_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    MIME_PREFIX_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    sandbox: str
    scope: _common_pb2.Scope
    user: str
    session: str
    type: _common_pb2.NamespaceType
    name_prefix: str
    metadata: _containers.ScalarMap[str, str]
    mime_prefix: str
    page_size: int
    page_token: str
    def __init__(self, sandbox: _Optional[str] = ..., scope: _Optional[_Union[_common_pb2.Scope, str]] = ..., user: _Optional[str] = ..., session: _Optional[str] = ..., type: _Optional[_Union[_common_pb2.NamespaceType, str]] = ..., name_prefix: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., mime_prefix: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListNamespacesResponse(_message.Message):
    __slots__ = ("namespaces", "next_page_token")
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    namespaces: _containers.RepeatedCompositeFieldContainer[Namespace]
    next_page_token: str
    def __init__(self, namespaces: _Optional[_Iterable[_Union[Namespace, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DestroyNamespaceRequest(_message.Message):
    __slots__ = ("namespace_id",)
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    def __init__(self, namespace_id: _Optional[str] = ...) -> None: ...

class DestroyNamespaceResponse(_message.Message):
    __slots__ = ("files_removed", "bytes_removed")
    FILES_REMOVED_FIELD_NUMBER: _ClassVar[int]
    BYTES_REMOVED_FIELD_NUMBER: _ClassVar[int]
    files_removed: int
    bytes_removed: int
    def __init__(self, files_removed: _Optional[int] = ..., bytes_removed: _Optional[int] = ...) -> None: ...

class UpdateNamespaceMetadataRequest(_message.Message):
    __slots__ = ("namespace_id", "mode", "metadata", "remove_keys")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    REMOVE_KEYS_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    mode: _common_pb2.MetadataUpdateMode
    metadata: _containers.ScalarMap[str, str]
    remove_keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, namespace_id: _Optional[str] = ..., mode: _Optional[_Union[_common_pb2.MetadataUpdateMode, str]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., remove_keys: _Optional[_Iterable[str]] = ...) -> None: ...

class UpdateNamespaceRequest(_message.Message):
    __slots__ = ("namespace_id", "summary", "mode", "metadata", "remove_keys", "expires_in", "extend_by", "clear_ttl", "template", "profile", "clear_profile")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    REMOVE_KEYS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    EXTEND_BY_FIELD_NUMBER: _ClassVar[int]
    CLEAR_TTL_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    CLEAR_PROFILE_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    summary: str
    mode: _common_pb2.MetadataUpdateMode
    metadata: _containers.ScalarMap[str, str]
    remove_keys: _containers.RepeatedScalarFieldContainer[str]
    expires_in: _duration_pb2.Duration
    extend_by: _duration_pb2.Duration
    clear_ttl: bool
    template: bool
    profile: AccessProfile
    clear_profile: bool
    def __init__(self, namespace_id: _Optional[str] = ..., summary: _Optional[str] = ..., mode: _Optional[_Union[_common_pb2.MetadataUpdateMode, str]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., remove_keys: _Optional[_Iterable[str]] = ..., expires_in: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., extend_by: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., clear_ttl: _Optional[bool] = ..., template: _Optional[bool] = ..., profile: _Optional[_Union[AccessProfile, _Mapping]] = ..., clear_profile: _Optional[bool] = ...) -> None: ...
