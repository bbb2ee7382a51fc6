"""Insights on hand-built traces: each detector, its thresholds and edge cases (children that overlap
partly, retries that finally succeed, calls without span kinds, a timeout under a non-timeout), the
aggregate report, the CLI and the live metric."""

from __future__ import annotations

import msgspec
import pytest

from streamproc.analyze.insights import InsightKind, InsightOptions, find_insights
from streamproc.decode import Format
from streamproc.model import SpanKind, Trace
from streamproc.tools.encode import encode, otlp_request
from tests.builders import span, suite_of, trace, trace_id, tree
from tests.cli import run
from tests.live import report, samples, start_service, value, wait_for
from tests.test_http_receiver import PROTOBUF, post

CLIENT, SERVER = SpanKind.CLIENT, SpanKind.SERVER


def insights(*spans, **options):
    return find_insights(tree(*spans), InsightOptions(**options))


def queries(starts_ms, length_ms, *, parent=1, first=2, statement="SELECT * FROM items WHERE id = {}", **kw):
    return [
        span(
            first + n,
            parent,
            start,
            start + length_ms,
            service="orders-db",
            name="SELECT",
            kind=CLIENT,
            db_statement=statement.format(n),
            **kw,
        )
        for n, start in enumerate(starts_ms)
    ]


ROOT = span(1, 0, 0, 400, service="orders", name="GET /orders", kind=SERVER)


def test_n_plus_one_one_statement_in_a_row():
    (found,) = insights(ROOT, *queries([10 * n for n in range(6)], 10))
    assert (found.kind, found.service, found.operation) == (InsightKind.N_PLUS_ONE, "orders", "GET /orders")
    assert found.target == "orders-db: SELECT * FROM items WHERE id = ?"
    assert (found.calls, found.total_ns, found.saving_ns) == (6, 60_000_000, 50_000_000)


@pytest.mark.parametrize(
    ("starts", "length", "why"),
    [
        ([0] * 6, 10, "all at once: parallel, not N+1"),
        ([20 * n for n in range(4)], 20, "four calls: under the five"),
        ([10 * n for n in range(5)], 5, "five calls of 5 ms: under 50 ms together"),
        ([0, 10, 15, 30, 40, 50], 10, "the third overlaps the second: the longest run in a row is four"),
    ],
)
def test_no_n_plus_one(starts, length, why):
    assert insights(ROOT, *queries(starts, length)) == [], why


def test_n_plus_one_after_a_partly_overlapping_child_counts_the_longest_run():
    """Children that overlap partly: the run after the overlap is what counts."""
    (found,) = insights(ROOT, *queries([0, 5, 20, 35, 50, 65, 80], 12))
    assert found.calls == 6  # 5..17 overlaps 0..12; from 5 on, six calls follow one another


def test_n_plus_one_thresholds_are_options():
    spans = (ROOT, *queries([20 * n for n in range(4)], 20))
    assert insights(*spans, n_plus_one_min_calls=4)[0].calls == 4


def checkout(*calls):
    return (span(1, 0, 0, 1000, service="shop", name="POST /checkout", kind=SERVER), *calls)


def call(number, start, end, peer, *, kind=CLIENT, service="shop", **kw):
    return span(
        number, 1, start, end, service=service, name=f"call {peer}", kind=kind, peer_service=peer, **kw
    )


def test_sequential_calls_to_different_targets():
    (found,) = insights(
        *checkout(call(2, 0, 300, "payment"), call(3, 300, 600, "stock"), call(4, 600, 900, "mail"))
    )
    assert (found.kind, found.target, found.calls) == (
        InsightKind.SEQUENTIAL_CALLS,
        "payment → stock → mail",
        3,
    )
    assert (found.total_ns, found.saving_ns) == (900_000_000, 600_000_000)


@pytest.mark.parametrize(
    ("calls", "why"),
    [
        ((call(2, 0, 300, "payment"), call(3, 200, 500, "stock")), "they overlap"),
        ((call(2, 0, 300, "payment"), call(3, 300, 600, "payment")), "one target"),
        ((call(2, 0, 90, "payment"), call(3, 90, 180, "stock")), "a saving of 90 ms: under 100"),
    ],
)
def test_no_sequential_calls(calls, why):
    assert insights(*checkout(*calls)) == [], why


def test_a_saving_under_ten_percent_of_the_trace_is_no_insight():
    root = span(1, 0, 0, 10_000, service="shop", name="POST /checkout", kind=SERVER)
    assert insights(root, call(2, 0, 150, "payment"), call(3, 150, 300, "stock")) == []
    assert insights(root, call(2, 0, 150, "payment"), call(3, 150, 300, "stock"), sequential_min_share_pct=1)


def test_sequential_calls_without_span_kinds():
    """Exports without kinds: children in other services are the calls, their services the targets."""
    plain = SpanKind.UNSPECIFIED
    root = span(1, 0, 0, 1000, service="shop", name="checkout", kind=plain)
    found = insights(
        root,
        span(2, 1, 0, 400, service="payment", name="charge", kind=plain),
        span(3, 1, 400, 800, service="stock", name="reserve", kind=plain),
    )
    assert [(f.kind, f.target) for f in found] == [(InsightKind.SEQUENTIAL_CALLS, "payment → stock")]


def charge(number, start, *, error=None):
    return span(
        number, 1, start, start + 20, service="shop", name="POST payment/charge", kind=CLIENT, error=error
    )


def test_retries_that_finally_succeed():
    (found,) = insights(*checkout(charge(2, 0, error="503"), charge(3, 30, error="503"), charge(4, 60)))
    assert (found.kind, found.calls, found.succeeded) == (InsightKind.RETRY_STORM, 3, True)
    assert found.target == "shop: POST payment/charge"


def test_retries_that_all_fail_and_no_storm_when_one_succeeds_between():
    (found,) = insights(*checkout(*(charge(n, 30 * n, error="503") for n in range(2, 7))))
    assert (found.kind, found.calls, found.succeeded) == (InsightKind.RETRY_STORM, 5, False)
    # five failing retries of 20 ms in a row are retries, not also an N+1
    assert insights(*checkout(charge(2, 0, error="503"), charge(3, 30), charge(4, 60, error="503"))) == []
    assert insights(*checkout(charge(2, 0, error="503"), charge(3, 30))) == []


def test_cascading_timeout_reported_once_at_the_top():
    spans = [
        span(1, 0, 0, 5000, service="gateway", name="GET /", kind=SERVER, error="upstream request timeout"),
        span(2, 1, 10, 4990, service="orders", name="list", kind=SERVER, error="context deadline exceeded"),
        span(3, 2, 20, 4980, service="orders-db", name="query", kind=CLIENT, error="timeout"),
        span(4, 1, 0, 10, service="gateway", name="auth", error="denied"),
    ]
    (found,) = insights(*spans)
    assert (found.kind, found.service, found.operation) == (InsightKind.CASCADING_TIMEOUT, "gateway", "GET /")
    assert (found.target, found.calls) == ("orders-db: query", 3)


def test_a_timeout_over_another_error_is_no_cascade():
    spans = [
        span(1, 0, 0, 5000, service="gateway", name="GET /", kind=SERVER, error="504 Gateway Timeout"),
        span(2, 1, 10, 4990, service="orders", name="list", kind=SERVER, error="connection refused"),
    ]
    assert insights(*spans) == []


def n_plus_one_trace(number: int, calls: int = 6) -> Trace:
    tid = trace_id(number)
    root = span(1, 0, 0, 400, service="orders", name="GET /orders", kind=SERVER, trace=tid)
    return trace(root, *queries([10 * n for n in range(calls)], 10, trace=tid))


def test_the_report_aggregates_and_merges():
    traces = [n_plus_one_trace(n) for n in range(1, 5)] + [n_plus_one_trace(9, calls=2)]
    (row,) = suite_of(*traces).report()["insights"]
    assert (row["kind"], row["trace_count"], row["occurrences"], row["share_pct"]) == (
        "n_plus_one",
        4,
        4,
        80.0,
    )
    assert row["evidence"] == {"calls": 6, "total_ms": 60.0, "saving_ms": 50.0, "finally_succeeded": 0}
    assert len(row["example_traces"]) == 3
    left, right = suite_of(*traces[:2]), suite_of(*traces[2:])
    left.merge(right)
    assert left.report() == suite_of(*traces).report()


def test_cli_insights_section_text_and_json(capsys, tmp_path):
    path = tmp_path / "n1.json"
    path.write_bytes(encode([n_plus_one_trace(n) for n in range(1, 4)], Format.JAEGER))
    code, out, err = run(capsys, path, "--insights", "--json")
    assert code == 0, err
    report_json = msgspec.json.decode(out)
    assert set(report_json) == {"summary", "insights", "filters"}
    assert report_json["insights"][0]["target"] == "orders-db: SELECT * FROM items WHERE id = ?"
    code, out, err = run(capsys, path, "--insights")
    assert code == 0, err
    assert "Insights" in out and "N+1" in out and "orders-db: SELECT * FROM items WHERE id = ?" in out
    code, out, err = run(capsys, path, "--insights", "--json", "--n-plus-one-min-calls", "7")
    assert msgspec.json.decode(out)["insights"] == []
    code, out, err = run(capsys, path, "--n-plus-one-min-calls", "1")
    assert code == 2 and "--n-plus-one-min-calls must be at least 2" in err and "Traceback" not in err


def test_live_insights_metric_and_report():
    service = start_service()
    try:
        traces = [n_plus_one_trace(n) for n in range(1, 4)]
        body = otlp_request([s for t in traces for s in t.spans]).SerializeToString()
        assert post(service, body, PROTOBUF)[0] == 200
        labels = {"kind": "n_plus_one", "service": "orders", "operation": "GET /orders"}
        wait_for(lambda: value(samples(service), "trace_insights_total", **labels) == 3)
        live = report(service, "window=1h&insights")
        assert live["insights"] == suite_of(*traces).report()["insights"]
    finally:
        service.shutdown()


def test_hotrod_driver_lookups_are_an_n_plus_one(capsys):
    """tests/fixtures/hotrod-find-nearest.json reproduces the structure and times of a trace of Jaeger's
    HotROD demo (`/api/traces/5915e2d0f3575298`, kept as a JSON fixture in a public repository): the
    driver service's FindNearest asks redis FindDriverIDs, then GetDriver once per driver, twelve calls
    one after another, two of them failing with "redis timeout" and retried once (two calls: no storm).
    Expected by hand: 206.45 ms of GetDriver in a row, 172.61 ms to save by fetching them at once."""
    code, out, err = run(capsys, "tests/fixtures/hotrod-find-nearest.json", "--insights", "--json")
    assert code == 0, err
    (row,) = msgspec.json.decode(out)["insights"]
    assert (row["kind"], row["service"], row["operation"], row["target"]) == (
        "n_plus_one",
        "driver",
        "/driver.DriverService/FindNearest",
        "redis: GetDriver",
    )
    assert row["evidence"] == {"calls": 12, "total_ms": 206.45, "saving_ms": 172.61, "finally_succeeded": 0}
