"""Error classification: where errors originate, where they merely propagate, and where they are handled.

An erroring span (status ERROR) *originates* its error when none of its children errors, and *propagates*
one when a child errors. A span that is not erroring but has an erroring child has *handled* it. Example
trace ids are the lowest ids seen, so that results do not depend on the order traces arrive in.
"""

from __future__ import annotations

import bisect
import enum
from collections import Counter
from dataclasses import dataclass, field

from streamproc.analyze.schema import Errors
from streamproc.analyze.stats import pct
from streamproc.analyze.text import error_message
from streamproc.analyze.tree import TraceTree
from streamproc.model import StatusCode

EXAMPLES = 3


class ErrorClass(enum.Enum):
    ORIGINATING = "originating"
    PROPAGATED = "propagated"
    HANDLED = "handled"


PatternKey = tuple[str, str, str, ErrorClass]  # service, operation, message, classification


def add_example(examples: list[bytes], trace_id: bytes) -> None:
    """Keep the EXAMPLES lowest trace ids, without repeats."""
    if trace_id in examples:
        return
    if len(examples) < EXAMPLES or trace_id < examples[-1]:
        bisect.insort(examples, trace_id)
        del examples[EXAMPLES:]


def merge_examples(examples: list[bytes], others: list[bytes]) -> None:
    for trace_id in others:
        add_example(examples, trace_id)


@dataclass(slots=True)
class PatternStats:
    count: int = 0
    examples: list[bytes] = field(default_factory=list)


@dataclass(slots=True)
class ServiceErrors:
    count: int = 0
    originating: int = 0
    propagated: int = 0
    handled: int = 0
    messages: Counter[str] = field(default_factory=Counter)
    examples: list[bytes] = field(default_factory=list)

    def merge(self, other: ServiceErrors) -> None:
        self.count += other.count
        self.originating += other.originating
        self.propagated += other.propagated
        self.handled += other.handled
        self.messages.update(other.messages)
        merge_examples(self.examples, other.examples)


def classify(tree: TraceTree) -> list[tuple[int, ErrorClass]]:
    """Each erroring span, and each OK span with an erroring child, with its classification."""
    if not tree.is_error:
        return []
    spans = tree.spans
    result = []
    for index, span in enumerate(spans):
        erroring_child = any(spans[child].status is StatusCode.ERROR for child in tree.children[index])
        if span.status is StatusCode.ERROR:
            result.append((index, ErrorClass.PROPAGATED if erroring_child else ErrorClass.ORIGINATING))
        elif erroring_child:
            result.append((index, ErrorClass.HANDLED))
    return result


class ErrorAnalyzer:
    def __init__(self) -> None:
        self.trace_count = 0
        self.error_traces = 0
        self.error_spans = 0
        self.patterns: dict[PatternKey, PatternStats] = {}
        self.services: dict[str, ServiceErrors] = {}

    def observe(self, tree: TraceTree, classes: list[tuple[int, ErrorClass]]) -> None:
        """`classes`: the trace's erroring and handling spans, from `classify`."""
        self.trace_count += 1
        if not tree.is_error:
            return
        self.error_traces += 1
        for index, classification in classes:
            span = tree.spans[index]
            service = self.services.get(span.service)
            if service is None:
                service = self.services[span.service] = ServiceErrors()
            if classification is ErrorClass.HANDLED:
                service.handled += 1
                continue
            message = error_message(span)
            self.error_spans += 1
            service.count += 1
            if classification is ErrorClass.ORIGINATING:
                service.originating += 1
            else:
                service.propagated += 1
            service.messages[message] += 1
            add_example(service.examples, tree.trace_id)
            key = (span.service, span.name, message, classification)
            pattern = self.patterns.get(key)
            if pattern is None:
                pattern = self.patterns[key] = PatternStats()
            pattern.count += 1
            add_example(pattern.examples, tree.trace_id)

    def merge(self, other: ErrorAnalyzer) -> None:
        self.trace_count += other.trace_count
        self.error_traces += other.error_traces
        self.error_spans += other.error_spans
        for key, stats in other.patterns.items():
            mine = self.patterns.setdefault(key, PatternStats())
            mine.count += stats.count
            merge_examples(mine.examples, stats.examples)
        for name, service in other.services.items():
            self.services.setdefault(name, ServiceErrors()).merge(service)

    def report(self, *, top: int | None = None) -> Errors:
        ranked = sorted(
            self.patterns.items(),
            key=lambda item: (item[0][3] is not ErrorClass.ORIGINATING, -item[1].count, item[0][:3]),
        )
        return {
            "error_rate": pct(self.error_traces, self.trace_count),
            "error_traces": self.error_traces,
            "trace_count": self.trace_count,
            "patterns": [
                {
                    "service": service,
                    "operation": operation,
                    "message": message,
                    "classification": classification.value,
                    "count": stats.count,
                    "share_pct": pct(stats.count, self.error_spans),
                    "example_traces": [t.hex() for t in stats.examples],
                }
                for (service, operation, message, classification), stats in ranked[:top]
            ],
            "by_service": {
                name: {
                    "count": s.count,
                    "originating": s.originating,
                    "propagated": s.propagated,
                    "handled": s.handled,
                    "messages": dict(sorted(s.messages.items(), key=lambda m: (-m[1], m[0]))),
                    "example_traces": [t.hex() for t in s.examples],
                }
                for name, s in sorted(self.services.items())
            },
        }
