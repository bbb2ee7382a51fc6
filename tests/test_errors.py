"""Error classification and patterns (DESIGN section 5)."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from streamproc.analyze.text import error_message, normalize, normalize_statement
from tests.builders import span, suite_of, trace, trace_id


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("timeout after 5000ms", "timeout after ?ms"),
        ("user 'alice' not found", "user ? not found"),
        ('key "recs:17" missing', "key ? missing"),
        ("trace 4bf92f3577b34da6a3ce929d0e0e4736 failed", "trace ? failed"),
        ("id 123e4567-e89b-12d3-a456-426614174000 gone", "id ? gone"),
        ("bad pointer 0xdeadbeef", "bad pointer ?"),
        ("HTTP 503  Service   Unavailable", "HTTP 503 Service Unavailable"),
        ("retry v2 of step3", "retry v2 of step3"),
        (
            "HTTP 504 from recommendation-service after 3012ms",
            "HTTP 504 from recommendation-service after ?ms",
        ),
        ("401", "401"),  # a Zipkin error tag holding only the status
        ("upstream status=502, code: 429, HTTP/1.1 503", "upstream status=502, code: 429, HTTP/1.1 503"),
        ("got 503 bytes in 200 ms", "got ? bytes in ? ms"),  # no keyword: a count, not a code
        ("status 600 or 99", "status ? or ?"),  # outside 100-599
        ("UNAVAILABLE: s3 over http2 refused", "UNAVAILABLE: s3 over http2 refused"),
    ],
)
def test_messages_are_normalised(raw, expected):
    """Numbers, quoted values, UUIDs and hex ids become ?; identifiers with digits, gRPC status names and
    HTTP status codes (after HTTP, status or code, or alone) stay."""
    assert normalize(raw) == expected


def _normalize_by_definition(text: str, *, keep_codes: bool = True) -> str:
    """DESIGN's rule as five plain substitutions in order, every pass always run: the reference (for a
    statement, `keep_codes=False`: every number goes, and value lists fold)."""
    text = re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", "?", text)
    text = re.sub(
        r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", "?", text
    )
    text = re.sub(
        r"\b0[xX][0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b", "?", text
    )
    text = re.sub(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "?", text)
    whole = text

    def number(match: re.Match[str]) -> str:
        code = re.fullmatch(r"[1-5]\d\d", match.group()) is not None
        alone = whole.strip() == match.group()
        after = re.search(
            r"(?i)(?<![a-z])(?:http(?:/\d(?:\.\d)?)?|status|code)[\s:=_#]*$", whole[: match.start()]
        )
        version = whole[: match.start()].upper().endswith("HTTP/")
        return match.group() if keep_codes and (version or (code and (alone or after))) else "?"

    text = re.sub(r"(?<![A-Za-z_?])-?\d+(?:\.\d+)?", number, text)
    text = re.sub(r"\s+", " ", text).strip()
    return text if keep_codes else re.sub(r"\(\s*\?(?:\s*,\s*\?)+\s*\)", "(?)", text)


#: Texts made of the pieces the rules react to.
TEXTS = st.lists(
    st.sampled_from(
        [
            "'",
            '"',
            "\\",
            "-",
            ".",
            ":",
            "0x",
            "0X",
            "?",
            " ",
            "\t\n",
            "\u00a0",
            "\u2003",
            "_",
            "g",
            "Z",
            "ab",
            "cafe",
            "deadbeef",
            "4bf92f35",
            "123e4567-e89b-12d3-a456-426614174000",
            "10.0.0.1",
            "7",
            "42",
            "3.14",
            "503",
            "HTTP ",
            "status=",
            "Code:",
            "٣",
        ]
    )
    | st.text(max_size=3),
    max_size=25,
).map("".join)


@settings(max_examples=800, deadline=None)
@given(TEXTS)
def test_normalisation_matches_its_definition(text):
    """The fast path (passes skipped where they cannot match, one split for white space) changes nothing."""
    assert normalize(text) == _normalize_by_definition(text)


#: Digits the normalisation cannot tell apart (see `_ShapeCache`): a zero; 1 to 5; 6 to 9.
_SAME_CLASS = {"0": "0", **dict.fromkeys("12345", "12345"), **dict.fromkeys("6789", "6789")}


@settings(max_examples=400, deadline=None)
@given(TEXTS, st.lists(st.sampled_from("0123456789"), min_size=1), st.booleans())
@example("0xab", ["7"], False)  # a zero that makes a hex id, then a digit that does not
@example("HTTP 703", ["5"], False)  # a status-code digit class, then one out of range
@example("a-1 b", ["2"], True)
def test_texts_of_one_shape_still_normalise_by_the_definition(text, digits, same_class):
    """A text normalised after another of its shape may be answered from the shape cache: the answer is
    still the definition's, for messages and for statements. The second text has other digits of the same
    classes (`same_class`), or any digits (which would catch classes too coarse)."""
    draws = itertools.cycle(digits)

    def other(c: str) -> str:
        if c not in "0123456789":
            return c
        choices = _SAME_CLASS[c] if same_class else "0123456789"
        return choices[int(next(draws)) % len(choices)]

    variant = "".join(other(c) for c in text)
    normalize(text)
    normalize_statement(text)
    assert normalize(variant) == _normalize_by_definition(variant)
    assert normalize_statement(variant) == _normalize_by_definition(variant, keep_codes=False)


def test_statements_fold_value_lists():
    """IN lists of any length normalise to the same statement."""
    assert normalize_statement("SELECT * FROM t WHERE a IN (1, 2, 3) AND b = 'x'") == (
        "SELECT * FROM t WHERE a IN (?) AND b = ?"
    )


def test_message_falls_back_to_exception_then_http_status():
    """Status message first, then the exception event, then the HTTP status code."""
    assert error_message(
        span(1, 0, 0, 1, error="", exception_type="ValueError", exception_message="bad 3")
    ) == ("ValueError: bad ?")
    assert error_message(span(1, 0, 0, 1, error="", http_status_code="503")) == "HTTP 503"
    assert error_message(span(1, 0, 0, 1, error="")) == "(no message)"


def chain(number: int, *, gateway_error: bool):
    """gateway -> backend -> db; db fails, backend propagates, gateway propagates or handles."""
    tid = trace_id(number)
    return trace(
        span(
            1,
            0,
            0,
            100,
            trace=tid,
            service="gateway",
            name="GET /",
            error="HTTP 502" if gateway_error else None,
        ),
        span(2, 1, 10, 90, trace=tid, service="backend", name="load", error="upstream failed"),
        span(3, 2, 20, 80, trace=tid, service="db", name="query", error=f"deadlock on row {number}"),
        span(4, 1, 0, 5, trace=tid, service="gateway", name="auth"),
    )


def test_originating_propagated_and_handled():
    """The deepest error originates; its erroring ancestors propagate; an OK ancestor handled it."""
    healthy = trace(span(1, 0, 0, 10, trace=trace_id(9), service="gateway", name="GET /"))
    report = suite_of(chain(1, gateway_error=True), chain(2, gateway_error=False), healthy).report()
    errors = report["errors"]
    assert (errors["error_traces"], errors["trace_count"], errors["error_rate"]) == (2, 3, 66.67)
    assert report["summary"]["error_span_count"] == 5
    patterns = [
        (p["service"], p["operation"], p["message"], p["classification"], p["count"])
        for p in errors["patterns"]
    ]
    assert patterns == [
        ("db", "query", "deadlock on row ?", "originating", 2),
        ("backend", "load", "upstream failed", "propagated", 2),
        ("gateway", "GET /", "HTTP 502", "propagated", 1),
    ]
    assert [p["share_pct"] for p in errors["patterns"]] == [40.0, 40.0, 20.0]
    gateway = errors["by_service"]["gateway"]
    assert (gateway["count"], gateway["originating"], gateway["propagated"], gateway["handled"]) == (
        1,
        0,
        1,
        1,
    )
    assert errors["by_service"]["db"]["messages"] == {"deadlock on row ?": 2}
    assert errors["patterns"][0]["example_traces"] == [trace_id(1).hex(), trace_id(2).hex()]


def test_example_traces_are_the_lowest_ids_and_bounded():
    """At most three examples are kept, the lowest ids, whatever the order traces arrive in."""
    traces = [chain(n, gateway_error=False) for n in (9, 4, 7, 1, 8)]
    examples = suite_of(*traces).report()["errors"]["patterns"][0]["example_traces"]
    assert examples == [trace_id(n).hex() for n in (1, 4, 7)]


def test_long_texts_are_normalised_without_the_cache_and_alike():
    """Texts past the cacheable length take the uncached path, with the same result."""
    text = "SELECT * FROM t WHERE a IN (1, 2, 3) AND b = 'x' AND c = 0xdeadbeef; " * 40
    assert len(text) > 2048
    assert normalize(text) == _normalize_by_definition(text)
    assert normalize_statement(text) == ("SELECT * FROM t WHERE a IN (?) AND b = ? AND c = ?; " * 40).strip()
