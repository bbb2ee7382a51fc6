"""The exception tree. Errors are classified where they arise and mapped to exit codes (CLI) or gRPC
status codes (receiver) at the boundary, in one function each.

    StreamprocError
    ├── UsageError          the command line or a setting is wrong            (exit 2)
    ├── InputError          an input as a whole cannot be used                (exit 1)
    │   ├── DecodeError     not JSON, truncated, or a shape no decoder knows
    │   └── FetchError      a trace backend (Jaeger) could not be queried
    └── WorkerError         a batch analysis worker process failed            (exit 1)

A span that is bad on its own (a wrong id length, end before start) is not an exception: decoders skip it
and report it as a `model.SkippedSpan`, and the report counts it.
"""

from __future__ import annotations


class StreamprocError(Exception):
    """Base of every error streamproc raises on purpose."""


class UsageError(StreamprocError):
    """The command line or a configuration value is invalid."""


class InputError(StreamprocError):
    """An input cannot be used. `source` names the file or URL."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


class DecodeError(InputError):
    """The input is not JSON, is truncated, or has a shape no decoder recognises."""


class FetchError(InputError):
    """A trace backend could not be queried or answered with an error."""


class WorkerError(StreamprocError):
    """A batch analysis worker process could not start or ended without its results."""
