"""The async client: `async with arca.connect(...) as client:`."""

from __future__ import annotations

from types import TracebackType
from typing import Optional

from . import _config
from ._config import PathLike
from ._rpc import Rpc, open_channel
from .artifacts import ArtifactCalls
from .workspace import AsyncWorkspace


class AsyncClient(ArtifactCalls):
    """Every SDK call over one channel. Use as an async context manager, or
    call `close()`; all calls are coroutines and never block the loop."""

    def __init__(self, target: _config.Target) -> None:
        self.target = target
        super().__init__(Rpc(open_channel(target), target.token))

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, kind: Optional[type[BaseException]], value: Optional[BaseException],
                        traceback: Optional[TracebackType]) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the channel (calls in flight are cancelled)."""
        await self._rpc.channel.close()

    def workspace(self, namespace_id: str) -> AsyncWorkspace:
        """The virtual-filesystem calls on one namespace."""
        return AsyncWorkspace(self, namespace_id)

    #: The reference's name for `workspace`.
    get_namespace_vfs = workspace


def connect(
    address: Optional[str] = None,
    token: Optional[str] = None,
    *,
    token_file: Optional[PathLike] = None,
    ca_file: Optional[PathLike] = None,
    tls: Optional[bool] = None,
) -> AsyncClient:
    """An async client. Unset arguments come from `ARCA_ADDR` (default
    http://127.0.0.1:7420), `ARCA_TOKEN` or `ARCA_TOKEN_FILE`, and
    `ARCA_CA_FILE`; an https:// address uses TLS with the default roots or
    the CA file. The channel connects lazily, on the first call."""
    return AsyncClient(_config.resolve(address, token, token_file=token_file, ca_file=ca_file, tls=tls))
