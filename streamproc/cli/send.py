"""`streamproc send`: replay trace files into an OTLP/gRPC endpoint."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from streamproc.batch import load_inputs
from streamproc.cli.exits import EXIT_OK
from streamproc.cli.output import progress_bar
from streamproc.decode import Format
from streamproc.errors import UsageError
from streamproc.tools.send import send_traces


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Replay trace files (any format analyze-traces reads) into an OTLP/gRPC endpoint.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="trace files; - reads standard input")
    parser.add_argument(
        "--endpoint", default="127.0.0.1:4317", help="OTLP/gRPC HOST:PORT (default 127.0.0.1:4317)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        metavar="SPANS_PER_SEC",
        help="pace the replay (default: as fast as the endpoint takes it)",
    )
    parser.add_argument("--batch-size", type=int, default=512, help="spans per request (default 512)")
    parser.add_argument("--format", choices=[f.value for f in Format], help="force the input format")
    parser.add_argument("--bearer-token", default="", help="send 'authorization: Bearer TOKEN'")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
    return parser


def run(argv: Sequence[str], prog: str) -> int:
    args = _parser(prog).parse_args(argv)
    problems = []
    if args.batch_size < 1:
        problems.append("--batch-size must be at least 1")
    if args.rate is not None and args.rate <= 0:
        problems.append("--rate must be positive")
    if problems:
        raise UsageError("; ".join(problems))
    loaded = load_inputs(args.files, forced=Format(args.format) if args.format else None)
    for warning in loaded.account.warnings():
        print(f"{prog}: warning: {warning} (not sent)", file=sys.stderr)
    traces = [tree.spans for tree in loaded.trees]
    total = sum(len(spans) for spans in traces)
    bar = progress_bar(total, "sending spans")
    headers = [("authorization", f"Bearer {args.bearer_token}")] if args.bearer_token else []
    try:
        result = send_traces(
            traces,
            endpoint=args.endpoint,
            batch_size=args.batch_size,
            rate=args.rate,
            timeout_s=args.timeout,
            headers=headers,
            progress=bar.update if bar is not None else lambda _n: None,
        )
    finally:
        if bar is not None:
            bar.close()
    print(
        f"{prog}: sent {result.spans_sent:,} spans of {len(traces):,} traces in {result.requests:,} requests"
        f" ({result.retries:,} retries); the endpoint rejected {result.rejected_spans:,}",
        file=sys.stderr,
    )
    for message in result.messages:
        print(f"{prog}: rejected: {message}", file=sys.stderr)
    return EXIT_OK
