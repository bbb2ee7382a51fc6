"""analyze-traces and streamproc generate, end to end on generated scenarios in every encoding."""

from __future__ import annotations

import mmap
import subprocess
import sys

import msgspec
import pytest

from streamproc.analyze import build_tree
from streamproc.batch import inputs
from streamproc.cli import main
from streamproc.decode import Format
from streamproc.tools.generate import Scenario
from tests.cli import report_json as report
from tests.cli import run

INCIDENT, FIXED, HEALTHY = Scenario.INCIDENT, Scenario.FIXED, Scenario.HEALTHY


FLAG_SETS = [
    [],
    ["--time-range", "1h", "--verbose"],
    ["--latency-threshold", "500", "--service", "api-gateway"],
    ["--errors-only"],
    ["--bottlenecks", "--verbose"],
    ["--critical-path"],
    ["--errors", "--verbose"],
    ["--dependencies"],
    ["--bottleneck-threshold", "50", "--top", "3"],
]


@pytest.mark.parametrize("flags", FLAG_SETS, ids=lambda f: " ".join(f) or "all")
def test_findings_are_identical_across_encodings(capsys, scenario_files, flags):
    """Jaeger, Zipkin, OTLP JSON and OTLP JSON Lines of the same traces give the same report."""
    reports = {fmt: report(capsys, scenario_files[INCIDENT, fmt], *flags) for fmt in Format}
    assert reports[Format.JAEGER]["summary"]["trace_count"] > 0
    for fmt in Format:
        assert reports[fmt] == reports[Format.JAEGER], fmt


def test_incident_findings(capsys, scenario_files, scenario_traces):
    """The incident shows the slow join as the top bottleneck and redis timeouts as originating errors."""
    result = report(capsys, scenario_files[INCIDENT, Format.JAEGER])
    traces = scenario_traces[INCIDENT]
    assert result["summary"]["trace_count"] == len(traces)
    assert result["summary"]["span_count"] == sum(len(t.spans) for t in traces)
    top = result["bottlenecks"][0]
    assert (top["service"], top["operation"]) == ("user-service", "database_query")
    assert top["pattern"].startswith("SELECT u.*, o.* FROM users u JOIN orders o")
    assert "?" in top["pattern"] and "4711" not in top["pattern"]
    first = result["errors"]["patterns"][0]
    assert (first["service"], first["operation"], first["classification"]) == (
        "recommendation-service",
        "cache_get",
        "originating",
    )
    edges = {(e["parent"], e["child"]) for e in result["dependencies"]["edges"]}
    assert ("user-service", "postgres") in edges
    assert ("api-gateway", "recommendation-service") in edges
    assert result["summary"]["duration_stats"]["p95_ms"] > 500


def test_filters_select_the_right_traces(capsys, scenario_files, scenario_traces):
    """Each filter keeps exactly the traces its definition names."""
    trees = [build_tree(t) for t in scenario_traces[INCIDENT]]
    path = scenario_files[INCIDENT, Format.ZIPKIN]
    newest = max(t.start_ns for t in trees)
    expected = {
        ("--time-range", "1h"): sum(t.start_ns >= newest - 3600 * 10**9 for t in trees),
        ("--latency-threshold", "800"): sum(t.duration_ns > 800 * 10**6 for t in trees),
        ("--errors-only",): sum(t.is_error for t in trees),
        ("--service", "user-service"): len(trees),
        ("--service", "nobody"): 0,
        ("--since", "2026-01-01T01:00:00Z"): sum(t.start_ns >= 1_767_229_200 * 10**9 for t in trees),
        ("--until", "2026-01-01T00:30:00"): sum(t.start_ns < 1_767_227_400 * 10**9 for t in trees),
    }
    assert 0 < expected[("--time-range", "1h")] < len(trees)
    for flags, count in expected.items():
        assert report(capsys, path, *flags)["summary"]["trace_count"] == count, flags


def test_latency_and_service_filters_write_slow_traces_to_a_file(capsys, scenario_files, tmp_path):
    """--latency-threshold 500 --service api-gateway --output slow.json --json writes only slow traces."""
    out = tmp_path / "slow.json"
    code, stdout, err = run(
        capsys,
        scenario_files[INCIDENT, Format.JAEGER],
        "--latency-threshold",
        "500",
        "--service",
        "api-gateway",
        "--output",
        out,
        "--json",
    )
    assert (code, stdout) == (0, "")
    assert "wrote the report to" in err
    result = msgspec.json.decode(out.read_bytes())
    assert result["summary"]["duration_stats"]["min_ms"] > 500


def test_errors_only_report_has_only_error_traces(capsys, scenario_files):
    """--errors-only keeps error traces: the error rate is 100 %."""
    result = report(capsys, scenario_files[INCIDENT, Format.OTLP_JSON], "--errors-only", "--errors")
    assert result["summary"]["error_rate"] == 100.0
    assert set(result) == {"summary", "errors", "filters"}
    assert result["filters"]["errors_only"] is True


def test_baseline_comparison(capsys, scenario_files):
    """After the fix against the incident: p95 down, error rate down, the join bottleneck gone."""
    result = report(
        capsys, scenario_files[FIXED, Format.JAEGER], "--baseline", scenario_files[INCIDENT, Format.JAEGER]
    )
    changes = result["comparison"]["changes"]
    assert changes["p95_ms"]["current"] < changes["p95_ms"]["baseline"]
    assert changes["p95_ms"]["change_pct"] < -50
    assert changes["error_rate"]["current"] < changes["error_rate"]["baseline"]
    join = next(b for b in changes["bottlenecks"] if b["operation"] == "database_query")
    assert join["baseline"]["mean_self_time_ms"] > 100
    assert join["status"] == "shrank" and join["self_time_per_trace_change_ms"] < -100
    assert set(result["comparison"]) == {"baseline", "current", "changes"}
    code, text, _ = run(
        capsys, scenario_files[FIXED, Format.JAEGER], "--baseline", scenario_files[INCIDENT, Format.JAEGER]
    )
    assert code == 0
    assert "p95         " in text and "down from" in text


def test_text_report_reads_well(capsys, scenario_files):
    """The text report has every section, the bottleneck line format and thousands separators."""
    code, text, _ = run(capsys, scenario_files[INCIDENT, Format.JAEGER], "--verbose")
    assert code == 0
    for heading in ("Summary", "Bottlenecks", "Critical path", "Errors:", "Service dependencies"):
        assert heading in text
    line = next(
        line for line in text.splitlines() if line.strip().startswith("1. user-service.database_query")
    )
    assert " - Self time: " in line and "% of trace) - Occurrences: 400/400 traces - Pattern: SELECT" in line
    assert "By service" in text and "EXAMPLE TRACE" in text


def test_top_bounds_lists(capsys, scenario_files):
    """--top 2 keeps two items in each list."""
    result = report(capsys, scenario_files[INCIDENT, Format.JAEGER], "--top", "2")
    for key in ("bottlenecks", "critical_paths", "critical_path_summary"):
        assert len(result[key]) == 2
    assert len(result["errors"]["patterns"]) == 2


def test_several_files_and_stdin(capsys, monkeypatch, scenario_files, scenario_traces):
    """Several inputs are analyzed together; - reads standard input."""
    both = report(capsys, scenario_files[INCIDENT, Format.JAEGER], scenario_files[HEALTHY, Format.ZIPKIN])
    assert both["summary"]["trace_count"] == 800

    class Stdin:
        buffer = open(scenario_files[INCIDENT, Format.OTLP_JSONL], "rb")  # noqa: SIM115 - closed below

    monkeypatch.setattr(sys, "stdin", Stdin)
    try:
        assert report(capsys, "-")["summary"]["trace_count"] == 400
    finally:
        Stdin.buffer.close()


def test_bad_spans_are_counted_and_warned_once(capsys, tmp_path, scenario_files):
    """Individually bad spans: one warning line naming the file, and summary.skipped_spans."""
    doc = msgspec.json.decode(scenario_files[INCIDENT, Format.JAEGER].read_bytes())
    doc["data"][0]["spans"][1]["spanID"] = "xyz"
    doc["data"][1]["spans"][2]["duration"] = -1
    path = tmp_path / "bad.json"
    path.write_bytes(msgspec.json.encode(doc))
    code, out, err = run(capsys, path, "--json")
    assert code == 0
    assert msgspec.json.decode(out)["summary"]["skipped_spans"] == 2
    assert err.count("\n") == 1
    assert f"warning: {path}: skipped 2 of" in err and "bad_span_id" in err and "end_before_start" in err


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["missing.json"], 1, "missing.json: no such file"),
        (["."], 1, ".: is a directory"),
        ([], 2, "no input"),
        (["x.json", "--time-range", "soon"], 2, "--time-range: 'soon' is not a duration"),
        (["x.json", "--top", "0", "--bottleneck-threshold", "120"], 2, "--top must be at least 1"),
        (["x.json", "--save", "y.json"], 2, "--save keeps what --jaeger-url fetched"),
        (["--jaeger-url", "http://127.0.0.1:9"], 2, "--jaeger-url needs --service"),
    ],
)
def test_errors_are_one_line_with_exit_code(capsys, argv, code, message):
    """Usage errors exit 2, bad input exits 1; one line on stderr, no traceback."""
    got, out, err = run(capsys, *argv)
    assert got == code
    assert out == ""
    assert message in err
    assert "Traceback" not in err


def test_usage_problems_are_reported_together(capsys):
    """Every invalid option is named in the one error line."""
    _, _, err = run(capsys, "x.json", "--top", "0", "--bottleneck-threshold", "120")
    assert "--top must be at least 1" in err and "bottleneck threshold 120" in err


@pytest.mark.parametrize(
    ("content", "message"), [(b'{"data": [', "truncated"), (b"<html>", "not valid JSON")]
)
def test_bad_file_through_the_installed_command(tmp_path, content, message):
    """The console script itself: exit 1, one line naming the file, no traceback."""
    path = tmp_path / "traces.json"
    path.write_bytes(content)
    done = subprocess.run(
        [sys.executable, "-m", "streamproc.cli", "analyze", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"streamproc analyze: error: {path}: ")
    assert message in done.stderr
    assert done.stderr.count("\n") == 1


def test_generate_writes_every_format(tmp_path, capsys):
    """streamproc generate --format all writes one readable file per format, the same traces in each."""
    assert (
        main(["generate", "--scenario", "healthy", "--count", "50", "--format", "all", "-o", str(tmp_path)])
        == 0
    )
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["healthy.jaeger.json", "healthy.otlp.json", "healthy.otlp.jsonl", "healthy.zipkin.json"]
    counts = {report(capsys, tmp_path / name)["summary"]["span_count"] for name in names}
    assert len(counts) == 1


def test_generate_is_reproducible(tmp_path):
    """The same scenario, count and seed give the same bytes; another seed does not."""
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        main(["generate", "--count", "20", "--seed", str(seed), "-o", str(tmp_path / name)])
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes() != (tmp_path / "c").read_bytes()


def test_streamproc_analyze_is_analyze_traces(capsys, scenario_files):
    """`streamproc analyze` is the same command as analyze-traces."""
    path = str(scenario_files[HEALTHY, Format.JAEGER])
    assert main(["analyze", path, "--json"]) == 0
    via_streamproc = capsys.readouterr().out
    assert via_streamproc == run(capsys, path, "--json")[1]


def test_repeated_span_ids_are_counted_once_in_the_warning(capsys, tmp_path, scenario_files):
    """A span repeated across two files: 'skipped 1 of N+1 spans', N the distinct spans."""
    doc = msgspec.json.decode(scenario_files[INCIDENT, Format.JAEGER].read_bytes())
    first = {"data": doc["data"][:2]}
    again = {"data": [dict(doc["data"][0], spans=doc["data"][0]["spans"][:1])]}
    distinct = sum(len(t["spans"]) for t in first["data"])
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    paths[0].write_bytes(msgspec.json.encode(first))
    paths[1].write_bytes(msgspec.json.encode(again))
    code, out, err = run(capsys, *paths, "--json")
    assert code == 0
    assert msgspec.json.decode(out)["summary"]["skipped_spans"] == 1
    assert f"all inputs: skipped 1 of {distinct + 1:,} spans (1 duplicate_span)" in err


def _cli(*argv):
    """analyze-traces in a process of its own (a single-threaded process, where workers can be forked)."""
    return subprocess.run(
        [sys.executable, "-m", "streamproc.cli", "analyze", *map(str, argv)],
        capture_output=True,
        check=False,
    )


@pytest.mark.parametrize(
    "flags",
    [["--json", "--verbose"], ["--verbose", "--errors-only"], ["--json", "--latency-threshold", "300"]],
    ids=["json", "text", "filtered"],
)
def test_analysis_in_worker_processes_gives_the_serial_report(scenario_files, flags):
    """--jobs 3 forks three workers over contiguous chunks; the merged report is the serial one, byte for
    byte, with a baseline comparison too."""
    args = [
        scenario_files[INCIDENT, Format.JAEGER],
        "--baseline",
        scenario_files[FIXED, Format.OTLP_JSONL],
        *flags,
    ]
    serial, forked = _cli(*args, "--jobs", "1"), _cli(*args, "--jobs", "3")
    assert serial.returncode == 0, serial.stderr
    assert forked.returncode == 0, forked.stderr
    assert forked.stdout == serial.stdout
    assert b"Trace" in serial.stdout or b'"summary"' in serial.stdout


def test_a_failing_worker_is_one_clear_message(scenario_files):
    """A worker that dies is reported in one line naming it, exit code 1, no traceback."""
    code = (
        "import sys\n"
        "from streamproc.analyze import suite\n"
        "from streamproc.cli import analyze_main\n"
        "def boom(self, tree):\n"
        "    raise MemoryError('out of memory in the test')\n"
        "suite.AnalysisSuite.observe_tree = boom\n"
        "sys.exit(analyze_main(sys.argv[1:]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(scenario_files[INCIDENT, Format.JAEGER]), "--jobs", "2"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "analysis worker 1 of 2 failed: MemoryError: out of memory in the test" in done.stderr
    assert "Traceback" not in done.stderr


def test_worker_count():
    """Auto: one worker per CPU while each gets MIN_TRACES_PER_WORKER traces; --jobs as given; one where
    forking is unsafe."""
    from streamproc.batch.workers import MIN_TRACES_PER_WORKER, worker_count

    per = MIN_TRACES_PER_WORKER

    assert worker_count(None, per - 1, cpus=4, forkable=True) == 1
    assert worker_count(None, 2 * per, cpus=4, forkable=True) == 2
    assert worker_count(None, 100 * per, cpus=4, forkable=True) == 4
    assert worker_count(3, 10, cpus=4, forkable=True) == 3
    assert worker_count(8, 5, cpus=4, forkable=True) == 5
    assert worker_count(8, 100 * per, cpus=4, forkable=False) == 1


def test_jobs_must_be_positive(capsys, scenario_files):
    code, _, err = run(capsys, scenario_files[INCIDENT, Format.JAEGER], "--jobs", "0")
    assert code == 2
    assert "--jobs must be at least 1" in err


@pytest.mark.parametrize("fmt", [Format.JAEGER, Format.ZIPKIN, Format.OTLP_JSONL], ids=lambda f: f.value)
def test_a_mapped_input_gives_the_report_of_a_read_one(scenario_files, fmt, monkeypatch):
    """Large files are mapped into memory instead of read (here every file, the threshold lowered): the
    Jaeger fast path parses the mapping in workers, the other formats decode a copy; the same report."""
    code = (
        "import sys\n"
        "from streamproc.batch import inputs\n"
        "from streamproc.cli import analyze_main\n"
        "inputs.MAP_AT_BYTES = int(sys.argv[1])\n"
        "sys.exit(analyze_main(sys.argv[2:]))\n"
    )
    path = scenario_files[INCIDENT, fmt]
    monkeypatch.setattr(inputs, "MAP_AT_BYTES", 1)
    mapped = inputs.map_source(str(path))
    assert isinstance(mapped, mmap.mmap)
    assert inputs.as_bytes(mapped) == path.read_bytes()
    assert mapped.closed  # copied, so its pages do not count twice
    done = [
        subprocess.run(
            [sys.executable, "-c", code, threshold, str(path), "--json", "--jobs", "2"],
            capture_output=True,
            check=False,
        )
        for threshold in (str(2**62), "1")
    ]
    assert done[0].returncode == 0, done[0].stderr
    assert done[1].returncode == 0, done[1].stderr
    assert done[1].stdout == done[0].stdout
    assert msgspec.json.decode(done[0].stdout)["summary"]["trace_count"] == 400


def _damaged_jaeger(path, tmp_path, *, split_a_trace=False):
    """The incident's Jaeger export with bad spans early and late, a repeated span, a trace object that
    does not fit the typed structs, and (optionally) one trace's spans in the first and the last object."""
    doc = msgspec.json.decode(path.read_bytes())
    traces = doc["data"]
    traces[3]["spans"][0]["spanID"] = "12g"
    traces[-5]["spans"][1]["duration"] = -1
    traces[-3]["spans"].append(traces[-3]["spans"][0])
    traces[-2]["spans"][0]["tags"].append({"value": "a tag without a key"})
    if split_a_trace:
        moved = traces[0]["spans"].pop()
        traces[-1]["spans"].append(moved)
        traces[-1]["processes"].update(traces[0]["processes"])
    out = tmp_path / "damaged.json"
    out.write_bytes(msgspec.json.encode(doc))
    return out


@pytest.mark.parametrize("split_a_trace", [False, True], ids=["whole-traces", "a-trace-split-across-objects"])
def test_a_jaeger_export_decoded_in_workers_gives_the_serial_report_and_warnings(
    scenario_files, tmp_path, split_a_trace
):
    """Decoding in workers: the same report, the same skipped-span warnings (first one named), even when
    a trace is split across trace objects of different workers (then the workers' results are set aside)."""
    path = _damaged_jaeger(scenario_files[INCIDENT, Format.JAEGER], tmp_path, split_a_trace=split_a_trace)
    serial, forked = (
        _cli(path, "--json", "--verbose", "--jobs", "1"),
        _cli(path, "--json", "--verbose", "-j", "3"),
    )
    assert serial.returncode == 0, serial.stderr
    assert forked.returncode == 0, forked.stderr
    assert forked.stdout == serial.stdout
    assert forked.stderr == serial.stderr
    assert b"skipped 3 of" in serial.stderr and b"1 duplicate_span" in serial.stderr
    assert msgspec.json.decode(serial.stdout)["summary"]["skipped_spans"] == 4


def test_standard_input_is_decoded_in_workers_too(scenario_files):
    """`-` reads standard input once, whichever path decodes it."""
    data = scenario_files[INCIDENT, Format.JAEGER].read_bytes()
    runs = [
        subprocess.run(
            [sys.executable, "-m", "streamproc.cli", "analyze", "-", "--json", "--jobs", jobs],
            input=data,
            capture_output=True,
            check=False,
        )
        for jobs in ("1", "2")
    ]
    assert runs[0].returncode == 0, runs[0].stderr
    assert runs[1].stdout == runs[0].stdout
    assert msgspec.json.decode(runs[0].stdout)["summary"]["trace_count"] == 400
