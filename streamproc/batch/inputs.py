"""Batch inputs: read trace files (or standard input), decode each, group all their spans into traces.

What the inputs held is kept apart from the traces themselves (`InputAccount`): formats, spans kept,
spans skipped and why. Worker processes send back the account, never the traces.
"""

from __future__ import annotations

import contextlib
import gc
import mmap
import os
import stat
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streamproc.analyze import TraceTree, build_tree
from streamproc.batch.pool import Progress, no_progress
from streamproc.decode import DecodeResult, Format, decode_bytes, group_traces
from streamproc.errors import DecodeError, InputError
from streamproc.model import SkippedSpan


@dataclass(slots=True)
class SourceReport:
    """What one input held: its format, the spans kept and the spans skipped in it."""

    source: str
    format: Format
    span_count: int
    skipped: list[SkippedSpan]


def skipped_warning(where: str, kept: int, skipped: list[SkippedSpan]) -> str | None:
    """One line for the user: how many spans of `where` were skipped, why, and the first of them."""
    if not skipped:
        return None
    return f"{where}: skipped {len(skipped):,} of {kept + len(skipped):,} spans {_why(skipped)}"


def _why(skipped: list[SkippedSpan]) -> str:
    """`(3 bad_span_id, 1 end_before_start); first: trace ..., span ...: what was wrong with it`."""
    reasons = Counter(s.reason.value for s in skipped)
    first = skipped[0]
    ids = ", ".join(
        part
        for part in (
            f"trace {first.trace_id}" if first.trace_id else "",
            f"span {first.span_id}" if first.span_id else "",
        )
        if part
    )
    summary = ", ".join(f"{n:,} {reason}" for reason, n in reasons.most_common())
    return f"({summary}); first: {ids + ': ' if ids else ''}{first.detail}"


def require_spans(account: InputAccount) -> None:
    """Raise DecodeError naming the first input that held no valid span at all, and why."""
    for source in account.sources:
        if source.span_count == 0:
            if source.skipped:
                problem = f"no valid span: all {len(source.skipped):,} were skipped {_why(source.skipped)}"
            else:
                problem = "no spans in it (an empty export?)"
            raise DecodeError(source.source, problem)


@dataclass(slots=True)
class InputAccount:
    """What the inputs held: each input's format, kept and skipped spans, and repeated span ids."""

    sources: list[SourceReport] = field(default_factory=list)
    duplicates: list[SkippedSpan] = field(default_factory=list)  # span ids repeated within a trace, any input
    span_count: int = 0  # spans decoded from all inputs, duplicates included
    trace_count: int = 0  # traces they make, before any filter

    @property
    def skipped(self) -> int:
        """Every span skipped: bad spans in the inputs plus repeated span ids."""
        return sum(len(s.skipped) for s in self.sources) + len(self.duplicates)

    def warnings(self) -> list[str]:
        """One line per input with skipped spans, and one for duplicates across all inputs."""
        found = [skipped_warning(s.source, s.span_count, s.skipped) for s in self.sources]
        kept = self.span_count - len(self.duplicates)  # span_count includes the duplicates themselves
        found.append(skipped_warning("all inputs", kept, self.duplicates))
        return [line for line in found if line]


@dataclass(slots=True)
class LoadedTraces:
    """The traces of the inputs, grouped across inputs, and the account of what the inputs held."""

    trees: list[TraceTree]
    account: InputAccount


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is decoded and analyzed.

    Decoding allocates millions of containers that hold no reference cycles; each allocation burst sets
    off collections that walk them all and free nothing (orjson.loads of a 62 MB Jaeger file: 2.7 s with
    the collector running, 0.8 s paused). Reference counting still frees everything.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_source(source: str) -> bytes:
    """The bytes of a file, or of standard input for `-`; InputError naming the file when unreadable."""
    if source == "-":
        return sys.stdin.buffer.read()
    path = Path(source)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(source, "no such file") from None
    except IsADirectoryError:
        raise InputError(source, "is a directory, not a trace file") from None
    except PermissionError:
        raise InputError(source, "permission denied") from None
    except OSError as exc:
        raise InputError(source, exc.strerror or str(exc)) from None


#: Inputs this large are mapped rather than read into a copy (`map_source`).
MAP_AT_BYTES = 16 << 20

#: An input's contents: its bytes, or a large file mapped into memory.
Contents = bytes | mmap.mmap


def map_source(source: str) -> Contents:
    """`read_source`, but a large regular file comes back mapped read-only instead of copied: the Jaeger
    fast path parses the mapping itself, and forked workers share its pages (624 MB: 0.28 s of reading
    saved, before any worker can start). Anything else, or a file that cannot be mapped, is read."""
    if source != "-":
        try:
            with open(source, "rb") as file:
                info = os.fstat(file.fileno())
                if stat.S_ISREG(info.st_mode) and info.st_size >= MAP_AT_BYTES:
                    return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            pass  # read_source says what is wrong, or reads what cannot be mapped
    return read_source(source)


def as_bytes(contents: Contents) -> bytes:
    """The contents as bytes (decoders but the Jaeger fast path take bytes): a mapped file is copied and
    its mapping closed, so that its pages do not count against this process twice."""
    if isinstance(contents, bytes):
        return contents
    copy = contents[:]
    with contextlib.suppress(BufferError):  # still referenced: it goes when its last reference does
        contents.close()
    return copy


def source_name(source: str) -> str:
    """How an input is named in reports and messages."""
    return "<stdin>" if source == "-" else source


def load_inputs(
    sources: Sequence[str],
    *,
    forced: Format | None = None,
    read: Callable[[str], bytes] = read_source,
    progress: Progress = no_progress,
) -> LoadedTraces:
    """Decode every input and group all their spans by trace id (a trace may span files and lines)."""
    decoded = []
    with collector_paused():
        for source in progress(sources, "reading", len(sources)):
            fmt, result = decode_bytes(read(source), source_name(source), forced)
            decoded.append((source_name(source), fmt, result))
        loaded = group_decoded(decoded, progress)
    require_spans(loaded.account)
    return loaded


def group_decoded(
    decoded: Sequence[tuple[str, Format, DecodeResult]], progress: Progress = no_progress
) -> LoadedTraces:
    """The traces of decoded inputs: (source name, format, what it held) each, grouped across inputs."""
    combined = DecodeResult()
    for _, _, result in decoded:
        combined.extend(result)
    traces, duplicates = group_traces(combined.spans)
    trees = [build_tree(trace) for trace in progress(traces, "indexing", len(traces))]
    reports = [SourceReport(name, fmt, len(result.spans), result.skipped) for name, fmt, result in decoded]
    return LoadedTraces(trees, InputAccount(reports, duplicates, len(combined.spans), len(trees)))
