"""The null receiver: the same gRPC stack as streamproc's receiver (raw-bytes unary handler, same
options and worker count), which decodes each ExportTraceServiceRequest and discards it."""

from __future__ import annotations

import argparse
import signal
import sys
from concurrent import futures

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest as PB2ExportTraceServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse as PB2ExportTraceServiceResponse,
)

from streamproc.live.receiver import SERVICE_NAME
from streamproc.live.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    settings = Settings()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.grpc_workers),
        options=[("grpc.max_receive_message_length", settings.max_message_size)],
    )

    def export(raw: bytes, _context: grpc.ServicerContext) -> PB2ExportTraceServiceResponse:
        PB2ExportTraceServiceRequest.FromString(raw)
        return PB2ExportTraceServiceResponse()

    handler = grpc.unary_unary_rpc_method_handler(
        export, request_deserializer=None, response_serializer=PB2ExportTraceServiceResponse.SerializeToString
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE_NAME, {"Export": handler}),)
    )
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    server.stop(0)
    sys.exit(0)


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
