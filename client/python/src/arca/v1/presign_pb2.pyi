import datetime

from arca.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PresignDownloadRequest(_message.Message):
    __slots__ = ("namespace_id", "path", "expires_in_secs")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_SECS_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    path: str
    expires_in_secs: int
    def __init__(self, namespace_id: _Optional[str] = ..., path: _Optional[str] = ..., expires_in_secs: _Optional[int] = ...) -> None: ...

class PresignDownloadResponse(_message.Message):
    __slots__ = ("url", "method", "expires_at", "entry")
    URL_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    url: str
    method: str
    expires_at: _timestamp_pb2.Timestamp
    entry: _common_pb2.Entry
    def __init__(self, url: _Optional[str] = ..., method: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., entry: _Optional[_Union[_common_pb2.Entry, _Mapping]] = ...) -> None: ...

class PresignUploadRequest(_message.Message):
    __slots__ = ("namespace_id", "path", "mime_type", "metadata", "total_size", "expected_sha256", "precondition", "expires_in_secs")
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
    EXPIRES_IN_SECS_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    path: str
    mime_type: str
    metadata: _containers.ScalarMap[str, str]
    total_size: int
    expected_sha256: str
    precondition: _common_pb2.Precondition
    expires_in_secs: int
    def __init__(self, namespace_id: _Optional[str] = ..., path: _Optional[str] = ..., mime_type: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., total_size: _Optional[int] = ..., expected_sha256: _Optional[str] = ..., precondition: _Optional[_Union[_common_pb2.Precondition, _Mapping]] = ..., expires_in_secs: _Optional[int] = ...) -> None: ...

class UploadPart(_message.Message):
    __slots__ = ("url", "part_number", "offset", "length")
    URL_FIELD_NUMBER: _ClassVar[int]
    PART_NUMBER_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    url: str
    part_number: int
    offset: int
    length: int
    def __init__(self, url: _Optional[str] = ..., part_number: _Optional[int] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class PresignUploadResponse(_message.Message):
    __slots__ = ("upload_id", "method", "parts", "headers", "expires_at", "finalize_by")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    FINALIZE_BY_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    method: str
    parts: _containers.RepeatedCompositeFieldContainer[UploadPart]
    headers: _containers.ScalarMap[str, str]
    expires_at: _timestamp_pb2.Timestamp
    finalize_by: _timestamp_pb2.Timestamp
    def __init__(self, upload_id: _Optional[str] = ..., method: _Optional[str] = ..., parts: _Optional[_Iterable[_Union[UploadPart, _Mapping]]] = ..., headers: _Optional[_Mapping[str, str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finalize_by: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FinalizeUploadRequest(_message.Message):
    __slots__ = ("upload_id", "expected_sha256", "parts")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SHA256_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    expected_sha256: str
    parts: _containers.RepeatedCompositeFieldContainer[UploadedPart]
    def __init__(self, upload_id: _Optional[str] = ..., expected_sha256: _Optional[str] = ..., parts: _Optional[_Iterable[_Union[UploadedPart, _Mapping]]] = ...) -> None: ...

class UploadedPart(_message.Message):
    __slots__ = ("part_number", "etag")
    PART_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    part_number: int
    etag: str
    def __init__(self, part_number: _Optional[int] = ..., etag: _Optional[str] = ...) -> None: ...

class FinalizeUploadResponse(_message.Message):
    __slots__ = ("entry",)
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    entry: _common_pb2.Entry
    def __init__(self, entry: _Optional[_Union[_common_pb2.Entry, _Mapping]] = ...) -> None: ...
