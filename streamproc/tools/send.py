"""`streamproc send`: replay trace files into an OTLP/gRPC endpoint (an adapter: network I/O lives here).

Spans go out trace by trace in requests of `batch_size` spans, each request grouping its spans by service
as an SDK's batch processor would; `rate` paces spans per second. UNAVAILABLE (the server is busy or
draining) is retried with backoff, as OTLP exporters do; other errors stop the replay.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest as PB2ExportTraceServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse as PB2ExportTraceServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import (
    TraceServiceStub as PB2TraceServiceStub,
)

from streamproc.errors import SendError
from streamproc.model import Span
from streamproc.tools.encode import otlp_request

RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)


@dataclass(slots=True)
class SendResult:
    spans_sent: int = 0
    requests: int = 0
    rejected_spans: int = 0
    retries: int = 0
    messages: list[str] = field(default_factory=list)  # the first few partial-success messages


def batches(traces: Iterable[Sequence[Span]], batch_size: int) -> Iterator[list[Span]]:
    """Requests of up to `batch_size` spans, taking each trace's spans in turn."""
    batch: list[Span] = []
    for spans in traces:
        for span in spans:
            batch.append(span)
            if len(batch) >= batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


def send_traces(
    traces: Sequence[Sequence[Span]],
    *,
    endpoint: str,
    batch_size: int = 512,
    rate: float | None = None,
    timeout_s: float = 10.0,
    max_retries: int = 5,
    headers: Sequence[tuple[str, str]] = (),
    progress: Callable[[int], None] = lambda _n: None,
) -> SendResult:
    result = SendResult()
    started = time.monotonic()
    with grpc.insecure_channel(endpoint) as channel:
        stub = PB2TraceServiceStub(channel)  # type: ignore[no-untyped-call]  # generated gRPC code is untyped
        for batch in batches(traces, batch_size):
            if rate:
                ahead = (result.spans_sent / rate) - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
            response = _export(
                stub,
                otlp_request(batch),
                endpoint=endpoint,
                timeout_s=timeout_s,
                max_retries=max_retries,
                headers=headers,
                result=result,
            )
            result.requests += 1
            result.spans_sent += len(batch)
            if response.HasField("partial_success") and response.partial_success.rejected_spans:
                result.rejected_spans += response.partial_success.rejected_spans
                if len(result.messages) < 5:
                    result.messages.append(response.partial_success.error_message)
            progress(len(batch))
    return result


def _export(
    stub: PB2TraceServiceStub,
    request: PB2ExportTraceServiceRequest,
    *,
    endpoint: str,
    timeout_s: float,
    max_retries: int,
    headers: Sequence[tuple[str, str]],
    result: SendResult,
) -> PB2ExportTraceServiceResponse:
    delay = 0.2
    for attempt in range(max_retries + 1):
        try:
            response: PB2ExportTraceServiceResponse = stub.Export(
                request, timeout=timeout_s, metadata=tuple(headers) or None
            )
            return response
        except grpc.RpcError as exc:
            code = exc.code()
            if code not in RETRYABLE or attempt == max_retries:
                raise SendError(f"{endpoint}: Export failed: {code.name}: {exc.details()}") from None
            result.retries += 1
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
    raise AssertionError("unreachable")
