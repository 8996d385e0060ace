#!/usr/bin/python3
"""Builds fuzz seed inputs from a pcap of real TLS traffic (Ethernet link type).
usage: make_seeds.py PCAP OUTDIR_PREFIX NAME
Writes corpus/engine/NAME (frames) and corpus/tls_session/NAME (the TCP payloads per side)."""
import struct, sys

def frames(path):
    with open(path, 'rb') as f:
        hdr = f.read(24)
        endian = '<' if hdr[:4] == b'\xd4\xc3\xb2\xa1' else '>'
        while True:
            h = f.read(16)
            if len(h) < 16:
                return
            _, _, incl, _ = struct.unpack(endian + 'IIII', h)
            yield f.read(incl)

def main():
    pcap, prefix, name = sys.argv[1:4]
    fr = list(frames(pcap))
    with open(f'{prefix}/engine/{name}', 'wb') as o:
        o.write(b'\x00')
        for b in fr:
            o.write(struct.pack('>H', len(b)) + b)
    # tls_session: payloads by side; the side that sends first is the client (side 0)
    client = None
    out = bytearray(b'\x00')
    for b in fr:
        if b[12:14] != b'\x08\x00':
            continue
        ihl = (b[14] & 15) * 4
        tcp = b[14 + ihl:]
        sport = struct.unpack('>H', tcp[0:2])[0]
        payload = tcp[(tcp[12] >> 4) * 4:]
        if not payload:
            continue
        if client is None:
            client = sport
        out += bytes([0 if sport == client else 1]) + struct.pack('>H', len(payload)) + payload
    with open(f'{prefix}/tls_session/{name}', 'wb') as o:
        o.write(out)

main()
