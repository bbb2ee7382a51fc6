"""Structures real exports have, each reproduced from a public file named in its test, with expectations
computed by hand: in the batch report and, where it applies, replayed through `serve`."""

from __future__ import annotations

from pathlib import Path

import msgspec

from streamproc.cli import analyze_main
from streamproc.decode import Format, decode_bytes, group_traces
from streamproc.tools.send import send_traces
from tests.live import samples, start_service, value, wait_for

FIXTURES = Path(__file__).parent / "fixtures"
TEMPO = FIXTURES / "tempo-queue-database.json"

#: grafana/tempo modules/generator/processor/servicegraphs/testdata/trace-with-queue-database.json
TEMPO_EDGES = [
    ("mythical-requester", "mythical-recorder", "messaging_system"),  # PRODUCER -> CONSUMER
    ("mythical-requester", "mythical-server", ""),  # CLIENT -> SERVER; its tcp.connect child is no peer
    ("mythical-server", "loki", "virtual_node"),  # HTTP POST (net.peer.name loki); children in-service
    ("mythical-server", "postgres", "database"),  # pg.query (db.name postgres)
]


def batch_report(capsys, *argv) -> dict:
    assert analyze_main([*map(str, argv), "--json"]) == 0
    return msgspec.json.decode(capsys.readouterr().out)


def test_tempo_trace_json_with_base64_ids_is_read(capsys):
    """Tempo's trace JSON (`batches`, base64 ids, enum names) from grafana/tempo's servicegraphs testdata
    trace-with-queue-database.json: 13 spans, one trace, the requester span its root."""
    fmt, result = decode_bytes(TEMPO.read_bytes(), "tempo")
    assert (fmt, len(result.spans), result.skipped) == (Format.OTLP_JSON, 13, [])
    assert result.spans[0].trace_id.hex() == "4290b5877a9930de79bb428365398ecc"
    assert result.spans[0].span_id.hex() == "d606579e57787587"
    traces, _ = group_traces(result.spans)
    assert len(traces) == 1
    report = batch_report(capsys, TEMPO)
    assert report["summary"]["trace_count"] == 1
    assert report["summary"]["duration_stats"]["max_ms"] == 85.769  # 963,292,160 - 877,522,688 ns


def test_tempo_service_graph_edges_batch(capsys):
    """Every parent/child pair across services and every unpaired client with a peer is an edge."""
    edges = batch_report(capsys, TEMPO, "--dependencies")["dependencies"]["edges"]
    assert [(e["parent"], e["child"], e["connection_type"]) for e in edges] == TEMPO_EDGES
    assert {e["call_count"] for e in edges} == {1}


def test_tempo_service_graph_edges_live():
    """Replayed through `serve`, the service-graph metrics have the batch report's edges."""
    _, result = decode_bytes(TEMPO.read_bytes(), "tempo")
    service = start_service()
    try:
        send_traces([result.spans], endpoint=f"127.0.0.1:{service.receiver.port}")
        wait_for(
            lambda: (
                value(samples(service), "trace_total", service="mythical-requester", operation="requester")
                == 1
            )
        )
        found = samples(service)
        live = sorted(
            (dict(labels)["client"], dict(labels)["server"], dict(labels)["connection_type"])
            for (name, labels), count in found.items()
            if name == "traces_service_graph_request_total" and count
        )
        assert live == TEMPO_EDGES
    finally:
        service.shutdown()
