#!/usr/bin/env python3
"""A local stand-in for the Lambda Runtime API, so that keyrite-monitor's `bootstrap` runs as
Lambda runs it (scripts/check-monitor-zip). Python standard library only.

    lambda-runtime-standin.py --event FILE --record FILE [--trail FILE] [--deadline SECONDS]

It listens on 127.0.0.1 at a free port and prints that port, alone on a line, once it accepts
connections.

The Runtime API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html), version
2018-06-01:
  GET  /2018-06-01/runtime/invocation/next          the first call gets the event of --event, with
                                                   the headers Lambda sends; later calls are held
                                                   open, as Lambda holds them until the next event
  POST /2018-06-01/runtime/invocation/<id>/response the function's answer: recorded, 202
  POST /2018-06-01/runtime/invocation/<id>/error    the function's error: recorded, 202
  POST /2018-06-01/runtime/init/error               an error during initialisation: recorded, 202

STUB OF AWS BEHAVIOUR, on the same port (the bootstrap's AWS_ENDPOINT_URL_CONFIG_SERVICE and
AWS_ENDPOINT_URL_CLOUDTRAIL point here), for the two AWS calls no local emulator implements:
  - AWS Config PutEvaluations (awsJson1_1, X-Amz-Target StarlingDoveService.PutEvaluations):
    LocalStack answers "PutEvaluations without TestMode is not yet implemented", moto HTTP 500. The
    stand-in records the request and accepts every evaluation (FailedEvaluations empty), as Config
    does for a valid result token.
  - CloudTrail LookupEvents (X-Amz-Target ...CloudTrail_20131101.LookupEvents): LocalStack's free
    edition has no CloudTrail, moto keeps no management events. The stand-in answers, for each key
    ARN of --trail ({"<arn>": <days ago>}), one successful ImportKeyMaterial that many days ago;
    no event for other keys.
Anything else is recorded as unexpected and answered 400.

Every request is appended to --record as one JSON object per line ("kind": next, response,
error, init_error, put_evaluations, lookup_events, unexpected; "at": Unix time in seconds). The
stand-in exits 0 once the function has answered the event (response or error) and asked for the
next one, which shows it went back to its loop; 3 if that has not happened within --deadline
seconds.
"""

import argparse
import json
import os
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FUNCTION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:keyrite-monitor"
TIMEOUT_MS = 300_000  # the template's Timeout: 300 s
CONFIG_TARGET = "StarlingDoveService.PutEvaluations"
TRAIL_TARGET = "CloudTrail_20131101.LookupEvents"


class State:
    def __init__(self, event: bytes, record_path: str, trail: dict):
        self.event = event
        self.trail = trail
        self.lock = threading.Lock()
        self.record = open(record_path, "a", encoding="utf-8")
        self.handed_out = None  # the request id of the event, once handed out
        self.answered = False
        self.done = threading.Event()

    def write(self, kind: str, **fields) -> None:
        with self.lock:
            self.record.write(json.dumps({"kind": kind, "at": time.time(), **fields}) + "\n")
            self.record.flush()
            os.fsync(self.record.fileno())


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the runtime client expects
    state: State

    def log_message(self, fmt, *args):  # the record is the log
        pass

    def body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def answer(self, status: int, body: bytes = b"", headers: dict | None = None,
               content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_GET(self):
        s = self.state
        if self.path != "/2018-06-01/runtime/invocation/next":
            s.write("unexpected", method="GET", path=self.path)
            return self.answer(400, b'{"errorType":"UnexpectedRequest"}')
        with s.lock:
            first = s.handed_out is None
            if first:
                s.handed_out = str(uuid.uuid4())
            answered = s.answered
        if not first:
            # The function is back in its loop. Lambda would hold this call until the next event;
            # there is none: hold it, and tell the check the invocation is over once answered.
            s.write("next", request_id=None, held=True)
            if answered:
                s.done.set()
            threading.Event().wait()  # held until the process exits
            return
        deadline_ms = int(time.time() * 1000) + TIMEOUT_MS
        s.write("next", request_id=s.handed_out, held=False)
        self.answer(200, s.event, {
            "Lambda-Runtime-Aws-Request-Id": s.handed_out,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
            "Lambda-Runtime-Trace-Id":
                f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0",
        })

    def do_POST(self):
        s = self.state
        body = self.body()
        m = re.fullmatch(r"/2018-06-01/runtime/invocation/([^/]+)/(response|error)", self.path)
        if m:
            request_id, kind = m.group(1), m.group(2)
            s.write(kind, request_id=request_id, body=body.decode("utf-8", "replace"),
                    error_type=self.headers.get("Lambda-Runtime-Function-Error-Type"))
            with s.lock:
                known = request_id == s.handed_out
                if known:
                    s.answered = True
            if not known:
                return self.answer(400, b'{"errorType":"InvalidRequestID"}')
            return self.answer(202, b'{"status":"OK"}')
        if self.path == "/2018-06-01/runtime/init/error":
            s.write("init_error", body=body.decode("utf-8", "replace"),
                    error_type=self.headers.get("Lambda-Runtime-Function-Error-Type"))
            self.answer(202, b'{"status":"OK"}')
            return
        target = self.headers.get("X-Amz-Target", "")
        if self.path == "/" and target == CONFIG_TARGET:
            # STUB OF AWS BEHAVIOUR (see the module's doc): Config accepts every evaluation.
            s.write("put_evaluations", request=json.loads(body or b"{}"))
            return self.answer(200, b'{"FailedEvaluations":[]}', content_type="application/x-amz-json-1.1")
        if self.path == "/" and target.endswith(TRAIL_TARGET):
            # STUB OF AWS BEHAVIOUR (see the module's doc): the key's last ImportKeyMaterial.
            request = json.loads(body or b"{}")
            s.write("lookup_events", request=request)
            arn = next((a.get("AttributeValue") for a in request.get("LookupAttributes", [])
                        if a.get("AttributeKey") == "ResourceName"), None)
            events = []
            if arn in s.trail:
                at = time.time() - float(s.trail[arn]) * 86_400
                events.append({
                    "EventId": str(uuid.uuid4()),
                    "EventName": "ImportKeyMaterial",
                    "EventSource": "kms.amazonaws.com",
                    "EventTime": at,
                    "Resources": [{"ResourceType": "AWS::KMS::Key", "ResourceName": arn}],
                    "CloudTrailEvent": json.dumps({"eventName": "ImportKeyMaterial"}),
                })
            return self.answer(200, json.dumps({"Events": events}).encode(),
                               content_type="application/x-amz-json-1.1")
        s.write("unexpected", method="POST", path=self.path, target=target)
        self.answer(400, b'{"__type":"UnknownOperationException"}', content_type="application/x-amz-json-1.1")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--event", required=True, help="the event to hand out (JSON file)")
    p.add_argument("--record", required=True, help="JSON lines of every request, appended")
    p.add_argument("--trail", help='CloudTrail stub: {"<key arn>": <days since its import>}')
    p.add_argument("--deadline", type=float, default=300.0, help="seconds to wait for the answer")
    a = p.parse_args()
    with open(a.event, "rb") as f:
        event = f.read()
    json.loads(event)  # a malformed event is the check's fault: say so here
    trail = {}
    if a.trail:
        with open(a.trail, encoding="utf-8") as f:
            trail = json.load(f)
    Handler.state = State(event, a.record, trail)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    # Listening already (the constructor binds and listens): connections wait for serve_forever.
    print(server.server_address[1], flush=True)
    sys.stdout.close()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    if not Handler.state.done.wait(a.deadline):
        print(f"lambda-runtime-standin: no answer and no return to the loop within {a.deadline:.0f} s",
              file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
