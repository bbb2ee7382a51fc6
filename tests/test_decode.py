"""Decoders: each format's rules (DESIGN section 3), detection, and bad input."""

from __future__ import annotations

import msgspec
import pytest

from streamproc.decode import Format, decode_bytes, group_traces
from streamproc.decode.jaeger import decode_jaeger, decode_jaeger_document
from streamproc.errors import DecodeError
from streamproc.model import SkipReason, SpanKind, StatusCode

T = "4bf92f3577b34da6a3ce929d0e0e4736"
S1, S2, S3 = "00f067aa0ba902b7", "b7ad6b7169203331", "53995c3f42cd8ad8"


def decode(doc, forced=None):
    data = doc if isinstance(doc, bytes) else msgspec.json.encode(doc)
    return decode_bytes(data, "traces.json", forced)


JAEGER = {
    "data": [
        {
            "traceID": T,
            "spans": [
                {
                    "traceID": T,
                    "spanID": S1,
                    "operationName": "GET /checkout",
                    "references": [],
                    "startTime": 1_700_000_000_000_000,
                    "duration": 120_000,
                    "processID": "p1",
                    "tags": [
                        {"key": "span.kind", "type": "string", "value": "server"},
                        {"key": "http.route", "type": "string", "value": "/checkout"},
                        {"key": "http.status_code", "type": "int64", "value": 500},
                        {"key": "error", "type": "bool", "value": True},
                        {"key": "otel.status_description", "type": "string", "value": "payment failed"},
                    ],
                    "logs": [],
                },
                {
                    "traceID": T,
                    "spanID": S2,
                    "operationName": "charge",
                    "references": [
                        {"refType": "FOLLOWS_FROM", "traceID": T, "spanID": S3},
                        {"refType": "CHILD_OF", "traceID": T, "spanID": S1},
                    ],
                    "startTime": 1_700_000_000_010_000,
                    "duration": 50_000,
                    "processID": "p2",
                    "tags": [
                        {"key": "span.kind", "type": "string", "value": "client"},
                        {"key": "peer.service", "type": "string", "value": "stripe"},
                    ],
                    "logs": [
                        {
                            "timestamp": 1,
                            "fields": [
                                {"key": "event", "type": "string", "value": "exception"},
                                {"key": "exception.type", "type": "string", "value": "CardDeclined"},
                                {"key": "exception.message", "type": "string", "value": "card 4242 declined"},
                            ],
                        }
                    ],
                },
            ],
            "processes": {
                "p1": {"serviceName": "shop", "tags": []},
                "p2": {"serviceName": "payments", "tags": []},
            },
        }
    ]
}


def test_jaeger_fields_map_to_the_span_model():
    """Microseconds to ns, CHILD_OF parent preferred, processes give services, error tag and kind."""
    fmt, result = decode(JAEGER)
    assert fmt is Format.JAEGER
    root, charge = result.spans
    assert root.trace_id.hex() == T
    assert root.start_ns == 1_700_000_000_000_000_000
    assert root.end_ns - root.start_ns == 120_000_000
    assert (root.service, root.kind, root.status, root.status_message) == (
        "shop",
        SpanKind.SERVER,
        StatusCode.ERROR,
        "payment failed",
    )
    assert root.attributes.http_status_code == "500"
    assert root.attributes.http_route == "/checkout"
    assert charge.parent_span_id.hex() == S1
    assert (charge.service, charge.kind, charge.attributes.peer_service) == (
        "payments",
        SpanKind.CLIENT,
        "stripe",
    )
    assert (charge.attributes.exception_type, charge.attributes.exception_message) == (
        "CardDeclined",
        "card 4242 declined",
    )


def test_jaeger_bare_trace_and_64_bit_trace_ids():
    """A bare trace object is read; a 16-digit trace id is left-padded to 128 bits."""
    trace = dict(JAEGER["data"][0])
    trace["spans"] = [dict(trace["spans"][0], traceID=T[16:])]
    _, result = decode(trace)
    assert result.spans[0].trace_id == bytes(8) + bytes.fromhex(T[16:])


def _both_jaeger_paths(doc):
    """The typed fast path's result and the generic path's, for one `{"data": [...]}` document."""
    data = msgspec.json.encode(doc)
    typed = decode_jaeger_document(data)
    assert typed is not None, "the document should fit the typed structs"
    return typed, decode_jaeger(msgspec.json.decode(data))


def _edge_jaeger():
    doc = msgspec.json.decode(msgspec.json.encode(JAEGER))
    first, second = doc["data"][0]["spans"]
    bad_id = dict(first, spanID="12g")
    first.update(tags=None, logs=None, references=None)
    del first["processID"]
    second["references"] = [{"spanID": S1}, {"refType": "FOLLOWS_FROM", "traceID": "", "spanID": S3}]
    second["logs"] = [{"timestamp": 1}, {"fields": [{"value": "no key"}]}]
    second["process"] = {"serviceName": "embedded"}
    third = dict(second, spanID=S3, traceID=T[16:], duration=-1, references=[], parentSpanID=S1)
    fourth = dict(second, spanID=S3, traceID=None, startTime="soon")
    doc["data"][0]["spans"] += [third, fourth, bad_id]
    doc["data"].append({"spans": None, "processes": None})
    return doc


@pytest.mark.parametrize("doc", [JAEGER, _edge_jaeger()], ids=["fields", "edge-cases"])
def test_jaeger_typed_and_generic_paths_agree(doc):
    """The typed fast path gives the spans and skips of the generic path, reasons and ids included."""
    typed, generic = _both_jaeger_paths(doc)
    assert typed.spans == generic.spans
    assert typed.skipped == generic.skipped


def test_jaeger_optional_fields_missing_or_null():
    """Null tags, logs, references and process id; a reference without refType is CHILD_OF."""
    typed, _ = _both_jaeger_paths(_edge_jaeger())
    first, second = typed.spans
    assert (first.service, first.parent_span_id, first.kind) == ("unknown_service", b"", SpanKind.UNSPECIFIED)
    assert (second.service, second.parent_span_id.hex(), second.kind) == ("embedded", S1, SpanKind.CLIENT)
    assert [(s.reason, s.span_id) for s in typed.skipped] == [
        (SkipReason.END_BEFORE_START, S3),
        (SkipReason.BAD_TRACE_ID, S3),
        (SkipReason.BAD_SPAN_ID, "12g"),
    ]


def test_jaeger_typed_and_generic_paths_agree_on_every_scenario(scenario_files):
    for (scenario, fmt), path in scenario_files.items():
        if fmt is Format.JAEGER:
            typed, generic = _both_jaeger_paths(msgspec.json.decode(path.read_bytes()))
            assert typed.spans == generic.spans, scenario
            assert len(typed.spans) > 100


def test_jaeger_span_that_breaks_the_typed_shape_is_skipped_alone():
    """A tag without a key or a reference that is not an object: that span is skipped, the rest of its
    trace object and the other trace objects kept, as the generic path reads them."""
    doc = msgspec.json.decode(msgspec.json.encode(JAEGER))
    doc["data"][0]["spans"][0]["tags"].append({"value": "keyless"})
    second = doc["data"][0]["spans"][1]
    doc["data"][0]["spans"].append(dict(second, spanID=S3, references=list(second["references"])))
    doc["data"][0]["spans"][1]["references"].append("not an object")
    doc["data"].append(JAEGER["data"][0])
    data = msgspec.json.encode(doc)
    fmt, result = decode_bytes(data, "traces.json")
    assert fmt is Format.JAEGER
    assert [s.span_id.hex() for s in result.spans] == [S3, S1, S2]
    assert [(s.reason, s.span_id) for s in result.skipped] == [
        (SkipReason.BAD_FIELD, S1),
        (SkipReason.BAD_FIELD, S2),
    ]
    assert "key" in result.skipped[0].detail
    generic = decode_jaeger(msgspec.json.decode(data))
    assert (generic.spans, generic.skipped) == (result.spans, result.skipped)


ZIPKIN = [
    {
        "traceId": T,
        "id": S1,
        "kind": "CLIENT",
        "name": "get /users",
        "timestamp": 1_700_000_000_000_000,
        "duration": 30_000,
        "localEndpoint": {"serviceName": "frontend"},
        "remoteEndpoint": {"serviceName": "users-db"},
        "tags": {"error": "connection reset"},
    },
    {
        "traceId": T,
        "id": S1,
        "kind": "SERVER",
        "name": "get /users",
        "timestamp": 1_700_000_000_002_000,
        "duration": 20_000,
        "localEndpoint": {"serviceName": "users"},
        "shared": True,
        "tags": {},
    },
    {
        "traceId": T,
        "id": S2,
        "parentId": S1,
        "name": "cache",
        "timestamp": 1_700_000_000_003_000,
        "duration": 1_000,
        "localEndpoint": {"serviceName": "users"},
        "tags": {"error": ""},
    },
]


def test_zipkin_error_tag_peer_and_shared_spans():
    """`error` tag present means error; remoteEndpoint is the peer; a shared server span gets its own id."""
    fmt, result = decode(ZIPKIN)
    assert fmt is Format.ZIPKIN
    client, cache, server = result.spans
    assert (client.status, client.status_message, client.attributes.peer_service) == (
        StatusCode.ERROR,
        "connection reset",
        "users-db",
    )
    assert (cache.status, cache.status_message, cache.kind) == (StatusCode.ERROR, "", SpanKind.INTERNAL)
    assert server.kind is SpanKind.SERVER
    assert server.parent_span_id.hex() == S1
    assert server.span_id != client.span_id
    traces, duplicates = group_traces(result.spans)
    assert (len(traces), len(traces[0].spans), duplicates) == (1, 3, [])


def test_zipkin_array_of_traces():
    """An array of arrays (one per trace) is read as Zipkin."""
    fmt, result = decode([ZIPKIN[:1], ZIPKIN[2:]])
    assert (fmt, len(result.spans)) == (Format.ZIPKIN, 2)


def otlp(spans, service="checkout", key="scopeSpans"):
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                key: [{"scope": {"name": "x"}, "spans": spans}],
            }
        ]
    }


OTLP_SPAN = {
    "traceId": T,
    "spanId": S1,
    "parentSpanId": "",
    "name": "POST /pay",
    "kind": 2,
    "startTimeUnixNano": "1700000000000000000",
    "endTimeUnixNano": 1700000000250000000,
    "attributes": [
        {"key": "http.response.status_code", "value": {"intValue": "503"}},
        {"key": "http.status_code", "value": {"intValue": 500}},
        {"key": "db.statement", "value": {"stringValue": "SELECT 1"}},
        {"key": "unrelated", "value": {"arrayValue": {"values": []}}},
    ],
    "events": [
        {"name": "exception", "attributes": [{"key": "exception.type", "value": {"stringValue": "E"}}]}
    ],
    "status": {"code": 2, "message": "unavailable"},
    "unknownField": {"ignored": True},
}


def test_otlp_json_rules():
    """Hex ids, int64 as string or number, enum ints, newer convention first, unknown fields ignored."""
    fmt, result = decode(otlp([OTLP_SPAN]))
    assert fmt is Format.OTLP_JSON
    (span,) = result.spans
    assert (span.service, span.kind, span.status, span.status_message) == (
        "checkout",
        SpanKind.SERVER,
        StatusCode.ERROR,
        "unavailable",
    )
    assert span.end_ns - span.start_ns == 250_000_000
    assert span.parent_span_id == b""
    assert span.attributes.http_status_code == "503"
    assert (span.attributes.db_statement, span.attributes.exception_type) == ("SELECT 1", "E")


def test_otlp_json_older_instrumentation_library_spans_and_enum_names():
    """`instrumentationLibrarySpans` and enum names (SPAN_KIND_CLIENT) are accepted."""
    span = dict(OTLP_SPAN, kind="SPAN_KIND_CLIENT", status={"code": "STATUS_CODE_OK"})
    _, result = decode(otlp([span], key="instrumentationLibrarySpans"))
    assert (result.spans[0].kind, result.spans[0].status) == (SpanKind.CLIENT, StatusCode.OK)


def test_otlp_json_lines_regroup_a_trace_across_lines_and_resources():
    """The Collector file exporter's lines: one trace split over two lines and two services."""
    child = dict(OTLP_SPAN, spanId=S2, parentSpanId=S1, name="query")
    data = (
        msgspec.json.encode(otlp([OTLP_SPAN]))
        + b"\n\n"
        + msgspec.json.encode(otlp([child], service="db"))
        + b"\n"
    )
    fmt, result = decode(data)
    assert fmt is Format.OTLP_JSONL
    traces, _ = group_traces(result.spans)
    assert len(traces) == 1
    assert {s.service for s in traces[0].spans} == {"checkout", "db"}


def test_jaeger_api_v3_result_wrapper_is_otlp():
    """Jaeger's api_v3 answers {"result": <OTLP JSON>}."""
    fmt, result = decode({"result": otlp([OTLP_SPAN])})
    assert (fmt, len(result.spans)) == (Format.OTLP_JSON, 1)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"spanId": "abc"}, SkipReason.BAD_SPAN_ID),
        ({"spanId": "00f067aa0ba902"}, SkipReason.BAD_SPAN_ID),
        ({"traceId": T[:30]}, SkipReason.BAD_TRACE_ID),
        ({"traceId": "0" * 32}, SkipReason.BAD_TRACE_ID),
        ({"parentSpanId": "123"}, SkipReason.BAD_PARENT_ID),
        ({"endTimeUnixNano": "1"}, SkipReason.END_BEFORE_START),
        ({"startTimeUnixNano": "soon"}, SkipReason.BAD_FIELD),
        ({"startTimeUnixNano": None}, SkipReason.MISSING_FIELD),
        ({"kind": 9}, SkipReason.BAD_FIELD),
        ({"attributes": "nope"}, SkipReason.BAD_FIELD),
    ],
)
def test_bad_spans_are_skipped_with_a_reason(change, reason):
    """A bad span is skipped and reported with its reason; the good span beside it is kept."""
    good = dict(OTLP_SPAN, spanId=S3)
    _, result = decode(otlp([dict(OTLP_SPAN, **change), good]))
    assert [s.span_id.hex() for s in result.spans] == [S3]
    assert [s.reason for s in result.skipped] == [reason]


def test_bad_jaeger_and_zipkin_spans_are_skipped():
    """Wrong id lengths and negative durations are skipped in Jaeger and Zipkin too."""
    jaeger = msgspec.json.decode(msgspec.json.encode(JAEGER))
    jaeger["data"][0]["spans"][0]["spanID"] = "12345678901234567"
    jaeger["data"][0]["spans"][1]["duration"] = -5
    _, result = decode(jaeger)
    assert [s.reason for s in result.skipped] == [SkipReason.BAD_SPAN_ID, SkipReason.END_BEFORE_START]
    _, result = decode([dict(ZIPKIN[2], timestamp=None), ZIPKIN[0]])
    assert [s.reason for s in result.skipped] == [SkipReason.MISSING_FIELD]


def test_duplicate_span_ids_are_dropped_and_counted():
    """The second span with an id already in its trace is skipped as a duplicate."""
    _, result = decode(otlp([OTLP_SPAN, dict(OTLP_SPAN, name="again")]))
    traces, duplicates = group_traces(result.spans)
    assert [s.name for s in traces[0].spans] == ["POST /pay"]
    assert [d.reason for d in duplicates] == [SkipReason.DUPLICATE_SPAN]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"hello", "not valid JSON"),
        (msgspec.json.encode(JAEGER)[:300], "truncated"),
        (b'{"traces": []}', "unrecognised JSON shape (an object with keys traces)"),
        (b"42", "unrecognised JSON shape (a JSON int)"),
        (msgspec.json.encode(otlp([OTLP_SPAN])) + b"\n{not json\n", "line 2: not valid JSON"),
        (msgspec.json.encode(otlp([OTLP_SPAN])) + b'\n{"x": 1}\n', "line 2: not an OTLP JSON object"),
    ],
)
def test_unusable_files_raise_one_clear_error_naming_the_file(data, message):
    """Not JSON, truncated, unknown shapes: a DecodeError naming the file and the problem."""
    with pytest.raises(DecodeError) as caught:
        decode(data)
    assert str(caught.value).startswith("traces.json: ")
    assert message in str(caught.value)


def test_forced_format_must_match():
    """--format zipkin on a Jaeger file says what the file holds."""
    with pytest.raises(DecodeError, match="--format zipkin was given but the file holds jaeger"):
        decode(JAEGER, Format.ZIPKIN)


def test_decoded_spans_share_recurring_attribute_sets_and_trace_ids():
    """Memory: equal attribute sets are one object across requests; an id is one object per request."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from streamproc.decode.otlp_proto import decode_export_request
    from streamproc.tools.encode import otlp_request
    from tests.builders import span, trace_id

    def decoded(first: int):
        spans = [
            span(n, 0, 0, 10, trace=trace_id(1 + n % 2), http_method="GET", http_status_code="200")
            for n in range(first, first + 4)
        ]
        raw = otlp_request(spans).SerializeToString()
        return decode_export_request(ExportTraceServiceRequest.FromString(raw)).spans

    one, two = decoded(1), decoded(11)
    assert one[0].attributes == two[3].attributes
    assert {id(s.attributes) for s in one + two} == {id(one[0].attributes)}
    assert one[0].trace_id is one[2].trace_id and one[1].trace_id is one[3].trace_id
    assert one[0].trace_id != one[1].trace_id

    # A child sent before its parent (as SDKs export, in end order): the two share the id's bytes.
    child, parent = span(2, 1, 1, 5, trace=trace_id(3)), span(1, 0, 0, 10, trace=trace_id(3))
    raw = otlp_request([child, parent]).SerializeToString()
    got_child, got_parent = decode_export_request(ExportTraceServiceRequest.FromString(raw)).spans
    assert got_child.parent_span_id == got_parent.span_id
    assert got_child.parent_span_id is got_parent.span_id


def test_shared_values_table_stays_bounded():
    from streamproc.decode.common import SharedValues

    table: SharedValues[str] = SharedValues(limit=3)
    first = table.share("".join(["a", "b"]))
    assert table.share("".join(["a", "b"])) is first
    for text in ("x", "y", "z"):  # fills the table; the next new value empties it
        table.share(text)
    assert len(table) == 1
    again = "".join(["a", "b"])
    assert table.share(again) is again  # no longer the first copy, but equal: sharing is never a change


def test_jaeger_parent_ids_are_the_parents_own_span_id_objects():
    """A child's parent id is decoded once and shared with the parent span's id, in either order."""
    _, result = decode(JAEGER)
    shop, charge = result.spans
    assert charge.parent_span_id is shop.span_id
    reordered = msgspec.json.decode(msgspec.json.encode(JAEGER))
    reordered["data"][0]["spans"].reverse()
    _, result = decode(reordered)
    charge, shop = result.spans
    assert charge.parent_span_id is shop.span_id


def test_jaeger_ids_without_leading_zeros_are_numbers():
    """Jaeger's model prints ids as numbers without leading zeros (jaegertracing/jaeger
    model/converter/json/fixtures/ui_01.json: span ids "2", "3", trace id "0000000000000001"): they are
    left-padded, and a reference into another trace is not the parent."""
    references = [
        {"refType": "CHILD_OF", "traceID": "ff", "spanID": "ff"},
        {"refType": "CHILD_OF", "traceID": "1", "spanID": "2"},
    ]
    spans = [
        {"traceID": trace, "spanID": sid, "references": refs, "startTime": 1, "duration": 5, "processID": "p"}
        for trace, sid, refs in (("1", "2", []), ("0000000000000001", "4", references))
    ]
    _, result = decode({"traceID": "1", "spans": spans, "processes": {"p": {"serviceName": "x"}}})
    parent, child = result.spans
    assert parent.span_id.hex() == "0000000000000002"
    assert parent.trace_id.hex() == "00000000000000000000000000000001" == child.trace_id.hex()
    assert child.parent_span_id == parent.span_id


def test_otlp_json_entries_of_the_wrong_shape_are_skipped_with_a_reason():
    """Found by the fuzz tests: a resource whose attributes hold a list key, scopeSpans that is a boolean,
    a span list entry that is null. Each is skipped with a reason; the good span beside them is kept."""
    good = dict(OTLP_SPAN, spanId=S3)
    doc = {
        "resourceSpans": [
            {"resource": {"attributes": [{"key": [], "value": {}}, None]}, "scopeSpans": True},
            {"resource": None, "scopeSpans": [None, {"spans": [None, good]}]},
            7,
        ]
    }
    _, result = decode(doc)
    assert [s.span_id.hex() for s in result.spans] == [S3]
    assert [s.detail for s in result.skipped] == [
        "scopeSpans is not a list: True",
        "an entry of scopeSpans is not an object",
        "an entry of spans is not an object",
        "an entry of resourceSpans is not an object",
    ]


def test_each_attribute_field_has_a_preferred_key_and_at_most_one_other():
    """`keeps` (one bit per field instead of per-field ranks) holds only while no field has three keys."""
    from streamproc.model import ATTRIBUTE_INDEX, ATTRIBUTE_KEYS

    assert all(1 <= len(keys) <= 2 for keys in ATTRIBUTE_KEYS.values())
    assert {rank for _position, rank in ATTRIBUTE_INDEX.values()} == {0, 1}
