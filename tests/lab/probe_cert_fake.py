#!/usr/bin/python3
"""probe_cert_fake.py MODE PORT -- misbehaving servers for the certificate-fetch failure tests.

Each mode is one way a probe must fail with exit 3 and a message naming the cause; the real
servers of probe_cert_test.sh cover the successful dialogues. Listens on 127.0.0.1:PORT,
serves connections one after the other until killed.

  silent   accepts and never sends a byte (the probe must give up at its deadline)
  close    accepts and closes at once
  garbage  answers whatever arrives with an HTTP error (not TLS)
  smtp454  SMTP that advertises STARTTLS and then refuses it with 454
  smtpinj  SMTP that sends bytes after its 220 to STARTTLS (CVE-2011-0411 shape)
  imapno   IMAP answering "a NO" to STARTTLS
  pop3err  POP3 answering -ERR to STLS
  ftp534   FTP answering 534 to AUTH TLS
  xmppfail XMPP offering STARTTLS and answering <failure/>
  ldap53   LDAP answering StartTLS with unwillingToPerform (53)
  pgN      PostgreSQL answering 'N' to SSLRequest
"""
import socket
import sys


def lines(f):
    while True:
        line = f.readline()
        if not line:
            return
        yield line.rstrip(b"\r\n")


def smtp(conn, f, inject):
    conn.sendall(b"220 fake.lab.test ESMTP\r\n")
    for line in lines(f):
        cmd = line.upper()
        if cmd.startswith(b"EHLO"):
            conn.sendall(b"250-fake.lab.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
        elif cmd == b"STARTTLS":
            if inject:
                conn.sendall(b"220 2.0.0 Ready to start TLS\r\n250 injected\r\n")
            else:
                conn.sendall(b"454 4.7.0 TLS not available due to local problem\r\n")
        elif cmd == b"QUIT":
            conn.sendall(b"221 bye\r\n")
            return
        else:
            conn.sendall(b"502 5.5.2 Error: command not recognized\r\n")


def serve(mode, conn):
    f = conn.makefile("rb")
    if mode == "silent":
        while conn.recv(4096):
            pass
    elif mode == "close":
        pass
    elif mode == "garbage":
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    elif mode in ("smtp454", "smtpinj"):
        smtp(conn, f, mode == "smtpinj")
    elif mode == "imapno":
        conn.sendall(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] fake ready\r\n")
        for line in lines(f):
            tag = line.split(b" ", 1)[0]
            conn.sendall(b"* CAPABILITY IMAP4rev1\r\n" + tag + b" NO [UNAVAILABLE] TLS is off today\r\n")
    elif mode == "pop3err":
        conn.sendall(b"+OK fake POP3 ready\r\n")
        for _ in lines(f):
            conn.sendall(b"-ERR TLS support not compiled in\r\n")
    elif mode == "ftp534":
        conn.sendall(b"220-fake FTP\r\n220 ready\r\n")
        for _ in lines(f):
            conn.sendall(b"534 Local policy on server does not allow TLS\r\n")
    elif mode == "xmppfail":
        conn.recv(4096)
        conn.sendall(b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                     b"xmlns:stream='http://etherx.jabber.org/streams' id='x1' from='fake.lab.test' "
                     b"version='1.0'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
                     b"<required/></starttls></stream:features>")
        conn.recv(4096)
        conn.sendall(b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>")
    elif mode == "ldap53":
        conn.recv(4096)
        diag = b"TLS not configured"
        op = b"\x0a\x01\x35" + b"\x04\x00" + b"\x04" + bytes([len(diag)]) + diag
        msg = b"\x02\x01\x01" + b"\x78" + bytes([len(op)]) + op
        conn.sendall(b"\x30" + bytes([len(msg)]) + msg)
        conn.recv(4096)
    elif mode == "pgN":
        conn.recv(4096)
        conn.sendall(b"N")
        conn.recv(4096)
    else:
        raise SystemExit("unknown mode " + mode)


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(8)
    while True:
        conn, _ = s.accept()
        conn.settimeout(30)
        try:
            serve(mode, conn)
        except OSError:
            pass
        finally:
            conn.close()


if __name__ == "__main__":
    main()
