"""Every failure of an Arca call as a Python exception.

`translate` turns a `grpc.aio.AioRpcError` (or a sync `grpc.RpcError`) into
one exception of this small hierarchy, keeping the server's message and the
status code; callers never see a bare gRPC error. The mapping is exhaustive
over gRPC's codes: a code without its own class becomes `ArcaError`.
"""

from __future__ import annotations

from typing import Optional

import grpc


class ArcaError(Exception):
    """Base of every error the SDK raises. `code` is the gRPC status code
    (None for errors found by the client itself, such as a digest mismatch);
    `message` is the server's (or the client's) explanation."""

    code: Optional[grpc.StatusCode] = None

    def __init__(self, message: str, code: Optional[grpc.StatusCode] = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message if self.code is None else f"{self.code.name}: {self.message}"


class InvalidArgument(ArcaError):
    """The request was malformed: a bad path, id, size or option."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(ArcaError):
    """The namespace, file, checkpoint, session or upload does not exist (or
    has expired)."""

    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ArcaError):
    """The path, or the namespace name, is taken."""

    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(ArcaError):
    """The credential may not do this (also for namespaces that do not
    exist, so ids cannot be probed)."""

    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(ArcaError):
    """No credential, or an unknown, closed or expired one."""

    code = grpc.StatusCode.UNAUTHENTICATED


class QuotaExceeded(ArcaError):
    """A quota or a size limit (RESOURCE_EXHAUSTED); nothing was written."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPrecondition(ArcaError):
    """The state does not allow it: a version mismatch, a non-empty
    directory, a second path in a BLOB."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(ArcaError):
    """A concurrent operation won (retry)."""

    code = grpc.StatusCode.ABORTED


class OutOfRange(ArcaError):
    """An offset past the end of a file."""

    code = grpc.StatusCode.OUT_OF_RANGE


class Unavailable(ArcaError):
    """The server or its storage cannot be reached now (retry later)."""

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(ArcaError):
    """The call ran past its deadline."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Cancelled(ArcaError):
    """The call was cancelled."""

    code = grpc.StatusCode.CANCELLED


class DataLoss(ArcaError):
    """Content does not match its digest (on the server, or as received)."""

    code = grpc.StatusCode.DATA_LOSS


class Internal(ArcaError):
    """The server failed (it logged why)."""

    code = grpc.StatusCode.INTERNAL


class Unimplemented(ArcaError):
    """The server does not offer this call (an older server)."""

    code = grpc.StatusCode.UNIMPLEMENTED


_BY_CODE: dict[grpc.StatusCode, type[ArcaError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        PermissionDenied,
        Unauthenticated,
        QuotaExceeded,
        FailedPrecondition,
        Aborted,
        OutOfRange,
        Unavailable,
        DeadlineExceeded,
        Cancelled,
        DataLoss,
        Internal,
        Unimplemented,
    )
    if cls.code is not None
}


def by_code(code: grpc.StatusCode) -> type[ArcaError]:
    """The exception class for a status code."""
    return _BY_CODE.get(code, ArcaError)


def translate(error: grpc.RpcError) -> ArcaError:
    """The SDK exception for a gRPC failure, with the server's message."""
    code_of = getattr(error, "code", None)
    details_of = getattr(error, "details", None)
    code: grpc.StatusCode = code_of() if callable(code_of) else grpc.StatusCode.UNKNOWN
    details = details_of() if callable(details_of) else None
    message = str(details) if details else str(error)
    cls = _BY_CODE.get(code, ArcaError)
    return cls(message, code)
