"""Shared fixtures: generated scenario files in every format, written once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamproc.buildinfo import build_name, stale_sources
from streamproc.decode import Format
from streamproc.tools.encode import encode
from streamproc.tools.generate import Scenario, generate

START_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
WINDOW_NS = 2 * 3600 * 10**9


@pytest.fixture(scope="session")
def scenario_traces():
    return {
        scenario: generate(scenario, count=400, seed=11, start_ns=START_NS, window_ns=WINDOW_NS)
        for scenario in Scenario
    }


@pytest.fixture(scope="session")
def scenario_files(tmp_path_factory, scenario_traces) -> dict[tuple[Scenario, Format], Path]:
    directory = tmp_path_factory.mktemp("scenarios")
    files = {}
    for scenario, traces in scenario_traces.items():
        for fmt in Format:
            path = directory / f"{scenario.value}.{fmt.value}"
            path.write_bytes(encode(traces, fmt))
            files[scenario, fmt] = path
    return files


def pytest_report_header() -> str:
    return f"streamproc build: {build_name()}"


def pytest_sessionstart(session: pytest.Session) -> None:
    stale = stale_sources()
    if stale:  # a compiled module would shadow its edited source: the tests would run old code
        pytest.exit(f"the compiled build is older than {stale[0]}: run `make build`", 2)
