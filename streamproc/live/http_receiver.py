"""OTLP/HTTP receiver: `POST /v1/traces` on a listener of its own (DESIGN section 8; an adapter).

The OTLP/HTTP specification's contract, with the gRPC receiver's admission, token and TLS:
* `application/x-protobuf` or `application/json` (the OTLP/JSON rules), optionally `Content-Encoding: gzip`;
  the answer is in the request's encoding: an ExportTraceServiceResponse, with `partial_success`
  {rejected_spans, error_message} when some spans were rejected;
* missing or wrong bearer token          -> 401
* other content types or encodings       -> 415
* no Content-Length                      -> 411; over `max_message_size` (sent or unzipped) -> 413
* undecodable body                       -> 400
* over capacity or shutting down         -> 503 with Retry-After (every OTLP exporter retries it)
Failures carry a google.rpc.Status in the request's encoding (JSON where the type was not understood).
"""

from __future__ import annotations

import hmac
import ssl
import urllib.parse
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any, NamedTuple

import msgspec
import structlog
from google.rpc.status_pb2 import Status as PB2Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess as PB2ExportTracePartialSuccess,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse as PB2ExportTraceServiceResponse,
)

from streamproc.decode.common import DecodeResult
from streamproc.decode.otlp_json import decode_otlp_json, is_otlp
from streamproc.decode.otlp_request import decode_request
from streamproc.decode.protowire import WireFormatError
from streamproc.errors import StreamprocError, Unauthenticated, Unavailable
from streamproc.live.admission import Admission
from streamproc.live.httpserver import IDLE_TIMEOUT_S, MAX_CONNECTIONS, HttpListener
from streamproc.live.pipeline import Intake
from streamproc.live.receiver import UndecodableRequestError, partial_success_message
from streamproc.live.status import status_of

PATH = "/v1/traces"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
RETRY_AFTER_S = 1


class HttpRefusalError(StreamprocError):
    """A request the HTTP contract itself refuses (415, 411, 413), with the status that says so."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Answer(NamedTuple):
    status: int
    content_type: str
    body: bytes
    close: bool = False  # close the connection after answering (the body was not read)


class OtlpHttpReceiver:
    def __init__(
        self,
        pipeline: Intake,
        *,
        host: str,
        port: int,
        admission: Admission,
        max_message_size: int,
        bearer_token: str = "",
        tls: ssl.SSLContext | None = None,
        max_connections: int = MAX_CONNECTIONS,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
    ) -> None:
        self._pipeline = pipeline
        self._admission = admission
        self._max_size = max_message_size
        self._token = f"Bearer {bearer_token}" if bearer_token else ""
        self._log = structlog.get_logger()
        handle: Callable[[BaseHTTPRequestHandler], Answer] = self._handle

        class Handler(BaseHTTPRequestHandler):
            server_version = "streamproc"
            protocol_version = "HTTP/1.1"  # exporters keep their connection; every answer has a length
            timeout = idle_timeout_s

            def do_POST(self) -> None:
                self._answer(handle(self))

            def _other(self) -> None:
                found = urllib.parse.urlsplit(self.path).path == PATH
                status, text = (405, f"{PATH} takes POST only") if found else (404, f"not found: try {PATH}")
                self._answer(Answer(status, JSON, _status_json(status, text), close=True))

            do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = _other  # noqa: N815

            def _answer(self, answer: Answer) -> None:
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    self.send_header("Content-Length", str(len(answer.body)))
                    if answer.status == 503:
                        self.send_header("Retry-After", str(RETRY_AFTER_S))
                    if answer.status == 401:
                        self.send_header("WWW-Authenticate", "Bearer")
                    if answer.close:
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(answer.body)
                except ConnectionError:
                    self.close_connection = True  # the sender went away: nothing left to tell it

            def log_message(self, *args: object) -> None:
                pass  # bad requests are counted in the self-metrics, not logged one line each

        self._listener = HttpListener(
            host, port, Handler, what="OTLP/HTTP", max_connections=max_connections, tls=tls
        )
        self.port = self._listener.port

    def start(self) -> int:
        return self._listener.start()

    def shutdown(self, timeout_s: float = 5.0) -> None:
        self._listener.shutdown(timeout_s)

    def _handle(self, request: BaseHTTPRequestHandler) -> Answer:
        """One POST: checked before its body is read, admitted, read, decoded and ingested."""
        json = _media_type(request.headers.get("Content-Type", "")) != PROTOBUF  # answers in JSON if unsure
        try:
            length = self._check(request)
            try:
                with self._admission.admitted(length):
                    return self._ingest(_read(request, length, self._max_size), json)
            except Unavailable as refused:
                self._refuse(request, length, json, refused.reason)
                raise
        except StreamprocError as exc:
            # Only an undecodable body was read whole; after any other refusal the connection closes.
            status = exc.status if isinstance(exc, HttpRefusalError) else status_of(exc).http
            close = not isinstance(exc, UndecodableRequestError)
            return Answer(status, JSON if json else PROTOBUF, _status(status, str(exc), json), close)

    def _check(self, request: BaseHTTPRequestHandler) -> int:
        """Path, token, content type and encoding, and length; returns the body's length."""
        if urllib.parse.urlsplit(request.path).path != PATH:
            raise HttpRefusalError(404, f"not found: try {PATH}")
        if self._token and not hmac.compare_digest(request.headers.get("Authorization", ""), self._token):
            self._pipeline.auth_failed("otlp_http")
            raise Unauthenticated("missing or wrong bearer token")
        kind = _media_type(request.headers.get("Content-Type", ""))
        if kind not in (PROTOBUF, JSON):
            raise HttpRefusalError(415, f"content type {kind or '(none)'} is not {PROTOBUF} or {JSON}")
        encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip", ""):
            raise HttpRefusalError(415, f"content encoding {encoding} is not gzip or identity")
        text = request.headers.get("Content-Length")
        if text is None:
            raise HttpRefusalError(411, "a Content-Length is required")
        if not text.isdigit():
            raise HttpRefusalError(400, f"Content-Length {text[:40]!r} is not a number")
        length = int(text)
        if length > self._max_size:
            raise HttpRefusalError(
                413, f"the body of {length:,} bytes is over the limit of {self._max_size:,}"
            )
        return length

    def _ingest(self, body: bytes, json: bool) -> Answer:
        result = _decode(body, json) if json else self._ingest_protobuf(body)
        if result is None:
            self._pipeline.ingest_undecodable("http")
            kind = "OTLP JSON" if json else "an ExportTraceServiceRequest"
            raise UndecodableRequestError(f"the body is not {kind}")
        if json:
            self._pipeline.ingest(result, "http")
        rejected = len(result.skipped)
        message = partial_success_message(result.skipped) if rejected else ""
        if rejected:
            self._log.warning("spans_rejected", count=rejected, detail=message, transport="http")
        if json:
            partial = {"rejectedSpans": str(rejected), "errorMessage": message} if rejected else None
            return Answer(200, JSON, msgspec.json.encode({"partialSuccess": partial} if partial else {}))
        response = PB2ExportTraceServiceResponse()
        if rejected:
            response.partial_success.CopyFrom(
                PB2ExportTracePartialSuccess(rejected_spans=rejected, error_message=message)
            )
        return Answer(200, PROTOBUF, response.SerializeToString())

    def _ingest_protobuf(self, body: bytes) -> DecodeResult | None:
        try:
            return self._pipeline.ingest_request(body, "http")
        except WireFormatError:
            return None

    def _refuse(self, request: BaseHTTPRequestHandler, length: int, json: bool, reason: str) -> None:
        """Count the spans of a request refused whole, as the gRPC receiver does (0 if it does not decode);
        the body is read so the count is honest, and the connection closed after the answer."""
        try:
            result = _decode(_read(request, length, self._max_size), json)
        except StreamprocError:
            result = None
        count = 0 if result is None else len(result.spans) + len(result.skipped)
        self._pipeline.refuse(count, reason, "http")


def _read(request: BaseHTTPRequestHandler, length: int, limit: int) -> bytes:
    """The body, unzipped when it says it is gzip, within `limit` bytes either way."""
    raw = request.rfile.read(length)
    if len(raw) < length:
        raise UndecodableRequestError(f"the body ended after {len(raw):,} of {length:,} bytes")
    if request.headers.get("Content-Encoding", "").strip().lower() != "gzip":
        return raw
    unzip = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = unzip.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise UndecodableRequestError(f"the body is not gzip: {exc}") from None
    if len(data) > limit or unzip.unconsumed_tail:
        raise HttpRefusalError(413, f"the body unzips to more than the limit of {limit:,} bytes")
    return data


def _decode(body: bytes, json: bool) -> DecodeResult | None:
    """The body's spans, or None when it is not a request of its type at all."""
    if not json:
        try:
            return decode_request(body)
        except WireFormatError:
            return None
    try:
        doc: Any = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    return decode_otlp_json(doc) if is_otlp(doc) else DecodeResult()  # unknown fields are ignored


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


_GRPC_CODES = {400: 3, 401: 16, 404: 5, 405: 12, 411: 3, 413: 8, 415: 3, 503: 14}


def _status(http_status: int, message: str, json: bool) -> bytes:
    """A google.rpc.Status in the request's encoding, as the OTLP/HTTP specification asks."""
    if json:
        return _status_json(http_status, message)
    return bytes(PB2Status(code=_GRPC_CODES.get(http_status, 2), message=message).SerializeToString())


def _status_json(http_status: int, message: str) -> bytes:
    return msgspec.json.encode({"code": _GRPC_CODES.get(http_status, 2), "message": message})
