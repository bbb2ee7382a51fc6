"""make eval: how often the diagnosis names the fault's origin first (top-1) and among its first three
(top-3), per fault kind, on generated cases (streamproc/tools/faults.py), with span status and kinds and
with them stripped (times and parent links only).

The held-out seeds (the default) were never looked at while the diagnosis was tuned; `--dev` runs the
seeds it was tuned on. `python -m bench.eval [--cases-per-kind 50] [--traces 500] [--dev] [--jobs N]
[--misses]`.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor

from streamproc.analyze import AnalysisSuite
from streamproc.analyze.diagnosis import diagnose
from streamproc.tools.faults import FaultKind, make_case, strip

HELD_OUT_BASE = 1_000_000  # held-out seeds: HELD_OUT_BASE + n; dev seeds: n
KINDS = list(FaultKind)


def run_case(seed: int, kind: FaultKind, traces: int) -> list[tuple[str, bool, int | None, list[str]]]:
    """(mode, stripped, rank of the truth or None, the first three suspects) for both modes."""
    case = make_case(seed, kind, traces=traces)
    results = []
    for stripped in (False, True):
        sides = []
        for sample in (case.baseline, case.current):
            suite = AnalysisSuite()
            for trace in sample:
                suite.observe(strip(trace) if stripped else trace)
            sides.append(suite.diagnosis)
        names = [s["service"] for s in diagnose(*sides)["suspects"]]
        truth = case.fault.truth(case.topology, stripped=stripped)
        rank = names.index(truth) + 1 if truth in names else None
        results.append((truth, stripped, rank, names[:3]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.eval", description=__doc__)
    parser.add_argument("--cases-per-kind", type=int, default=50)
    parser.add_argument("--traces", type=int, default=500, help="traces per side of each case (500)")
    parser.add_argument("--dev", action="store_true", help="the seeds the diagnosis was tuned on")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--misses", action="store_true", help="print each case whose truth was not first")
    args = parser.parse_args()
    base = 0 if args.dev else HELD_OUT_BASE
    jobs = [
        (base + n * len(KINDS) + KINDS.index(kind), kind)
        for kind in KINDS
        for n in range(args.cases_per_kind)
    ]
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        outcomes = list(pool.map(run_case, *zip(*jobs, strict=True), [args.traces] * len(jobs)))
    tally: dict[tuple[str, bool], list[int]] = {}
    for (seed, kind), results in zip(jobs, outcomes, strict=True):
        for truth, stripped, rank, first in results:
            counts = tally.setdefault((kind.value, stripped), [0, 0, 0])
            counts[0] += rank == 1
            counts[1] += rank is not None and rank <= 3
            counts[2] += 1
            if args.misses and rank != 1:
                print(f"miss: {kind.value} seed {seed} stripped={stripped}: truth {truth}, got {first}")
    seeds = "dev" if args.dev else "held-out"
    print(f"Diagnosis on generated faults: {len(jobs)} cases ({seeds} seeds), {args.traces} traces a side")
    print()
    print("| fault | cases | top-1 | top-3 | top-1 without status and kinds | top-3 without |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    totals = [0, 0, 0, 0, 0]
    for kind in KINDS:
        full, bare = tally[kind.value, False], tally[kind.value, True]
        print(
            f"| {kind.value} | {full[2]} | {_pct(full[0], full[2])} | {_pct(full[1], full[2])} | "
            f"{_pct(bare[0], bare[2])} | {_pct(bare[1], bare[2])} |"
        )
        for i, value in enumerate((full[0], full[1], bare[0], bare[1], full[2])):
            totals[i] += value
    n = totals[4]
    print(
        f"| all | {n} | {_pct(totals[0], n)} | {_pct(totals[1], n)} | {_pct(totals[2], n)} | "
        f"{_pct(totals[3], n)} |"
    )
    print()
    print(f"{time.monotonic() - started:.0f} s on {args.jobs} processes")


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


if __name__ == "__main__":
    main()
