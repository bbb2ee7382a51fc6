"""The batch path: trace files in, one analysis suite out (DESIGN section 2).

`analyze_inputs` is the one entry point: it reads the inputs, decodes and groups them, filters and analyzes
the traces, in worker processes where that pays, and returns what the inputs held and the suite. Callers
never see the workers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from streamproc.analyze import AnalysisOptions, AnalysisSuite
from streamproc.analyze.filters import TraceFilter, filter_trees
from streamproc.batch.inputs import (
    Contents,
    InputAccount,
    LoadedTraces,
    as_bytes,
    collector_paused,
    load_inputs,
    map_source,
    require_spans,
    source_name,
)
from streamproc.batch.pool import Progress, no_progress
from streamproc.batch.workers import MIN_TRACES_PER_WORKER, analyze_trees, decode_and_analyze_jaeger
from streamproc.decode import Format

__all__ = [
    "MIN_TRACES_PER_WORKER",
    "Analyzed",
    "InputAccount",
    "LoadedTraces",
    "Progress",
    "analyze_inputs",
    "load_inputs",
]


@dataclass(slots=True)
class Analyzed:
    """What the inputs held (formats, skipped spans) and the analyses of their traces."""

    inputs: InputAccount
    suite: AnalysisSuite


def analyze_inputs(
    sources: Sequence[str],
    *,
    rules: TraceFilter,
    options: AnalysisOptions,
    forced: Format | None = None,
    jobs: int | None = None,
    read: Callable[[str], Contents] = map_source,
    progress: Progress = no_progress,
) -> Analyzed:
    """Decode and analyze the inputs (`-` is standard input, read once). `jobs`: processes to use; None
    chooses from the CPUs and the size of the input, 1 keeps everything in this process."""
    with collector_paused():
        if len(sources) == 1 and forced in (None, Format.JAEGER):
            data = read(sources[0])
            name = source_name(sources[0])
            both = decode_and_analyze_jaeger(name, data, rules, options, progress, jobs=jobs)
            if both is not None:
                require_spans(both[0])
                return Analyzed(*both)
            loaded = load_inputs(
                [name], forced=forced, read=lambda _source: as_bytes(data), progress=progress
            )
        else:
            loaded = load_inputs(
                sources, forced=forced, read=lambda source: as_bytes(read(source)), progress=progress
            )
        suite = analyze_trees(filter_trees(loaded.trees, rules), options, progress, jobs=jobs)
        return Analyzed(loaded.account, suite)
