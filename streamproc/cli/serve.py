"""`streamproc serve`: the live server, its settings from defaults, a file, the environment and flags."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from typing import Any

from streamproc.errors import UsageError
from streamproc.live.logs import configure_logging
from streamproc.live.service import serve
from streamproc.live.settings import FIELDS, build_settings, environment_settings, read_config_file


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Receive OTLP/gRPC spans, assemble whole traces, analyze each, serve Prometheus "
        "metrics and a JSON report. Every setting also comes from --config FILE (TOML or YAML) and from "
        "STREAMPROC_<NAME> environment variables; flags win over the environment, which wins over the file.",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("--config", metavar="FILE", help="settings file (.toml, .yaml or .yml)")
    for name, spec in FIELDS.items():
        kind = spec.metadata.get("kind")
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            metavar="DURATION" if kind == "duration" else name.upper(),
            help=f"{spec.metadata['help']} (default {spec.default!r})",
        )
    return parser


def run(argv: Sequence[str], prog: str) -> int:
    args = vars(_parser(prog).parse_args(argv))
    config_path = args.pop("config", None)
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if config_path:
        layers.append((f"--config {config_path}:", read_config_file(config_path)))
    layers.append(("environment", environment_settings(os.environ)))
    layers.append(("flag", args))
    settings = build_settings(layers)
    configure_logging(settings.log_format, settings.log_level)
    try:
        return serve(settings)
    except OSError as exc:
        raise UsageError(f"cannot start: {exc}") from None
