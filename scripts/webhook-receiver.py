#!/usr/bin/env python3
"""A webhook receiver written from docs/events.md alone, for the event tests.

Every delivery is verified with the Standard Webhooks reference library (PyPI standardwebhooks)
under any of the secrets given, and its event validated against the JSON Schema in
docs/events.md. A delivery that fails either is answered 400 and recorded as refused.

    webhook-receiver.py PORT LOG --secret whsec_... [--secret whsec_...] [--schema docs/events.md]
                        [--plan JSON]

--plan, or POST /control, takes a JSON list of answers to give before answering 204 to everything:
[{"status": 500, "times": 3}, {"delay": 20, "times": 1}, {"status": 429, "retry_after": 2}, ...]
Each line of LOG (and of GET /deliveries, as a JSON list) is one delivery:
{"id", "type", "verified", "refused", "status", "at", "event"}.
"""

import argparse
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def schema_from(path):
    """The first ```json block after the heading 'Schema' in docs/events.md."""
    text = open(path, encoding="utf-8").read()
    at = text.index("## Schema")
    block = re.search(r"```json\n(.*?)\n```", text[at:], re.S)
    return json.loads(block.group(1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("log")
    parser.add_argument("--secret", action="append", required=True)
    parser.add_argument("--schema", default="docs/events.md")
    parser.add_argument("--plan", default="[]", help="the answers to give first, as POST /control takes")
    args = parser.parse_args()
    hooks = [Webhook(secret) for secret in args.secret]
    validator = jsonschema.Draft202012Validator(schema_from(args.schema))
    lock = threading.Lock()
    plan = json.loads(args.plan)
    deliveries = []

    def next_answer():
        with lock:
            while plan and plan[0].get("times", 1) <= 0:
                plan.pop(0)
            if not plan:
                return {}
            step = plan[0]
            step["times"] = step.get("times", 1) - 1
            return dict(step)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def answer(self, status, body=b"", headers=()):
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/deliveries":
                with lock:
                    body = json.dumps(deliveries).encode()
                return self.answer(200, body, [("content-type", "application/json")])
            self.answer(404)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if self.path == "/control":
                with lock:
                    plan[:] = json.loads(body)
                return self.answer(204)
            headers = {name.lower(): value for name, value in self.headers.items()}
            record = {"id": headers.get("webhook-id"), "at": time.time(), "verified": False}
            event = None
            for hook in hooks:
                try:
                    event = hook.verify(body, headers)
                    record["verified"] = True
                    break
                except WebhookVerificationError as err:
                    record["refused"] = f"signature: {err}"
            if record["verified"]:
                record.pop("refused", None)
                errors = sorted(validator.iter_errors(event), key=str)
                if errors:
                    record["verified"] = False
                    record["refused"] = f"schema: {errors[0].message} at {list(errors[0].path)}"
                record["type"] = event.get("type")
                record["event"] = event
            step = {} if not record["verified"] else next_answer()
            if "delay" in step:
                time.sleep(step["delay"])
            status = 400 if not record["verified"] else step.get("status", 204)
            record["status"] = status
            with lock:
                deliveries.append(record)
                with open(args.log, "a", encoding="utf-8") as log:
                    log.write(json.dumps(record) + "\n")
            extra = [("retry-after", str(step["retry_after"]))] if "retry_after" in step else []
            try:
                self.answer(status, b"", extra)
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"webhook receiver on 127.0.0.1:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
