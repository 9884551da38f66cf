"""An in-process OTLP/HTTP receiver that decodes what exporters send (protobuf or JSON)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf.json_format import Parse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


def _value(v):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


class Receiver:
    def __init__(self):
        self.spans: list[dict] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                request = ExportTraceServiceRequest()
                if "json" in (self.headers.get("content-type") or ""):
                    Parse(body.decode(), request)
                else:
                    request.ParseFromString(body)
                receiver.paths.append(self.path)
                for rs in request.resource_spans:
                    for ss in rs.scope_spans:
                        for span in ss.spans:
                            receiver.spans.append({"name": span.name, "path": self.path,
                                                   "attributes": {a.key: _value(a.value) for a in span.attributes}})
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, predicate, timeout: float = 15.0) -> list[dict]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = [s for s in self.spans if predicate(s)]
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"no matching span; got {[s['name'] for s in self.spans]}")

    def close(self):
        self.server.shutdown()
