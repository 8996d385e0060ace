#!/usr/bin/python3
"""Rewrites the IPv4 TTL of the packets a TCP port sends, fixing the header checksum: the
passive path test's stand-in for an extra router on one port's path.
usage: set_ttl.py IN.pcap OUT.pcap SRC_PORT TTL   (Ethernet or Linux SLL captures, IPv4)"""
import struct, sys

def csum(hdr):
    s = sum(struct.unpack('!%dH' % (len(hdr) // 2), hdr))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

src, dst, port, ttl = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data = bytearray(open(src, 'rb').read())
endian = '<' if data[:4] == b'\xd4\xc3\xb2\xa1' else '>'
linktype = struct.unpack(endian + 'I', data[20:24])[0]
l2 = {1: 14, 113: 16}[linktype]
off, changed = 24, 0
while off + 16 <= len(data):
    incl = struct.unpack(endian + 'I', data[off + 8:off + 12])[0]
    p = off + 16
    ip = p + l2
    if incl >= l2 + 20 and data[ip] >> 4 == 4 and data[ip + 9] == 6:
        ihl = (data[ip] & 15) * 4
        sport = struct.unpack('!H', data[ip + ihl:ip + ihl + 2])[0]
        if sport == port:
            data[ip + 8] = ttl
            data[ip + 10:ip + 12] = b'\0\0'
            data[ip + 10:ip + 12] = struct.pack('!H', csum(bytes(data[ip:ip + ihl])))
            changed += 1
    off = p + incl
open(dst, 'wb').write(data)
print(f'{changed} packets from port {port} now carry TTL {ttl}')
