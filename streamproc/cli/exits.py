"""Exit codes: the one place the exception tree becomes a process outcome.

0 success, 1 bad input (a file, backend or endpoint that cannot be used), 2 usage error, 130 interrupted.
Errors are one line on stderr naming the file and the problem; never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from streamproc.errors import StreamprocError, UsageError

EXIT_OK, EXIT_BAD_INPUT, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

#: A subcommand: `run(argv, prog)` returns the exit code.
Command = Callable[[Sequence[str], str], int]


def fail(prog: str, message: str, code: int) -> NoReturn:
    print(f"{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def exit_code(exc: StreamprocError) -> int:
    return EXIT_USAGE if isinstance(exc, UsageError) else EXIT_BAD_INPUT


def guarded(prog: str, run: Command, argv: Sequence[str]) -> int:
    """Run a subcommand, mapping what it raises to an exit code and one line on stderr."""
    try:
        return run(argv, prog)
    except StreamprocError as exc:
        fail(prog, str(exc), exit_code(exc))
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (e.g. `| head`): not an error worth a message
        return EXIT_OK
    except KeyboardInterrupt:
        fail(prog, "interrupted", EXIT_INTERRUPTED)
