"""The HTML report in a real headless Chromium (Debian's): it loads with no console error and no request
beyond the page itself, each section's SVG has the elements the report says it should, it stays readable
with 50 services, prints a page per section, and follows the reader's dark scheme. Screenshots of each
section go to build/screenshots/ for a person to look at."""

from __future__ import annotations

import itertools
import re

import msgspec
import pytest

from streamproc.analyze import AnalysisSuite
from streamproc.decode import Format
from streamproc.report.html import MAX_BARS, WATERFALLS, render_html
from streamproc.tools.generate import Scenario
from tests.browser import chromium, load, needs_chromium  # noqa: F401  # chromium: the fixture
from tests.cli import report_json, run
from tests.live import http_get
from tests.test_html_report import live  # noqa: F401  # the fixture: a server fed the incident traces
from tests.topology import fan_out_trace, wide_traces

pytestmark = needs_chromium()
SECTIONS = [
    "summary",
    "diagnosis",
    "service-map",
    "latency",
    "bottlenecks",
    "critical-path",
    "errors",
    "insights",
    "comparison",
]


@pytest.fixture(scope="module")
def incident(tmp_path_factory, scenario_files):
    """Where the page goes, the incident's traces and the fixed scenario's as its baseline."""
    html = tmp_path_factory.mktemp("html") / "report.html"
    return (
        html,
        scenario_files[Scenario.INCIDENT, Format.JAEGER],
        scenario_files[Scenario.FIXED, Format.JAEGER],
    )


def test_batch_page_draws_every_section_from_the_report(capsys, monkeypatch, chromium, incident):  # noqa: F811
    html, current, baseline = incident
    monkeypatch.chdir(current.parent)  # the page names the files as given: short names for the picture
    code, _, err = run(capsys, current.name, "--baseline", baseline.name, "--diagnose", "--html", html)
    assert code == 0, err
    report = report_json(capsys, current, "--baseline", baseline, "--diagnose")
    loaded = load(chromium, html.as_uri())
    assert loaded.console == []
    assert loaded.requests == [html.as_uri()]
    assert [s.get_attribute("id") for s in loaded.page.locator("section").all()] == SECTIONS

    deps = report["dependencies"]
    peers = {e["child"] for e in deps["edges"]} - set(deps["services"])
    assert loaded.count("#service-map g.node") == len(deps["services"]) + len(peers)
    assert loaded.count("#service-map g.node.virtual") == len(peers)
    totals: dict[tuple[str, str], list[int]] = {}
    for e in deps["edges"]:
        calls_errors = totals.setdefault((e["parent"], e["child"]), [0, 0])
        calls_errors[0] += e["call_count"]
        calls_errors[1] += e["error_count"]
    expected = {
        (parent, child, "ok" if errors * 100 < calls else "warn" if errors * 100 < 5 * calls else "bad")
        for (parent, child), (calls, errors) in totals.items()
    }
    drawn = {
        (g.get_attribute("data-parent"), g.get_attribute("data-child"), g.get_attribute("class").split()[1])
        for g in loaded.page.locator("#service-map g.edge").all()
    }
    assert drawn == expected and loaded.count("#service-map g.edge") == len(expected)
    assert any(kind != "ok" for _, _, kind in drawn)  # the incident's failing calls stand out

    summary = report["summary"]
    assert loaded.count("#latency rect.bin:not(.swatch)") == len(summary["duration_histogram"])
    before = report["comparison"]["baseline"]["summary"]["duration_histogram"]
    assert loaded.count("#latency rect.baseline:not(.swatch)") == len(before)
    assert loaded.count("#latency line.marker") == 3 and loaded.count("#latency line.threshold") == 1
    assert "500 ms threshold" in loaded.page.locator("#latency").inner_text()

    assert loaded.count("#bottlenecks rect.bar") == min(len(report["bottlenecks"]), MAX_BARS)
    paths = report["critical_paths"]
    assert loaded.count("#critical-path svg.waterfall") == min(len(paths), WATERFALLS)
    assert loaded.count("#critical-path rect.critical") >= min(len(paths), WATERFALLS)
    patterns = report["errors"]["patterns"]
    assert loaded.count("#errors rect.bar") == len(patterns)
    suspects = report["diagnosis"]["suspects"]
    assert loaded.count("#diagnosis rect.bar") == len(suspects) > 0
    insights = report["insights"]
    assert insights  # the incident's cascading timeouts
    assert loaded.count("#insights rect.bar") == min(len(insights), MAX_BARS)
    assert loaded.count("#comparison table") == 2  # the figures, and the error patterns that changed

    for section in SECTIONS:
        assert loaded.shoot(f"batch-{section}", f"#{section}").stat().st_size > 1000
    loaded.shoot_top("batch-overview", "#latency")  # docs/html-report.png is a copy of this one
    loaded.page.close()


def test_fifty_services_stay_readable(chromium, tmp_path):  # noqa: F811
    """The map keeps its natural size (12 px labels; it scrolls), no two boxes overlap, and a 10,000-span
    trace's waterfall stays short."""
    suite = AnalysisSuite()
    for t in [*wide_traces(services=50), fan_out_trace()]:
        suite.observe(t)
    html = tmp_path / "wide.html"
    html.write_text(render_html(suite.report(), title="50 services"))
    loaded = load(chromium, html.as_uri())
    assert loaded.console == [] and loaded.requests == [html.as_uri()]
    nodes = loaded.page.locator("#service-map g.node rect").all()
    assert len(nodes) == 52  # 50 services, and the fan-out trace's two
    boxes = [n.bounding_box() for n in nodes]
    for a, b in itertools.combinations(boxes, 2):
        apart = (
            a["x"] + a["width"] <= b["x"]
            or b["x"] + b["width"] <= a["x"]
            or a["y"] + a["height"] <= b["y"]
            or b["y"] + b["height"] <= a["y"]
        )
        assert apart, (a, b)
    drawn = loaded.page.locator("svg.map").bounding_box()
    assert drawn["width"] == pytest.approx(
        float(loaded.page.locator("svg.map").get_attribute("width")), abs=1
    )
    rows = loaded.page.locator("#critical-path svg.waterfall").first.locator("g.row").count()
    assert rows < 20
    loaded.page.set_viewport_size({"width": int(drawn["width"]) + 120, "height": 900})
    loaded.shoot("wide-service-map", "svg.map")
    loaded.shoot("wide-critical-path", "#critical-path")
    loaded.page.close()


def test_prints_a_page_per_section_and_follows_the_dark_scheme(capsys, chromium, incident):  # noqa: F811
    html, current, baseline = incident
    code, _, err = run(capsys, current, "--baseline", baseline, "--diagnose", "--html", html)
    assert code == 0, err
    dark = load(chromium, html.as_uri(), scheme="dark")
    background = dark.page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert sum(int(c) for c in re.findall(r"\d+", background)[:3]) < 150, background
    dark.shoot("batch-dark-summary", "#summary")
    dark.shoot("batch-dark-service-map", "#service-map")
    pdf = dark.page.pdf(format="A4")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages >= len(SECTIONS), pages
    dark.page.emulate_media(media="print")
    breaks = dark.page.evaluate(
        "[...document.querySelectorAll('section')].map(s => getComputedStyle(s).breakBefore)"
    )
    assert breaks == ["auto"] + ["page"] * (len(SECTIONS) - 1)
    dark.page.close()


def test_live_page_in_chromium(chromium, live):  # noqa: F811
    """GET /report from the live server: one request (the page), no console error, the map's nodes those
    of /api/report."""
    url = f"http://127.0.0.1:{live.http.port}/report?window=1h"
    loaded = load(chromium, url)
    assert loaded.console == [] and loaded.requests == [url]
    _, _, body = http_get(live, "/api/report?window=1h")
    deps = msgspec.json.decode(body)["dependencies"]
    peers = {e["child"] for e in deps["edges"]} - set(deps["services"])
    assert loaded.count("#service-map g.node") == len(deps["services"]) + len(peers)
    for section in ("summary", "service-map", "latency", "critical-path"):
        loaded.shoot(f"live-{section}", f"#{section}")
    loaded.page.close()
