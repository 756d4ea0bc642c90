"""A local stand-in for the Dataflow REST API (v1b3), for tests: a real HTTP server on 127.0.0.1.

Beam's Dataflow client uses the REST transport when ``--dataflow_endpoint`` names ``localhost``.
``DataflowStub()`` records every request (method, path, JSON body); a job creation gets an id
back, and every later job lookup reports it done, so ``wait_until_finish`` returns. Nothing runs.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Request:
    method: str
    path: str
    body: dict | None
    raw: bytes


class DataflowStub:
    def __init__(self, final_state: str = "JOB_STATE_DONE"):
        self.requests: list[Request] = []
        self.final_state = final_state
        self._jobs: dict[str, dict] = {}
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, obj, code=200):
                data = json.dumps(obj).encode("utf-8")
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self, method):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                body = json.loads(raw) if raw else None
                stub.requests.append(Request(method, self.path, body, raw))
                return body

            def do_POST(self):
                body = self._record("POST")
                path = self.path.split("?", 1)[0]
                if path.endswith("/jobs"):
                    job_id = f"2026-11-25_00_00_00-{len(stub._jobs) + 1}"
                    job = {**(body or {}), "id": job_id, "currentState": "JOB_STATE_PENDING"}
                    stub._jobs[job_id] = job
                    self._reply(job)
                else:
                    self._reply({"error": {"code": 404, "message": "not found"}}, 404)

            def do_GET(self):
                self._record("GET")
                path = self.path.split("?", 1)[0]
                parts = path.rstrip("/").split("/")
                if "jobs" in parts:
                    job_id = parts[parts.index("jobs") + 1] if len(parts) > parts.index("jobs") + 1 else None
                    if path.endswith("/messages"):
                        return self._reply({"jobMessages": []})
                    if path.endswith("/metrics"):
                        return self._reply({"metrics": []})
                    if job_id in stub._jobs:
                        job = stub._jobs[job_id]
                        return self._reply({"id": job_id, "name": job.get("name", ""), "type": job.get("type"),
                                            "currentState": stub.final_state,
                                            "projectId": job.get("projectId", ""), "location": job.get("location", "")})
                self._reply({"error": {"code": 404, "message": "not found"}}, 404)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.endpoint = f"http://localhost:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def created_jobs(self) -> list[dict]:
        return [r.body for r in self.requests if r.method == "POST" and r.path.split("?", 1)[0].endswith("/jobs")]

    def close(self):
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
