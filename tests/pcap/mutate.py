#!/usr/bin/python3
"""Turns a clean seed capture of one TLS connection into edge-case captures for mitmwatch.

usage: mutate.py SEED.pcap OUTDIR [--server-port 8443] [--only NAME[,NAME...]] [--prefix P]

The seed is read, each TCP direction is put back together (the seed is clean: no loss, no
reordering) and the conversation is cut into turns (consecutive data of one direction). The
cases below then re-emit the SAME byte streams (except where a case says otherwise) as new
IPv4/TCP packets with correct sequence/acknowledgement numbers and checksums, segmented or
damaged as the case requires. Link-type cases re-encapsulate the seed's own packets.

Alongside the pcaps, OUTDIR/model.json gives, per case, the anomaly counts that the TCP
reassembly semantics documented in capture/cap_reasm.h imply ("first data wins", counting per
segment), as a [min, max] range per counter: min counts only segments that arrive while the
direction still needs bytes for the handshake (before the ClientHello / the server's first
flight is complete), so an implementation that stops reassembling ("bypass") once it has what it
needs still reaches it; max counts every segment. tests/pcap/cases.json holds the same numbers
as the spec; check_edge.py fails when the two disagree (the seed changed shape).

Only the Python standard library is used (struct, random, json).
"""
import json
import os
import random
import struct
import sys

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276

C2S, S2C = 0, 1
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

# ----------------------------------------------------------------------------------------------
# pcap in/out


def read_pcap(path):
    """Returns (linktype, [(ts_sec, ts_usec, frame)]) for a classic pcap file."""
    with open(path, 'rb') as f:
        data = f.read()
    magic = data[:4]
    if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
        e = '<'
    elif magic in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
        e = '>'
    else:
        raise SystemExit('%s: not a classic pcap file' % path)
    nano = magic in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d')
    linktype = struct.unpack(e + 'I', data[20:24])[0] & 0x0fffffff
    pkts, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(e + 'IIII', data[off:off + 16])
        off += 16
        frame = data[off:off + incl]
        off += incl
        pkts.append((sec, frac // 1000 if nano else frac, frame))
    return linktype, pkts


def write_pcap(path, linktype, pkts):
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 262144, linktype))
        for sec, usec, frame in pkts:
            f.write(struct.pack('<IIII', sec, usec, len(frame), len(frame)))
            f.write(frame)


def write_pcapng(path, linktype, pkts):
    """Section header, one interface (nanosecond timestamps), enhanced packet blocks."""
    def block(btype, body):
        pad = (-len(body)) % 4
        total = 12 + len(body) + pad
        return struct.pack('<II', btype, total) + body + b'\0' * pad + struct.pack('<I', total)

    def opt(code, val):
        return struct.pack('<HH', code, len(val)) + val + b'\0' * ((-len(val)) % 4)

    shb = struct.pack('<IHHq', 0x1a2b3c4d, 1, 0, -1) + opt(4, b'mitmwatch mutate.py') + opt(0, b'')
    idb = (struct.pack('<HHI', linktype, 0, 262144) + opt(2, b'lo') + opt(9, b'\x09') +
           opt(0, b''))
    out = [block(0x0a0d0d0a, shb), block(1, idb)]
    for sec, usec, frame in pkts:
        ts = (sec * 1000000 + usec) * 1000
        body = struct.pack('<IIIII', 0, ts >> 32, ts & 0xffffffff, len(frame), len(frame))
        body += frame + b'\0' * ((-len(frame)) % 4)
        out.append(block(6, body))
    with open(path, 'wb') as f:
        f.write(b''.join(out))


# ----------------------------------------------------------------------------------------------
# packet building


def csum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def tcp_segment(src, dst, sport, dport, seq, ack, flags, payload, options=b'', win=65535):
    """TCP header + payload with the checksum over the IPv4 or IPv6 pseudo-header."""
    off = (20 + len(options)) // 4
    hdr = struct.pack('!HHIIBBHHH', sport, dport, seq & 0xffffffff, ack & 0xffffffff, off << 4,
                      flags, win, 0, 0) + options
    seg = hdr + payload
    if len(src) == 4:
        pseudo = src + dst + struct.pack('!BBH', 0, 6, len(seg))
    else:
        pseudo = src + dst + struct.pack('!IxxxB', len(seg), 6)
    c = csum(pseudo + seg)
    return seg[:16] + struct.pack('!H', c) + seg[18:]


def ipv4_packet(src, dst, l4, ident, ttl=64, proto=6):
    hdr = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(l4), ident & 0xffff, 0x4000, ttl, proto, 0,
                      src, dst)
    return hdr[:10] + struct.pack('!H', csum(hdr)) + hdr[12:] + l4


def ether(payload, ethertype=0x0800):
    return b'\0' * 12 + struct.pack('!H', ethertype) + payload


# ----------------------------------------------------------------------------------------------
# the seed conversation


class Conv:
    """One TCP connection: endpoints, initial sequence numbers, both byte streams, turns."""

    def __init__(self):
        self.cip = self.sip = None
        self.cport = self.sport = None
        self.isn = [None, None]
        self.stream = [bytearray(), bytearray()]
        self.turns = []  # ('data', dir, start, end) | ('fin', dir)
        self.t0 = (0, 0)


def parse_seed(path, server_port):
    linktype, pkts = read_pcap(path)
    if linktype != LINKTYPE_ETHERNET:
        raise SystemExit('seed must be Ethernet (tcpdump on Linux lo)')
    cv = Conv()
    cv.t0 = pkts[0][:2]
    raw = []
    for sec, usec, fr in pkts:
        if len(fr) < 34 or fr[12:14] != b'\x08\x00':
            continue
        ihl = (fr[14] & 15) * 4
        total = struct.unpack('!H', fr[16:18])[0]
        ip = fr[14:14 + total]
        if ip[9] != 6:
            continue
        src, dst = ip[12:16], ip[16:20]
        tcp = ip[ihl:]
        sp, dp, seq, ack, offb, flags = struct.unpack('!HHIIBB', tcp[:14])
        payload = tcp[(offb >> 4) * 4:]
        d = C2S if dp == server_port else S2C
        if cv.cip is None:
            if d == C2S:
                cv.cip, cv.sip, cv.cport, cv.sport = src, dst, sp, dp
            else:
                cv.cip, cv.sip, cv.cport, cv.sport = dst, src, dp, sp
        raw.append((sec, usec, fr, d, ip, tcp))
        if flags & SYN:
            cv.isn[d] = seq
        if cv.isn[d] is None:
            cv.isn[d] = (seq - 1) & 0xffffffff
        rel = (seq - cv.isn[d] - 1) & 0xffffffff
        if payload:
            s = cv.stream[d]
            if rel != len(s):
                raise SystemExit('seed is not clean: %s dir %d expected %d got %d' %
                                 (path, d, len(s), rel))
            s.extend(payload)
            last = cv.turns[-1] if cv.turns else None
            if last and last[0] == 'data' and last[1] == d:
                cv.turns[-1] = ('data', d, last[2], len(s))
            else:
                cv.turns.append(('data', d, rel, len(s)))
        if flags & FIN and ('fin', d) not in cv.turns:
            cv.turns.append(('fin', d))
    cv.stream = [bytes(cv.stream[0]), bytes(cv.stream[1])]
    cv.turns = canonical_turns(cv)
    return cv, raw


def canonical_turns(cv):
    """The seed's turns up to the client's second flight, then the rest of the server's data as
    one turn, the rest of the client's as one turn, then the FINs in their original order. How
    the closing alerts and FINs interleave in a real capture depends on timing; the cases (and
    their expected counters) must not."""
    out, seen_s, seen_c2 = [], False, False
    rest_fins = []
    for t in cv.turns:
        if seen_c2:
            if t[0] == 'fin':
                rest_fins.append(t)
            continue
        out.append(t)
        if t[0] == 'data' and t[1] == S2C:
            seen_s = True
        elif t[0] == 'data' and t[1] == C2S and seen_s:
            seen_c2 = True
    if not seen_c2:
        return cv.turns
    out = [t for t in out if t[0] == 'data'] + [t for t in out if t[0] == 'fin']
    for d in (S2C, C2S):
        done = max([t[3] for t in out if t[0] == 'data' and t[1] == d] + [0])
        if done < len(cv.stream[d]):
            out.append(('data', d, done, len(cv.stream[d])))
    return out + rest_fins


# ----------------------------------------------------------------------------------------------
# TLS structure (for choosing cut points and re-framing)


def tls_records(stream):
    out, off = [], 0
    while off + 5 <= len(stream):
        ctype, ver, ln = struct.unpack('!BHH', stream[off:off + 5])
        if off + 5 + ln > len(stream):
            break
        out.append((off, ctype, ver, stream[off + 5:off + 5 + ln]))
        off += 5 + ln
    return out


def handshake_messages(stream):
    """Leading handshake records: [(type, stream offset of the header, stream end offset)]."""
    recs = []
    for r in tls_records(stream):
        if r[1] != 22:
            break
        recs.append(r)
    # Map handshake byte index -> stream offset.
    pos = []
    for off, _t, _v, body in recs:
        pos.extend(range(off + 5, off + 5 + len(body)))
    hs = b''.join(r[3] for r in recs)
    msgs, i = [], 0
    while i + 4 <= len(hs):
        mtype = hs[i]
        ln = int.from_bytes(hs[i + 1:i + 4], 'big')
        if i + 4 + ln > len(hs):
            break
        msgs.append((mtype, pos[i], pos[i + 4 + ln - 1] + 1, hs[i:i + 4 + ln]))
        i += 4 + ln
    return recs, msgs


def first_server_turn(cv):
    for i, t in enumerate(cv.turns):
        if t[0] == 'data' and t[1] == S2C:
            return i
    raise SystemExit('seed has no server data')


def first_client_turn(cv):
    for i, t in enumerate(cv.turns):
        if t[0] == 'data' and t[1] == C2S:
            return i
    raise SystemExit('seed has no client data')


def windows(cv):
    """Per direction, the stream offset up to which the handshake analyzer surely needs bytes:
    the end of the ClientHello; the end of ServerHelloDone (TLS 1.2) or ServerHello (1.3)."""
    _r, cm = handshake_messages(cv.stream[C2S])
    _r, sm = handshake_messages(cv.stream[S2C])
    cend = cm[0][2] if cm else 0
    send = 0
    for mtype, _s, e, _b in sm:
        send = e
        if mtype == 14:
            break
    if not any(m[0] == 14 for m in sm) and sm:
        send = sm[0][2]
    return [cend, send]


# ----------------------------------------------------------------------------------------------
# reassembly model (semantics of capture/cap_reasm.h) for the expected counters


class Model:
    def __init__(self, win):
        self.win = win
        self.next = [0, 0]
        self.ooo = [[], []]  # sorted disjoint (start, bytes)
        self.data = [{}, {}]  # delivered bytes by offset (first data)
        self.cnt = {}

    def _add(self, name, d, n=1):
        lo, hi = self.cnt.get(name, (0, 0))
        sure = self.next[d] < self.win[d]
        self.cnt[name] = (lo + (n if sure else 0), hi + n)

    def seg(self, d, off, data):
        if not data:
            return
        nx = self.next[d]
        end = off + len(data)
        mism = False
        # Compare with delivered bytes (only counted when they are still buffered: range).
        for i in range(max(off, 0), min(end, nx)):
            if self.data[d].get(i) is not None and self.data[d][i] != data[i - off]:
                mism = True
                break
        if mism:
            # Still buffered: compared byte by byte. Already consumed: compared through the
            # history, which sees it when the copy reaches the verbatim tail or covers a whole
            # block from its start (capture/cap_reasm.h).
            for name in ('tcp_overlap_mismatch', 'tcp_consumed_mismatch'):
                lo, hi = self.cnt.get(name, (0, 0))
                self.cnt[name] = (lo, hi + 1)
        if end <= nx:
            self._add('tcp_retransmission', d)
            return
        if off > nx:
            self._add('tcp_out_of_order', d)
            # Compare with waiting segments; keep only uncovered parts (first data wins).
            waiting = dict()
            for s, b in self.ooo[d]:
                for k in range(len(b)):
                    waiting[s + k] = b[k]
            bad = False
            for i in range(off, end):
                if i in waiting:
                    if waiting[i] != data[i - off]:
                        bad = True
                else:
                    waiting[i] = data[i - off]
            if bad:
                self._add('tcp_overlap_mismatch', d)
            keys = sorted(waiting)
            segs, cur = [], None
            for k in keys:
                if cur and cur[0] + len(cur[1]) == k:
                    cur[1].append(waiting[k])
                else:
                    cur = [k, bytearray([waiting[k]])]
                    segs.append(cur)
            self.ooo[d] = [(s, bytes(b)) for s, b in segs]
            return
        new = data[nx - off:]
        self._deliver(d, nx, new)

    def _deliver(self, d, off, data):
        for i, b in enumerate(data):
            self.data[d][off + i] = b
        self.next[d] = off + len(data)
        while self.ooo[d] and self.ooo[d][0][0] <= self.next[d]:
            s, b = self.ooo[d].pop(0)
            if s + len(b) > self.next[d]:
                k = self.next[d] - s
                for i, x in enumerate(b[k:]):
                    self.data[d][self.next[d] + i] = x
                self.next[d] = s + len(b)

    def flush(self, d):
        while self.ooo[d]:
            lo, hi = self.cnt.get('tcp_gap', (0, 0))
            self.cnt['tcp_gap'] = (lo + 1, hi + 1)
            s, b = self.ooo[d][0]
            self.next[d] = s
            self._deliver(d, s, b'')

    def result(self):
        return {k: list(v) for k, v in sorted(self.cnt.items())}


# ----------------------------------------------------------------------------------------------
# emitting a conversation


class Emitter:
    def __init__(self, cv, streams=None, model_win=None):
        self.cv = cv
        self.streams = streams or cv.stream
        self.sec, self.usec = cv.t0
        self.ident = [0x1000, 0x5000]
        self.frames = []
        self.sent_hi = [0, 0]  # highest contiguous offset delivered per direction (for ACKs)
        self.have = [set(), set()]
        self.fin = [False, False]
        self.model = Model(model_win or [0, 0])

    def _tick(self):
        self.usec += 20
        if self.usec >= 1000000:
            self.sec += 1
            self.usec -= 1000000

    def _ack_of(self, d):
        o = 1 - d
        return self.cv.isn[o] + 1 + self.sent_hi[o] + (1 if self.fin[o] else 0)

    def packet(self, d, flags, off=None, payload=b'', seq=None, options=b''):
        cv = self.cv
        src, dst = (cv.cip, cv.sip) if d == C2S else (cv.sip, cv.cip)
        sp, dp = (cv.cport, cv.sport) if d == C2S else (cv.sport, cv.cport)
        if seq is None:
            seq = cv.isn[d] + 1 + (off if off is not None else
                                   self.sent_hi[d] + (1 if self.fin[d] else 0))
        ack = self._ack_of(d) if flags & ACK else 0
        l4 = tcp_segment(src, dst, sp, dp, seq, ack, flags, payload, options)
        self.frames.append((self.sec, self.usec, ether(ipv4_packet(src, dst, l4, self.ident[d]))))
        self.ident[d] += 1
        self._tick()

    def data(self, d, off, payload, push=False):
        self.packet(d, ACK | (PSH if push else 0), off=off, payload=payload)
        self.model.seg(d, off, payload)
        for i in range(off, off + len(payload)):
            self.have[d].add(i)
        while self.sent_hi[d] in self.have[d]:
            self.sent_hi[d] += 1

    def handshake(self):
        self.packet(C2S, SYN, seq=self.cv.isn[C2S], options=b'\x02\x04\x05\xb4')
        self.packet(S2C, SYN | ACK, seq=self.cv.isn[S2C], options=b'\x02\x04\x05\xb4')
        self.packet(C2S, ACK)

    def ack(self, d):
        self.packet(d, ACK)

    def send_fin(self, d):
        self.packet(d, FIN | ACK, off=len(self.streams[d]))
        self.fin[d] = True
        self.ack(1 - d)


def chunks(start, end, size):
    return [(o, min(o + size, end)) for o in range(start, end, size)]


def nparts(start, end, n):
    n = max(1, min(n, end - start))
    bounds = [start + (end - start) * i // n for i in range(n + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(n)]


MSS = 1448


def run_conv(cv, turn_plan, streams=None, syn=True, stop_after=None):
    """turn_plan(turn_index, d, start, end, stream) -> list of (off, bytes) in send order, or None
    for the default segmentation. stop_after: (turn_index, n_segments) ends the capture there."""
    streams = streams or cv.stream
    em = Emitter(cv, streams, windows_for(cv, streams))
    if syn:
        em.handshake()
    else:
        em.packet(C2S, ACK)  # the third packet of the handshake: the capture starts here
    for ti, t in enumerate(turns_for(cv, streams)):
        if t[0] == 'fin':
            em.send_fin(t[1])
            continue
        _k, d, start, end = t
        segs = turn_plan(ti, d, start, end, streams[d])
        if segs is None:
            segs = [(a, streams[d][a:b]) for a, b in chunks(start, end, MSS)]
        for i, (off, payload) in enumerate(segs):
            em.data(d, off, payload, push=(i == len(segs) - 1))
            if stop_after and stop_after == (ti, i):
                return em
        em.ack(1 - d)
    return em


# The server stream may be re-framed (records_small): its turns then shift. These helpers keep
# the turn structure of the seed with offsets translated to the new stream.
_REMAP = {}


def turns_for(cv, streams):
    if streams is cv.stream:
        return cv.turns
    return _REMAP[id(streams)]


def windows_for(cv, streams):
    if streams is cv.stream:
        return windows(cv)
    fake = Conv()
    fake.stream = streams
    return windows(fake)


# ----------------------------------------------------------------------------------------------
# the cases


def case_onebyte(cv):
    return run_conv(cv, lambda ti, d, s, e, st: [(o, st[o:o + 1]) for o in range(s, e)])


REORDER_PARTS = 12


def reorder_perm():
    perm = list(range(REORDER_PARTS))
    random.Random(20261128).shuffle(perm)
    return perm


def case_reorder(cv):
    s1 = first_server_turn(cv)
    perm = reorder_perm()

    def plan(ti, d, s, e, st):
        if ti != s1:
            return None
        parts = nparts(s, e, REORDER_PARTS)
        return [(parts[i][0], st[parts[i][0]:parts[i][1]]) for i in perm]
    return run_conv(cv, plan)


def case_duplicate(cv):
    c1, s1 = first_client_turn(cv), first_server_turn(cv)

    def plan(ti, d, s, e, st):
        if ti == c1:
            p = nparts(s, e, 4)
            order = [0, 0, 1, 1, 0, 2, 2, 3, 3]  # part 0 again, later
        elif ti == s1:
            p = nparts(s, e, 10)
            order = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 2, 5, 5, 6, 6, 3, 7, 7, 8, 8, 0, 9, 9]
        else:
            p = chunks(s, e, MSS)
            order = [i for i in range(len(p)) for _ in (0, 1)]
        return [(p[i][0], st[p[i][0]:p[i][1]]) for i in order]
    return run_conv(cv, plan)


def case_overlap_same(cv):
    s1 = first_server_turn(cv)

    def plan(ti, d, s, e, st):
        if ti != s1:
            return None
        # Segments of L bytes every 0.7 L: each repeats the previous one's last 0.3 L bytes.
        L = max(60, (e - s) // 12)
        segs, o = [], s
        while True:
            segs.append((o, st[o:min(o + L, e)]))
            if o + L >= e:
                break
            o += L * 7 // 10
        # One overlapping pair out of order, with identical bytes in the overlap: swap the
        # 4th and 5th segments (the 5th waits, the 4th then overlaps it).
        segs[3], segs[4] = segs[4], segs[3]
        return segs
    return run_conv(cv, plan)


def cert_message(cv):
    _r, msgs = handshake_messages(cv.stream[S2C])
    for m in msgs:
        if m[0] == 11:
            return m
    raise SystemExit('seed has no Certificate message')


def flip(b):
    return bytes(x ^ 0x5a for x in b)


def case_overlap_diff(cv):
    s1 = first_server_turn(cv)
    cert = cert_message(cv)
    mid = (cert[1] + cert[2]) // 2

    def plan(ti, d, s, e, st):
        if ti != s1:
            return None
        L = max(60, (e - s) // 12)
        p = chunks(s, e, L)
        k = next(i for i, (a, b) in enumerate(p) if a <= mid < b)
        if k + 2 >= len(p) or k < 2:
            raise SystemExit('overlap_diff: Certificate too close to the flight edge')
        segs = []
        for i, (a, b) in enumerate(p):
            if i == k:
                # (1) k+1 arrives early (waits), (2) a forged copy of part of k+1 with
                # DIFFERENT bytes arrives: compared with the waiting segment, first data wins,
                # (3) k fills the hole.
                na, nb = p[k + 1]
                segs.append((na, st[na:nb]))
                segs.append((na + L // 10, flip(st[na + L // 10:na + L * 4 // 10])))
                segs.append((a, st[a:b]))
            elif i == k + 1:
                continue
            elif i == k - 1:
                segs.append((a, st[a:b]))
                # (4) a forged retransmission of bytes already delivered (no new byte).
                segs.append((a + L // 5, flip(st[a + L // 5:a + L // 2])))
            else:
                segs.append((a, st[a:b]))
        return segs
    return run_conv(cv, plan)


def case_missing(cv):
    s1 = first_server_turn(cv)
    cert = cert_message(cv)
    mid = (cert[1] + cert[2]) // 2

    def plan(ti, d, s, e, st):
        if ti != s1:
            return None
        p = nparts(s, e, 10)
        return [(a, st[a:b]) for a, b in p if not (a <= mid < b)]
    em = run_conv(cv, plan)
    em.model.flush(S2C)
    return em


def case_truncated(cv):
    s1 = first_server_turn(cv)
    cert = cert_message(cv)
    mid = (cert[1] + cert[2]) // 2
    p = nparts(cv.turns[s1][2], cv.turns[s1][3], 10)
    k = next(i for i, (a, b) in enumerate(p) if a <= mid < b)

    def plan(ti, d, s, e, st):
        if ti != s1:
            return None
        return [(a, st[a:b]) for a, b in p]
    return run_conv(cv, plan, stop_after=(s1, k))


def case_midstream(cv):
    return run_conv(cv, lambda *a: None, syn=False)


RECORD_SMALL = 100


def reframe_server(cv):
    """Server stream with its leading handshake records re-framed: ServerHello and Certificate
    cut into 100-byte records (a message over many records; ServerHello shares its record with
    the start of Certificate), then the remaining messages (ServerKeyExchange +
    ServerHelloDone) together in one record."""
    st = cv.stream[S2C]
    recs, msgs = handshake_messages(st)
    ver = recs[0][2]
    hs_end = recs[-1][0] + 5 + len(recs[-1][3])
    head = b''.join(m[3] for m in msgs if m[0] in (2, 11))
    tail = b''.join(m[3] for m in msgs if m[0] not in (2, 11))
    if len(head) + len(tail) != sum(len(r[3]) for r in recs):
        raise SystemExit('records_small: leading handshake records hold partial messages')
    out = bytearray()
    for o in range(0, len(head), RECORD_SMALL):
        piece = head[o:o + RECORD_SMALL]
        out += struct.pack('!BHH', 22, ver, len(piece)) + piece
    if tail:
        out += struct.pack('!BHH', 22, ver, len(tail)) + tail
    shift = len(out) - hs_end
    new = bytes(out) + st[hs_end:]
    turns = []
    for t in cv.turns:
        if t[0] == 'data' and t[1] == S2C:
            a = t[2] if t[2] == 0 else t[2] + shift
            turns.append(('data', S2C, a, t[3] + shift))
        else:
            turns.append(t)
    streams = [cv.stream[C2S], new]
    _REMAP[id(streams)] = turns
    return streams


def case_records_small(cv):
    streams = reframe_server(cv)
    return run_conv(cv, lambda *a: None, streams=streams)


# -- garbage: three synthetic broken flows around the clean seed conversation ---------------------


def garbage_flow(cv, em, cport, payload):
    """A full TCP connection (SYN .. FINs) whose client sends `payload` and the server nothing."""
    g = Conv()
    g.cip, g.sip, g.cport, g.sport = cv.cip, cv.sip, cport, cv.sport
    g.isn = [0x10000000 + cport, 0x20000000 + cport]
    g.stream = [payload, b'']
    g.turns = [('data', C2S, 0, len(payload)), ('fin', C2S), ('fin', S2C)]
    sub = Emitter(g, g.stream)
    sub.sec, sub.usec = em.sec, em.usec
    sub.handshake()
    for a, b in chunks(0, len(payload), MSS):
        sub.data(C2S, a, payload[a:b], push=True)
    sub.ack(S2C)
    sub.send_fin(C2S)
    sub.send_fin(S2C)
    em.frames.extend(sub.frames)
    em.sec, em.usec = sub.sec, sub.usec


def garbage_payloads():
    rng = random.Random(77)

    def rb(n):
        return bytes(rng.randrange(256) for _ in range(n))
    # 1: a TLS record (22, 0x0301, 252 bytes) holding a ClientHello header (type 1, 248 bytes)
    #    whose body is random; legacy_version 0x0303, then 32 random bytes, then a session_id
    #    length of 224 (> 32, and past the end of the message): a malformed ClientHello.
    body = bytearray(rb(248))
    body[0:2] = b'\x03\x03'
    body[34] = 0xe0
    g1 = b'\x16\x03\x01\x00\xfc' + b'\x01\x00\x00\xf8' + bytes(body)
    # 2: a TLS record header with length 0xFFFF (over 2^14 + 2048) then random bytes.
    g2 = b'\x16\x03\x01\xff\xff' + rb(300)
    # 3: an SSLv2-format ClientHello (RFC 5246 E.2): not a TLS record.
    specs = b'\x00\x00\x2f\x00\x00\x35\x01\x00\x80'
    chal = rb(16)
    msg = b'\x01\x03\x01' + struct.pack('!HHH', len(specs), 0, len(chal)) + specs + chal
    g3 = struct.pack('!H', 0x8000 | len(msg)) + msg
    return [(40001, g1), (40002, g2), (40003, g3)]


def case_garbage(cv):
    gp = garbage_payloads()
    em = Emitter(cv)
    garbage_flow(cv, em, *gp[0])
    clean = run_conv(cv, lambda *a: None)
    # Re-time the clean conversation after the first garbage flow.
    base = em.sec * 1000000 + em.usec
    c0 = clean.frames[0][0] * 1000000 + clean.frames[0][1]
    for sec, usec, fr in clean.frames:
        t = base + (sec * 1000000 + usec - c0) + 20
        em.frames.append((t // 1000000, t % 1000000, fr))
    t = base + (clean.sec * 1000000 + clean.usec - c0) + 40
    em.sec, em.usec = t // 1000000, t % 1000000
    garbage_flow(cv, em, *gp[1])
    garbage_flow(cv, em, *gp[2])
    em.model = clean.model
    return em


# -- link types ---------------------------------------------------------------------------------


def ip_of(frame):
    """The IPv4 packet of a seed frame with both checksums recomputed: tcpdump on lo records
    TCP checksums the kernel never filled in (checksum offload), the cases must be valid."""
    ip = bytearray(frame[14:14 + struct.unpack('!H', frame[16:18])[0]])
    ihl = (ip[0] & 15) * 4
    ip[10:12] = b'\0\0'
    ip[10:12] = struct.pack('!H', csum(bytes(ip[:ihl])))
    tcp = bytearray(ip[ihl:])
    tcp[16:18] = b'\0\0'
    pseudo = bytes(ip[12:20]) + struct.pack('!BBH', 0, 6, len(tcp))
    tcp[16:18] = struct.pack('!H', csum(pseudo + bytes(tcp)))
    return bytes(ip[:ihl]) + bytes(tcp)


def link_cases(raw):
    """name -> (linktype, frames, writer) from the seed's own packets."""
    out = {}
    pk = [(s, u, fr) for s, u, fr, _d, _ip, _tcp in raw]
    out['vlan_qinq'] = (LINKTYPE_ETHERNET, [
        (s, u, fr[:12] + struct.pack('!HHHHH', 0x88a8, 100, 0x8100, 200, 0x0800) + ip_of(fr))
        for s, u, fr in pk], write_pcap)

    def sll(d, fr):
        pkttype = 4 if d == C2S else 0  # outgoing / to us, as tcpdump -i any on a client
        return struct.pack('!HHH8sH', pkttype, 772, 6, b'\0' * 8, 0x0800) + ip_of(fr)

    def sll2(d, fr):
        pkttype = 4 if d == C2S else 0
        return struct.pack('!HHIHBB8s', 0x0800, 0, 1, 772, pkttype, 6, b'\0' * 8) + ip_of(fr)
    out['sll'] = (LINKTYPE_LINUX_SLL, [(s, u, sll(d, fr)) for s, u, fr, d, _i, _t in raw],
                  write_pcap)
    out['sll2'] = (LINKTYPE_LINUX_SLL2, [(s, u, sll2(d, fr)) for s, u, fr, d, _i, _t in raw],
                   write_pcap)
    out['raw'] = (LINKTYPE_RAW, [(s, u, ip_of(fr)) for s, u, fr in pk], write_pcap)
    out['null_loopback'] = (LINKTYPE_NULL, [(s, u, struct.pack('<I', 2) + ip_of(fr))
                                            for s, u, fr in pk], write_pcap)

    c6 = bytes.fromhex('20010db8000000000000000000000001')
    s6 = bytes.fromhex('20010db8000000000000000000000002')

    def v6(d, ip, tcp):
        src, dst = (c6, s6) if d == C2S else (s6, c6)
        t = bytearray(tcp)
        t[16:18] = b'\0\0'
        sp, dp, seq, ack, offb, flags, win = struct.unpack('!HHIIBBH', bytes(t[:16]))
        opts = bytes(t[20:(offb >> 4) * 4])
        seg = tcp_segment(src, dst, sp, dp, seq, ack, flags, bytes(t[(offb >> 4) * 4:]), opts, win)
        # Hop-by-hop (next: destination options) and destination options (next: TCP), each
        # 8 bytes with a PadN option, as RFC 8200 orders them.
        hbh = bytes([60, 0, 1, 4, 0, 0, 0, 0])
        dst_opts = bytes([6, 0, 1, 4, 0, 0, 0, 0])
        payload = hbh + dst_opts + seg
        hdr = struct.pack('!IHBB16s16s', 6 << 28, len(payload), 0, ip[8], src, dst)
        return ether(hdr + payload, 0x86dd)
    out['ipv6_exthdr'] = (LINKTYPE_ETHERNET, [(s, u, v6(d, ip, tcp))
                                              for s, u, fr, d, ip, tcp in raw], write_pcap)
    out['pcapng'] = (LINKTYPE_ETHERNET, [(s, u, ether(ip_of(fr))) for s, u, fr in pk],
                     write_pcapng)
    return out


GEN_CASES = {
    'onebyte': case_onebyte,
    'reorder': case_reorder,
    'duplicate': case_duplicate,
    'overlap_same': case_overlap_same,
    'overlap_diff': case_overlap_diff,
    'missing': case_missing,
    'records_small': case_records_small,
    'truncated': case_truncated,
    'garbage': case_garbage,
    'midstream': case_midstream,
}


def main(argv):
    port, only, prefix, args = 8443, None, '', []
    it = iter(argv[1:])
    for a in it:
        if a == '--server-port':
            port = int(next(it))
        elif a == '--only':
            only = set(next(it).split(','))
        elif a == '--prefix':
            prefix = next(it)
        elif a.startswith('--'):
            raise SystemExit('unknown option ' + a)
        else:
            args.append(a)
    if len(args) != 2:
        raise SystemExit(__doc__)
    seed, outdir = args
    os.makedirs(outdir, exist_ok=True)
    cv, raw = parse_seed(seed, port)
    model = {}
    mpath = os.path.join(outdir, 'model.json')
    if os.path.exists(mpath):
        with open(mpath) as f:
            model = json.load(f)
    for name, fn in GEN_CASES.items():
        if only and name not in only:
            continue
        em = fn(cv)
        path = os.path.join(outdir, prefix + name + '.pcap')
        write_pcap(path, LINKTYPE_ETHERNET, em.frames)
        model[prefix + name] = {'packets': len(em.frames), 'anomalies': em.model.result()}
    for name, (lt, frames, writer) in link_cases(raw).items():
        if only and name not in only:
            continue
        ext = '.pcapng' if writer is write_pcapng else '.pcap'
        writer(os.path.join(outdir, prefix + name + ext), lt, frames)
        model[prefix + name] = {'packets': len(frames), 'anomalies': {}}
    info = {'client': [bytes(cv.cip).hex(), cv.cport], 'server': [bytes(cv.sip).hex(), cv.sport],
            'stream_len': [len(cv.stream[0]), len(cv.stream[1])],
            'turns': [list(t) for t in cv.turns], 'windows': windows(cv),
            'reorder_perm': reorder_perm()}
    model[prefix + '_seed'] = info
    with open(mpath, 'w') as f:
        json.dump(model, f, indent=1, sort_keys=True)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
