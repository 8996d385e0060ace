#!/usr/bin/python3
"""Fluentd forward receiver for the output tests.

Listens on 127.0.0.1:PORT, decodes Forward/PackedForward/Message frames with python3-msgpack,
appends one JSON line per record to OUT ({"tag":..,"time":[sec,nsec],"record":{..}}), flushes,
and only then answers {"ack": chunk} when the option asks for one: an acknowledged event is on
disk. --stall accepts connections and never reads (a collector that hangs). --refuse-acks N
stores the first N acknowledged chunks but never answers them (a lost ack: the sender must
resend, the records arrive twice)."""
import argparse, json, os, socket, sys, threading

import msgpack


def entry_time(t):
    if isinstance(t, msgpack.ExtType) and t.code == 0 and len(t.data) == 8:
        return [int.from_bytes(t.data[:4], "big"), int.from_bytes(t.data[4:], "big")]
    if isinstance(t, int):
        return [t, 0]
    raise ValueError("bad EventTime %r" % (t,))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--errors", required=True)
    ap.add_argument("--stall", action="store_true")
    ap.add_argument("--refuse-acks", type=int, default=0)
    ap.add_argument("--count-only", action="store_true",
                    help="throughput runs: decode the frames, write one line per message with its entry count")
    ap.add_argument("--ready", help="file created once listening")
    a = ap.parse_args()
    lock = threading.Lock()
    refused = [0]
    # One write() a message on an O_APPEND descriptor: a receiver killed mid-message (the tests
    # kill -9 them) leaves whole lines, never a torn one that a buffered writer could flush.
    out_fd = os.open(a.out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def out_write(text):
        data = text.encode("utf-8")
        while data:
            data = data[os.write(out_fd, data):]
    errs = open(a.errors, "a", encoding="utf-8")

    def err(msg):
        with lock:
            errs.write(msg + "\n")
            errs.flush()

    def serve(conn):
        up = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=256 << 20)
        try:
            while True:
                data = conn.recv(1 << 16)
                if not data:
                    return
                up.feed(data)
                for msg in up:
                    if not isinstance(msg, list) or len(msg) not in (2, 3, 4):
                        err("not a forward message: %r" % (msg,)[:200])
                        continue
                    tag = msg[0]
                    opt = {}
                    lines = []
                    if isinstance(msg[1], (bytes, str)):  # PackedForward
                        blob = msg[1] if isinstance(msg[1], bytes) else msg[1].encode("latin-1")
                        opt = msg[2] if len(msg) > 2 else {}
                        eu = msgpack.Unpacker(raw=False, strict_map_key=False)
                        eu.feed(blob)
                        for e in eu:
                            lines.append({"tag": tag, "time": entry_time(e[0]), "record": e[1]})
                        if not isinstance(msg[1], bytes):
                            err("PackedForward entries as str, expected bin")
                    elif isinstance(msg[1], list):  # Forward
                        opt = msg[2] if len(msg) > 2 else {}
                        for e in msg[1]:
                            lines.append({"tag": tag, "time": entry_time(e[0]), "record": e[1]})
                    else:  # Message
                        opt = msg[3] if len(msg) > 3 else {}
                        lines.append({"tag": tag, "time": entry_time(msg[1]), "record": msg[2]})
                    if "size" in opt and opt["size"] != len(lines):
                        err("option size %r != %d entries" % (opt["size"], len(lines)))
                    with lock:
                        if a.count_only:
                            out_write("%d\n" % len(lines))
                        else:
                            out_write("".join(json.dumps(l, ensure_ascii=False) + "\n"
                                              for l in lines))
                    if "chunk" in opt:
                        with lock:
                            refuse = refused[0] < a.refuse_acks
                            refused[0] += 1 if refuse else 0
                        if not refuse:
                            conn.sendall(msgpack.packb({"ack": opt["chunk"]}))
        except (ConnectionError, OSError):
            return
        except Exception as e:  # a decoding error is a test failure, recorded
            err("exception: %r" % (e,))
        finally:
            conn.close()

    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if a.stall:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind(("127.0.0.1", a.port))
    s.listen(16)
    if a.ready:
        open(a.ready, "w").close()
    held = []
    while True:
        c, _ = s.accept()
        if a.stall:
            held.append(c)  # never read
            continue
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
