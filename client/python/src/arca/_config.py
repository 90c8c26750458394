"""Where to connect and with what: address, credential and TLS, from
arguments or the environment (`ARCA_ADDR`, `ARCA_TOKEN`, `ARCA_TOKEN_FILE`,
`ARCA_CA_FILE`), the same variables the `arca` CLI reads."""

from __future__ import annotations

import os
import pathlib
import ssl
from dataclasses import dataclass
from typing import Optional, Union

from .errors import ArcaError

DEFAULT_ADDRESS = "http://127.0.0.1:7420"
#: Largest message either side accepts (the server's default unary limit is
#: 4 MiB of content; answers carry some framing on top).
MAX_MESSAGE = 64 << 20

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class Target:
    """A resolved connection target."""

    #: "host:port" for the gRPC channel.
    host_port: str
    #: Whether the channel uses TLS.
    tls: bool
    #: PEM of a CA to trust instead of the default roots (TLS only).
    root_certificates: Optional[bytes]
    #: The bearer secret (API key or session token), if any.
    token: Optional[str]


def _read_secret(path: PathLike) -> str:
    file = pathlib.Path(path)
    try:
        mode = file.stat().st_mode
        secret = file.read_text().strip()
    except OSError as e:
        raise ArcaError(f"cannot read token file {file}: {e.strerror}") from None
    if mode & 0o004:
        raise ArcaError(f"token file {file} is world-readable; chmod 600 it")
    if not secret:
        raise ArcaError(f"token file {file} is empty")
    return secret


def system_roots() -> Optional[bytes]:
    """The system's CA bundle (what OpenSSL trusts here, `SSL_CERT_FILE`
    included), or None to let gRPC use the roots it ships."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and os.path.isfile(candidate):
            try:
                return pathlib.Path(candidate).read_bytes()
            except OSError:
                continue
    return None


def resolve(
    address: Optional[str] = None,
    token: Optional[str] = None,
    *,
    token_file: Optional[PathLike] = None,
    ca_file: Optional[PathLike] = None,
    tls: Optional[bool] = None,
) -> Target:
    """Arguments first, then the environment, then the defaults.

    `address` is "host:port", "http://host:port" (plaintext) or
    "https://host:port" (TLS trusting the system's CA bundle, or `ca_file`).
    A CA file, given or from `ARCA_CA_FILE`, implies TLS.
    """
    address = address or os.environ.get("ARCA_ADDR") or DEFAULT_ADDRESS
    if token is None:
        file = token_file or os.environ.get("ARCA_TOKEN_FILE")
        token = os.environ.get("ARCA_TOKEN") or None
        if token is None and file:
            token = _read_secret(file)
    ca = ca_file or os.environ.get("ARCA_CA_FILE") or None
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "", address
    if scheme not in ("", "http", "https"):
        raise ArcaError(f"address {address!r}: the scheme must be http or https")
    host_port = rest.rstrip("/")
    if not host_port or "/" in host_port:
        raise ArcaError(f"address {address!r} is not host:port")
    use_tls = tls if tls is not None else (scheme == "https" or ca is not None)
    if scheme == "http" and use_tls:
        raise ArcaError(f"address {address!r} says http, but TLS was asked for")
    roots = None
    if ca is not None:
        try:
            roots = pathlib.Path(ca).read_bytes()
        except OSError as e:
            raise ArcaError(f"cannot read CA file {ca}: {e.strerror}") from None
    elif use_tls:
        roots = system_roots()
    return Target(host_port=host_port, tls=use_tls, root_certificates=roots, token=token)
