#!/usr/bin/python3
"""xmpp_tls_proxy.py ADDR PORT MODE [CHAIN KEY] -- a box on the path that terminates XMPP
STARTTLS with its own TLS configuration (jabber_scenario.sh, phases legacy and anon).

It speaks the server side of the XMPP STARTTLS dialogue (RFC 6120 5.4.2: stream header,
features with <starttls/>, <proceed/>), then the TLS handshake, then reads until the client
goes, for one connection after another until killed. MODE:
  legacy  TLS 1.2 only, one suite (ECDHE-ECDSA-AES128-SHA), no session tickets, CHAIN/KEY as
          its certificate: a TLS configuration unlike the real server's, so the ServerHello
          of a client kind the server answered differently has another JA3S.
  anon    TLS 1.2 only, anonymous suites only (aNULL: no certificate at all), as the jabber.ru
          proxy offered: clients that refuse anonymous suites fail their handshakes.
Only the Python standard library is used.
"""
import socket
import ssl
import sys

FEATURES = ("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
            "xmlns:stream='http://etherx.jabber.org/streams' id='mitm1' from='xmpp.lab.test' "
            "version='1.0'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
            "<required/></starttls></stream:features>")
PROCEED = "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"


def read_until(conn, marker, limit=65536, data=b""):
    while marker not in data:
        chunk = conn.recv(4096)
        if not chunk or len(data) > limit:
            return None
        data += chunk
    return data


def context(mode, chain, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_NO_TICKET
    if mode == "anon":
        ctx.set_ciphers("aNULL:@SECLEVEL=0")
    else:
        ctx.set_ciphers("ECDHE-ECDSA-AES128-SHA")
        ctx.load_cert_chain(chain, key)
    return ctx


def serve(conn, ctx):
    conn.settimeout(5)
    head = read_until(conn, b"<stream:stream")
    if head is None:
        return
    head = head[head.index(b"<stream:stream"):]
    if b">" not in head and read_until(conn, b">", data=head) is None:
        return
    conn.sendall(FEATURES.encode())
    if read_until(conn, b"starttls") is None:
        return
    conn.sendall(PROCEED.encode())
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
        tls.settimeout(2)
        while tls.recv(4096):
            pass
    except (ssl.SSLError, OSError):
        pass


def main(argv):
    addr, port, mode = argv[1], int(argv[2]), argv[3]
    ctx = context(mode, *(argv[4:6] if mode != "anon" else (None, None)))
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(8)
    while True:
        conn, _ = srv.accept()
        try:
            serve(conn, ctx)
        except OSError:
            pass
        finally:
            conn.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
