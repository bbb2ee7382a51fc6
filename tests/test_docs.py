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
    service = Service(Settings(grpc_listen="127.0.0.1:0", http_listen="127.0.0.1:0"))
    try:
        body = generate_latest(service.registry).decode()
    finally:
        service.http.shutdown()
    families = {family.name for family in text_string_to_metric_families(body)}
    assert len(families) > 20
    for name in families:
        documented = name if f"`{name}`" in README else f"{name}_total"
        assert f"`{documented}`" in README, name
