"""The typed structs msgspec parses Jaeger trace objects into (see `streamproc.decode.jaeger`).

They live apart from the decoder because msgspec reads a Struct's field annotations when the class is
created, and the compiled build (mypyc) turns the classes of the modules it compiles into native classes
without them: this module stays interpreted.

The structs are untracked by the cyclic GC (`gc=False`): they hold only what JSON decodes to, which has no
reference cycles, and untracked structs are allocated and freed faster (Jaeger decode 3.63-3.65 against
3.52-3.58 us a span, alternating).
"""

from __future__ import annotations

from typing import Any

import msgspec


class JaegerTag(msgspec.Struct, gc=False):
    key: Any
    value: Any = None


class JaegerReference(msgspec.Struct, gc=False):
    refType: Any = "CHILD_OF"  # noqa: N815 - Jaeger's field names
    traceID: Any = None  # noqa: N815
    spanID: Any = None  # noqa: N815


class JaegerLogField(msgspec.Struct, gc=False):
    key: Any = None
    value: Any = None


class JaegerLog(msgspec.Struct, gc=False):
    fields: list[JaegerLogField] | None = None


class JaegerSpan(msgspec.Struct, gc=False):
    traceID: Any = None  # noqa: N815
    spanID: Any = None  # noqa: N815
    parentSpanID: Any = None  # noqa: N815
    operationName: Any = None  # noqa: N815
    references: list[JaegerReference] | None = None
    startTime: Any = None  # noqa: N815
    duration: Any = None
    tags: list[JaegerTag] | None = None
    logs: list[JaegerLog] | None = None
    processID: Any = ""  # noqa: N815
    process: Any = None


class JaegerTrace(msgspec.Struct, gc=False):
    spans: list[JaegerSpan] | None = None
    processes: dict[str, Any] | None = None


class _SplitDocument(msgspec.Struct, gc=False):
    data: list[msgspec.Raw]


SPLIT_DOCUMENT = msgspec.json.Decoder(_SplitDocument)
TRACE = msgspec.json.Decoder(JaegerTrace)
