"""The HTML report as text: self-contained, escaped, bounded, and served live at /report."""

from __future__ import annotations

import html
import re

import pytest

from streamproc.analyze import AnalysisSuite
from streamproc.analyze.suite import Section
from streamproc.decode import Format
from streamproc.report.html import MAX_BARS, render_html
from streamproc.tools.generate import Scenario
from streamproc.tools.send import send_traces
from tests.builders import span, suite_of, trace, trace_id
from tests.cli import report_json, run
from tests.live import http_get, samples, start_service, value, wait_for
from tests.topology import fan_out_trace, wide_traces

SVG_NAMESPACE = "http://www.w3.org/2000/svg"


def _page(*traces, **report_options) -> str:
    return render_html(suite_of(*traces).report(**report_options), title="t")


def test_page_asks_nothing_of_the_network(capsys, tmp_path, scenario_files):
    """No script, stylesheet, font or image from elsewhere: the only URL is the SVG namespace."""
    current = scenario_files[Scenario.INCIDENT, Format.JAEGER]
    html = tmp_path / "report.html"
    code, out, err = run(
        capsys, current, "--baseline", scenario_files[Scenario.FIXED, Format.JAEGER], "--html", html
    )
    assert code == 0, err
    assert f"wrote the HTML report to {html}" in err
    assert out.startswith("Trace analysis:")  # the text report still goes to stdout
    page = html.read_text()
    assert "<script" not in page.lower() and "@import" not in page and " src=" not in page
    assert set(re.findall(r"(?:https?|ftp|file)://[^\s\"')]+", page)) == {SVG_NAMESPACE}
    for section in (
        "summary",
        "service-map",
        "latency",
        "bottlenecks",
        "critical-path",
        "errors",
        "comparison",
    ):
        assert f'<section id="{section}">' in page


def test_names_from_the_traces_are_escaped():
    """Service, operation and error text come from the traffic: markup in them is shown, never parsed."""
    hostile = "<script>alert(1)</script>"
    t = trace(
        span(1, 0, 0, 100, service=hostile, name='"><img src=x onerror=alert(2)>'),
        span(2, 1, 10, 90, service="db</svg><b>", error="<iframe src=//evil>"),
    )
    page = _page(t)
    assert "<script" not in page and "<img" not in page and "<iframe" not in page and "</svg><b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_sections_follow_the_report():
    """A report of the bottlenecks only draws the summary, latency and bottlenecks, nothing else."""
    t = trace(span(1, 0, 0, 100), span(2, 1, 0, 90))
    page = _page(t, sections=frozenset({Section.BOTTLENECKS}))
    found = re.findall(r'<section id="([a-z-]+)">', page)
    assert found == ["summary", "latency", "bottlenecks"]


def test_long_lists_are_capped_and_counted():
    """3,000 distinct bottlenecks and error patterns: MAX_BARS bars each, the rest counted, the page small."""
    traces = [
        trace(span(1, 0, 0, 100, name=f"op-{n}", error=f"failure {n}", trace=trace_id(n)))
        for n in range(3000)
    ]
    report = suite_of(*traces).report()
    page = render_html(report, title="t")
    bottlenecks = page[page.index('<section id="bottlenecks">') :]
    bottlenecks = bottlenecks[: bottlenecks.index("</section>")]
    assert bottlenecks.count('class="bar"') == MAX_BARS
    assert page.count('class="bar originating"') == MAX_BARS
    assert f"and {3000 - MAX_BARS:,} more" in page
    assert len(page.encode()) < 400_000


def test_wide_traces_fold_into_a_bounded_waterfall():
    """A 10,000-span fan-out trace: its path of 1,101 spans draws as a handful of rows (repeated siblings
    share one), with the spans off the path counted, not drawn."""
    suite = AnalysisSuite()
    suite.observe(fan_out_trace())
    [path] = suite.report()["critical_paths"]
    assert path["span_count"] == 10_001 and len(path["spans"]) > 1000
    page = render_html(suite.report(), title="t")
    waterfall = page[page.index('<svg class="waterfall"') :]
    waterfall = waterfall[: waterfall.index("</svg>")]
    assert waterfall.count('<g class="row">') < 20
    assert "off path" in waterfall and "×" in waterfall  # noqa: RUF001
    assert len(page.encode()) < 200_000


def test_fifty_services_each_drawn_once():
    suite = AnalysisSuite()
    for t in wide_traces(services=50):
        suite.observe(t)
    report = suite.report()
    page = render_html(report, title="t")
    drawn = re.findall(r'<g class="node[^"]*" data-service="([^"]+)"', page)
    assert sorted(drawn) == sorted(report["dependencies"]["services"]) and len(drawn) == 50


@pytest.fixture(scope="module")
def live(scenario_traces):
    traces = scenario_traces[Scenario.INCIDENT]
    service = start_service()
    send_traces([t.spans for t in traces], endpoint=f"127.0.0.1:{service.receiver.port}")
    roots = {(t.spans[0].service, t.spans[0].name) for t in traces}
    wait_for(
        lambda: (
            sum(value(samples(service), "trace_total", service=s, operation=o) for s, o in roots)
            == len(traces)
        )
    )
    yield service
    service.shutdown()


def test_live_report_page_is_the_batch_page_of_the_same_traces(capsys, tmp_path, live, scenario_files):
    """GET /report renders the live window with the batch renderer: the same sections, the same nodes."""
    status, content_type, body = http_get(live, "/report?window=1h")
    assert (status, content_type) == (200, "text/html; charset=utf-8")
    page = body.decode()
    html = tmp_path / "batch.html"
    path = scenario_files[Scenario.INCIDENT, Format.JAEGER]
    run(capsys, path, "--html", html)
    batch = html.read_text()
    patterns = (
        r'<section id="([a-z-]+)">',  # the sections
        r'data-service="([^"]+)"',  # the map's nodes
        r'<g class="edge ([a-z]+)" data-parent="([^"]+)" data-child="([^"]+)"',  # its edges and their colour
        r"<title>([^<]+: [0-9,]+ traces[^<]*)</title>",  # the bottleneck bars and their labels
        r'class="tile">([^<]+)<b>([^<]+)</b>',  # the summary figures
    )
    for pattern in patterns:
        assert re.findall(pattern, page) == re.findall(pattern, batch), pattern
    traces = report_json(capsys, path)["summary"]["trace_count"]
    assert f'class="tile">Traces<b>{traces:,}</b>' in page


def test_live_report_page_rejects_bad_parameters(live):
    status, content_type, body = http_get(live, "/report?window=soon")
    assert status == 400 and content_type.startswith("text/plain")
    assert b"window" in body
    status, _, _ = http_get(live, "/report?color=red")
    assert status == 400


def test_insights_are_drawn_one_bar_each(capsys):
    """The HotROD fixture's N+1 (tests/fixtures/hotrod-find-nearest.json, see test_insights): a bar with
    its time at stake, named in text."""
    report = report_json(capsys, "tests/fixtures/hotrod-find-nearest.json", "--insights")
    page = render_html(report, title="t")
    section = re.search(r'<section id="insights">.*?</section>', page, re.S)
    assert section is not None and 'href="#insights"' in page
    assert section.group(0).count('class="bar insight n_plus_one"') == len(report["insights"]) == 1
    assert "redis: GetDriver" in section.group(0) and "173 ms saving" in section.group(0)
    assert '<section id="insights">' not in render_html(
        report_json(capsys, "tests/fixtures/hotrod-find-nearest.json", "--errors"), title="t"
    )


def test_the_diagnosis_is_drawn_first_after_the_summary(capsys, tmp_path):
    """--diagnose: a section right after the summary, a bar per suspect, its reasons as text."""
    from streamproc.tools.encode import encode
    from tests.test_diagnosis import baseline, checkout

    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_bytes(encode(baseline(), Format.JAEGER))
    after.write_bytes(encode([checkout(n, payment_ms=200) for n in range(201, 401)], Format.JAEGER))
    report = report_json(capsys, after, "--baseline", before, "--diagnose")
    page = render_html(report, title="t")
    assert re.findall(r'<section id="([a-z-]+)">', page)[:2] == ["summary", "diagnosis"]
    section = re.search(r'<section id="diagnosis">.*?</section>', page, re.S).group(0)
    suspects = report["diagnosis"]["suspects"]
    assert section.count('class="bar suspect') == len(suspects) and 'class="bar suspect first"' in section
    assert all(html.escape(reason) in section for reason in suspects[0]["reasons"])
