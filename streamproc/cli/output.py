"""What the command line shows and writes: progress bars on a TTY, output files."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from streamproc.errors import InputError


def progress_bar(total: int, label: str, items: Iterable[Any] | None = None) -> Any:
    """A tqdm bar on stderr when a person is watching (a TTY) and there is enough to wait for; else None."""
    if total < 1000 or not sys.stderr.isatty():
        return None
    from tqdm import tqdm  # type: ignore[import-untyped]  # tqdm ships no type information

    tqdm.monitor_interval = 0  # no monitor thread: batch analysis forks its workers only with one thread
    return tqdm(items, desc=label, total=total, leave=False, file=sys.stderr, dynamic_ncols=True)


def progress(items: Iterable[Any], label: str, total: int) -> Iterable[Any]:
    """`items`, counted on a progress bar where one is shown (a `batch.Progress`)."""
    bar: Iterable[Any] | None = progress_bar(total, label, items)
    return items if bar is None else bar


def write_file(path: str, data: bytes) -> None:
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise InputError(path, f"cannot write: {exc.strerror or exc}") from None
