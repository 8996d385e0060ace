#!/usr/bin/python3
"""starttls_edge.py -- the STARTTLS lab's own servers and clients for what real software
will not do on request (see tests/lab/README.md, "STARTTLS lab").

  starttls_edge.py serve PKIDIR READYFILE
      Listens (threads, until killed) on:
        127.0.0.2:25    SMTP whose "220 Ready to start TLS" reply is written in two sends
                        100 ms apart (two TCP segments), then TLS 1.2 (mail chain)
        127.0.0.2:5222  XMPP whose <proceed/> is split the same way, then TLS 1.2 (xmpp chain)
        127.0.0.3:25    SMTP whose greeting never ends: "220 " and 1 MiB without a newline,
                        then close
        127.0.0.4:25    SMTP that says "220 Ready" to STARTTLS, then goes on in plaintext
        127.0.0.1:3306  MySQL: protocol-10 greeting advertising CLIENT_SSL, reads the
                        client's SSLRequest, then TLS 1.2 (mail chain). No MySQL/MariaDB
                        server is used: mariadb-server is heavy for a test dependency.
      TLS is Python's ssl module, i.e. real OpenSSL; only the plaintext phase is ours.
      READYFILE is written once every socket listens.

  starttls_edge.py client KIND HOST PORT [CAFILE]
      smtp-pipelined   "EHLO" and "STARTTLS" in ONE send (one segment), TLS 1.2, EHLO, QUIT
      imap-pipelined   "a CAPABILITY" and "b STARTTLS" in one send, TLS 1.2, LOGOUT
      smtp-refused     EHLO, STARTTLS (sent although not offered), expects a 4xx/5xx, QUIT
      smtp-split       smtplib (the standard client library) STARTTLS, TLS 1.2, QUIT
      xmpp-split       stream, <starttls/>, reads the whole <proceed/>, TLS 1.2, </stream>
      smtp-endless     reads the endless greeting to EOF, checks >= 1 MiB arrived
      smtp-plain-after EHLO, STARTTLS, "220", then EHLO/QUIT in plaintext anyway
Exit 0 only if the exchange went as described.
"""
import os
import smtplib
import socket
import ssl
import struct
import sys
import threading
import time

ENDLESS = 1024 * 1024


def server_ctx(pki, name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.path.join(pki, name + ".chain.pem"), os.path.join(pki, name + ".key"))
    return ctx


def client_ctx(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False  # the lab has no DNS; the chain is still verified
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def readline(sock, buf):
    """One CRLF-terminated line from sock; buf (bytearray) keeps what came after it."""
    while b"\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError("connection closed mid-line")
        buf += chunk
    i = buf.index(b"\n") + 1
    line = bytes(buf[:i])
    del buf[:i]
    return line


def read_until(sock, buf, marker):
    while marker not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError(f"connection closed before {marker!r}")
        buf += chunk
    i = buf.index(marker) + len(marker)
    got = bytes(buf[:i])
    del buf[:i]
    return got


def split_send(sock, data, at):
    """Two sends 100 ms apart with Nagle off: two TCP segments on the wire."""
    sock.sendall(data[:at])
    time.sleep(0.1)
    sock.sendall(data[at:])


def drain_tls(tls):
    try:
        while tls.recv(4096):
            pass
    except (OSError, ssl.SSLError):
        pass


def serve_smtp_split(conn, ctx):
    buf = bytearray()
    conn.sendall(b"220 split.lab.test ESMTP lab\r\n")
    while True:
        line = readline(conn, buf).upper()
        if line.startswith(b"EHLO"):
            conn.sendall(b"250-split.lab.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
        elif line.startswith(b"STARTTLS"):
            split_send(conn, b"220 2.0.0 Ready to start TLS\r\n", 7)
            break
        else:
            conn.sendall(b"502 5.5.2 unexpected\r\n")
            return
    tls = ctx.wrap_socket(conn, server_side=True)
    b2 = bytearray()
    while True:
        line = readline(tls, b2).upper()
        if line.startswith(b"EHLO"):
            tls.sendall(b"250 split.lab.test\r\n")
        elif line.startswith(b"QUIT"):
            tls.sendall(b"221 2.0.0 Bye\r\n")
            break
        else:
            tls.sendall(b"502 5.5.2 unexpected\r\n")
    drain_tls(tls)


XMPP_STREAM = (b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
               b"xmlns:stream='http://etherx.jabber.org/streams' id='lab1' "
               b"from='xmpp.lab.test' version='1.0'>")
XMPP_FEATURES = (b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
                 b"<required/></starttls></stream:features>")
XMPP_PROCEED = b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"


def serve_xmpp_split(conn, ctx):
    buf = bytearray()
    read_until(conn, buf, b">")  # <?xml ...?>
    read_until(conn, buf, b"version='1.0'>")
    conn.sendall(XMPP_STREAM + XMPP_FEATURES)
    read_until(conn, buf, b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    split_send(conn, XMPP_PROCEED, 5)  # "<proc" | "eed xmlns=.../>"
    tls = ctx.wrap_socket(conn, server_side=True)
    drain_tls(tls)


def serve_smtp_endless(conn, _ctx):
    conn.sendall(b"220 ")
    # Paced a little so tcpdump keeps up (the lab requires a capture without drops).
    block = b"A" * 16384
    for _ in range(ENDLESS // len(block)):
        conn.sendall(block)
        time.sleep(0.002)
    conn.shutdown(socket.SHUT_WR)
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass


def serve_smtp_plain_after(conn, _ctx):
    buf = bytearray()
    conn.sendall(b"220 plain.lab.test ESMTP lab\r\n")
    while True:
        line = readline(conn, buf).upper()
        if line.startswith(b"EHLO"):
            conn.sendall(b"250-plain.lab.test\r\n250 STARTTLS\r\n")
        elif line.startswith(b"STARTTLS"):
            conn.sendall(b"220 2.0.0 Ready to start TLS\r\n")
        elif line.startswith(b"QUIT"):
            conn.sendall(b"221 2.0.0 Bye\r\n")
            return
        else:
            conn.sendall(b"502 5.5.2 unexpected\r\n")


def recv_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError("connection closed")
        out += chunk
    return out


def mysql_packet(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


CLIENT_SSL = 0x0800


def serve_mysql(conn, ctx):
    caps = 0x0001 | 0x0200 | CLIENT_SSL | 0x8000 | 0x00080000  # LONG_PASSWORD, PROTOCOL_41,
    # SSL, SECURE_CONNECTION, PLUGIN_AUTH
    salt = b"abcdefgh" + b"ijklmnopqrst"
    payload = (b"\x0a" + b"8.0.36-mwlab\x00" + struct.pack("<I", 7) + salt[:8] + b"\x00"
               + struct.pack("<H", caps & 0xFFFF) + b"\x21" + struct.pack("<H", 2)
               + struct.pack("<H", caps >> 16) + bytes([21]) + b"\x00" * 10
               + salt[8:] + b"\x00" + b"mysql_native_password\x00")
    conn.sendall(mysql_packet(0, payload))
    # Exact reads: the client sends its ClientHello right behind the SSLRequest without
    # waiting, and those bytes must stay in the socket for the TLS layer.
    head = recv_exact(conn, 4)
    length = head[0] | head[1] << 8 | head[2] << 16
    buf = head + recv_exact(conn, length)
    flags = struct.unpack("<I", bytes(buf[4:8]))[0]
    if length != 32 or not flags & CLIENT_SSL:
        return  # not an SSLRequest
    tls = ctx.wrap_socket(conn, server_side=True)
    drain_tls(tls)


def listener(addr, port, handler, ctx):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(8)

    def loop():
        while True:
            conn, _ = s.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def one(c=conn):
                try:
                    handler(c, ctx)
                except (OSError, EOFError, ssl.SSLError) as e:
                    print(f"starttls_edge: {addr}:{port}: {e}", file=sys.stderr, flush=True)
                finally:
                    c.close()
            threading.Thread(target=one, daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()


def serve(pki, ready):
    mail = server_ctx(pki, "mail")
    xmpp = server_ctx(pki, "xmpp")
    listener("127.0.0.2", 25, serve_smtp_split, mail)
    listener("127.0.0.2", 5222, serve_xmpp_split, xmpp)
    listener("127.0.0.3", 25, serve_smtp_endless, None)
    listener("127.0.0.4", 25, serve_smtp_plain_after, None)
    listener("127.0.0.1", 3306, serve_mysql, mail)
    with open(ready, "w", encoding="ascii") as f:
        f.write("ready\n")
    while True:
        time.sleep(3600)


def expect(line, prefix, what):
    if not line.startswith(prefix):
        raise SystemExit(f"starttls_edge: {what}: expected {prefix!r} got {line!r}")


def smtp_reply(sock, buf):
    """A whole (possibly multi-line) SMTP reply; returns its last line."""
    while True:
        line = readline(sock, buf)
        if line[3:4] != b"-":
            return line


def client(kind, host, port, cafile):
    if kind == "smtp-split":
        with smtplib.SMTP(host, port, local_hostname="client.lab.test", timeout=10) as s:
            s.starttls(context=client_ctx(cafile))
            s.ehlo("client.lab.test")
        return
    sock = socket.create_connection((host, port), timeout=10)
    buf = bytearray()
    if kind == "smtp-pipelined":
        expect(smtp_reply(sock, buf), b"220", "greeting")
        sock.sendall(b"EHLO client.lab.test\r\nSTARTTLS\r\n")
        expect(smtp_reply(sock, buf), b"250", "EHLO")
        expect(smtp_reply(sock, buf), b"220", "STARTTLS")
        tls = client_ctx(cafile).wrap_socket(sock)
        b2 = bytearray()
        tls.sendall(b"EHLO client.lab.test\r\n")
        expect(smtp_reply(tls, b2), b"250", "EHLO over TLS")
        tls.sendall(b"QUIT\r\n")
        expect(smtp_reply(tls, b2), b"221", "QUIT")
        tls.close()
    elif kind == "imap-pipelined":
        expect(readline(sock, buf), b"* OK", "greeting")
        sock.sendall(b"a CAPABILITY\r\nb STARTTLS\r\n")
        while True:
            line = readline(sock, buf)
            if line.startswith(b"b "):
                break
        expect(line, b"b OK", "STARTTLS")
        tls = client_ctx(cafile).wrap_socket(sock)
        b2 = bytearray()
        tls.sendall(b"c LOGOUT\r\n")
        while not readline(tls, b2).startswith(b"c OK"):
            pass
        tls.close()
    elif kind == "smtp-refused":
        expect(smtp_reply(sock, buf), b"220", "greeting")
        sock.sendall(b"EHLO client.lab.test\r\n")
        expect(smtp_reply(sock, buf), b"250", "EHLO")
        sock.sendall(b"STARTTLS\r\n")
        line = smtp_reply(sock, buf)
        if line[:1] not in (b"4", b"5"):
            raise SystemExit(f"starttls_edge: STARTTLS was not refused: {line!r}")
        print(f"starttls_edge: refused with {line.decode().strip()}")
        sock.sendall(b"QUIT\r\n")
        expect(smtp_reply(sock, buf), b"221", "QUIT")
        sock.close()
    elif kind == "xmpp-split":
        sock.sendall(b"<?xml version='1.0'?><stream:stream to='xmpp.lab.test' "
                     b"xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
                     b"version='1.0'>")
        read_until(sock, buf, b"</stream:features>")
        sock.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        read_until(sock, buf, XMPP_PROCEED)
        tls = client_ctx(cafile).wrap_socket(sock)
        tls.sendall(b"</stream:stream>")
        tls.close()
    elif kind == "smtp-endless":
        n = 0
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            n += len(chunk)
        if n < ENDLESS:
            raise SystemExit(f"starttls_edge: endless greeting: only {n} bytes")
        sock.close()
    elif kind == "smtp-plain-after":
        expect(smtp_reply(sock, buf), b"220", "greeting")
        sock.sendall(b"EHLO client.lab.test\r\n")
        expect(smtp_reply(sock, buf), b"250", "EHLO")
        sock.sendall(b"STARTTLS\r\n")
        expect(smtp_reply(sock, buf), b"220", "STARTTLS")
        # The claimed upgrade never happens: both sides go on in plaintext.
        sock.sendall(b"EHLO client.lab.test\r\n")
        expect(smtp_reply(sock, buf), b"250", "EHLO after upgrade")
        sock.sendall(b"QUIT\r\n")
        expect(smtp_reply(sock, buf), b"221", "QUIT")
        sock.close()
    else:
        raise SystemExit(f"starttls_edge: unknown client kind {kind}")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3])
    elif len(sys.argv) in (5, 6) and sys.argv[1] == "client":
        client(sys.argv[2], sys.argv[3], int(sys.argv[4]),
               sys.argv[5] if len(sys.argv) == 6 else None)
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
