#!/usr/bin/env python3
"""A minimal OTLP/HTTP trace collector for the tests, decoding with the real opentelemetry-proto package.

    otlp_collector.py OUTPUT.jsonl

Listens on 127.0.0.1 on a free port and prints "PORT <n>" once it is ready. Every POST to /v1/traces
is decoded as an ExportTraceServiceRequest, as protobuf (application/x-protobuf) or as the OTLP JSON
mapping (application/json, parsed strictly: an unknown field is an error), and appended to OUTPUT as
one JSON line: {"content_type", "headers", "request"}, the request as protobuf's JSON form with
trace and span ids turned back into lowercase hex. A body that does not decode is answered 400 and
recorded as {"error": ...}. Exits 3 when opentelemetry-proto is not installed.
"""
import base64
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
except ImportError as error:
    print(f"opentelemetry-proto is not installed: {error}", file=sys.stderr)
    sys.exit(3)

ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def ids(value, convert):
    """Applies `convert` to every trace/span id in a JSON-shaped value."""
    if isinstance(value, dict):
        return {k: (convert(v) if k in ID_FIELDS and isinstance(v, str) else ids(v, convert)) for k, v in value.items()}
    if isinstance(value, list):
        return [ids(v, convert) for v in value]
    return value


def hex_to_base64(text):
    # OTLP/JSON sends ids as hex; protobuf's JSON mapping (json_format) wants base64 for bytes.
    return base64.b64encode(bytes.fromhex(text)).decode()


def base64_to_hex(text):
    return base64.b64decode(text).hex()


class Collector(BaseHTTPRequestHandler):
    output = None

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        content_type = self.headers.get("Content-Type", "")
        record = {"content_type": content_type, "path": self.path,
                  "headers": {k.lower(): v for k, v in self.headers.items()}}
        request = trace_service_pb2.ExportTraceServiceRequest()
        try:
            if self.path != "/v1/traces":
                raise ValueError(f"unexpected path {self.path}")
            if content_type == "application/x-protobuf":
                request.ParseFromString(body)
            elif content_type == "application/json":
                json_format.ParseDict(ids(json.loads(body), hex_to_base64), request, ignore_unknown_fields=False)
            else:
                raise ValueError(f"unexpected content type {content_type!r}")
        except Exception as error:  # noqa: BLE001 - any decoding failure is reported to the test
            record["error"] = f"{type(error).__name__}: {error}"
            self.write(record)
            self.send_response(400)
            self.end_headers()
            return
        record["request"] = ids(json_format.MessageToDict(request), base64_to_hex)
        self.write(record)
        reply = trace_service_pb2.ExportTraceServiceResponse()
        payload = reply.SerializeToString() if content_type == "application/x-protobuf" else b"{}"
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def write(self, record):
        with open(self.output, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")

    def log_message(self, *args):
        pass


def main():
    Collector.output = sys.argv[1]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
