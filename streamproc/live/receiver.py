"""OTLP/gRPC receiver: `opentelemetry.proto.collector.trace.v1.TraceService/Export`, the gRPC health
service, server reflection, and the other services given to it (AnalysisService) on the same port (an
adapter: sockets and threads live here).

What a request gets (DESIGN section 8; the codes come from `status.status_of`):
* missing or wrong bearer token         -> Unauthenticated: UNAUTHENTICATED
* shutting down, or over capacity       -> Unavailable: UNAVAILABLE (every OTLP exporter retries it)
* undecodable request bytes             -> DecodeError: INVALID_ARGUMENT (not retryable)
* individually bad spans                -> OK with partial_success {rejected_spans, error_message}
The request is registered with no deserializer: the handler, not gRPC, decides what a malformed message
gets, and `decode.otlp_request` reads the spans from the bytes; gzip-compressed requests are
decompressed by gRPC itself.
"""

from __future__ import annotations

import hmac
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent import futures

import grpc
import structlog
from grpc_health.v1 import health as grpc_health
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess as PB2ExportTracePartialSuccess,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse as PB2ExportTraceServiceResponse,
)

from streamproc.decode.otlp_request import count_request_spans
from streamproc.decode.protowire import WireFormatError
from streamproc.errors import DecodeError, StreamprocError, Unauthenticated, Unavailable
from streamproc.live.admission import Admission
from streamproc.live.pipeline import Intake
from streamproc.live.status import status_of
from streamproc.model import SkippedSpan

SERVICE_NAME = "opentelemetry.proto.collector.trace.v1.TraceService"


def partial_success_message(skipped: list[SkippedSpan]) -> str:
    """One line for the sender: counts per reason and the first rejected span."""
    reasons = Counter(s.reason.value for s in skipped)
    first = skipped[0]
    counts = ", ".join(f"{count} {reason}" for reason, count in reasons.most_common())
    where = f"trace {first.trace_id} span {first.span_id}"
    return f"rejected {len(skipped)} spans ({counts}); first: {where}: {first.detail}"


class UndecodableRequestError(DecodeError):
    """Request bytes that are not an ExportTraceServiceRequest; the sender reads only the problem."""

    def __init__(self, problem: str) -> None:
        super().__init__("request", problem)

    def __str__(self) -> str:
        return self.problem


class OtlpReceiver:
    def __init__(
        self,
        pipeline: Intake,
        *,
        host: str,
        port: int,
        max_message_size: int,
        admission: Admission,
        workers: int,
        bearer_token: str = "",
        min_deadline_left_s: float = 0.25,
        credentials: grpc.ServerCredentials | None = None,
        also_serve: Sequence[tuple[str, Callable[[grpc.Server], None]]] = (),
    ) -> None:
        """`also_serve`: other services on this port, as (full service name, function adding it)."""
        self._credentials = credentials
        self._pipeline = pipeline
        self._admission = admission
        self._min_deadline_left_s = min_deadline_left_s
        self._token = f"Bearer {bearer_token}" if bearer_token else ""
        self._log = structlog.get_logger()
        self._address = f"[{host}]:{port}" if ":" in host else f"{host or '0.0.0.0'}:{port}"
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="otlp-grpc"),
            # Workers outnumber the calls allowed in flight, so the spare ones answer refusals (UNAVAILABLE)
            # at once; this is only a backstop on calls waiting for a worker, past which gRPC itself
            # answers RESOURCE_EXHAUSTED rather than queueing calls until their deadlines pass.
            maximum_concurrent_rpcs=admission.max_inflight + 4 * workers,
            options=[
                ("grpc.max_receive_message_length", max_message_size),
                ("grpc.so_reuseport", 0),  # a port in use is an error, never silently shared
                ("grpc.max_send_message_length", 4 * 1024 * 1024),
            ],
        )
        handler: grpc.RpcMethodHandler[bytes, PB2ExportTraceServiceResponse] = (
            grpc.unary_unary_rpc_method_handler(
                self._export,
                request_deserializer=None,
                response_serializer=PB2ExportTraceServiceResponse.SerializeToString,
            )
        )
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE_NAME, {"Export": handler}),)
        )
        self._health = grpc_health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        for _name, add in also_serve:
            add(self._server)
        served = (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name)
        reflection.enable_server_reflection(
            (*served, *(name for name, _add in also_serve), reflection.SERVICE_NAME), self._server
        )
        self.port = 0

    def start(self) -> int:
        """Bind and serve; returns the bound port (useful when asked for port 0)."""
        try:
            if self._credentials is None:
                self.port = self._server.add_insecure_port(self._address)
            else:
                self.port = self._server.add_secure_port(self._address, self._credentials)
        except RuntimeError:  # grpcio's answer when the address cannot be bound
            self.port = 0
        if self.port == 0:
            raise OSError(
                f"cannot listen on {self._address} (OTLP/gRPC): the address is in use or not available"
            )
        self._server.start()
        for name in ("", SERVICE_NAME):
            self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        return self.port

    def stop_accepting(self) -> None:
        """Health says NOT_SERVING from now on (the shared admission answers Export UNAVAILABLE)."""
        self._health.enter_graceful_shutdown()

    def shutdown(self, grace_s: float) -> None:
        self.stop_accepting()
        self._server.stop(grace_s).wait()

    @property
    def inflight(self) -> int:
        """Requests being handled now, on either transport (the admission is shared)."""
        return self._admission.inflight

    def _export(self, raw: bytes, context: grpc.ServicerContext) -> PB2ExportTraceServiceResponse:
        try:
            self._check(context)
            with self._admission.admitted(len(raw)):
                return self._ingest(raw, context)
        except StreamprocError as exc:
            if isinstance(exc, Unavailable):
                self._refuse(raw, exc.reason)
            context.abort(status_of(exc).grpc, str(exc))

    def _check(self, context: grpc.ServicerContext) -> None:
        """The call's token, and whether enough of its deadline is left to be worth taking."""
        if self._token and not hmac.compare_digest(
            str(dict(context.invocation_metadata()).get("authorization", "")), self._token
        ):
            self._pipeline.auth_failed("grpc")
            raise Unauthenticated("missing or wrong bearer token")
        left = context.time_remaining()
        if left is not None and left < self._min_deadline_left_s:
            raise Unavailable(
                "deadline", f"only {left:.3f} s of the call's deadline left when it was reached"
            )

    def _ingest(self, raw: bytes, context: grpc.ServicerContext) -> PB2ExportTraceServiceResponse:
        try:
            result = self._pipeline.ingest_request(raw)
        except WireFormatError as exc:
            self._pipeline.ingest_undecodable()
            raise UndecodableRequestError(f"not an ExportTraceServiceRequest: {exc}") from None
        if not result.skipped:
            return PB2ExportTraceServiceResponse()
        message = partial_success_message(result.skipped)
        self._log.warning("spans_rejected", count=len(result.skipped), detail=message, peer=context.peer())
        return PB2ExportTraceServiceResponse(
            partial_success=PB2ExportTracePartialSuccess(
                rejected_spans=len(result.skipped), error_message=message
            )
        )

    def _refuse(self, raw: bytes, reason: str) -> None:
        """Count the spans of a request refused whole (0 if it does not even decode)."""
        self._pipeline.refuse(count_request_spans(raw), reason)
