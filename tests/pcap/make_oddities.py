#!/usr/bin/env python3
"""Hand-made captures of proxy dialogues and TLS/TCP oddities (issue 13), byte for byte.

usage: make_oddities.py OUTDIR

Writes OUTDIR/NAME.pcap for every case in oddities.json. Everything is deterministic (fixed
ISNs, randoms, times, and an Ed25519 certificate made from a fixed seed), so the expected
values in oddities.json are literal. The TLS handshakes are plaintext up to the
ChangeCipherSpecs; what follows is opaque filler, as on the wire.
"""
import datetime
import os
import struct
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

T0 = 1_700_000_000


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip_bytes(a):
    return bytes(int(x) for x in a.split("."))


class Pcap:
    def __init__(self):
        self.recs = []
        self.t = 0

    def add(self, frame):
        self.t += 1000
        ts = T0 * 1000000 + self.t
        self.recs.append(struct.pack("<IIII", ts // 1000000, ts % 1000000, len(frame), len(frame)) + frame)

    def write(self, path):
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            for r in self.recs:
                f.write(r)


F_FIN, F_SYN, F_RST, F_PSH, F_ACK = 1, 2, 4, 8, 16


class Conn:
    """One TCP connection between client c and server s; seq/ack tracked per direction."""

    def __init__(self, pcap, c=("10.0.0.1", 40000), s=("10.0.0.2", 443), cisn=1000, sisn=5000):
        self.p, self.c, self.s = pcap, c, s
        self.seq = {0: cisn, 1: sisn}  # next sequence number by role
        self.ipid = 1

    def seg(self, role, flags, payload=b"", seq=None, ack=None):
        src, dst = (self.c, self.s) if role == 0 else (self.s, self.c)
        if seq is None:
            seq = self.seq[role]
        if ack is None:
            ack = self.seq[1 - role] if flags & F_ACK else 0
        tcp = struct.pack("!HHIIBBHHH", src[1], dst[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4,
                          flags, 65535, 0, 0)
        pseudo = ip_bytes(src[0]) + ip_bytes(dst[0]) + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
        c = csum(pseudo + tcp + payload)
        tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), self.ipid, 0x4000,
                         64, 6, 0, ip_bytes(src[0]), ip_bytes(dst[0]))
        self.ipid += 1
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" if role == 0 else b"\x02\0\0\0\0\x01" + b"\x02\0\0\0\0\x02"
        self.p.add(eth + b"\x08\x00" + ip + tcp + payload)
        self.seq[role] = seq + len(payload) + (1 if flags & (F_SYN | F_FIN) else 0)

    def handshake(self):
        self.seg(0, F_SYN)
        self.seg(1, F_SYN | F_ACK)
        self.seg(0, F_ACK)

    def send(self, role, data, mss=1400):
        for i in range(0, len(data), mss):
            self.seg(role, F_PSH | F_ACK, data[i:i + mss])
        self.seg(1 - role, F_ACK)

    def close(self):
        self.seg(0, F_FIN | F_ACK)
        self.seg(1, F_FIN | F_ACK)
        self.seg(0, F_ACK)


# ---- TLS messages ------------------------------------------------------------------------

def u8(v): return struct.pack("!B", v)
def u16(v): return struct.pack("!H", v)
def u24(v): return struct.pack("!I", v)[1:]
def vec8(b): return u8(len(b)) + b
def vec16(b): return u16(len(b)) + b
def vec24(b): return u24(len(b)) + b


def ext(t, body): return u16(t) + vec16(body)


def record(ct, body, version=0x0303):
    out = b""
    for i in range(0, len(body), 16384):
        out += u8(ct) + u16(version) + vec16(body[i:i + 16384])
    return out


def hs(t, body): return u8(t) + vec24(body)


CH_CIPHERS = [0xC02F, 0xC030, 0x009E, 0x002F, 0x0035]


def client_hello(sni=None, versions=None):
    exts = b""
    if sni:
        exts += ext(0, vec16(u8(0) + vec16(sni.encode())))
    exts += ext(10, vec16(u16(29) + u16(23)))
    exts += ext(11, vec8(u8(0)))
    exts += ext(13, vec16(u16(0x0403) + u16(0x0804) + u16(0x0807)))
    if versions:
        exts += ext(43, vec8(b"".join(u16(v) for v in versions)))
        exts += ext(51, vec16(u16(29) + vec16(bytes(32))))
    body = u16(0x0303) + bytes(range(32)) + vec8(b"") + vec16(b"".join(u16(c) for c in CH_CIPHERS))
    body += vec8(u8(0)) + vec16(exts)
    return hs(1, body)


def server_hello(version=0x0303, cipher=0xC02F, legacy=0x0303, sv=None):
    exts = ext(0xFF01, vec8(b""))
    if sv is not None:
        exts = ext(43, u16(sv)) + ext(51, u16(29) + vec16(bytes(32)))
    body = u16(legacy) + bytes(range(100, 132)) + vec8(b"") + u16(cipher) + u8(0) + vec16(exts)
    return hs(2, body)


def certificate(ders):
    return hs(11, vec24(b"".join(vec24(d) for d in ders)))


def make_cert(cn, pad=0):
    """An Ed25519 self-signed certificate from a fixed seed: the same bytes every run."""
    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
         .public_key(key.public_key()).serial_number(0x1234)
         .not_valid_before(datetime.datetime(2023, 1, 1))
         .not_valid_after(datetime.datetime(2033, 1, 1))
         .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False))
    if pad:  # a big certificate: an unknown non-critical extension of pad bytes
        b = b.add_extension(x509.UnrecognizedExtension(
            x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x04\x83" + struct.pack("!I", pad)[1:] + b"\xab" * pad),
            critical=False)
    return b.sign(key, None).public_bytes(serialization.Encoding.DER)


def tls12_handshake(conn, sni="example.test", ders=None, ch=None):
    ders = ders if ders is not None else [make_cert(sni or "example.test")]
    conn.send(0, ch if ch is not None else record(0x16, client_hello(sni), 0x0301))
    conn.send(1, record(0x16, server_hello() + certificate(ders) + hs(14, b"")))
    conn.send(0, record(0x16, hs(16, vec8(bytes(32)))) + record(0x14, b"\x01") + record(0x16, bytes(40)))
    conn.send(1, record(0x14, b"\x01") + record(0x16, bytes(40)))
    conn.send(0, record(0x17, bytes(64)))


# ---- the cases ---------------------------------------------------------------------------

def http_connect(path, target="example.test:443", sni="example.test", refused=None, auth407=False):
    p = Pcap()
    c = Conn(p, s=("10.0.0.2", 3128))
    c.handshake()
    req = "CONNECT %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: curl/7.88.1\r\n\r\n" % (target, target)
    if auth407:
        c.send(0, req.encode())
        body = b"<html>auth</html>"
        c.send(1, b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"p\"\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)
        req = req.replace("\r\n\r\n", "\r\nProxy-Authorization: Basic dTpw\r\n\r\n")
    c.send(0, req.encode())
    if refused:
        c.send(1, b"HTTP/1.1 %d Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % refused)
        c.close()
    else:
        c.send(1, b"HTTP/1.1 200 Connection established\r\n\r\n")
        tls12_handshake(c, sni)
        c.close()
    p.write(path)


def http_connect_plain(path):
    """CONNECT to port 80, then plain HTTP through the tunnel: no TLS, counted."""
    p = Pcap()
    c = Conn(p, s=("10.0.0.2", 3128))
    c.handshake()
    c.send(0, b"CONNECT example.test:80 HTTP/1.1\r\nHost: example.test:80\r\n\r\n")
    c.send(1, b"HTTP/1.1 200 Connection established\r\n\r\n")
    c.send(0, b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n")
    c.send(1, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    c.close()
    p.write(path)


def socks4(path, a=False):
    p = Pcap()
    c = Conn(p, s=("10.0.0.2", 1080))
    c.handshake()
    if a:
        c.send(0, b"\x04\x01" + u16(443) + bytes([0, 0, 0, 1]) + b"user\0" + b"example.test\0")
    else:
        c.send(0, b"\x04\x01" + u16(8443) + bytes([192, 0, 2, 7]) + b"\0")
    c.send(1, b"\x00\x5a" + bytes(6))
    tls12_handshake(c, "example.test")
    c.close()
    p.write(path)


def socks5(path, atyp="domain", userpass=False, rep=0):
    p = Pcap()
    c = Conn(p, s=("10.0.0.2", 1080))
    c.handshake()
    c.send(0, b"\x05\x02\x00\x02" if userpass else b"\x05\x01\x00")
    c.send(1, b"\x05\x02" if userpass else b"\x05\x00")
    if userpass:
        c.send(0, b"\x01" + vec8(b"alice") + vec8(b"secret"))
        c.send(1, b"\x01\x00")
    if atyp == "domain":
        addr = b"\x03" + vec8(b"example.test")
    elif atyp == "ipv6":
        addr = b"\x04" + bytes.fromhex("20010db8000000000000000000000001")
    else:
        addr = b"\x01" + bytes([192, 0, 2, 9])
    c.send(0, b"\x05\x01\x00" + addr + u16(443))
    c.send(1, b"\x05" + u8(rep) + b"\x00\x01" + bytes([10, 0, 0, 2]) + u16(50000))
    if rep == 0:
        tls12_handshake(c, "example.test" if atyp == "domain" else "other.test")
    c.close()
    p.write(path)


def sslv2_hello(path):
    """An SSLv2-compatible CLIENT-HELLO offering TLS 1.0, then a TLS 1.0 ServerHello."""
    p = Pcap()
    c = Conn(p)
    c.handshake()
    specs = [0x010080, 0x0700C0, 0x000035, 0x00002F, 0x00000A, 0x0000FF]
    body = u8(1) + u16(0x0301) + u16(3 * len(specs)) + u16(0) + u16(16)
    body += b"".join(struct.pack("!I", s)[1:] for s in specs) + bytes(range(16))
    ch = u16(0x8000 | len(body)) + body
    ders = [make_cert("example.test")]
    c.send(0, ch)
    c.send(1, record(0x16, server_hello(0x0301, 0x0035, 0x0301) + certificate(ders) + hs(14, b""), 0x0301))
    c.send(0, record(0x16, hs(16, vec16(bytes(64))), 0x0301) + record(0x14, b"\x01", 0x0301) + record(0x16, bytes(40), 0x0301))
    c.send(1, record(0x14, b"\x01", 0x0301) + record(0x16, bytes(40), 0x0301))
    c.close()
    p.write(path)


def tls13_draft(path, version):
    p = Pcap()
    c = Conn(p)
    c.handshake()
    c.send(0, record(0x16, client_hello("example.test", [version, 0x0303]), 0x0301))
    c.send(1, record(0x16, server_hello(0x0303, 0x1301, 0x0303, sv=version)) + record(0x14, b"\x01")
           + record(0x17, bytes(200)))
    c.send(0, record(0x14, b"\x01") + record(0x17, bytes(60)))
    c.send(0, record(0x17, bytes(80)))
    c.close()
    p.write(path)


def big_cert(path):
    p = Pcap()
    c = Conn(p)
    c.handshake()
    ders = [make_cert("example.test", pad=200_000), make_cert("ca.example.test", pad=200_000)]
    tls12_handshake(c, "example.test", ders)
    c.close()
    p.write(path)


def tfo(path):
    """TCP Fast Open: the ClientHello rides in the SYN, the ServerHello flight in the SYN-ACK."""
    p = Pcap()
    c = Conn(p)
    ch = record(0x16, client_hello("example.test"), 0x0301)
    c.seg(0, F_SYN, ch)
    sflight = record(0x16, server_hello() + certificate([make_cert("example.test")]) + hs(14, b""))
    c.seg(1, F_SYN | F_ACK, sflight)
    c.seg(0, F_ACK)
    c.send(0, record(0x16, hs(16, vec8(bytes(32)))) + record(0x14, b"\x01") + record(0x16, bytes(40)))
    c.send(1, record(0x14, b"\x01") + record(0x16, bytes(40)))
    c.close()
    p.write(path)


def synack_isn(path):
    """The SYN-ACK retransmitted with another ISN; the client acknowledges the second one."""
    p = Pcap()
    c = Conn(p, sisn=5000)
    c.seg(0, F_SYN)
    c.seg(1, F_SYN | F_ACK)           # ISN 5000
    c.seq[1] = 900000                 # the server restarted its half
    c.seg(1, F_SYN | F_ACK)           # ISN 900000
    c.seg(0, F_ACK)                   # acks 900001
    tls12_handshake(c, "example.test")
    c.close()
    p.write(path)


def simultaneous(path):
    """Simultaneous open (RFC 793 figure 8): SYN both ways, then SYN-ACK both ways."""
    p = Pcap()
    c = Conn(p, c=("10.0.0.1", 40001), s=("10.0.0.2", 40002))
    c.seg(0, F_SYN)
    c.seg(1, F_SYN)
    c.seg(0, F_SYN | F_ACK, seq=c.seq[0] - 1)
    c.seg(1, F_SYN | F_ACK, seq=c.seq[1] - 1)
    tls12_handshake(c, "example.test")
    c.close()
    p.write(path)


def midstream(path):
    """The capture starts after the ClientHello: ServerHello, Certificate, then both CCS."""
    p = Pcap()
    c = Conn(p)
    c.seq[0] += 1 + 300
    c.seq[1] += 1
    c.send(1, record(0x16, server_hello() + certificate([make_cert("example.test")]) + hs(14, b"")))
    c.send(0, record(0x16, hs(16, vec8(bytes(32)))) + record(0x14, b"\x01") + record(0x16, bytes(40)))
    c.send(1, record(0x14, b"\x01") + record(0x16, bytes(40)))
    c.close()
    p.write(path)


CASES = {
    "proxy_connect": lambda o: http_connect(o),
    "proxy_connect_mismatch": lambda o: http_connect(o, target="example.test:443", sni="other.test"),
    "proxy_connect_407": lambda o: http_connect(o, auth407=True),
    "proxy_connect_refused": lambda o: http_connect(o, refused=403),
    "proxy_connect_ipv6": lambda o: http_connect(o, target="[2001:db8::1]:8443"),
    "proxy_connect_plain": http_connect_plain,
    "proxy_socks4": lambda o: socks4(o),
    "proxy_socks4a": lambda o: socks4(o, a=True),
    "proxy_socks5": lambda o: socks5(o),
    "proxy_socks5_userpass": lambda o: socks5(o, userpass=True),
    "proxy_socks5_ipv6": lambda o: socks5(o, atyp="ipv6"),
    "proxy_socks5_refused": lambda o: socks5(o, rep=5),
    "sslv2_hello": sslv2_hello,
    "tls13_draft28": lambda o: tls13_draft(o, 0x7F1C),
    "tls13_fb_draft": lambda o: tls13_draft(o, 0xFB1A),
    "big_cert": big_cert,
    "tfo": tfo,
    "synack_isn": synack_isn,
    "simultaneous_open": simultaneous,
    "midstream": midstream,
}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, fn in CASES.items():
        fn(os.path.join(out, name + ".pcap"))


if __name__ == "__main__":
    main()
