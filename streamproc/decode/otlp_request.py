"""The OTLP protobuf decoder the receivers use: `otlp_wire` where it is compiled, else the protobuf
runtime's parse read by `otlp_proto`.

Both give the same spans (tests/test_otlp_wire.py). Compiled, the wire decoder costs about 0.6 of the
runtime's parse and read; interpreted it costs 1.7 times as much, so the pure build keeps the runtime
(`BENCHMARKS.md`). Either way a request that is not an ExportTraceServiceRequest raises WireFormatError.
"""

from __future__ import annotations

from collections.abc import Callable

from google.protobuf.message import DecodeError as PB2DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest as PB2ExportTraceServiceRequest,
)

from streamproc.buildinfo import is_compiled
from streamproc.decode import otlp_wire
from streamproc.decode.common import DecodeResult
from streamproc.decode.otlp_proto import decode_export_request
from streamproc.decode.otlp_wire import count_spans, decode_export_bytes
from streamproc.decode.protowire import WireFormatError


def _parse(raw: bytes) -> PB2ExportTraceServiceRequest:
    try:
        return PB2ExportTraceServiceRequest.FromString(raw)
    except PB2DecodeError as exc:
        raise WireFormatError(str(exc)) from None


def decode_with_runtime(raw: bytes) -> DecodeResult:
    """The spans of the request bytes, parsed by the protobuf runtime."""
    return decode_export_request(_parse(raw))


def count_with_runtime(raw: bytes) -> int:
    """How many spans the request holds (0 if it does not parse)."""
    try:
        return sum(
            len(scope.spans) for resource in _parse(raw).resource_spans for scope in resource.scope_spans
        )
    except WireFormatError:
        return 0


#: Which decoder runs: "wire" (compiled) or "runtime" (the pure build).
DECODER = "wire" if is_compiled(otlp_wire) else "runtime"
decode_request: Callable[[bytes], DecodeResult] = (
    decode_export_bytes if DECODER == "wire" else decode_with_runtime
)
count_request_spans: Callable[[bytes], int] = count_spans if DECODER == "wire" else count_with_runtime
