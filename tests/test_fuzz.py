"""Fuzzing in the suite: generated and mutated OTLP requests against the wire decoder and the live
pipeline, random bytes and mutated JSON documents against the batch decoders. No exception but the
documented ones escapes, and every span is accounted for (decoded, or skipped with a reason).

`make test` runs a bounded number of examples; `make fuzz` runs many more (FUZZ_EXAMPLES)."""

from __future__ import annotations

import contextlib
import os

import msgspec
from google.protobuf.message import DecodeError as PB2DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest as PB2ExportTraceServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue as PB2AnyValue
from opentelemetry.proto.common.v1.common_pb2 import KeyValue as PB2KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PB2Span

from streamproc.analyze.suite import AnalysisOptions
from streamproc.decode import Format, decode_bytes
from streamproc.decode.otlp_proto import decode_export_request
from streamproc.errors import DecodeError
from streamproc.live.assembler import AssemblerLimits
from streamproc.live.pipeline import LivePipeline
from streamproc.model import ATTRIBUTE_KEYS
from streamproc.tools.encode import encode
from streamproc.tools.generate import Scenario, generate
from tests.builders import FakeClock

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
#: In `make test` the examples are the same every run (a red CI is about the change, not about luck);
#: `make fuzz` draws new ones each time.
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow],
)
KEYS = [key for keys in ATTRIBUTE_KEYS.values() for key in keys] + ["service.name", "other", ""]

ids = st.one_of(
    st.binary(min_size=0, max_size=20),  # odd lengths, empty
    st.sampled_from([bytes(8), bytes(16), b"\x01" * 8, b"\x02" * 16, b"\xff" * 8]),
)


@st.composite
def any_values(draw: st.DrawFn, depth: int = 0) -> PB2AnyValue:
    """Every AnyValue type, nested arrays and maps included, huge values sometimes."""
    kind = draw(st.sampled_from(["string", "int", "bool", "double", "bytes", "array", "kvlist", "empty"]))
    value = PB2AnyValue()
    if kind == "string":
        value.string_value = draw(st.one_of(st.text(max_size=20), st.just("x" * 5000)))
    elif kind == "int":
        value.int_value = draw(st.integers(min_value=-(2**63), max_value=2**63 - 1))
    elif kind == "bool":
        value.bool_value = draw(st.booleans())
    elif kind == "double":
        value.double_value = draw(st.floats(allow_nan=True, allow_infinity=True))
    elif kind == "bytes":
        value.bytes_value = draw(st.binary(max_size=20))
    elif kind == "array" and depth < 2:
        value.array_value.values.extend(draw(st.lists(any_values(depth + 1), max_size=3)))
    elif kind == "kvlist" and depth < 2:
        for key, inner in draw(st.lists(st.tuples(st.sampled_from(KEYS), any_values(depth + 1)), max_size=3)):
            value.kvlist_value.values.add(key=key).value.CopyFrom(inner)
    return value


@st.composite
def requests(draw: st.DrawFn) -> PB2ExportTraceServiceRequest:
    """Requests of odd shapes: any ids (cycles and self-parents among them), times in any order, unknown
    kinds and codes, attributes of every type under the keys the analyses read."""
    request = PB2ExportTraceServiceRequest()
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        resource = request.resource_spans.add()
        for key, value in draw(st.lists(st.tuples(st.sampled_from(KEYS), any_values()), max_size=2)):
            resource.resource.attributes.append(PB2KeyValue(key=key, value=value))
        scope = resource.scope_spans.add()
        span_ids = [b"\x00" * 7 + bytes([n]) for n in range(1, 6)]
        for _ in range(draw(st.integers(min_value=0, max_value=6))):
            span = PB2Span(
                trace_id=draw(st.one_of(st.just(b"\x01" * 16), ids)),
                span_id=draw(st.one_of(st.sampled_from(span_ids), ids)),
                parent_span_id=draw(st.one_of(st.sampled_from([b"", *span_ids]), ids)),
                name=draw(st.text(max_size=10)),
                kind=draw(st.integers(min_value=0, max_value=9)),
                start_time_unix_nano=draw(st.integers(min_value=0, max_value=2**64 - 1)),
                end_time_unix_nano=draw(st.integers(min_value=0, max_value=2**64 - 1)),
            )
            span.status.code = draw(st.integers(min_value=0, max_value=5))
            span.status.message = draw(st.text(max_size=10))
            for key, value in draw(st.lists(st.tuples(st.sampled_from(KEYS), any_values()), max_size=4)):
                span.attributes.append(PB2KeyValue(key=key, value=value))
            if draw(st.booleans()):
                event = span.events.add(name="exception")
                event.attributes.append(PB2KeyValue(key="exception.message", value=draw(any_values())))
            scope.spans.append(span)
    return request


def span_count(request: PB2ExportTraceServiceRequest) -> int:
    return sum(len(scope.spans) for resource in request.resource_spans for scope in resource.scope_spans)


@FUZZ
@given(requests())
def test_every_span_of_any_request_is_decoded_or_skipped_and_the_pipeline_takes_it(request):
    """The wire decoder accounts for every span; the pipeline (assembly, analysis, every sink) never raises
    and its accounting holds: received = analyzed + dropped + buffered."""
    result = decode_export_request(request)
    assert len(result.spans) + len(result.skipped) == span_count(request)
    clock = FakeClock()
    pipeline = LivePipeline(limits=AssemblerLimits(), options=AnalysisOptions(), monotonic=clock, wall=clock)
    pipeline.ingest(result)
    pipeline.drain()
    stats = pipeline.stats()
    assert stats.spans_received == span_count(request)
    assert stats.dropped.get("analysis_failed", 0) == 0  # no analysis raised
    assert stats.assembler.buffered_spans == 0


@FUZZ
@given(requests(), st.data())
def test_mutated_request_bytes_are_either_rejected_whole_or_accounted(request, data):
    """Flipped, cut or spliced bytes: the protobuf parser refuses them (INVALID_ARGUMENT) or every span it
    finds is decoded or skipped."""
    raw = bytearray(request.SerializeToString())
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        if not raw:
            break
        position = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            raw[position] ^= data.draw(st.integers(min_value=1, max_value=255))
        elif action == "cut":
            del raw[position:]
        else:
            raw[position:position] = data.draw(st.binary(min_size=1, max_size=8))
    try:
        parsed = PB2ExportTraceServiceRequest.FromString(bytes(raw))
    except PB2DecodeError:
        return
    result = decode_export_request(parsed)
    assert len(result.spans) + len(result.skipped) == span_count(parsed)


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes_are_a_decode_error_or_decoded(data):
    with contextlib.suppress(DecodeError):
        decode_bytes(data, "fuzz")


_DOCUMENTS = {
    fmt: msgspec.json.decode(
        encode(generate(Scenario.INCIDENT, count=2, seed=3, start_ns=10**18, window_ns=10**9), fmt)
    )
    for fmt in (Format.JAEGER, Format.ZIPKIN, Format.OTLP_JSON)
}
_ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["", "0" * 32, "zz", "AAAAAAAAAAAAAAAAAAAAAA==", "1e999", "SPAN_KIND_NOPE"]),
    st.builds(list),  # fresh containers: a shared one could come to hold itself
    st.builds(dict),
)


def _leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))
    yield path


@FUZZ
@given(st.sampled_from(sorted(_DOCUMENTS, key=lambda f: f.value)), st.data())
def test_mutated_json_documents_are_a_decode_error_or_accounted(fmt, data):
    """A real export with some of its values replaced by odd ones: one clear DecodeError for the file, or
    every span decoded or skipped with a reason."""
    doc = msgspec.json.decode(msgspec.json.encode(_DOCUMENTS[fmt]))
    paths = [path for path in _leaves(doc) if path]
    for _ in range(data.draw(st.integers(min_value=1, max_value=5))):
        path = data.draw(st.sampled_from(paths))
        node = doc
        try:
            for step in path[:-1]:
                node = node[step]
            node[path[-1]] = data.draw(_ODD_VALUES)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation changed the shape under this path
    try:
        _, result = decode_bytes(msgspec.json.encode(doc), "fuzz")
    except DecodeError:
        return
    assert all(skip.reason and skip.detail for skip in result.skipped)
