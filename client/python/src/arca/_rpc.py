"""One authenticated `grpc.aio` channel and typed calls over it.

Every call carries `authorization: Bearer <secret>` and every gRPC failure
leaves here as an `arca.errors` exception, never a bare `grpc.RpcError`.
Calls go through `channel.unary_unary` / `stream_stream` with the generated
message classes, so they are typed end to end.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional, TypeVar

import grpc
import grpc.aio
from google.protobuf.message import Message

from ._config import MAX_MESSAGE, Target
from .errors import translate

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)
T = TypeVar("T")


def open_channel(target: Target) -> grpc.aio.Channel:
    """A channel to `target` with message limits raised on our side."""
    options = [
        ("grpc.max_receive_message_length", MAX_MESSAGE),
        ("grpc.max_send_message_length", MAX_MESSAGE),
        # Reconnect quickly after a dropped connection (resume relies on it).
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 2000),
    ]
    if target.tls:
        credentials = grpc.ssl_channel_credentials(root_certificates=target.root_certificates)
        return grpc.aio.secure_channel(target.host_port, credentials, options=options)
    return grpc.aio.insecure_channel(target.host_port, options=options)


class Rpc:
    """Typed unary and streaming calls on one channel with one credential."""

    def __init__(self, channel: grpc.aio.Channel, token: Optional[str]) -> None:
        self.channel = channel
        self.metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {token}"),) if token else ()
        )
        self._unary: dict[str, Any] = {}

    async def call(self, method: str, request: Req, response: type[Resp], timeout: Optional[float] = None) -> Resp:
        """Calls `/arca.v1.Service/Method` with `request`."""
        stub: Optional[grpc.aio.UnaryUnaryMultiCallable[Req, Resp]] = self._unary.get(method)
        if stub is None:
            stub = self.channel.unary_unary(
                method,
                request_serializer=type(request).SerializeToString,
                response_deserializer=response.FromString,
            )
            self._unary[method] = stub
        try:
            return await stub(request, metadata=self.metadata, timeout=timeout)
        except grpc.aio.AioRpcError as e:
            raise translate(e) from None

    async def every_page(
        self, method: str, request: Req, response: type[Resp], items: Callable[[Resp], Iterable[T]]
    ) -> list[T]:
        """Every item of a paginated call: `request`'s `page_token` follows
        each answer's `next_page_token` until it is empty."""
        out: list[T] = []
        while True:
            page = await self.call(method, request, response)
            out.extend(items(page))
            token: str = getattr(page, "next_page_token")
            if not token:
                return out
            setattr(request, "page_token", token)

    def stream(
        self, method: str, request: type[Req], response: type[Resp]
    ) -> grpc.aio.StreamStreamCall[Req, Resp]:
        """Opens a bidirectional stream; the caller writes, reads and
        translates errors (see `_transfer`)."""
        stub: grpc.aio.StreamStreamMultiCallable[Req, Resp] = self.channel.stream_stream(
            method,
            request_serializer=request.SerializeToString,
            response_deserializer=response.FromString,
        )
        return stub(metadata=self.metadata)
