#!/usr/bin/python3
"""Writes tests/fuzz/corpus/trace_reply/: the packets the tracer reads, whole and cut short.

Hand-made from the RFC layouts (RFC 791, 792, 4443, 8200, 9293), the same shapes as
tests/unit/trace_test.c: ICMP time exceeded / unreachable quoting our SYN (IPv4 with and
without quoted options, IPv6), a SYN-ACK and a RST+ACK over IPv4 and as bare segments, plus
truncations. Rerun after changing it; the output is deterministic."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "trace_reply")
ME, R1, SRV = bytes([192, 0, 2, 2]), bytes([192, 0, 2, 1]), bytes([203, 0, 113, 2])
ME6 = bytes.fromhex("20010db8000100000000000000000002")
SRV6 = bytes.fromhex("20010db8000500000000000000000002")


def ip4(proto, src, dst, payload, ihl=5):
    opts = b"\x01" * (ihl * 4 - 20)
    return struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(payload), 0, 0x4000, 1,
                       proto, 0, src, dst) + opts + payload


def tcp(sport, dport, seq, ack, flags, opts=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (5 + len(opts) // 4) << 4, flags,
                       65535, 0, 0) + opts


def quote4(ihl=5):
    return ip4(6, ME, SRV, tcp(40000, 5222, 0xDEADBEEF, 0, 2), ihl)[: ihl * 4 + 8]


seeds = {
    "icmp4_time_exceeded": ip4(1, R1, ME, bytes([11, 0, 0, 0, 0, 0, 0, 0]) + quote4()),
    "icmp4_quoted_options": ip4(1, R1, ME, bytes([11, 0, 0, 0, 0, 0, 0, 0]) + quote4(7)),
    "icmp4_unreach_13": ip4(1, R1, ME, bytes([3, 13, 0, 0, 0, 0, 0, 0]) + quote4()),
    "icmp4_full_quote": ip4(1, R1, ME, bytes([11, 0, 0, 0, 0, 0, 0, 0]) +
                            ip4(6, ME, SRV, tcp(40000, 22, 7, 0, 2))),
    "tcp4_synack": ip4(6, SRV, ME, tcp(22, 40000, 0x55555555, 0xDEADBEF0, 0x12)),
    "tcp4_rstack": ip4(6, SRV, ME, tcp(23, 40000, 0, 0xDEADBEF0, 0x14)),
    "tcp4_synack_mss": ip4(6, SRV, ME, tcp(22, 40000, 1, 2, 0x12, b"\x02\x04\x05\xb4")),
    "icmp6_time_exceeded": bytes([3, 0, 0, 0, 0, 0, 0, 0]) +
        struct.pack("!IHBB", 0x60000000, 20, 6, 1) + ME6 + SRV6 + tcp(40000, 22, 0x11223344, 0, 2)[:8],
    "icmp6_unreach": bytes([1, 4, 0, 0, 0, 0, 0, 0]) +
        struct.pack("!IHBB", 0x60000000, 20, 6, 1) + ME6 + SRV6 + tcp(40000, 22, 5, 0, 2),
    "tcp6_synack": tcp(5222, 40001, 1, 0xFFFFFFFF, 0x12, b"\x01\x01\x01\x00"),
}
os.makedirs(OUT, exist_ok=True)
for name, data in list(seeds.items()):
    for cut in (1, 8, 20, 28, len(data) - 1):
        if 0 < cut < len(data):
            seeds["%s_cut%d" % (name, cut)] = data[:cut]
for name, data in sorted(seeds.items()):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print("%d seeds in %s" % (len(seeds), OUT))
