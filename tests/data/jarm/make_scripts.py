#!/usr/bin/python3
"""Writes the crafted server answers the JARM tests replay (scripted_*.txt), one line per
connection: 'hex:<bytes>' (read the ClientHello, send the bytes, close), 'close' (close at
once without reading), 'read-close' (read the ClientHello, close), 'silent' (read, never
answer). Run once when the scripts change; the outputs are committed. The expected JARM of each
script was then recorded by running Salesforce's jarm.py against it (see expected.txt)."""
import os
import struct


def ext(t, body=b""):
    return struct.pack(">HH", t, len(body)) + body


def alpn(*names):
    lst = b"".join(bytes([len(n)]) + n for n in names)
    return ext(0x0010, struct.pack(">H", len(lst)) + lst)


def server_hello(cipher=0xC02F, version=0x0303, sid=32, exts=b"", ext_len=None,
                 rec_len=None, tail=b""):
    body = struct.pack(">H", version) + bytes(range(0x40, 0x60)) + bytes([sid])
    body += bytes(range(0xA0, 0xA0 + sid)) if sid <= 96 else bytes(sid)
    body += struct.pack(">H", cipher) + b"\x00"
    body += struct.pack(">H", len(exts) if ext_len is None else ext_len) + exts
    hs = b"\x02" + struct.pack(">I", len(body))[1:] + body
    rec = b"\x16\x03\x03" + struct.pack(">H", len(hs) if rec_len is None else rec_len) + hs
    return rec + tail


CERT_START = bytes.fromhex("16030301c00b0001bc0001b90001b6308201b230820158a003020102")
NORMAL = ext(0xFF01, b"\x00") + ext(0x000B, b"\x03\x00\x01\x02") + ext(0x0023) + \
    alpn(b"h2") + ext(0x0017)

script_a = [
    server_hello(exts=NORMAL, tail=CERT_START),                      # ordinary 1.2 answer
    server_hello(exts=ext(0xFF01, b"\x00") + ext(0x0010)),           # empty ALPN: raises
    server_hello(exts=alpn(b"h\xff2")),                              # ALPN not UTF-8: raises
    bytes.fromhex("15030300020228"),                                 # handshake_failure alert
    server_hello(exts=NORMAL)[:40],                                  # too short for sid length
    server_hello(exts=NORMAL)[:server_hello(exts=NORMAL).index(b"\x00\x23\x00\x00") + 2],
    server_hello(sid=0, cipher=0x009C, exts=ext(0xFF01, b"\x00") + ext(0x0017)),
    server_hello(exts=NORMAL, ext_len=0x0B00),                       # "11" where the length is
    server_hello(exts=NORMAL, rec_len=0x0020),                       # record length too small
    server_hello(cipher=0x1302, exts=ext(0x002B, b"\x03\x04") + ext(0x0033, b"\x00\x1d\x00\x20"
                 + bytes(32)) + alpn(b"h2", b"http/1.1")),           # 1.3, two ALPN names
]
script_b = [
    server_hello(exts=alpn(b"a|b") + ext(0x0017)),                   # '|' inside the ALPN text
    server_hello(exts=ext(0x0017) + ext(0x0023), ext_len=4 + 1),     # walk stops one short
    server_hello(exts=ext(0x0017) + struct.pack(">HH", 0x0005, 300) + b"\x01\x02", ext_len=6),
    server_hello(exts=b"\x00\x0e\xac\x0b" + ext(0x0017)),              # 0eac0b at counter+50
    server_hello(sid=1, exts=ext(0x0015, bytes(28)) + b"\x0f\xf0\x0b\x00"
                 + ext(0x0017)),                                     # 0ff00b at offset 82
    bytes.fromhex("160303000f0e000000") + bytes(40),                 # handshake, not ServerHello
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    None,                                                            # close without answering
    server_hello(cipher=0x1234, version=0x0300, exts=ext(0xFF01, b"\x00")),
    server_hello(sid=255)[:120],                                     # sid length beyond the data
]
script_c = [server_hello(version=0x0306, exts=ext(0xFF01, b"\x00"))] + [None] * 9


def write(name, answers):
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, name), "w") as f:
        for a in answers:
            f.write("close\n" if a is None else "hex:" + a.hex() + "\n")


write("scripted_a.txt", script_a)
write("scripted_b.txt", script_b)
write("scripted_c.txt", script_c)
