"""Fault scenarios on random topologies, for evaluating the diagnosis (`make eval`) and for demos
(`streamproc generate --fault KIND`).

A topology is a random layered graph of 10 to 40 services: entry services at the top, each service with
one to three operations, each operation doing some work of its own (log-normal, so there is normal
variance) and calling up to two operations of deeper services (so downstreams are shared), sequentially or in
parallel, and its own database, cache or queue (uninstrumented peers, as CLIENT spans naming them). Between
a caller's CLIENT span and the callee's SERVER span lies a little network time on each side.

A case is a topology, a fault and two samples of traces: the baseline (no fault) and the current (the
fault). Faults, and where their ground truth lies:
* latency: one operation's own work slower                              -> that service
* cpu:     every operation of one service slower (its callers too)      -> that service
* error:   one operation fails in a share of calls, ending its work early; callers propagate it or handle
           it                                                           -> that service
* cut:     one operation ends early in a share of calls (an exception caught without error status): fewer
           calls below it                                               -> that service
* network: calls into one service wait longer on the wire: its callers see it, its own spans do not
                                                                        -> that service
* db:      one service's database slower (a leaf peer)                  -> that database, by the name its
           callers' spans give (without span kinds the database is no node: its caller service)
Background noise: a rare originating error anywhere, in both samples.

Everything is a pure function of the seed.
"""

from __future__ import annotations

import enum
import math
import random
from dataclasses import dataclass, field

from streamproc.model import Span, SpanAttributes, SpanKind, StatusCode, Trace
from streamproc.units import NS_PER_US


class FaultKind(enum.Enum):
    LATENCY = "latency"
    CPU = "cpu"
    ERROR = "error"
    CUT = "cut"
    NETWORK = "network"
    DB = "db"


@dataclass(slots=True)
class Operation:
    service: str
    name: str
    work_ms: float  # median own work
    calls: list[tuple[int, int]] = field(default_factory=list)  # (service index, operation index)
    parallel: bool = False
    database: str | None = None  # a leaf peer it queries
    query_ms: float = 2.0


@dataclass(slots=True)
class Topology:
    services: list[str]
    operations: list[list[Operation]]  # per service
    entries: list[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    service: int
    operation: int  # -1 where the fault is the whole service's
    factor: float  # latency/cpu/db multiplier; error/cut rate; network extra ms

    def truth(self, topology: Topology, *, stripped: bool = False) -> str:
        """The name a diagnosis should put first."""
        if self.kind is FaultKind.DB and not stripped:
            database = topology.operations[self.service][self.operation].database
            assert database is not None
            return database
        return topology.services[self.service]


@dataclass(frozen=True, slots=True)
class Case:
    seed: int
    topology: Topology
    fault: Fault
    baseline: list[Trace]
    current: list[Trace]


def random_topology(rng: random.Random) -> Topology:
    count = rng.randint(10, 40)
    levels = rng.randint(3, 6)
    level_of = sorted(rng.randrange(1, levels) for _ in range(count - 1))
    level_of = [0, *level_of]
    services = [f"svc-{i:02d}" for i in range(count)]
    operations: list[list[Operation]] = []
    for index, service in enumerate(services):
        ops = []
        for number in range(rng.randint(1, 3)):
            op = Operation(service, f"op-{number}", work_ms=math.exp(rng.uniform(math.log(1), math.log(20))))
            deeper = [s for s in range(count) if level_of[s] > level_of[index]]
            if deeper:
                least = 1 if index == 0 else 0  # an entry calls something, so every fault has callers
                for callee in rng.sample(deeper, min(len(deeper), rng.randint(least, 2))):
                    op.calls.append((callee, -1))  # operation chosen below, once all exist
                op.parallel = rng.random() < 0.4
            if rng.random() < 0.5:
                op.database = f"{service}-db"
                op.query_ms = math.exp(rng.uniform(math.log(0.5), math.log(8)))
            ops.append(op)
        operations.append(ops)
    for ops in operations:
        for op in ops:
            op.calls = [(callee, rng.randrange(len(operations[callee]))) for callee, _ in op.calls]
    entries = [(0, n) for n in range(len(operations[0]))]
    return Topology(services, operations, entries)


def random_fault(rng: random.Random, topology: Topology, kind: FaultKind) -> Fault | None:
    """A fault of `kind` somewhere it shows: on an operation the entries reach; None if there is no such
    place in this topology (no database reached, say)."""
    reached = _reached(topology)
    if kind is FaultKind.DB:
        candidates = [key for key in reached if topology.operations[key[0]][key[1]].database]
    elif kind is FaultKind.CUT:
        candidates = [key for key in reached if topology.operations[key[0]][key[1]].calls]
    elif kind is FaultKind.NETWORK:
        candidates = [key for key in reached if key[0] != 0]
    else:
        candidates = list(reached)
    if not candidates:
        return None
    service, operation = rng.choice(sorted(candidates))
    factor = {
        FaultKind.LATENCY: rng.uniform(2, 6),
        FaultKind.CPU: rng.uniform(1.5, 4),
        FaultKind.ERROR: rng.uniform(0.03, 0.2),
        FaultKind.CUT: rng.uniform(0.1, 0.5),
        FaultKind.NETWORK: rng.uniform(10, 100),
        FaultKind.DB: rng.uniform(3, 15),
    }[kind]
    whole_service = kind in (FaultKind.CPU, FaultKind.NETWORK)
    return Fault(kind, service, -1 if whole_service else operation, factor)


def _reached(topology: Topology) -> set[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    todo = list(topology.entries)
    while todo:
        key = todo.pop()
        if key in found:
            continue
        found.add(key)
        todo += topology.operations[key[0]][key[1]].calls
    return found


def make_case(seed: int, kind: FaultKind, *, traces: int = 150) -> Case:
    rng = random.Random(seed)
    fault = None
    while fault is None:  # a topology where the fault can happen
        topology = random_topology(rng)
        fault = random_fault(rng, topology, kind)
    start = 1_767_225_600 * 10**9
    baseline = [
        _trace(random.Random(f"{seed}-b-{n}"), topology, None, start + n * 10**7) for n in range(traces)
    ]
    current = [
        _trace(random.Random(f"{seed}-c-{n}"), topology, fault, start + n * 10**7) for n in range(traces)
    ]
    return Case(seed, topology, fault, baseline, current)


def strip(trace: Trace) -> Trace:
    """The trace as exports without span kinds and status carry it: times and parent links only."""
    spans = tuple(
        s._replace(
            kind=SpanKind.UNSPECIFIED, status=StatusCode.UNSET, status_message="", attributes=SpanAttributes()
        )
        for s in trace.spans
    )
    return Trace(trace.trace_id, spans, trace.partial)


# --- one trace ----------------------------------------------------------------------------------------------


class _Builder:
    def __init__(self, rng: random.Random, topology: Topology, fault: Fault | None) -> None:
        self.rng = rng
        self.topology = topology
        self.fault = fault
        self.trace_id = rng.randbytes(16)
        self.spans: list[Span] = []

    def _ms(self, median: float, sigma: float = 0.25) -> int:
        """A duration around `median` ms, in whole µs."""
        return max(1, round(median * math.exp(self.rng.gauss(0, sigma)) * 1000)) * NS_PER_US

    def _span(  # noqa: PLR0917 - reads like the span it builds
        self, parent: bytes, service: str, name: str, kind: SpanKind, start: int, end: int, **kw: object
    ) -> bytes:
        span_id = self.rng.randbytes(8)
        error = kw.pop("error", None)
        attributes = SpanAttributes(**kw)  # type: ignore[arg-type]
        self.spans.append(
            Span(
                self.trace_id,
                span_id,
                parent,
                service,
                name,
                kind,
                start,
                end,
                StatusCode.ERROR if error else StatusCode.UNSET,
                str(error or ""),
                attributes,
            )
        )
        return span_id

    def serve(self, key: tuple[int, int], parent: bytes, start: int) -> tuple[int, str | None]:
        """The SERVER span of an operation and everything below it; returns (end, error message)."""
        service_index, op_index = key
        op = self.topology.operations[service_index][op_index]
        fault = self.fault
        work = op.work_ms
        here = fault if fault is not None and fault.service == service_index else None
        kind = here.kind if here is not None else None
        this_op = here is not None and here.operation == op_index
        factor = here.factor if here is not None else 1.0
        if kind is FaultKind.CPU or (kind is FaultKind.LATENCY and this_op):
            work *= factor
        failing = kind is FaultKind.ERROR and this_op and self.rng.random() < factor
        cut = kind is FaultKind.CUT and this_op and self.rng.random() < factor
        noise = self.rng.random() < 0.002  # background: a rare error anywhere
        server_id = self.rng.randbytes(8)
        children: list[Span] = []
        builder_spans = self.spans
        self.spans = []
        clock = start + self._ms(work / 2)
        error: str | None = None
        calls = list(op.calls)
        if op.database:
            calls.insert(0, (-1, -1))
        if failing or cut:
            calls = calls[: self.rng.randrange(len(calls) + 1) // 2] if calls else []
        ends = [clock]
        for callee in calls:
            begin = clock if not op.parallel else ends[0]
            end, failed = self._call(server_id, key, callee, begin)
            ends.append(end)
            clock = max(clock, end)
            if failed and error is None and self.rng.random() < 0.5:  # propagated; else handled
                error = f"HTTP 500 from {self._callee_name(callee)}"
        clock += self._ms(work / 2 if not failing else work / 10)  # a failure ends its work early
        if failing:
            error = f"{op.name} failed: invalid state"
        elif noise and error is None:
            error = "connection reset by peer"
        children = self.spans
        self.spans = builder_spans
        self.spans.append(
            Span(
                self.trace_id,
                server_id,
                parent,
                op.service,
                op.name,
                SpanKind.SERVER,
                start,
                clock,
                StatusCode.ERROR if error else StatusCode.UNSET,
                error or "",
                SpanAttributes(),
            )
        )
        self.spans += children
        return clock, error

    def _callee_name(self, callee: tuple[int, int]) -> str:
        return self.topology.services[callee[0]] if callee[0] >= 0 else "database"

    def _call(
        self, parent: bytes, key: tuple[int, int], callee: tuple[int, int], start: int
    ) -> tuple[int, bool]:
        fault = self.fault
        op = self.topology.operations[key[0]][key[1]]
        if callee[0] < 0:  # the operation's database
            query = op.query_ms
            if fault is not None and fault.kind is FaultKind.DB and (fault.service, fault.operation) == key:
                query *= fault.factor
            end = start + self._ms(query)
            self._span(
                parent,
                op.service,
                f"SELECT {op.name}",
                SpanKind.CLIENT,
                start,
                end,
                db_system="postgresql",
                db_name=op.database,
            )
            return end, False
        network = 0.5
        if fault is not None and fault.kind is FaultKind.NETWORK and fault.service == callee[0]:
            network += fault.factor / 2
        client_id = self.rng.randbytes(8)
        outer = self.spans
        self.spans = []
        server_start = start + self._ms(network, 0.2)
        server_end, error = self.serve(callee, client_id, server_start)
        end = server_end + self._ms(network, 0.2)
        inner = self.spans
        self.spans = outer
        name = self.topology.services[callee[0]]
        self.spans.append(
            Span(
                self.trace_id,
                client_id,
                parent,
                op.service,
                f"call {name}",
                SpanKind.CLIENT,
                start,
                end,
                StatusCode.ERROR if error else StatusCode.UNSET,
                error or "",
                SpanAttributes(peer_service=name),
            )
        )
        self.spans += inner
        return end, error is not None


def _trace(rng: random.Random, topology: Topology, fault: Fault | None, start: int) -> Trace:
    builder = _Builder(rng, topology, fault)
    entry = topology.entries[rng.randrange(len(topology.entries))]
    builder.serve(entry, b"", start)
    return Trace(builder.trace_id, tuple(builder.spans))
