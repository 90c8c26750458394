"""An MCP server that gives an agent one Arca workspace.

    arca-mcp --namespace NS            # stdio; ARCA_ADDR, ARCA_TOKEN(_FILE), ARCA_CA_FILE
    arca-mcp --namespace NS --transport streamable-http --port 8765

Built on the official MCP Python SDK (`mcp`, the `MCPServer` API) over this
package's async client. Every tool acts with the credential the server was
started with, on the namespace it was started for: the access rules are
the Arca server's, so a read-only credential gives read-only tools.
Failures are tool errors (`isError` results with the reason), never
crashes: bad paths, denied namespaces, quotas, files too large to return.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
from typing import Any, Optional

try:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
except ImportError as missing:  # the package without its [mcp] extra
    _MISSING_MCP: Optional[ImportError] = missing
else:
    _MISSING_MCP = None

from . import errors
from .client import AsyncClient, connect
from .types import NodeInfo

#: The most bytes `read` returns in one call, unless configured.
DEFAULT_MAX_READ = 1 << 20


def _node(e: NodeInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"path": e.path, "type": "directory" if e.is_dir else "file"}
    if not e.is_dir:
        out.update(size=e.size, sha256=e.sha256, mime_type=e.mime_type, version=e.version)
    if e.modified_at is not None:
        out["modified_at"] = e.modified_at.isoformat()
    return out


def _failure(error: errors.ArcaError) -> ToolError:
    kind = {
        errors.NotFound: "not found",
        errors.PermissionDenied: "permission denied",
        errors.Unauthenticated: "the credential was refused",
        errors.QuotaExceeded: "quota exceeded",
        errors.InvalidArgument: "invalid argument",
        errors.AlreadyExists: "already exists",
        errors.FailedPrecondition: "not possible now",
        errors.Unavailable: "the storage service is unavailable",
    }.get(type(error), "failed")
    return ToolError(f"{kind}: {error.message}")


class Workspace:
    """The tools' shared state: one client, one namespace."""

    def __init__(self, namespace_id: str, max_read: int, connect_args: dict[str, Any]) -> None:
        self.namespace_id = namespace_id
        self.max_read = max_read
        self._connect_args = connect_args
        self._client: Optional[AsyncClient] = None

    @property
    def client(self) -> AsyncClient:
        # Made on first use, inside the MCP server's event loop.
        if self._client is None:
            self._client = connect(**self._connect_args)
        return self._client


def build(namespace_id: str, *, max_read: int = DEFAULT_MAX_READ, **connect_args: Any) -> MCPServer:
    """The MCP server for one namespace (tools registered, not running)."""
    ws = Workspace(namespace_id, max_read, connect_args)
    server = MCPServer(
        "arca",
        instructions=(
            "Files of one Arca workspace. Paths are relative to its root ('/' is the root). "
            "Writes are atomic; checkpoint before risky changes and restore to undo."
        ),
    )

    def vfs() -> Any:
        return ws.client.workspace(ws.namespace_id)

    @server.tool(name="list")
    async def list_dir(path: str = "/", recursive: bool = False) -> list[dict[str, Any]]:
        """List a directory (or, recursively, its whole subtree)."""
        try:
            return [_node(e) for e in await ws.client.list_entries(ws.namespace_id, path, recursive)]
        except errors.ArcaError as e:
            raise _failure(e) from None

    @server.tool()
    async def read(path: str, offset: int = 0, length: int = 0) -> dict[str, Any]:
        """Read a file, or `length` bytes from `offset` (0: to the end). Text comes
        back as UTF-8, other content as base64. Larger than the read limit: read a
        range, or get a URL with `presign`."""
        try:
            if offset < 0 or length < 0:
                raise ToolError("invalid argument: offset and length must not be negative")
            node = await ws.client.stat(ws.namespace_id, path)
            if node.is_dir:
                raise ToolError(f"not possible now: {node.path} is a directory; use list")
            want = max(0, node.size - offset) if not length else min(length, max(0, node.size - offset))
            if want > ws.max_read:
                raise ToolError(
                    f"too large: {node.path} is {node.size} bytes and the range asked for is {want}; "
                    f"read at most {ws.max_read} bytes at a time (offset/length), or use presign"
                )
            data = await ws.client.read_file(ws.namespace_id, path, offset, length)
            try:
                content, encoding = data.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                content, encoding = base64.b64encode(data).decode(), "base64"
            return {"path": node.path, "size": node.size, "offset": offset, "length": len(data),
                    "encoding": encoding, "content": content}
        except errors.ArcaError as e:
            raise _failure(e) from None

    @server.tool()
    async def write(path: str, content: str, encoding: str = "utf-8", mime_type: str = "") -> dict[str, Any]:
        """Write a whole file (created with its parent directories, or replaced).
        `encoding` is "utf-8" for text or "base64" for binary content."""
        try:
            if encoding == "utf-8":
                data = content.encode()
            elif encoding == "base64":
                try:
                    data = base64.b64decode(content, validate=True)
                except ValueError:
                    raise ToolError("invalid argument: content is not valid base64") from None
            else:
                raise ToolError(f"invalid argument: encoding must be utf-8 or base64, not {encoding!r}")
            return _node(await ws.client.write_file(ws.namespace_id, path, data, mime_type=mime_type))
        except errors.ArcaError as e:
            raise _failure(e) from None

    @server.tool()
    async def edit(path: str, old_string: str, new_string: str) -> dict[str, Any]:
        """Replace the one occurrence of `old_string` in a text file with
        `new_string`. Refused if it occurs zero or several times, or if the file
        changed meanwhile (nothing is written then)."""
        try:
            node = await ws.client.stat(ws.namespace_id, path)
            if node.is_dir:
                raise ToolError(f"not possible now: {node.path} is a directory")
            if node.size > ws.max_read:
                raise ToolError(f"too large: {node.path} is {node.size} bytes; edit handles at most {ws.max_read}")
            try:
                text = (await ws.client.read_file(ws.namespace_id, path)).decode("utf-8")
            except UnicodeDecodeError:
                raise ToolError(f"not possible now: {node.path} is not UTF-8 text") from None
            if not old_string:
                raise ToolError("invalid argument: old_string must not be empty")
            count = text.count(old_string)
            if count != 1:
                raise ToolError(
                    f"not possible now: old_string occurs {count} times in {node.path}; "
                    "it must occur exactly once (add surrounding context)"
                )
            entry = await ws.client.write_file(ws.namespace_id, path, text.replace(old_string, new_string),
                                               mime_type=node.mime_type, if_version_match=node.version)
            return _node(entry)
        except errors.ArcaError as e:
            raise _failure(e) from None

    @server.tool()
    async def find(pattern: str, path: str = "/") -> list[str]:
        """Paths of files under `path` whose name matches a glob (`*.py`), at any
        depth; a pattern with "/" (`src/**/*.ts`) matches the relative path."""
        try:
            return await vfs().find(pattern, path)  # type: ignore[no-any-return]
        except errors.ArcaError as e:
            raise _failure(e) from None

    @server.tool()
    async def mkdir(path: str) -> dict[str, Any]:
        """Create a directory and any missing parents (an existing one is fine)."""
        try:
            return _node(await ws.client.mkdir(ws.namespace_id, path, exist_ok=True))
        except errors.ArcaError as e:
            raise _failure(e) from None

    @server.tool()
    async def move(source: str, destination: str, overwrite: bool = False) -> dict[str, Any]:
        """Move or rename a file or directory (atomic)."""
        try:
            return _node(await ws.client.move(ws.namespace_id, source, destination, overwrite=overwrite))
        except errors.ArcaError as e:
            raise _failure(e) from None

    @server.tool()
    async def remove(path: str, recursive: bool = False) -> dict[str, Any]:
        """Remove a file, or a directory (non-empty ones need recursive=true)."""
        try:
            return {"removed": await ws.client.remove(ws.namespace_id, path, recursive=recursive)}
        except errors.ArcaError as e:
            raise _failure(e) from None

    @server.tool()
    async def checkpoint(name: str = "", description: str = "") -> dict[str, Any]:
        """Snapshot the whole workspace (instant); returns its id for restore and diff."""
        try:
            cp = await ws.client.checkpoint_namespace(ws.namespace_id, name, description)
            return {"checkpoint_id": cp.checkpoint_id, "name": cp.name, "files": cp.file_count}
        except errors.ArcaError as e:
            raise _failure(e) from None

    @server.tool()
    async def list_checkpoints() -> list[dict[str, Any]]:
        """The workspace's checkpoints, oldest first."""
        try:
            return [{"checkpoint_id": c.checkpoint_id, "name": c.name, "files": c.file_count,
                     "created_at": c.created_at.isoformat() if c.created_at else None}
                    for c in await ws.client.list_checkpoints(ws.namespace_id)]
        except errors.ArcaError as e:
            raise _failure(e) from None

    @server.tool()
    async def restore(checkpoint_id: str) -> dict[str, Any]:
        """Make the workspace exactly what it was at a checkpoint."""
        try:
            return {"entries": await ws.client.restore_namespace(ws.namespace_id, checkpoint_id)}
        except errors.ArcaError as e:
            raise _failure(e) from None

    @server.tool()
    async def diff(checkpoint_id: str, to_checkpoint_id: str = "") -> dict[str, list[str]]:
        """Paths added, removed and changed since a checkpoint (or between two)."""
        try:
            d = await ws.client.diff_checkpoints(ws.namespace_id, checkpoint_id, to_checkpoint_id)
            return {"added": [c.path for c in d.added], "removed": [c.path for c in d.removed],
                    "changed": [c.path for c in d.changed]}
        except errors.ArcaError as e:
            raise _failure(e) from None

    @server.tool()
    async def presign(path: str, expires_in_secs: int = 900) -> dict[str, Any]:
        """A plain-HTTP URL that serves the file's current content without a
        credential until it expires (for large or binary files)."""
        try:
            url = await ws.client.presign_download(ws.namespace_id, path, expires_in_secs)
            return {"url": url, "expires_in_secs": expires_in_secs}
        except errors.ArcaError as e:
            raise _failure(e) from None

    return server


def main(argv: Optional[list[str]] = None) -> None:
    """`arca-mcp`: serve one namespace over stdio (or streamable HTTP)."""
    parser = argparse.ArgumentParser(prog="arca-mcp", description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespace", default=os.environ.get("ARCA_NAMESPACE"),
                        help="the namespace id to serve (or ARCA_NAMESPACE)")
    parser.add_argument("--addr", help="server address (or ARCA_ADDR)")
    parser.add_argument("--token-file", help="file holding the API key or session token (or ARCA_TOKEN_FILE)")
    parser.add_argument("--ca-file", help="PEM CA to trust for TLS (or ARCA_CA_FILE)")
    parser.add_argument("--max-read-bytes", type=int, default=DEFAULT_MAX_READ,
                        help="the most bytes one read returns (default 1 MiB)")
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="streamable-http: address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="streamable-http: port")
    args = parser.parse_args(argv)
    if _MISSING_MCP is not None:
        print(f"arca-mcp needs the MCP SDK ({_MISSING_MCP}): pip install 'arca-sdk[mcp]'", file=sys.stderr)
        raise SystemExit(2)
    if not args.namespace:
        parser.error("--namespace (or ARCA_NAMESPACE) is required")
    try:
        from . import _config

        _config.resolve(args.addr, token_file=args.token_file, ca_file=args.ca_file)
    except errors.ArcaError as e:
        print(f"arca-mcp: {e.message}", file=sys.stderr)
        raise SystemExit(2) from None
    server = build(args.namespace, max_read=args.max_read_bytes, address=args.addr,
                   token_file=args.token_file, ca_file=args.ca_file)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=args.host, port=args.port)


if __name__ == "__main__":
    main()
