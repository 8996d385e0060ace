#!/usr/bin/python3
"""Loopback helpers for the JARM lab test (stdlib only; listens on 127.0.0.1 / ::1 only).

  scripted HOST PORT SCRIPT [LOG]   answer connection k with line k (mod lines) of SCRIPT:
                                    hex:<bytes> | close | read-close | silent; LOG gets the hex
                                    of each ClientHello received
  record-proxy HOST PORT TPORT OUT  for each connection: read the ClientHello, pass it to
                                    127.0.0.1:TPORT, read once, hand back the first 1484 bytes
                                    and write them (hex, '-' if none) to OUT, one line each
  socks5 HOST PORT                  SOCKS5, no authentication, CONNECT to loopback only
"""
import select
import socket
import sys
import threading


def listen(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(16)
    return s


def read_record(c):
    """Reads one TLS record (the ClientHello); returns what arrived."""
    c.settimeout(10)
    buf = b""
    try:
        while len(buf) < 5 or len(buf) < 5 + int.from_bytes(buf[3:5], "big"):
            d = c.recv(65536)
            if not d:
                break
            buf += d
    except OSError:
        pass
    return buf


def scripted(host, port, script, log=None):
    lines = [l.strip() for l in open(script) if l.strip() and not l.startswith("#")]
    s = listen(host, port)
    k = 0
    while True:
        c, _ = s.accept()
        act = lines[k % len(lines)]
        k += 1
        try:
            if act == "close":
                c.close()
                continue
            hello = read_record(c)
            if log:
                with open(log, "a") as f:
                    f.write(hello.hex() + "\n")
            if act.startswith("hex:"):
                c.sendall(bytes.fromhex(act[4:]))
            elif act == "silent":
                c.settimeout(None)
                while c.recv(4096):
                    pass
            c.close()
        except OSError:
            c.close()


def record_proxy(host, port, tport, out):
    s = listen(host, port)
    while True:
        c, _ = s.accept()
        hello = read_record(c)
        ans = b""
        try:
            u = socket.create_connection(("127.0.0.1", tport), timeout=10)
            u.sendall(hello)
            ans = u.recv(65536)[:1484]
            u.close()
        except OSError:
            pass
        with open(out, "a") as f:
            f.write((ans.hex() or "-") + "\n")
        try:
            if ans:
                c.sendall(ans)
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        c.close()


def relay(a, b):
    try:
        while True:
            r, _, _ = select.select([a, b], [], [], 30)
            if not r:
                break
            for x in r:
                d = x.recv(65536)
                if not d:
                    return
                (b if x is a else a).sendall(d)
    except OSError:
        pass
    finally:
        a.close()
        b.close()


def socks5_one(c):
    c.settimeout(10)
    try:
        ver, n = c.recv(2)
        methods = c.recv(n)
        if ver != 5 or 0 not in methods:
            c.close()
            return
        c.sendall(b"\x05\x00")
        hdr = c.recv(4)
        if hdr[3] == 1:
            addr = socket.inet_ntop(socket.AF_INET, c.recv(4))
        elif hdr[3] == 4:
            addr = socket.inet_ntop(socket.AF_INET6, c.recv(16))
        else:
            addr = c.recv(c.recv(1)[0]).decode()
        port = int.from_bytes(c.recv(2), "big")
        if addr not in ("127.0.0.1", "::1", "localhost"):
            c.sendall(b"\x05\x02\x00\x01" + bytes(6))  # not allowed by ruleset
            c.close()
            return
        u = socket.create_connection((addr, port), timeout=10)
        c.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01" + port.to_bytes(2, "big"))
        c.settimeout(None)
        relay(c, u)
    except (OSError, ValueError, IndexError):
        c.close()


def socks5(host, port):
    s = listen(host, port)
    while True:
        c, _ = s.accept()
        threading.Thread(target=socks5_one, args=(c,), daemon=True).start()


if __name__ == "__main__":
    cmd, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if cmd == "scripted":
        scripted(host, port, sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else None)
    elif cmd == "record-proxy":
        record_proxy(host, port, int(sys.argv[4]), sys.argv[5])
    elif cmd == "socks5":
        socks5(host, port)
    else:
        sys.exit("unknown command " + cmd)
