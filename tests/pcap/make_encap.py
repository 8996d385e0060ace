#!/usr/bin/env python3
"""make_encap.py SEED_DIR OUT_DIR -- wraps the real handshakes of the committed seeds
(seed_tls12.pcap, seed_tls13.pcap: Ethernet, one TLS handshake each) in every encapsulation
mitmwatch decodes, one capture per case, and writes OUT_DIR/cases.json with what mitmwatch must
report for each (check_encap.py reads both). Python's struct only, no scapy.

The inner packets keep the seeds' TCP headers and payloads byte for byte; only the addresses
change (client 10.0.0.1 / fd00::1, server 10.0.0.2 / fd00::2) and every checksum is
recomputed, inner and outer, so tshark decodes the files as it would real traffic."""
import json
import os
import struct
import sys

SEEDS = {
    "tls12": {"ja3": "871a754af286dfb70c1b53c6887c62e0", "ja3s": "abade5a4a7f42baf54766e5d108283b6",
              "chain": ["8a20862f412cdab7ccba28b84e8b4f39b0c3a241d6641ab02e6797133955d83e",
                        "d58d182c0c646a5fefe97240607eb3f5ad0f59d8d9489ef6812d7924596afd24"]},
    "tls13": {"ja3": "f146948b4a599d4d7ddf071b74696983", "ja3s": "15af977ce25de452b96affa2addb1036",
              "chain": []},
}
C4, S4 = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
C6, S6 = bytes.fromhex("fd00" + "00" * 13 + "01"), bytes.fromhex("fd00" + "00" * 13 + "02")
O4A, O4B = bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])
O6A, O6B = bytes.fromhex("2001db8" + "0" * 24 + "1"), bytes.fromhex("2001db8" + "0" * 24 + "2")
MAC_A, MAC_B = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    assert magic == 0xA1B2C3D4, "little-endian microsecond pcap expected"
    off, out = 24, []
    while off + 16 <= len(data):
        sec, usec, incl, _orig = struct.unpack("<IIII", data[off:off + 16])
        out.append((sec, usec, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return out


def write_pcap(path, frames, linktype=1):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype))
        for sec, usec, fr in frames:
            f.write(struct.pack("<IIII", sec, usec, len(fr), len(fr)))
            f.write(fr)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def l4_fix(seg, src, dst, proto, off):
    """seg with its checksum (at off) computed over the v4 or v6 pseudo-header."""
    seg = seg[:off] + b"\0\0" + seg[off + 2:]
    if len(src) == 4:
        ph = src + dst + struct.pack("!BBH", 0, proto, len(seg))
    else:
        ph = src + dst + struct.pack("!IxxxB", len(seg), proto)
    c = csum(ph + seg)
    if proto == 17 and c == 0:
        c = 0xFFFF
    return seg[:off] + struct.pack("!H", c) + seg[off + 2:]


def ip4(src, dst, proto, payload, ident=0, ttl=64, frag=0, mf=False, total=None):
    tot = 20 + len(payload) if total is None else total
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, tot, ident, (0x2000 if mf else 0) | (frag // 8), ttl,
                    proto, 0, src, dst)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ip6(src, dst, nh, payload, hlim=64):
    return struct.pack("!IHBB", 0x60000000, len(payload), nh, hlim) + src + dst + payload


def udp(src, dst, sport, dport, payload):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    return l4_fix(seg, src, dst, 17, 6)


def eth(ethertype, payload, tags=(), dst=MAC_B, src=MAC_A):
    out = dst + src
    for tpid, vid in tags:
        out += struct.pack("!HH", tpid, vid)
    return out + struct.pack("!H", ethertype) + payload


def gre(proto, payload, key=None, seq=None, cks=False):
    flags = (0x8000 if cks else 0) | (0x2000 if key is not None else 0) | (0x1000 if seq is not None else 0)
    opt = b""
    if cks:
        opt += b"\0\0\0\0"
    if key is not None:
        opt += struct.pack("!I", key)
    if seq is not None:
        opt += struct.pack("!I", seq)
    h = struct.pack("!HH", flags, proto) + opt
    if cks:
        c = csum(h + payload)
        h = h[:4] + struct.pack("!H", c) + h[6:]
    return h + payload


def erspan2(session, frame, index=0):
    return struct.pack("!II", (1 << 28) | (session & 0x3FF), index & 0xFFFFF) + frame


def erspan3(session, frame, o=False, ft=0):
    x = (ft << 10) | (1 if o else 0)
    h = struct.pack("!III", (2 << 28) | (session & 0x3FF), 123456, x)
    if o:
        h += struct.pack("!II", 0x0000ABCD, 654321)  # platform-specific subheader, platf id 0
    return h + frame


def vxlan(vni, frame):
    return struct.pack("!BxxxI", 0x08, vni << 8) + frame


def geneve(vni, payload, proto=0x6558, opts=b""):
    assert len(opts) % 4 == 0
    return struct.pack("!BBHI", len(opts) // 4, 0, proto, vni << 8) + opts + payload


def mpls(labels, payload):
    out = b""
    for i, lab in enumerate(labels):
        out += struct.pack("!I", (lab << 12) | (0x100 if i == len(labels) - 1 else 0) | 64)
    return out + payload


def pppoe(session, ppp_proto, payload):
    ppp = struct.pack("!H", ppp_proto) + payload
    return struct.pack("!BBHH", 0x11, 0, session, len(ppp)) + ppp


class Pkt:
    """One packet of a seed: its TCP segment and whether the client sent it."""

    def __init__(self, sec, usec, frame):
        ip = frame[14:]
        ihl = (ip[0] & 15) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        self.sec, self.usec = sec, usec
        self.ttl = ip[8]
        self.tcp = ip[ihl:total]
        self.sport = struct.unpack("!H", self.tcp[:2])[0]
        self.client = self.sport != 8443

    def inner4(self, ident=0, total=None):
        src, dst = (C4, S4) if self.client else (S4, C4)
        return ip4(src, dst, 6, l4_fix(self.tcp, src, dst, 6, 16), ident=ident, ttl=self.ttl, total=total)

    def inner6(self):
        src, dst = (C6, S6) if self.client else (S6, C6)
        return ip6(src, dst, 6, l4_fix(self.tcp, src, dst, 6, 16), hlim=self.ttl)

    def outer4(self, mirror=False):
        """outer addresses: swapped per direction for a routed tunnel, fixed for a mirror"""
        return (O4A, O4B) if self.client or mirror else (O4B, O4A)

    def outer6(self, mirror=False):
        return (O6A, O6B) if self.client or mirror else (O6B, O6A)


def frag4(datagram, size):
    """IPv4 fragments of datagram (a whole IPv4 packet without options), size payload bytes each"""
    hdr, pay = datagram[:20], datagram[20:]
    src, dst, proto, ident, ttl = hdr[12:16], hdr[16:20], hdr[9], struct.unpack("!H", hdr[4:6])[0], hdr[8]
    out = []
    for off in range(0, len(pay), size):
        part = pay[off:off + size]
        out.append(ip4(src, dst, proto, part, ident=ident, ttl=ttl, frag=off, mf=off + size < len(pay)))
    return out


def frag6(datagram, size, ident):
    src, dst, nh, hlim = datagram[8:24], datagram[24:40], datagram[6], datagram[7]
    pay = datagram[40:]
    out = []
    for off in range(0, len(pay), size):
        part = pay[off:off + size]
        fh = struct.pack("!BBHI", nh, 0, off | (1 if off + size < len(pay) else 0), ident)
        out.append(ip6(src, dst, 44, fh + part, hlim=hlim))
    return out


def build(seed_dir, out_dir):
    seeds = {n: [Pkt(*r) for r in read_pcap(os.path.join(seed_dir, "seed_%s.pcap" % n))] for n in SEEDS}
    os.makedirs(out_dir, exist_ok=True)
    cases = {}

    def case(name, frames, encap, seed="tls12", events=None, anomalies=None, tshark="full", note="",
             tshark_args=None, alerts=None):
        write_pcap(os.path.join(out_dir, name + ".pcap"), frames)
        c = {"file": name + ".pcap", "encapsulation": encap, "seed": seed, "tshark": tshark}
        if tshark_args:
            c["tshark_args"] = tshark_args
        if alerts:
            c["alerts"] = alerts
        if events is not None:
            c["events"] = events
        if anomalies:
            c["anomalies"] = anomalies
        if note:
            c["note"] = note
        cases[name] = c

    def each(fn, seed="tls12"):
        out = []
        for p in seeds[seed]:
            for fr in fn(p):
                out.append((p.sec, p.usec, fr))
        return out

    tls12 = seeds["tls12"]
    v4 = lambda p: eth(0x0800, p.inner4())  # noqa: E731
    case("plain", each(lambda p: [v4(p)]), None)
    case("vlan", each(lambda p: [eth(0x0800, p.inner4(), tags=[(0x8100, 100)])]), None,
         note="VLAN tags alone are network.vlan, not an encapsulation")
    case("pppoe", each(lambda p: [eth(0x8864, pppoe(0x1234, 0x0021, p.inner4()))]),
         ["pppoe:session=4660"])
    case("pppoe_qinq", each(lambda p: [eth(0x8864, pppoe(0x1234, 0x0021, p.inner4()),
                                            tags=[(0x88A8, 10), (0x8100, 20)])]),
         ["vlan:10", "vlan:20", "pppoe:session=4660"])
    case("pppoe_9100_v6", each(lambda p: [eth(0x8864, pppoe(7, 0x0057, p.inner6()), tags=[(0x9100, 30)])]),
         ["vlan:30", "pppoe:session=7"])
    case("mpls", each(lambda p: [eth(0x8847, mpls([100, 200] if p.client else [300, 400], p.inner4()))]),
         ["mpls:label=100", "mpls:label=200"], note="labels differ per direction: one flow all the same")
    case("mpls_eth_cw", each(lambda p: [eth(0x8847, mpls([16], b"\0\0\0\0" + eth(0x86DD, p.inner6())))]),
         ["mpls:label=16"], tshark_args=["-d", "mpls.label==16,pwethcw"],
         note="tshark needs telling that label 16 carries Ethernet with a control word")
    case("gre", each(lambda p: [eth(0x0800, ip4(*p.outer4(), 47, gre(0x0800, p.inner4())))]), ["gre"])
    case("gre_key_seq_csum",
         each(lambda p: [eth(0x0800, ip4(*p.outer4(), 47, gre(0x0800, p.inner4(), key=5, seq=1, cks=True)))]),
         ["gre:key=5"])
    case("gretap_vlan",
         each(lambda p: [eth(0x0800, ip4(*p.outer4(), 47, gre(0x6558, eth(0x0800, p.inner4(), tags=[(0x8100, 7)]))))]),
         ["gre", "vlan:7"])
    case("gre6_ipv6", each(lambda p: [eth(0x86DD, ip6(*p.outer6(), 47, gre(0x86DD, p.inner6())))]), ["gre"])
    case("erspan1", each(lambda p: [eth(0x0800, ip4(*p.outer4(True), 47, gre(0x88BE, v4(p))))]), ["erspan1"])
    case("erspan2", each(lambda p: [eth(0x0800, ip4(*p.outer4(True), 47, gre(0x88BE, erspan2(7, v4(p)), seq=1)))]),
         ["erspan2:session=7"])
    case("erspan3", each(lambda p: [eth(0x0800, ip4(*p.outer4(True), 47, gre(0x22EB, erspan3(9, v4(p)), seq=1)))]),
         ["erspan3:session=9"])
    case("erspan3_subheader",
         each(lambda p: [eth(0x0800, ip4(*p.outer4(True), 47, gre(0x22EB, erspan3(9, v4(p), o=True), seq=1)))]),
         ["erspan3:session=9"])
    case("ip6erspan", each(lambda p: [eth(0x86DD, ip6(*p.outer6(True), 47, gre(0x88BE, erspan2(3, v4(p)), seq=1)))]),
         ["erspan2:session=3"])
    case("vxlan_vlan",
         each(lambda p: [eth(0x0800, ip4(*p.outer4(), 17, udp(*p.outer4(), 50000 + p.sport % 1000, 4789,
                                                             vxlan(42, eth(0x0800, p.inner4(), tags=[(0x8100, 100)])))))]),
         ["vxlan:vni=42", "vlan:100"])
    case("vxlan6", each(lambda p: [eth(0x86DD, ip6(*p.outer6(), 17, udp(*p.outer6(), 50001, 4789,
                                                                        vxlan(42, eth(0x86DD, p.inner6())))))]),
         ["vxlan:vni=42"])
    case("geneve_opts",
         each(lambda p: [eth(0x0800, ip4(*p.outer4(), 17, udp(*p.outer4(), 50002, 6081,
                                                             geneve(77, eth(0x0800, p.inner4()),
                                                                    opts=struct.pack("!HBB", 0x0102, 0x03, 1) + b"\x11\x22\x33\x44"))))]),
         ["geneve:vni=77"])
    case("geneve_ip", each(lambda p: [eth(0x0800, ip4(*p.outer4(), 17, udp(*p.outer4(), 50003, 6081,
                                                                          geneve(78, p.inner4(), proto=0x0800))))]),
         ["geneve:vni=78"])
    case("ipip_4in4", each(lambda p: [eth(0x0800, ip4(*p.outer4(), 4, p.inner4()))]), ["ipip:4in4"])
    case("ipip_6in4_sit", each(lambda p: [eth(0x0800, ip4(*p.outer4(), 41, p.inner6()))]), ["ipip:6in4"])
    case("ipip_4in6", each(lambda p: [eth(0x86DD, ip6(*p.outer6(), 4, p.inner4()))]), ["ipip:4in6"])
    case("ipip_6in6", each(lambda p: [eth(0x86DD, ip6(*p.outer6(), 41, p.inner6()))]), ["ipip:6in6"])

    # fragments: every data segment over 96 bytes of TCP cut into 64-byte fragments (the
    # last out of order, the first duplicated exactly)
    def frag_inner4(p):
        d = p.inner4(ident=0x4000 + tls12.index(p))
        if len(d) - 20 <= 96:
            return [eth(0x0800, d)]
        fr = [eth(0x0800, f) for f in frag4(d, 64)]
        return [fr[0], fr[0], fr[-1]] + fr[1:-1]

    nfr4 = sum(1 for p in tls12 if len(p.tcp) > 96)
    case("frag_ipv4", each(lambda p: frag_inner4(p)), None, anomalies={"ip_frag_dropped": 0, "ip_frag_overlap": 0},
         note="%d datagrams reassembled" % nfr4)

    def frag_inner6(p):
        d = p.inner6()
        if len(d) - 40 <= 96:
            return [eth(0x86DD, d)]
        return [eth(0x86DD, f) for f in reversed(frag6(d, 64, 0x10000 + tls12.index(p)))]

    case("frag_ipv6", each(lambda p: frag_inner6(p)), None, anomalies={"ip_frag_dropped": 0})

    def frag_outer_gre(p):
        d = ip4(*p.outer4(), 47, gre(0x0800, p.inner4()), ident=0x100 + tls12.index(p))
        if len(d) <= 300:
            return [eth(0x0800, d)]
        return [eth(0x0800, f) for f in frag4(d, 256)]

    case("frag_outer_gre", each(frag_outer_gre), ["gre"], anomalies={"ip_frag_dropped": 0})

    # a conflicting overlap in the ClientHello's fragments drops that datagram; the clean
    # retransmission that follows is what the receiver accepted
    def frag_conflict(p):
        if p is not tls12[3]:  # the ClientHello
            return [eth(0x0800, p.inner4())]
        d = p.inner4(ident=0x7777)
        fr = frag4(d, 64)
        evil = bytearray(fr[1])
        evil[-1] ^= 0xFF  # same offset and length, one byte different
        evil = bytes(evil[:10]) + b"\0\0" + bytes(evil[12:])
        evil = evil[:10] + struct.pack("!H", csum(evil[:20])) + evil[12:]
        return [eth(0x0800, f) for f in fr[:2]] + [eth(0x0800, evil)] + [eth(0x0800, f) for f in fr[2:]] + \
            [eth(0x0800, p.inner4(ident=0x7778))]

    ch_frags = len(frag4(tls12[3].inner4(), 64))
    case("frag_overlap_conflict", each(frag_conflict), None,
         anomalies={"ip_frag_overlap": 1, "ip_frag_timeout": 1, "ip_frag_dropped": ch_frags + 1},
         tshark="none", alerts=["sensor.undecoded"], note="the two fragments after the conflict never complete: counted at the end "
         "of input; tshark reassembles the conflicting datagram its own way")

    # the same inner flow (addresses, ports) in two VXLAN segments, interleaved
    t13 = seeds["tls13"]

    def retarget(p, sport):
        q = Pkt.__new__(Pkt)
        q.__dict__.update(p.__dict__)
        sp, dp = struct.unpack("!HH", p.tcp[:4])
        sp, dp = (sport, 8443) if p.client else (8443, sport)
        q.tcp = struct.pack("!HH", sp, dp) + p.tcp[4:]
        return q

    two = []
    for i in range(max(len(tls12), len(t13))):
        for vni, seq in ((1, tls12), (2, t13)):
            if i < len(seq):
                p = retarget(seq[i], 40000)
                two.append((p.sec, p.usec, eth(0x0800, ip4(*p.outer4(), 17, udp(*p.outer4(), 50004, 4789,
                                                                                 vxlan(vni, eth(0x0800, p.inner4())))))))
    write_pcap(os.path.join(out_dir, "vxlan_two_vni.pcap"), two)
    cases["vxlan_two_vni"] = {"file": "vxlan_two_vni.pcap", "events": 2, "tshark": "none",
                              "multi": [{"seed": "tls12", "encapsulation": ["vxlan:vni=1"]},
                                        {"seed": "tls13", "encapsulation": ["vxlan:vni=2"]}],
                              "note": "same inner addresses and ports: two flows all the same"}

    too_deep = each(lambda p: [eth(0x8847, mpls(list(range(16, 25)), p.inner4()))])
    case("too_deep", too_deep, None, events=0, anomalies={"encap_too_deep": len(too_deep)}, tshark="none",
         alerts=["sensor.undecoded"],
         note="9 MPLS labels: over the limit of 8 layers, counted, and sensor.undecoded raised")

    def tso(p):
        return [eth(0x0800, p.inner4(total=0) if p.client and len(p.tcp) > 100 else p.inner4())]

    ntso = sum(1 for p in tls12 if p.client and len(p.tcp) > 100)
    case("tso_total_length_zero", each(tso), None, anomalies={"ip_total_length_zero": ntso})
    # a pcapng file whose interfaces have different link types (libpcap refuses it): section 1,
    # little-endian: Ethernet (microseconds) and raw IP (nanoseconds) interfaces; section 2,
    # big-endian: raw IP again, with the rest of the second handshake
    def blk(order, btype, body):
        body += b"\0" * ((4 - len(body) % 4) % 4)
        n = 12 + len(body)
        return struct.pack(order + "II", btype, n) + body + struct.pack(order + "I", n)

    def shb(order):
        return blk(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))

    def idb(order, lt, nanos):
        opts = struct.pack(order + "HHB3x", 9, 1, 9) if nanos else b""
        return blk(order, 1, struct.pack(order + "HHI", lt, 0, 262144) + opts + struct.pack(order + "HH", 0, 0))

    def epb(order, ifid, sec, usec, data, nanos):
        t = sec * 10 ** (9 if nanos else 6) + usec * (1000 if nanos else 1)
        return blk(order, 6, struct.pack(order + "IIIII", ifid, t >> 32, t & 0xFFFFFFFF, len(data), len(data)) + data)

    ng = shb("<") + idb("<", 1, False) + idb("<", 101, True)
    half = len(t13) // 2
    for p in tls12:
        ng += epb("<", 0, p.sec, p.usec, eth(0x0800, p.inner4()), False)
    for p in t13[:half]:
        ng += epb("<", 1, p.sec, p.usec, p.inner6(), True)
    ng += shb(">") + idb(">", 101, True)
    for p in t13[half:]:
        ng += epb(">", 0, p.sec, p.usec, p.inner6(), True)
    with open(os.path.join(out_dir, "pcapng_mixed_linktypes.pcapng"), "wb") as f:
        f.write(ng)
    cases["pcapng_mixed_linktypes"] = {
        "file": "pcapng_mixed_linktypes.pcapng", "events": 2, "tshark": "full",
        "multi": [{"seed": "tls12", "encapsulation": None}, {"seed": "tls13", "encapsulation": None}],
        "note": "Ethernet and raw IP interfaces, little- and big-endian sections: read block by block"}
    # one block past the reader's first 64 KiB buffer: a 100,000-byte frame of an EtherType
    # mitmwatch does not decode, before the handshakes (the buffer grows; both are still read)
    big = shb("<") + idb("<", 1, False) + idb("<", 101, True)
    big += epb("<", 0, tls12[0].sec, 0, eth(0x88B5, bytes(100000 - 14)), False)
    big += ng[len(shb("<") + idb("<", 1, False) + idb("<", 101, True)):]
    with open(os.path.join(out_dir, "pcapng_big_block.pcapng"), "wb") as f:
        f.write(big)
    cases["pcapng_big_block"] = {
        "file": "pcapng_big_block.pcapng", "events": 2, "tshark": "none",
        "multi": [{"seed": "tls12", "encapsulation": None}, {"seed": "tls13", "encapsulation": None}],
        "anomalies": {"ethertype_unsupported": 1}, "alerts": ["sensor.undecoded"],
        "note": "a 100,000-byte block: the block buffer grows past its first 64 KiB"}
    with open(os.path.join(out_dir, "pcapng_truncated.pcapng"), "wb") as f:
        f.write(ng[:-30])
    cases["pcapng_truncated"] = {
        "file": "pcapng_truncated.pcapng", "events": 2, "tshark": "none",
        "multi": [{"seed": "tls12", "encapsulation": None}, {"seed": "tls13", "encapsulation": None}],
        "anomalies": {"pcap_truncated": 1}, "stderr": "truncated or damaged"}

    plain = open(os.path.join(out_dir, "plain.pcap"), "rb").read()
    with open(os.path.join(out_dir, "pcap_truncated.pcap"), "wb") as f:
        f.write(plain[:-20])
    cases["pcap_truncated"] = {"file": "pcap_truncated.pcap", "seed": "tls12", "encapsulation": None,
                               "tshark": "none", "anomalies": {"pcap_truncated": 1},
                               "stderr": "truncated or damaged"}
    with open(os.path.join(out_dir, "unreadable.pcap"), "wb") as f:
        f.write(plain[:24] + struct.pack("<IIII", 0, 0, 0x7FFFFFF0, 0x7FFFFFF0) + b"x" * 64)
    cases["unreadable"] = {"file": "unreadable.pcap", "events": 0, "tshark": "none", "exit": 2,
                           "stderr": "cannot read", "note": "a header and then nothing readable: exit 2"}

    with open(os.path.join(out_dir, "cases.json"), "w") as f:
        json.dump({"seeds": SEEDS, "cases": cases}, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: make_encap.py SEED_DIR OUT_DIR")
    build(sys.argv[1], sys.argv[2])
