#!/usr/bin/python3
"""HTTP collector for the output tests: Splunk HEC (/services/collector/event) and
Elasticsearch/OpenSearch _bulk (/_bulk) on 127.0.0.1:PORT.

Every request is checked for the exact shape mitmwatch promises; any deviation is written to
ERRORS (the test asserts it stays empty). Accepted events are appended to OUT as JSON lines
{"api":"hec"|"bulk","time":..,"index":..,"event":{..}} and flushed before the 200 answer, so an
acknowledged event is on disk. --fail-first N answers 503 to the first N requests (retry path);
--then-429 M answers 429 to the M requests after those, with "Retry-After: S" (--retry-after);
--bulk-item-fail K answers the first K _bulk requests 200 with "errors":true and status 429 for
every other item (stored are only the others); --hang reads requests and never answers;
--log FILE appends {"t": monotonic seconds, "status": code, "events": n} per request."""
import argparse, calendar, json, os, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def ts_parts(ts):
    # "2026-11-28T14:10:45.123456Z"
    sec = calendar.timegm((int(ts[0:4]), int(ts[5:7]), int(ts[8:10]), int(ts[11:13]),
                           int(ts[14:16]), int(ts[17:19]), 0, 0, 0))
    frac = ts[20:-1] if len(ts) > 20 and ts[19] == "." else ""
    return sec, int((frac + "000000")[:6])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--errors", required=True)
    ap.add_argument("--token", default="")
    ap.add_argument("--index-pattern", default="mitmwatch-%Y.%m.%d")
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--then-429", type=int, default=0)
    ap.add_argument("--retry-after", default="")
    ap.add_argument("--bulk-item-fail", type=int, default=0)
    ap.add_argument("--hang", action="store_true")
    ap.add_argument("--log")
    ap.add_argument("--count-only", action="store_true",
                    help="throughput runs: check the auth header, count events, write the count per request")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve HTTPS")
    ap.add_argument("--ready")
    a = ap.parse_args()
    lock = threading.Lock()
    # One write() a request on an O_APPEND descriptor: a receiver killed mid-request (the tests
    # kill -9 them) leaves whole lines, never a torn one that a buffered writer could flush.
    out_fd = os.open(a.out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def out_write(text):
        data = text.encode("utf-8")
        while data:
            data = data[os.write(out_fd, data):]
    errs = open(a.errors, "a", encoding="utf-8")
    state = {"requests": 0, "bulk_fail": 0}
    logf = open(a.log, "a") if a.log else None

    def log(status, events):
        if logf:
            with lock:
                logf.write(json.dumps({"t": time.monotonic(), "status": status, "events": events}) + "\n")
                logf.flush()

    def err(msg):
        with lock:
            errs.write(msg[:500] + "\n")
            errs.flush()

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; without this, Nagle holds the body until the
        # client's delayed ACK (40 ms), and every request would measure that, not the sender.
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def reply(self, code, obj, events=0):
            log(code, events)
            body = json.dumps(obj).encode()
            self.send_response(code)
            if code == 429 and a.retry_after:
                self.send_header("Retry-After", a.retry_after)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n).decode("utf-8")
            if a.hang:
                time.sleep(3600)
            with lock:
                state["requests"] += 1
                fail = state["requests"] <= a.fail_first
                throttle = not fail and state["requests"] <= a.fail_first + a.then_429
            if fail:
                return self.reply(503, {"text": "Server is busy", "code": 9})
            if throttle:
                return self.reply(429, {"text": "Too many requests", "code": 9})
            if a.count_only:
                if self.path == "/services/collector/event":
                    if self.headers.get("Authorization") != "Splunk " + a.token:
                        return self.reply(401, {"text": "Invalid authorization", "code": 3})
                    n = body.count('{"time":')
                    self.store_count(n)
                    return self.reply(200, {"text": "Success", "code": 0})
                n = body.count("\n") // 2
                self.store_count(n)
                return self.reply(200, {"took": 1, "errors": False,
                                        "items": [{"create": {"status": 201}}] * n})
            if self.path == "/services/collector/event":
                return self.hec(body)
            if self.path == "/_bulk":
                return self.bulk(body)
            err("unexpected path %s" % self.path)
            self.reply(404, {"error": "no such path"})

        def hec(self, body):
            if self.headers.get("Authorization") != "Splunk " + a.token:
                return self.reply(401, {"text": "Invalid authorization", "code": 3})
            if self.headers.get("Content-Type") != "application/json":
                err("HEC content-type %r" % self.headers.get("Content-Type"))
            dec = json.JSONDecoder()
            i, recs = 0, []
            while i < len(body):
                while i < len(body) and body[i] in " \n\r\t":
                    i += 1
                if i >= len(body):
                    break
                obj, i = dec.raw_decode(body, i)
                if list(obj.keys()) != ["time", "host", "source", "sourcetype", "event"]:
                    err("HEC keys %r" % list(obj.keys()))
                if obj.get("source") != "mitmwatch" or obj.get("sourcetype") != "_json":
                    err("HEC source/sourcetype %r %r" % (obj.get("source"), obj.get("sourcetype")))
                ev = obj.get("event", {})
                sec, us = ts_parts(ev.get("@timestamp", ""))
                if round(obj["time"] * 1e6) != sec * 1000000 + us:
                    err("HEC time %r != @timestamp %r" % (obj["time"], ev.get("@timestamp")))
                recs.append({"api": "hec", "time": obj["time"], "event": ev})
            self.store(recs)
            self.reply(200, {"text": "Success", "code": 0}, len(recs))

        def bulk(self, body):
            if self.headers.get("Content-Type") != "application/x-ndjson":
                err("bulk content-type %r" % self.headers.get("Content-Type"))
            if not body.endswith("\n"):
                err("bulk body does not end with a newline")
            lines = body.split("\n")[:-1]
            if len(lines) % 2:
                err("bulk: odd number of lines")
            recs, items = [], []
            with lock:
                item_fail = state["bulk_fail"] < a.bulk_item_fail
                state["bulk_fail"] += 1
            for k in range(0, len(lines) - 1, 2):
                action, ev = json.loads(lines[k]), json.loads(lines[k + 1])
                sec, _ = ts_parts(ev.get("@timestamp", ""))
                want = time.strftime(a.index_pattern, time.gmtime(sec))
                if action != {"create": {"_index": want}}:
                    err("bulk action %r, expected index %s" % (action, want))
                if item_fail and len(items) % 2 == 1:
                    items.append({"create": {"_index": want, "status": 429,
                                             "error": {"type": "es_rejected_execution_exception"}}})
                    continue
                recs.append({"api": "bulk", "index": want, "event": ev})
                items.append({"create": {"_index": want, "_id": str(len(items)), "status": 201}})
            self.store(recs)
            self.reply(200, {"took": 1, "errors": item_fail, "items": items}, len(recs))

        def store_count(self, n):
            with lock:
                out_write("%d\n" % n)

        def store(self, recs):
            with lock:
                out_write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs))

    srv = ThreadingHTTPServer(("127.0.0.1", a.port), H)
    srv.daemon_threads = True
    if a.tls:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    if a.ready:
        open(a.ready, "w").close()
    srv.serve_forever()


if __name__ == "__main__":
    main()
