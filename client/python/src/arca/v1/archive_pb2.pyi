from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExportArchiveRequest(_message.Message):
    __slots__ = ("namespace_id", "checkpoint_id")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    checkpoint_id: str
    def __init__(self, namespace_id: _Optional[str] = ..., checkpoint_id: _Optional[str] = ...) -> None: ...

class ExportArchiveResponse(_message.Message):
    __slots__ = ("summary", "data")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    summary: ExportSummary
    data: bytes
    def __init__(self, summary: _Optional[_Union[ExportSummary, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class ExportSummary(_message.Message):
    __slots__ = ("files", "directories", "content_bytes")
    FILES_FIELD_NUMBER: _ClassVar[int]
    DIRECTORIES_FIELD_NUMBER: _ClassVar[int]
    CONTENT_BYTES_FIELD_NUMBER: _ClassVar[int]
    files: int
    directories: int
    content_bytes: int
    def __init__(self, files: _Optional[int] = ..., directories: _Optional[int] = ..., content_bytes: _Optional[int] = ...) -> None: ...

class ImportArchiveRequest(_message.Message):
    __slots__ = ("start", "data")
    START_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    start: ImportStart
    data: bytes
    def __init__(self, start: _Optional[_Union[ImportStart, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class ImportStart(_message.Message):
    __slots__ = ("namespace_id", "path", "overwrite")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    path: str
    overwrite: bool
    def __init__(self, namespace_id: _Optional[str] = ..., path: _Optional[str] = ..., overwrite: _Optional[bool] = ...) -> None: ...

class ImportArchiveResponse(_message.Message):
    __slots__ = ("files", "directories", "content_bytes", "archive_bytes")
    FILES_FIELD_NUMBER: _ClassVar[int]
    DIRECTORIES_FIELD_NUMBER: _ClassVar[int]
    CONTENT_BYTES_FIELD_NUMBER: _ClassVar[int]
    ARCHIVE_BYTES_FIELD_NUMBER: _ClassVar[int]
    files: int
    directories: int
    content_bytes: int
    archive_bytes: int
    def __init__(self, files: _Optional[int] = ..., directories: _Optional[int] = ..., content_bytes: _Optional[int] = ..., archive_bytes: _Optional[int] = ...) -> None: ...
