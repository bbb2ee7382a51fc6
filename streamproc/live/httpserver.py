"""The HTTP listener both HTTP adapters use (the API endpoints, the OTLP/HTTP receiver): a stdlib threading
server with a bound on connections in progress, a listen backlog, optional TLS, and a bind error that
names the address."""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: Connections served at once; more are closed at once (the client retries). Idle ones close after the
#: handler's timeout, so a client that connects and sends nothing holds a thread for at most that long.
MAX_CONNECTIONS = 64
IDLE_TIMEOUT_S = 30.0
LISTEN_BACKLOG = 128


class _BoundedHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], connections: int
    ) -> None:
        self._slots = threading.BoundedSemaphore(connections)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # over the bound: closed at once, the client may retry
            return
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that failed (a TLS handshake from a plain-HTTP client, a reset): nothing to answer,
        and not worth a traceback on stderr."""

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class HttpListener:
    """Binds at construction (so a port in use fails startup, naming `what` and the address); serves on a
    thread of its own from `start()`."""

    def __init__(
        self,
        host: str,
        port: int,
        handler: type[BaseHTTPRequestHandler],
        *,
        what: str,
        max_connections: int = MAX_CONNECTIONS,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        try:
            self._server = _BoundedHTTPServer((host, port), handler, max_connections)
            if tls is not None:  # the handshake happens on the first read, in the connection's thread
                self._server.socket = tls.wrap_socket(
                    self._server.socket, server_side=True, do_handshake_on_connect=False
                )
        except OSError as exc:
            raise OSError(
                f"cannot listen on {host or '0.0.0.0'}:{port} ({what}): {exc.strerror or exc}"
            ) from None
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name=what, daemon=True)

    def start(self) -> int:
        self._thread.start()
        return self.port

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop serving and close the socket; safe before start() and when called twice."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=timeout_s)
        self._server.server_close()
