import datetime

from arca.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANGE_KIND_UNSPECIFIED: _ClassVar[ChangeKind]
    CHANGE_KIND_FILE_CREATED: _ClassVar[ChangeKind]
    CHANGE_KIND_FILE_REPLACED: _ClassVar[ChangeKind]
    CHANGE_KIND_FILE_DELETED: _ClassVar[ChangeKind]
    CHANGE_KIND_MOVED: _ClassVar[ChangeKind]
    CHANGE_KIND_DIRECTORY_CREATED: _ClassVar[ChangeKind]
    CHANGE_KIND_DIRECTORY_REMOVED: _ClassVar[ChangeKind]
    CHANGE_KIND_METADATA_CHANGED: _ClassVar[ChangeKind]
    CHANGE_KIND_RESTORED: _ClassVar[ChangeKind]
    CHANGE_KIND_DESTROYED: _ClassVar[ChangeKind]
CHANGE_KIND_UNSPECIFIED: ChangeKind
CHANGE_KIND_FILE_CREATED: ChangeKind
CHANGE_KIND_FILE_REPLACED: ChangeKind
CHANGE_KIND_FILE_DELETED: ChangeKind
CHANGE_KIND_MOVED: ChangeKind
CHANGE_KIND_DIRECTORY_CREATED: ChangeKind
CHANGE_KIND_DIRECTORY_REMOVED: ChangeKind
CHANGE_KIND_METADATA_CHANGED: ChangeKind
CHANGE_KIND_RESTORED: ChangeKind
CHANGE_KIND_DESTROYED: ChangeKind

class Change(_message.Message):
    __slots__ = ("revision", "kind", "path", "old_path", "entry", "committed_at", "checkpoint_id")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    OLD_PATH_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    revision: int
    kind: ChangeKind
    path: str
    old_path: str
    entry: _common_pb2.Entry
    committed_at: _timestamp_pb2.Timestamp
    checkpoint_id: str
    def __init__(self, revision: _Optional[int] = ..., kind: _Optional[_Union[ChangeKind, str]] = ..., path: _Optional[str] = ..., old_path: _Optional[str] = ..., entry: _Optional[_Union[_common_pb2.Entry, _Mapping]] = ..., committed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., checkpoint_id: _Optional[str] = ...) -> None: ...

class ChangeFilter(_message.Message):
    __slots__ = ("path_prefix", "glob")
    PATH_PREFIX_FIELD_NUMBER: _ClassVar[int]
    GLOB_FIELD_NUMBER: _ClassVar[int]
    path_prefix: str
    glob: str
    def __init__(self, path_prefix: _Optional[str] = ..., glob: _Optional[str] = ...) -> None: ...

class WatchNamespaceRequest(_message.Message):
    __slots__ = ("namespace_id", "since_revision", "filter")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_REVISION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    since_revision: int
    filter: ChangeFilter
    def __init__(self, namespace_id: _Optional[str] = ..., since_revision: _Optional[int] = ..., filter: _Optional[_Union[ChangeFilter, _Mapping]] = ...) -> None: ...

class WatchNamespaceResponse(_message.Message):
    __slots__ = ("started", "change", "progress")
    STARTED_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    started: WatchStarted
    change: Change
    progress: WatchProgress
    def __init__(self, started: _Optional[_Union[WatchStarted, _Mapping]] = ..., change: _Optional[_Union[Change, _Mapping]] = ..., progress: _Optional[_Union[WatchProgress, _Mapping]] = ...) -> None: ...

class WatchStarted(_message.Message):
    __slots__ = ("since_revision", "head_revision", "oldest_revision")
    SINCE_REVISION_FIELD_NUMBER: _ClassVar[int]
    HEAD_REVISION_FIELD_NUMBER: _ClassVar[int]
    OLDEST_REVISION_FIELD_NUMBER: _ClassVar[int]
    since_revision: int
    head_revision: int
    oldest_revision: int
    def __init__(self, since_revision: _Optional[int] = ..., head_revision: _Optional[int] = ..., oldest_revision: _Optional[int] = ...) -> None: ...

class WatchProgress(_message.Message):
    __slots__ = ("revision",)
    REVISION_FIELD_NUMBER: _ClassVar[int]
    revision: int
    def __init__(self, revision: _Optional[int] = ...) -> None: ...

class ListChangesRequest(_message.Message):
    __slots__ = ("namespace_id", "since_revision", "filter", "page_size")
    NAMESPACE_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_REVISION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    namespace_id: str
    since_revision: int
    filter: ChangeFilter
    page_size: int
    def __init__(self, namespace_id: _Optional[str] = ..., since_revision: _Optional[int] = ..., filter: _Optional[_Union[ChangeFilter, _Mapping]] = ..., page_size: _Optional[int] = ...) -> None: ...

class ListChangesResponse(_message.Message):
    __slots__ = ("changes", "revision", "more", "head_revision", "oldest_revision")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    HEAD_REVISION_FIELD_NUMBER: _ClassVar[int]
    OLDEST_REVISION_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[Change]
    revision: int
    more: bool
    head_revision: int
    oldest_revision: int
    def __init__(self, changes: _Optional[_Iterable[_Union[Change, _Mapping]]] = ..., revision: _Optional[int] = ..., more: _Optional[bool] = ..., head_revision: _Optional[int] = ..., oldest_revision: _Optional[int] = ...) -> None: ...
