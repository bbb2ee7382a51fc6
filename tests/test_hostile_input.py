"""Hostile and broken inputs: one clear line naming the file and the problem, the right exit code, never a
traceback (the red team's batch findings)."""

from __future__ import annotations

import pytest

from tests.cli import run

_SPAN = (
    '{{"data": [{{"traceID": "0000000000000001", "spans": [{{"traceID": "0000000000000001", '
    '"spanID": "0000000000000002", "operationName": "x", "startTime": {start}, "duration": 5, '
    '"processID": "p"}}], "processes": {{"p": {{"serviceName": "s"}}}}}}]}}'
)


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("brackets", b"[" * 1_000_000, "nests deeper than any trace export does"),
        ("nested-arrays", b"[" * 100_000 + b"]" * 100_000, "nests deeper than any trace export does"),
        (
            "nested-objects",
            b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
            "nests deeper than any trace export does",
        ),
        (
            "latin-1",
            b'[{"traceId": "0000000000000001", "id": "0000000000000002", "name": "caf\xe9"}]',
            "not valid JSON",
        ),
        ("number-out-of-range", _SPAN.format(start="1e999").encode(), "a trace object that cannot be read"),
        ("start-in-year-10^25", _SPAN.format(start=10**30).encode(), "ns is out of range"),
    ],
)
def test_a_hostile_file_is_one_line_naming_it(capsys, tmp_path, name, body, message):
    path = tmp_path / f"{name}.json"
    path.write_bytes(body)
    code, out, err = run(capsys, path)
    assert (code, out) == (1, "")
    assert err.startswith(f"analyze-traces: error: {path}: ") and message in err
    assert "Traceback" not in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "flags",
    [
        ["--time-range", "9" * 400],
        ["--since", "9" * 400],
        ["--lookback", "9" * 400 + "h", "--jaeger-url", "http://127.0.0.1:1", "--service", "x"],
    ],
)
def test_absurd_numbers_in_flags_are_usage_errors(capsys, flags):
    code, _, err = (
        run(capsys, "tests/fixtures/otlp-example.json", *flags)
        if "--jaeger-url" not in flags
        else run(capsys, *flags)
    )
    assert code == 2
    assert "out of range" in err and "Traceback" not in err and len(err) < 300
