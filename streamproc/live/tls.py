"""TLS for the listeners (an adapter): certificate and key files, an optional client CA for mutual TLS,
as gRPC server credentials and as an `ssl.SSLContext` for the HTTP endpoints. Files are read once, at
startup; a file that cannot be read or used is a UsageError naming it."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc

from streamproc.errors import UsageError


@dataclass(frozen=True, slots=True)
class TlsFiles:
    cert_file: str
    key_file: str
    client_ca_file: str = ""  # set: clients must present a certificate this CA signed (mutual TLS)

    def grpc_credentials(self) -> grpc.ServerCredentials:
        ca = _read(self.client_ca_file) if self.client_ca_file else None
        return grpc.ssl_server_credentials(
            [(_read(self.key_file), _read(self.cert_file))],
            root_certificates=ca,
            require_client_auth=ca is not None,
        )

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.cert_file, self.key_file)
            if self.client_ca_file:
                context.load_verify_locations(self.client_ca_file)
                context.verify_mode = ssl.CERT_REQUIRED
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"TLS: cannot use {self.cert_file} / {self.key_file}: {exc}") from None
        return context


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"TLS: {path}: {exc.strerror or exc}") from None


def read_token(path: str, setting: str) -> str:
    """A bearer token from a file (its first line), so that it never shows in a process's command line."""
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{setting} {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not token:
        raise UsageError(f"{setting} {path}: the file holds no token")
    return token
