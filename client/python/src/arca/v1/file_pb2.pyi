import datetime

from arca.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UploadRequest(_message.Message):
    __slots__ = ("start", "resume", "data", "query_state", "finish")
    START_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    QUERY_STATE_FIELD_NUMBER: _ClassVar[int]
    FINISH_FIELD_NUMBER: _ClassVar[int]
    start: UploadStart
    resume: UploadResume
    data: UploadData
    query_state: QueryState
    finish: UploadFinish
    def __init__(self, start: _Optional[_Union[UploadStart, _Mapping]] = ..., resume: _Optional[_Union[UploadResume, _Mapping]] = ..., data: _Optional[_Union[UploadData, _Mapping]] = ..., query_state: _Optional[_Union[QueryState, _Mapping]] = ..., finish: _Optional[_Union[UploadFinish, _Mapping]] = ...) -> None: ...

class UploadStart(_message.Message):
    __slots__ = ("namespace_id", "path", "mime_type", "metadata", "total_size", "expected_sha256", "precondition")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SHA256_FIELD_NUMBER: _ClassVar[int]
    PRECONDITION_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    path: str
    mime_type: str
    metadata: _containers.ScalarMap[str, str]
    total_size: int
    expected_sha256: str
    precondition: _common_pb2.Precondition
    def __init__(self, namespace_id: _Optional[str] = ..., path: _Optional[str] = ..., mime_type: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., total_size: _Optional[int] = ..., expected_sha256: _Optional[str] = ..., precondition: _Optional[_Union[_common_pb2.Precondition, _Mapping]] = ...) -> None: ...

class UploadResume(_message.Message):
    __slots__ = ("upload_id",)
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    def __init__(self, upload_id: _Optional[str] = ...) -> None: ...

class UploadData(_message.Message):
    __slots__ = ("offset", "data")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    offset: int
    data: bytes
    def __init__(self, offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class QueryState(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UploadFinish(_message.Message):
    __slots__ = ("expected_sha256",)
    EXPECTED_SHA256_FIELD_NUMBER: _ClassVar[int]
    expected_sha256: str
    def __init__(self, expected_sha256: _Optional[str] = ...) -> None: ...

class UploadResponse(_message.Message):
    __slots__ = ("accepted", "progress", "committed")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_FIELD_NUMBER: _ClassVar[int]
    accepted: UploadAccepted
    progress: UploadProgress
    committed: _common_pb2.Entry
    def __init__(self, accepted: _Optional[_Union[UploadAccepted, _Mapping]] = ..., progress: _Optional[_Union[UploadProgress, _Mapping]] = ..., committed: _Optional[_Union[_common_pb2.Entry, _Mapping]] = ...) -> None: ...

class UploadAccepted(_message.Message):
    __slots__ = ("upload_id", "persisted_offset", "lease_expires_at", "deduplicated")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    PERSISTED_OFFSET_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    DEDUPLICATED_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    persisted_offset: int
    lease_expires_at: _timestamp_pb2.Timestamp
    deduplicated: bool
    def __init__(self, upload_id: _Optional[str] = ..., persisted_offset: _Optional[int] = ..., lease_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deduplicated: _Optional[bool] = ...) -> None: ...

class UploadProgress(_message.Message):
    __slots__ = ("persisted_offset", "received_offset")
    PERSISTED_OFFSET_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_OFFSET_FIELD_NUMBER: _ClassVar[int]
    persisted_offset: int
    received_offset: int
    def __init__(self, persisted_offset: _Optional[int] = ..., received_offset: _Optional[int] = ...) -> None: ...

class DownloadRequest(_message.Message):
    __slots__ = ("namespace_id", "path", "offset", "length", "if_version_match")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    IF_VERSION_MATCH_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    path: str
    offset: int
    length: int
    if_version_match: int
    def __init__(self, namespace_id: _Optional[str] = ..., path: _Optional[str] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ..., if_version_match: _Optional[int] = ...) -> None: ...

class DownloadResponse(_message.Message):
    __slots__ = ("header", "data", "trailer")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    TRAILER_FIELD_NUMBER: _ClassVar[int]
    header: DownloadHeader
    data: DownloadData
    trailer: DownloadTrailer
    def __init__(self, header: _Optional[_Union[DownloadHeader, _Mapping]] = ..., data: _Optional[_Union[DownloadData, _Mapping]] = ..., trailer: _Optional[_Union[DownloadTrailer, _Mapping]] = ...) -> None: ...

class DownloadHeader(_message.Message):
    __slots__ = ("entry", "offset", "length", "total_size")
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    entry: _common_pb2.Entry
    offset: int
    length: int
    total_size: int
    def __init__(self, entry: _Optional[_Union[_common_pb2.Entry, _Mapping]] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ..., total_size: _Optional[int] = ...) -> None: ...

class DownloadData(_message.Message):
    __slots__ = ("offset", "data")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    offset: int
    data: bytes
    def __init__(self, offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class DownloadTrailer(_message.Message):
    __slots__ = ("sha256", "bytes_sent")
    SHA256_FIELD_NUMBER: _ClassVar[int]
    BYTES_SENT_FIELD_NUMBER: _ClassVar[int]
    sha256: str
    bytes_sent: int
    def __init__(self, sha256: _Optional[str] = ..., bytes_sent: _Optional[int] = ...) -> None: ...

class ReadFileRequest(_message.Message):
    __slots__ = ("namespace_id", "path", "offset", "length")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    path: str
    offset: int
    length: int
    def __init__(self, namespace_id: _Optional[str] = ..., path: _Optional[str] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class ReadFileResponse(_message.Message):
    __slots__ = ("entry", "data")
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    entry: _common_pb2.Entry
    data: bytes
    def __init__(self, entry: _Optional[_Union[_common_pb2.Entry, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class WriteFileRequest(_message.Message):
    __slots__ = ("namespace_id", "path", "data", "mime_type", "metadata", "precondition", "expected_sha256")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    PRECONDITION_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SHA256_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    path: str
    data: bytes
    mime_type: str
    metadata: _containers.ScalarMap[str, str]
    precondition: _common_pb2.Precondition
    expected_sha256: str
    def __init__(self, namespace_id: _Optional[str] = ..., path: _Optional[str] = ..., data: _Optional[bytes] = ..., mime_type: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., precondition: _Optional[_Union[_common_pb2.Precondition, _Mapping]] = ..., expected_sha256: _Optional[str] = ...) -> None: ...

class WriteFileResponse(_message.Message):
    __slots__ = ("entry",)
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    entry: _common_pb2.Entry
    def __init__(self, entry: _Optional[_Union[_common_pb2.Entry, _Mapping]] = ...) -> None: ...

class BatchWriteRequest(_message.Message):
    __slots__ = ("namespace_id", "items")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    items: _containers.RepeatedCompositeFieldContainer[WriteFileRequest]
    def __init__(self, namespace_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[WriteFileRequest, _Mapping]]] = ...) -> None: ...

class BatchItemResult(_message.Message):
    __slots__ = ("path", "entry", "error", "data")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    path: str
    entry: _common_pb2.Entry
    error: _common_pb2.ItemError
    data: bytes
    def __init__(self, path: _Optional[str] = ..., entry: _Optional[_Union[_common_pb2.Entry, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.ItemError, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class BatchWriteResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[BatchItemResult]
    def __init__(self, results: _Optional[_Iterable[_Union[BatchItemResult, _Mapping]]] = ...) -> None: ...

class BatchReadRequest(_message.Message):
    __slots__ = ("namespace_id", "paths")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    paths: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, namespace_id: _Optional[str] = ..., paths: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchReadResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[BatchItemResult]
    def __init__(self, results: _Optional[_Iterable[_Union[BatchItemResult, _Mapping]]] = ...) -> None: ...

class BatchDeleteRequest(_message.Message):
    __slots__ = ("namespace_id", "paths", "recursive")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    paths: _containers.RepeatedScalarFieldContainer[str]
    recursive: bool
    def __init__(self, namespace_id: _Optional[str] = ..., paths: _Optional[_Iterable[str]] = ..., recursive: _Optional[bool] = ...) -> None: ...

class BatchDeleteResult(_message.Message):
    __slots__ = ("path", "error", "entries_removed")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_REMOVED_FIELD_NUMBER: _ClassVar[int]
    path: str
    error: _common_pb2.ItemError
    entries_removed: int
    def __init__(self, path: _Optional[str] = ..., error: _Optional[_Union[_common_pb2.ItemError, _Mapping]] = ..., entries_removed: _Optional[int] = ...) -> None: ...

class BatchDeleteResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[BatchDeleteResult]
    def __init__(self, results: _Optional[_Iterable[_Union[BatchDeleteResult, _Mapping]]] = ...) -> None: ...

class StatRequest(_message.Message):
    __slots__ = ("namespace_id", "path")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    path: str
    def __init__(self, namespace_id: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class ListRequest(_message.Message):
    __slots__ = ("namespace_id", "path", "recursive", "page_size", "page_token")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    path: str
    recursive: bool
    page_size: int
    page_token: str
    def __init__(self, namespace_id: _Optional[str] = ..., path: _Optional[str] = ..., recursive: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_common_pb2.Entry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[_common_pb2.Entry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class MkdirRequest(_message.Message):
    __slots__ = ("namespace_id", "path", "parents", "exist_ok")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    PARENTS_FIELD_NUMBER: _ClassVar[int]
    EXIST_OK_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    path: str
    parents: bool
    exist_ok: bool
    def __init__(self, namespace_id: _Optional[str] = ..., path: _Optional[str] = ..., parents: _Optional[bool] = ..., exist_ok: _Optional[bool] = ...) -> None: ...

class RemoveRequest(_message.Message):
    __slots__ = ("namespace_id", "path", "recursive")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    path: str
    recursive: bool
    def __init__(self, namespace_id: _Optional[str] = ..., path: _Optional[str] = ..., recursive: _Optional[bool] = ...) -> None: ...

class RemoveResponse(_message.Message):
    __slots__ = ("entries_removed",)
    ENTRIES_REMOVED_FIELD_NUMBER: _ClassVar[int]
    entries_removed: int
    def __init__(self, entries_removed: _Optional[int] = ...) -> None: ...

class AbortUploadRequest(_message.Message):
    __slots__ = ("upload_id",)
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    def __init__(self, upload_id: _Optional[str] = ...) -> None: ...

class AbortUploadResponse(_message.Message):
    __slots__ = ("discarded_bytes",)
    DISCARDED_BYTES_FIELD_NUMBER: _ClassVar[int]
    discarded_bytes: int
    def __init__(self, discarded_bytes: _Optional[int] = ...) -> None: ...

class CopyRequest(_message.Message):
    __slots__ = ("namespace_id", "source", "destination", "overwrite", "parents", "target_namespace_id")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    PARENTS_FIELD_NUMBER: _ClassVar[int]
    TARGET_NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    source: str
    destination: str
    overwrite: bool
    parents: bool
    target_namespace_id: str
    def __init__(self, namespace_id: _Optional[str] = ..., source: _Optional[str] = ..., destination: _Optional[str] = ..., overwrite: _Optional[bool] = ..., parents: _Optional[bool] = ..., target_namespace_id: _Optional[str] = ...) -> None: ...

class MoveRequest(_message.Message):
    __slots__ = ("namespace_id", "source", "destination", "overwrite", "parents", "target_namespace_id")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    PARENTS_FIELD_NUMBER: _ClassVar[int]
    TARGET_NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    source: str
    destination: str
    overwrite: bool
    parents: bool
    target_namespace_id: str
    def __init__(self, namespace_id: _Optional[str] = ..., source: _Optional[str] = ..., destination: _Optional[str] = ..., overwrite: _Optional[bool] = ..., parents: _Optional[bool] = ..., target_namespace_id: _Optional[str] = ...) -> None: ...

class FindRequest(_message.Message):
    __slots__ = ("namespace_id", "path", "pattern", "mime_prefix", "metadata", "page_size", "page_token")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    MIME_PREFIX_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    path: str
    pattern: str
    mime_prefix: str
    metadata: _containers.ScalarMap[str, str]
    page_size: int
    page_token: str
    def __init__(self, namespace_id: _Optional[str] = ..., path: _Optional[str] = ..., pattern: _Optional[str] = ..., mime_prefix: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class FindResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_common_pb2.Entry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[_common_pb2.Entry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SetMetadataRequest(_message.Message):
    __slots__ = ("namespace_id", "path", "mode", "metadata", "remove_keys", "if_version_match")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    REMOVE_KEYS_FIELD_NUMBER: _ClassVar[int]
    IF_VERSION_MATCH_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    path: str
    mode: _common_pb2.MetadataUpdateMode
    metadata: _containers.ScalarMap[str, str]
    remove_keys: _containers.RepeatedScalarFieldContainer[str]
    if_version_match: int
    def __init__(self, namespace_id: _Optional[str] = ..., path: _Optional[str] = ..., mode: _Optional[_Union[_common_pb2.MetadataUpdateMode, str]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., remove_keys: _Optional[_Iterable[str]] = ..., if_version_match: _Optional[int] = ...) -> None: ...

class GetMetadataRequest(_message.Message):
    __slots__ = ("namespace_id", "path")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    path: str
    def __init__(self, namespace_id: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class GetMetadataResponse(_message.Message):
    __slots__ = ("metadata", "version", "mime_type", "modified_at")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    METADATA_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_AT_FIELD_NUMBER: _ClassVar[int]
    metadata: _containers.ScalarMap[str, str]
    version: int
    mime_type: str
    modified_at: _timestamp_pb2.Timestamp
    def __init__(self, metadata: _Optional[_Mapping[str, str]] = ..., version: _Optional[int] = ..., mime_type: _Optional[str] = ..., modified_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
