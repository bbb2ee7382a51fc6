"""The README documents every setting and every metric streamproc exports (so the docs cannot drift)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streamproc.live.service import Service
from streamproc.live.settings import FIELDS, Settings

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_every_setting_is_documented():
    """Each setting's flag and environment variable appear in the README."""
    for name in FIELDS:
        assert f"`--{name.replace('_', '-')}`" in README, name
        assert f"`STREAMPROC_{name.upper()}`" in README, name


def test_every_metric_family_is_documented():
    """Each metric family the server exports is named in the README's metrics table."""
    service = Service(
        Settings(
            grpc_listen="127.0.0.1:0", http_listen="127.0.0.1:0", http_otlp_listen="127.0.0.1:0", workers=1
        )
    )
    try:
        body = generate_latest(service.registry).decode()
    finally:
        service.http.shutdown()
        service.http_receiver.shutdown()
    families = {family.name for family in text_string_to_metric_families(body)}
    assert len(families) > 20
    for name in families:
        documented = name if f"`{name}`" in README else f"{name}_total"
        assert f"`{documented}`" in README, name


def test_every_report_key_is_documented(capsys, scenario_files):
    """Each key of a full report (every section, a comparison) is named in the README's schema block."""
    from streamproc.decode import Format
    from streamproc.tools.generate import Scenario
    from tests.cli import report_json

    schema = README[README.index("## Report JSON schema") :]
    schema = schema[: schema.index("\n## ")]
    report = report_json(
        capsys,
        scenario_files[Scenario.INCIDENT, Format.JAEGER],
        "--baseline",
        scenario_files[Scenario.FIXED, Format.JAEGER],
    )
    # Dicts keyed by names from the traces: services, callers and callees, messages.
    named = {("dependencies", "services"), ("dependencies", "dependencies"), ("errors", "by_service")}
    keys: set[str] = set()
    stack: list[tuple[tuple[str, ...], object]] = [((), report)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            by_name = (
                path[-2:] in named or path[-1:] == ("messages",) or path == ("dependencies",) * 2 + ("*",)
            )
            for key, child in node.items():
                if not by_name:
                    keys.add(key)
                stack.append(((*path, "*" if by_name else key), child))
        elif isinstance(node, list):
            stack.extend((path, item) for item in node)
    assert len(keys) > 60
    missing = sorted(key for key in keys if key not in schema)
    assert missing == []
