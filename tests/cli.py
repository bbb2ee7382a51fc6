"""Helpers for command-line tests: analyze-traces run in this process, its exit code and output."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from streamproc.cli import analyze_main


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[Any, str, str]:
    """analyze-traces in process: (exit code, stdout, stderr)."""
    try:
        code = analyze_main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def report_json(capsys: pytest.CaptureFixture[str], *argv: object) -> dict[str, Any]:
    """The `--json` report of a run that must succeed."""
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    result: dict[str, Any] = msgspec.json.decode(out)
    return result
