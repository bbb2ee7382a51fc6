"""What a person reads: units by magnitude, filters stated, several roots said, empty answers said, bad
inputs refused with the file and the reasons."""

from __future__ import annotations

import msgspec
import pytest

from streamproc.decode import Format
from streamproc.model import Trace
from streamproc.report.table import duration_text
from streamproc.tools.encode import encode
from tests.builders import span, trace_id
from tests.cli import run


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0.0, "0.0 µs"),
        (0.0125, "12.5 µs"),
        (0.45, "450 µs"),
        (1.0, "1.0 ms"),
        (60.123, "60.1 ms"),
        (983.46, "983 ms"),
        (1749.9, "1.75 s"),
        (50_000.0, "50.0 s"),
        (1_250_500.0, "1,250.5 s"),
        (None, "-"),
    ],
)
def test_durations_read_in_the_unit_their_size_needs(ms, text):
    assert duration_text(ms) == text


def write(tmp_path, name, traces, fmt=Format.OTLP_JSON):
    path = tmp_path / name
    path.write_bytes(encode(traces, fmt))
    return path


def test_a_microsecond_trace_prints_microseconds(tmp_path, capsys):
    """A 250 µs trace is `250 µs`, never `0.0ms`."""
    t = Trace(trace_id(1), (span(1, 0, 0, 0.25, service="cache"), span(2, 1, 0.05, 0.2, service="cache")))
    code, out, _ = run(capsys, write(tmp_path, "fast.json", [t]))
    assert code == 0
    assert "250 µs" in out and "0.0ms" not in out


def test_parallel_roots_each_have_a_path_and_the_text_says_so(tmp_path, capsys):
    """Five parallel 0.1 ms roots: the trace lasts 0.1 ms, the paths sum to 0.5 ms over 5 roots."""
    spans = tuple(span(n, 0, 0, 0.1, service="batch", name=f"job{n}") for n in range(1, 6))
    path = write(tmp_path, "roots.json", [Trace(trace_id(1), spans)])
    code, out, _ = run(capsys, path, "--critical-path")
    assert code == 0
    assert "critical path 500 µs over 5 roots (one path per root, summed)" in out
    (entry,) = msgspec.json.decode(run(capsys, path, "--critical-path", "--json")[1])["critical_paths"]
    assert (entry["total_duration_ms"], entry["critical_path_duration_ms"], entry["root_count"]) == (
        0.1,
        0.5,
        5,
    )


def test_filters_are_stated_with_how_many_traces_they_kept(tmp_path, capsys):
    """The text header names the filters and the count they kept; the JSON has `filters`."""
    traces = [
        Trace(trace_id(n), (span(1, 0, 0, 100 * n, trace=trace_id(n), service="web", name="GET /"),))
        for n in range(1, 6)
    ]
    path = write(tmp_path, "five.json", traces)
    code, out, _ = run(capsys, path, "--latency-threshold", "250")
    assert code == 0
    assert "Filters: traces slower than 250 ms: 3 of 5 traces match" in out
    report = msgspec.json.decode(run(capsys, path, "--latency-threshold", "250", "--json")[1])
    assert report["filters"] == {
        "time_range": None,
        "since": None,
        "until": None,
        "latency_threshold_ms": 250.0,
        "service": None,
        "errors_only": False,
        "input_traces": 5,
    }
    assert report["summary"]["trace_count"] == 3


def test_filters_that_keep_nothing_are_an_answer_that_says_so(tmp_path, capsys):
    """No trace matching is exit 0 with one clear line, not a report of zeros."""
    t = Trace(trace_id(1), (span(1, 0, 0, 10, service="web"),))
    path = write(tmp_path, "one.json", [t])
    code, out, _ = run(capsys, path, "--service", "nobody")
    assert code == 0
    assert "0 of 1 traces match" in out and "No trace matches the filters" in out
    assert "Summary" not in out
    report = msgspec.json.decode(run(capsys, path, "--service", "nobody", "--json")[1])
    assert (report["summary"]["trace_count"], report["filters"]["service"]) == (0, "nobody")


def test_an_input_with_no_valid_span_is_an_error_naming_the_file_and_reasons(tmp_path, capsys):
    """Every span skipped is exit 1 with the file, the count, the reasons and the first bad span."""
    doc = msgspec.json.decode(
        encode([Trace(trace_id(1), (span(1, 0, 0, 10), span(2, 1, 1, 5)))], Format.OTLP_JSON)
    )
    for raw in doc["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        raw["spanId"] = "abc"
    path = tmp_path / "bad-ids.json"
    path.write_bytes(msgspec.json.encode(doc))
    code, out, err = run(capsys, path)
    assert (code, out) == (1, "")
    assert f"{path}: no valid span: all 2 were skipped (2 bad_span_id); first: trace " in err
    assert "Traceback" not in err


@pytest.mark.parametrize("body", [b'{"data": []}', b"[]", b'{"resourceSpans": []}'])
def test_an_empty_export_is_an_error(tmp_path, capsys, body):
    path = tmp_path / "empty.json"
    path.write_bytes(body)
    code, _, err = run(capsys, path)
    assert code == 1
    assert f"{path}: no spans in it" in err
