"""Arca's Python SDK: async-first storage for AI apps, agents and MCP servers.

    import arca

    async with arca.connect("http://127.0.0.1:7420", token) as client:
        artifact_id = await client.store(b"hello", mime="text/plain", user_id="alice", scope="user")
        ws = client.workspace((await client.create_namespace(arca.NamespaceType.WORKSPACE,
                                                             "user", user_id="alice")).namespace_id)
        await ws.write_file("/main.py", "print('hi')")

    with arca.connect_sync() as client:   # ARCA_ADDR / ARCA_TOKEN / ARCA_CA_FILE
        print(client.list_namespaces())
"""

from .artifacts import PresignedUpload
from .client import AsyncClient, connect
from .errors import (
    Aborted,
    AlreadyExists,
    ArcaError,
    Cancelled,
    DataLoss,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PermissionDenied,
    QuotaExceeded,
    Unauthenticated,
    Unavailable,
    Unimplemented,
)
from .sync import Client, Workspace, connect_sync
from .types import (
    ArtifactInfo,
    Change,
    CheckpointInfo,
    Diff,
    NamespaceInfo,
    NamespaceType,
    NodeInfo,
    OpenedSession,
    SessionInfo,
    StorageScope,
    UploadPart,
    UploadPlan,
)
from .workspace import AsyncWorkspace

__version__ = "0.2.0"

__all__ = [
    "Aborted", "AlreadyExists", "ArcaError", "ArtifactInfo", "AsyncClient", "AsyncWorkspace", "Cancelled",
    "Change", "CheckpointInfo", "Client", "DataLoss", "DeadlineExceeded", "Diff", "FailedPrecondition",
    "Internal", "InvalidArgument", "NamespaceInfo", "NamespaceType", "NodeInfo", "NotFound", "OpenedSession",
    "OutOfRange", "PermissionDenied", "PresignedUpload", "QuotaExceeded", "SessionInfo", "StorageScope",
    "Unauthenticated", "Unavailable", "Unimplemented", "UploadPart", "UploadPlan", "Workspace", "connect",
    "connect_sync",
]
