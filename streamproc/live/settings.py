"""Settings for `streamproc serve`: one frozen object, from defaults < config file < STREAMPROC_* environment
variables < command-line flags, validated once with every problem reported together.

Each field's metadata gives its flag help and its kind: durations accept `500ms`, `5s`, `1m`, `1h`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from streamproc.errors import UsageError
from streamproc.live.assembler import AssemblerLimits
from streamproc.live.tls import TlsFiles, read_token
from streamproc.units import parse_duration_s, quoted, seconds_to_ns

ENV_PREFIX = "STREAMPROC_"
MAX_WORKERS = 256
_LISTEN = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]*):(?P<port>\d{1,5})$")


def _setting(default: Any, help_text: str, kind: str = "") -> Any:
    return field(default=default, metadata={"help": help_text, "kind": kind})


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    grpc_listen: str = _setting(
        "127.0.0.1:4317", "OTLP/gRPC listen address HOST:PORT (port 0: any free port)"
    )
    http_otlp_listen: str = _setting(
        "127.0.0.1:4318", "OTLP/HTTP listen address HOST:PORT for POST /v1/traces (port 0: any free port)"
    )
    http_listen: str = _setting(
        "127.0.0.1:9464", "HTTP listen address for /metrics, /healthz, /readyz, /api/report, /report"
    )
    workers: int = _setting(
        0,
        "worker processes that assemble and analyze traces, each owning whole traces "
        "(0: one per CPU this process may use; 1: everything in one process)",
    )
    max_message_size: int = _setting(16 * 1024 * 1024, "largest OTLP request accepted, in bytes")
    max_inflight_requests: int = _setting(
        8, "OTLP requests (gRPC and HTTP together) ingested at once before refusing with UNAVAILABLE / 503"
    )
    grpc_workers: int = _setting(
        32, "gRPC server worker threads (more than max_inflight_requests, so that refusals are answered)"
    )
    max_inflight_bytes: int = _setting(
        64 * 1024 * 1024, "bytes of Export requests being handled at once before refusing with UNAVAILABLE"
    )
    min_deadline_left: float = _setting(
        0.25, "refuse (UNAVAILABLE) a call reached with less of its deadline left than this", "duration"
    )
    bearer_token: str = _setting("", "if set, Export calls must send 'authorization: Bearer <token>'")
    bearer_token_file: str = _setting(
        "", "read bearer_token from this file (keeps it out of the command line)"
    )
    http_bearer_token: str = _setting(
        "", "if set, /metrics and /api/* need 'Authorization: Bearer <token>' (health stays open)"
    )
    http_bearer_token_file: str = _setting("", "read http_bearer_token from this file")
    tls_cert_file: str = _setting("", "PEM certificate: serve TLS on the gRPC and HTTP listeners")
    tls_key_file: str = _setting("", "PEM private key of tls_cert_file")
    tls_client_ca_file: str = _setting(
        "", "PEM CA: clients must present a certificate it signed (mutual TLS)"
    )
    idle_timeout: float = _setting(5.0, "complete a trace after no span for this long", "duration")
    root_grace: float = _setting(
        1.0, "complete a trace this long after its root span, if nothing newer came", "duration"
    )
    max_trace_age: float = _setting(60.0, "complete a trace this long after its first span", "duration")
    max_traces: int = _setting(50_000, "traces buffered at most (the oldest completes early beyond)")
    max_buffered_spans: int = _setting(
        1_000_000, "spans buffered at most (the oldest traces complete early beyond)"
    )
    max_spans_per_trace: int = _setting(100_000, "spans per trace at most (the trace completes early at it)")
    recent_trace_ids: int = _setting(200_000, "completed trace ids remembered to recognise late spans")
    bottleneck_threshold: float = _setting(
        20.0, "self time share (percent) above which a span is a bottleneck"
    )
    cardinality_limit: int = _setting(2_000, "label sets per metric before folding into the overflow series")
    report_retention: float = _setting(3600.0, "how far back /api/report can look", "duration")
    report_bucket: float = _setting(60.0, "time bucket of the windowed report state", "duration")
    report_recent_traces: int = _setting(10_000, "recent traces kept for /api/report queries with filters")
    report_recent_spans: int = _setting(
        200_000, "spans of those recent traces at most (the oldest traces go first beyond)"
    )
    retained_spans: int = _setting(
        200_000,
        "spans of the recent whole traces kept for the Jaeger API and exemplar links "
        "(0: none kept, exemplars shown unchecked)",
    )
    retained_errors_per_minute: int = _setting(
        5, "erroring traces held per root service, operation and minute when the store sweeps"
    )
    tick_interval: float = _setting(
        0.05, "longest wait between completion checks (sooner when a trace is due)", "duration"
    )
    drain_seconds: float = _setting(0.0, "after shutdown, keep serving /metrics this long", "duration")
    log_format: str = _setting("auto", "auto (console on a TTY, else JSON), json or console")
    log_level: str = _setting("info", "debug, info, warning or error")

    def worker_count(self) -> int:
        """`workers`, with 0 resolved to the CPUs this process may run on."""
        return self.workers or len(os.sched_getaffinity(0))

    def assembler_limits(self) -> AssemblerLimits:
        return AssemblerLimits(
            idle_timeout_ns=seconds_to_ns(self.idle_timeout),
            root_grace_ns=seconds_to_ns(self.root_grace),
            max_trace_age_ns=seconds_to_ns(self.max_trace_age),
            max_traces=self.max_traces,
            max_buffered_spans=self.max_buffered_spans,
            max_spans_per_trace=self.max_spans_per_trace,
            recent_trace_ids=self.recent_trace_ids,
        )

    def problems(self) -> list[str]:
        found = []
        for name in ("grpc_listen", "http_otlp_listen", "http_listen"):
            if not valid_listen(getattr(self, name)):
                found.append(f"{name}: {getattr(self, name)!r} is not HOST:PORT")
        for name in (
            "max_message_size",
            "max_inflight_requests",
            "max_inflight_bytes",
            "grpc_workers",
            "cardinality_limit",
            "report_recent_traces",
            "report_recent_spans",
        ):
            if getattr(self, name) < 1:
                found.append(f"{name} must be at least 1")
        for name in ("retained_spans", "retained_errors_per_minute"):
            if getattr(self, name) < 0:
                found.append(f"{name} must not be negative")
        for name in ("report_retention", "report_bucket", "tick_interval"):
            if getattr(self, name) <= 0:
                found.append(f"{name} must be positive")
        found += self._range_problems()
        found += self._security_problems()
        if not 0 <= self.bottleneck_threshold < 100:
            found.append("bottleneck_threshold must be from 0 to under 100")
        if self.log_format not in ("auto", "json", "console"):
            found.append(f"log_format: {self.log_format!r} is not auto, json or console")
        if self.log_level not in ("debug", "info", "warning", "error"):
            found.append(f"log_level: {self.log_level!r} is not debug, info, warning or error")
        found += [p.replace("_ns", "") for p in self.assembler_limits().problems()]
        return found

    def _security_problems(self) -> list[str]:
        found = []
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            found.append("tls_cert_file and tls_key_file go together")
        if self.tls_client_ca_file and not self.tls_cert_file:
            found.append("tls_client_ca_file needs tls_cert_file and tls_key_file")
        for name in ("bearer_token", "http_bearer_token"):
            if getattr(self, name) and getattr(self, f"{name}_file"):
                found.append(f"give {name} or {name}_file, not both")
        return found

    def tls(self) -> TlsFiles | None:
        if not self.tls_cert_file:
            return None
        return TlsFiles(self.tls_cert_file, self.tls_key_file, self.tls_client_ca_file)

    def ingest_token(self) -> str:
        """The ingest bearer token, from the setting or its file ("" for none)."""
        return (
            read_token(self.bearer_token_file, "bearer_token_file")
            if self.bearer_token_file
            else self.bearer_token
        )

    def http_token(self) -> str:
        """The HTTP API's bearer token, from the setting or its file ("" for none)."""
        if self.http_bearer_token_file:
            return read_token(self.http_bearer_token_file, "http_bearer_token_file")
        return self.http_bearer_token

    def _range_problems(self) -> list[str]:
        """Values that parse but no deployment means: a 1 µs report bucket, 10^11-byte messages."""
        found = [
            f"{name} must be at most {_INT_LIMIT:,}"
            for name in FIELDS
            if isinstance(getattr(self, name), int) and getattr(self, name) > _INT_LIMIT
        ]
        if self.grpc_workers > 1024:
            found.append("grpc_workers must be at most 1,024")
        if not 0 <= self.workers <= MAX_WORKERS:
            found.append(f"workers must be from 0 (one per CPU) to {MAX_WORKERS}")
        if not 1 <= self.report_bucket <= self.report_retention:
            found.append("report_bucket must be from 1s to report_retention")
        if not 0.001 <= self.tick_interval <= 10:
            found.append("tick_interval must be from 1ms to 10s")
        if not 0 <= self.drain_seconds <= 3600:
            found.append("drain_seconds must be from 0 to 1h")
        return found


def valid_listen(address: str) -> bool:
    match = _LISTEN.match(address)
    return match is not None and int(match.group("port")) <= 65535


def split_listen(address: str) -> tuple[str, int]:
    """HOST:PORT into (host, port); an empty host means all interfaces. Assumes a valid address."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
#: The largest whole-number setting: gRPC and the operating system take these as signed 32-bit numbers.
_INT_LIMIT = 2**31 - 1


def read_config_file(path: str) -> dict[str, Any]:
    """A TOML or YAML file of settings (keys as the field names, or with dashes)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--config {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"--config {path}: not UTF-8 text") from None
    try:
        if file.suffix.lower() in (".yaml", ".yml"):
            loaded = yaml.safe_load(text) or {}
        else:
            loaded = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"--config {path}: {exc}") from None
    if not isinstance(loaded, dict):
        raise UsageError(f"--config {path}: expected a table of settings at the top level")
    return {str(key).replace("-", "_"): value for key, value in loaded.items()}


#: STREAMPROC_* variables that are not settings: the build's (`STREAMPROC_PURE`, see setup.py).
NOT_SETTINGS = frozenset({"STREAMPROC_PURE"})


def environment_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """Every STREAMPROC_* variable, by setting name: an unknown one is reported, not ignored."""
    return {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in environ.items()
        if key.startswith(ENV_PREFIX) and key not in NOT_SETTINGS
    }


def _convert(name: str, value: Any, source: str) -> Any:
    spec = FIELDS[name]
    kind = spec.metadata.get("kind")
    if kind == "duration":
        return parse_duration_s(value, f"{source} {name}")
    target = (
        spec.type if isinstance(spec.type, type) else {"int": int, "float": float, "str": str}[str(spec.type)]
    )
    if target is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise UsageError(f"{source} {name}: {quoted(value)} is not a whole number")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise UsageError(f"{source} {name}: {quoted(value)} is not a whole number") from None
    if target is float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise UsageError(f"{source} {name}: {quoted(value)} is not a number") from None
        if not math.isfinite(number):
            raise UsageError(f"{source} {name}: {quoted(value)} is not a finite number")
        return number
    return str(value)


def build_settings(layers: list[tuple[str, Mapping[str, Any]]]) -> Settings:
    """Merge (source name, values) layers, later ones winning; raise one UsageError listing every problem."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for source, layer in layers:
        for name, value in layer.items():
            if name not in FIELDS:
                problems.append(f"{source}: unknown setting {quoted(name)}")
                continue
            try:
                values[name] = _convert(name, value, source)
            except UsageError as exc:
                problems.append(str(exc))
    # Values that failed to convert keep their (valid) defaults, so every other problem still shows.
    settings = Settings(**values)
    problems += settings.problems()
    if problems:
        raise UsageError("invalid settings: " + "; ".join(problems))
    return settings
