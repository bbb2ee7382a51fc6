"""Which build runs: the hot modules compiled by mypyc (setup.py builds them where a C compiler is
present), or the pure package. Both behave the same; the compiled one is faster."""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import shutil
import sysconfig
from pathlib import Path
from types import ModuleType

#: The modules every span or trace passes through: decoders, the span model, the analyzers, and the live
#: path's assembler, windows and metrics. Not compiled: the CLI, servers, report rendering, modules
#: defining msgspec Structs (msgspec reads their annotations, which compiled classes do not keep), and
#: classes that interpreted code subclasses (the errors: a compiled class admits no Python subclass).
COMPILED_MODULES = (
    "streamproc.model",
    "streamproc.units",
    "streamproc.decode.common",
    "streamproc.decode.otlp_proto",
    "streamproc.decode.otlp_wire",
    "streamproc.decode.otlp_route",
    "streamproc.decode.protowire",
    "streamproc.decode.otlp_json",
    "streamproc.decode.jaeger",
    "streamproc.decode.zipkin",
    "streamproc.analyze.bottlenecks",
    "streamproc.analyze.critical_path",
    "streamproc.analyze.dependencies",
    "streamproc.analyze.diagnosis",
    "streamproc.analyze.error_origins",
    "streamproc.analyze.filters",
    "streamproc.analyze.histogram",
    "streamproc.analyze.insights",
    "streamproc.analyze.sketch",
    "streamproc.analyze.stats",
    "streamproc.analyze.suite",
    "streamproc.analyze.summary",
    "streamproc.analyze.tree",
    "streamproc.live.assembler",
    "streamproc.live.windows",
    "streamproc.live.metrics",
    "streamproc.live.families",
    "streamproc.live.pipeline",
    "streamproc.live.batches",
)


def is_compiled(module: ModuleType) -> bool:
    """Whether the module was loaded from an extension module (compiled) rather than its source."""
    return str(getattr(module, "__file__", "")).endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def compiled_modules() -> list[str]:
    """Those of COMPILED_MODULES that load from an extension module here."""
    return [name for name in COMPILED_MODULES if is_compiled(importlib.import_module(name))]


def build_name() -> str:
    """ "compiled" (every hot module compiled), "pure" (none), or "mixed" (a broken build)."""
    count = len(compiled_modules())
    if count == len(COMPILED_MODULES):
        return "compiled"
    return "pure" if count == 0 else "mixed"


def pure_requested() -> bool:
    """STREAMPROC_PURE=1 (or any value but 0): build and run the pure package."""
    return os.environ.get("STREAMPROC_PURE", "") not in ("", "0")


def compiler_present() -> bool:
    """A C compiler for extension modules, as this Python builds them, is on the PATH."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(compiler) is not None


def expected_build() -> str:
    """The build setup.py makes here: compiled unless asked for pure or no compiler is found."""
    return "pure" if pure_requested() or not compiler_present() else "compiled"


def stale_sources() -> list[str]:
    """The compiled modules' sources changed since the compiled extension was built (empty when pure)."""
    package = Path(__file__).parent
    built = [p.stat().st_mtime for p in package.glob("_compiled__mypyc*")]
    if not built:
        return []
    sources = [package.parent / (name.replace(".", "/") + ".py") for name in COMPILED_MODULES]
    return [str(path) for path in sources if path.stat().st_mtime > min(built)]
