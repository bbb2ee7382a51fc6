"""The exception tree. Errors are classified where they arise and mapped at the boundary, in one function
each: to exit codes (`cli.exits.exit_code`) and to gRPC and HTTP status (`live.status.status_of`).

    StreamprocError
    ├── UsageError          the command line, a setting or a query parameter   (exit 2; HTTP 400)
    ├── InputError          an input as a whole cannot be used                  (exit 1)
    │   ├── DecodeError     not JSON, truncated, or a shape no decoder knows    (INVALID_ARGUMENT; 400)
    │   └── FetchError      a trace backend (Jaeger) could not be queried
    ├── SendError           an OTLP endpoint refused or could not be reached   (exit 1)
    ├── WorkerError         a batch analysis worker process failed              (exit 1)
    └── Refused             a live request not taken: the sender may retry
        ├── Unauthenticated no or a wrong bearer token                          (UNAUTHENTICATED; 401)
        └── Unavailable     shutting down or over capacity                      (UNAVAILABLE; 503)

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
    """A worker process (batch analysis, `serve --workers`) could not start or ended without its results."""


class SendError(StreamprocError):
    """An OTLP endpoint could not be reached or answered an Export with an error."""


class Refused(StreamprocError):  # noqa: N818 - named for what the sender reads: refused
    """A live request was not taken; nothing in it was received."""


class Unauthenticated(Refused):
    """The request carried no bearer token, or a wrong one."""


class Unavailable(Refused):
    """The server is shutting down or over capacity; `reason` labels the refusal in the self-metrics."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
