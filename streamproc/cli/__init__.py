"""The command line: `streamproc {serve,send,analyze,generate}` and `analyze-traces`.

One module per subcommand (argv in, exit code out), each with a `run(argv, prog)`; `exits` maps the
exception tree to exit codes. Subcommands are imported only when chosen, so that `analyze-traces` never
loads the live path (gRPC, prometheus_client, YAML).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from streamproc import __version__
from streamproc.cli.exits import EXIT_OK, EXIT_USAGE, fail, guarded

_COMMANDS = {
    "serve": "receive OTLP/gRPC, analyze whole traces, serve /metrics and /api/report",
    "send": "replay trace files into an OTLP/gRPC endpoint",
    "analyze": "analyze trace files (same as analyze-traces)",
    "generate": "write synthetic traces of a named scenario",
}


def analyze_main(argv: Sequence[str] | None = None) -> int:
    """The `analyze-traces` entry point."""
    from streamproc.cli import analyze

    return guarded("analyze-traces", analyze.run, sys.argv[1:] if argv is None else argv)


def main(argv: Sequence[str] | None = None) -> int:
    """The `streamproc` entry point."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        lines = [f"  {name:<9} {text}" for name, text in _COMMANDS.items()]
        print("usage: streamproc {serve,send,analyze,generate} ...\n\n" + "\n".join(lines) + "\n")
        return EXIT_OK if argv else EXIT_USAGE
    if argv[0] == "--version":
        print(f"streamproc {__version__}")
        return EXIT_OK
    if argv[0] not in _COMMANDS:
        fail("streamproc", f"unknown command {argv[0]!r} (choose from {', '.join(_COMMANDS)})", EXIT_USAGE)
    command = importlib.import_module(f"streamproc.cli.{argv[0]}")
    return guarded(f"streamproc {argv[0]}", command.run, argv[1:])
