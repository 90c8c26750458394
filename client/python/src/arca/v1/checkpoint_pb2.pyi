import datetime

from arca.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Checkpoint(_message.Message):
    __slots__ = ("checkpoint_id", "namespace_id", "name", "description", "created_at", "entry_count", "file_count", "total_bytes")
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ENTRY_COUNT_FIELD_NUMBER: _ClassVar[int]
    FILE_COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    checkpoint_id: str
    namespace_id: str
    name: str
    description: str
    created_at: _timestamp_pb2.Timestamp
    entry_count: int
    file_count: int
    total_bytes: int
    def __init__(self, checkpoint_id: _Optional[str] = ..., namespace_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., entry_count: _Optional[int] = ..., file_count: _Optional[int] = ..., total_bytes: _Optional[int] = ...) -> None: ...

class CreateCheckpointRequest(_message.Message):
    __slots__ = ("namespace_id", "name", "description")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    name: str
    description: str
    def __init__(self, namespace_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ListCheckpointsRequest(_message.Message):
    __slots__ = ("namespace_id", "page_size", "page_token")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    page_size: int
    page_token: str
    def __init__(self, namespace_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCheckpointsResponse(_message.Message):
    __slots__ = ("checkpoints", "next_page_token")
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    checkpoints: _containers.RepeatedCompositeFieldContainer[Checkpoint]
    next_page_token: str
    def __init__(self, checkpoints: _Optional[_Iterable[_Union[Checkpoint, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetCheckpointRequest(_message.Message):
    __slots__ = ("namespace_id", "checkpoint_id")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    checkpoint_id: str
    def __init__(self, namespace_id: _Optional[str] = ..., checkpoint_id: _Optional[str] = ...) -> None: ...

class RestoreCheckpointRequest(_message.Message):
    __slots__ = ("namespace_id", "checkpoint_id")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    checkpoint_id: str
    def __init__(self, namespace_id: _Optional[str] = ..., checkpoint_id: _Optional[str] = ...) -> None: ...

class RestoreCheckpointResponse(_message.Message):
    __slots__ = ("entry_count", "entries_replaced")
    ENTRY_COUNT_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_REPLACED_FIELD_NUMBER: _ClassVar[int]
    entry_count: int
    entries_replaced: int
    def __init__(self, entry_count: _Optional[int] = ..., entries_replaced: _Optional[int] = ...) -> None: ...

class DeleteCheckpointRequest(_message.Message):
    __slots__ = ("namespace_id", "checkpoint_id")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    checkpoint_id: str
    def __init__(self, namespace_id: _Optional[str] = ..., checkpoint_id: _Optional[str] = ...) -> None: ...

class DeleteCheckpointResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DiffCheckpointsRequest(_message.Message):
    __slots__ = ("namespace_id", "from_checkpoint_id", "to_checkpoint_id")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    TO_CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    from_checkpoint_id: str
    to_checkpoint_id: str
    def __init__(self, namespace_id: _Optional[str] = ..., from_checkpoint_id: _Optional[str] = ..., to_checkpoint_id: _Optional[str] = ...) -> None: ...

class PathChange(_message.Message):
    __slots__ = ("path", "before", "after")
    PATH_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    path: str
    before: _common_pb2.Entry
    after: _common_pb2.Entry
    def __init__(self, path: _Optional[str] = ..., before: _Optional[_Union[_common_pb2.Entry, _Mapping]] = ..., after: _Optional[_Union[_common_pb2.Entry, _Mapping]] = ...) -> None: ...

class DiffCheckpointsResponse(_message.Message):
    __slots__ = ("added", "removed", "changed")
    ADDED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    added: _containers.RepeatedCompositeFieldContainer[PathChange]
    removed: _containers.RepeatedCompositeFieldContainer[PathChange]
    changed: _containers.RepeatedCompositeFieldContainer[PathChange]
    def __init__(self, added: _Optional[_Iterable[_Union[PathChange, _Mapping]]] = ..., removed: _Optional[_Iterable[_Union[PathChange, _Mapping]]] = ..., changed: _Optional[_Iterable[_Union[PathChange, _Mapping]]] = ...) -> None: ...
