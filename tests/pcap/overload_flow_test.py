#!/usr/bin/python3
"""overload_flow_test.py MITMWATCH WORKDIR -- sensor.overload names the counter that moved and
the one flow that caused it. A capture of one TCP flow (192.0.2.2:40000 -> 203.0.113.2:443)
whose client sends 129 one-byte segments each after a one-byte hole (the first byte never
comes): the stream holds at most 128 waiting ranges, so the 129th is refused. mitmwatch -r must
raise exactly one sensor.overload with mitmwatch.overload.counters {"tcp_ooo_ranges_cap": 1} and
that flow's source, destination and community id, and mitmwatch.observed 1. Only the Python standard library is used.
"""
import json
import os
import struct
import subprocess
import sys

CLIENT, SERVER = bytes([192, 0, 2, 2]), bytes([203, 0, 113, 2])
CPORT, SPORT = 40000, 443


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00" + ip + tcp


def main(argv):
    mw, work = argv[1], argv[2]
    os.makedirs(work, exist_ok=True)
    pcap, out = os.path.join(work, "overload.pcap"), os.path.join(work, "overload.json")
    frames = [
        frame(CLIENT, SERVER, CPORT, SPORT, 1000, 0, 0x02),
        frame(SERVER, CLIENT, SPORT, CPORT, 5000, 1001, 0x12),
        frame(CLIENT, SERVER, CPORT, SPORT, 1001, 5001, 0x10),
    ] + [frame(CLIENT, SERVER, CPORT, SPORT, 1001 + 2 + 2 * k, 5001, 0x18, b"\x16")
         for k in range(129)]
    with open(pcap, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000, i * 1000, len(fr), len(fr)) + fr)
    if os.path.exists(out):
        os.unlink(out)
    subprocess.run([mw, "-r", pcap, "-o", out, "--observer", "t", "--no-summary"], check=True)
    events = [json.loads(line) for line in open(out)]
    alerts = [e for e in events if e["event"]["kind"] == "alert"]
    fails = 0

    def check(label, got, want):
        nonlocal fails
        ok = got == want
        fails += not ok
        print("%s %s" % ("ok  " if ok else "FAIL", label) + ("" if ok else
              "\n  got:  %r\n  want: %r" % (got, want)))

    check("one alert, sensor.overload", [a["rule"]["id"] for a in alerts], ["sensor.overload"])
    if alerts:
        a = alerts[0]
        check("counters", a["mitmwatch"].get("overload", {}).get("counters"),
              {"tcp_ooo_ranges_cap": 1})
        check("observed", a["mitmwatch"]["observed"], 1)
        check("source", a.get("source"), {"ip": "192.0.2.2", "port": CPORT})
        check("destination", a.get("destination"), {"ip": "203.0.113.2", "port": SPORT})
        check("community id", a.get("network", {}).get("community_id"),
              "1:" + community_id())
        check("message names the counter",
              "tcp_ooo_ranges_cap 1 (a stream's out-of-order ranges over their cap)" in
              a["message"], True)
    return 1 if fails else 0


def community_id():
    """Community ID v1 (seed 0) of the flow, computed here independently."""
    import base64
    import hashlib
    data = struct.pack("!H", 0) + CLIENT + SERVER + struct.pack("!BBHH", 6, 0, CPORT, SPORT)
    return base64.b64encode(hashlib.sha1(data).digest()).decode()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
