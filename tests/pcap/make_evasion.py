#!/usr/bin/python3
"""Makes the evasion and injection captures of tests/pcap/cases/ from the committed TLS 1.2 seed.

usage: make_evasion.py SEED.pcap OUTDIR      (SEED: tests/pcap/cases/seed_tls12.pcap)

An attacker on the path sends the server's first flight (ServerHello .. ServerHelloDone) with
the certificate the sensor expects (the seed's, "known") at the same sequence numbers as the
real flight, whose leaf certificate differs ("rogue": 8 bytes of the leaf's signature flipped,
so its DER still parses and its SHA-256 differs). The client accepts only one of the two:

  evasion_badsum     the known copy comes first with a wrong TCP checksum (the client's stack
                     drops it). Every other packet has a correct checksum. The sensor must drop
                     it too and report the rogue leaf.
  evasion_badsum_lo  the same, but every genuine packet carries the Linux offload pattern (the
                     pseudo-header sum in the checksum field, as in a loopback capture), as
                     the seed does: the automatic mode must detect offload and still drop the
                     injected copy, whose checksum is neither right nor the pattern.
  inject_ttl         the known copy comes first with a correct checksum and IP TTL 60 (sent to
                     expire before the client); the real flight (TTL 64) follows. The sensor
                     parses the first copy (first data wins) and must see that the second one
                     differs from bytes it already consumed.
  inject_alert       like inject_ttl, but the known copy ends with a forged fatal alert, so the
                     sensor reaches its verdict before the real flight arrives; the difference
                     must still be found (the flow is watched after its verdict).

Each copy of the flight is a single TCP segment. Prints the known and rogue leaf SHA-256 and
the flight's length. Only the Python standard library is used.
"""
import hashlib
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mutate as M  # noqa: E402

ALERT = bytes([21, 3, 3, 0, 2, 2, 40])  # fatal handshake_failure, TLS 1.2 record


def leaf_der(flight):
    """The first certificate of the Certificate message in a flight (one record per message
    or several messages per record, as long as the Certificate is not split)."""
    _recs, msgs = M.handshake_messages(flight)
    for mtype, _s, _e, body in msgs:
        if mtype == 11:
            n = int.from_bytes(body[7:10], 'big')
            return body[10:10 + n]
    raise SystemExit('no Certificate message in the server flight')


def rogue_flight(flight):
    der = leaf_der(flight)
    at = flight.find(der)
    if at < 0:
        raise SystemExit('the leaf is split across records')
    flip = len(der) - 12  # inside the signature value
    out = bytearray(flight)
    for i in range(8):
        out[at + flip + i] ^= 0xff
    return bytes(out), der, bytes(out[at:at + len(der)])


def offload_pattern(frame):
    """The frame with its TCP checksum replaced by the folded pseudo-header sum."""
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    total = struct.unpack('!H', ip[2:4])[0]
    l4len = total - ihl
    s = sum(struct.unpack('!4H', ip[12:20])) + 6 + l4len
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    at = 14 + ihl + 16
    return frame[:at] + struct.pack('!H', s) + frame[at + 2:], s


def build(cv, real, injected, ttl_inj, bad_sum, lo):
    """The conversation with real[S2C] as the server's stream; before the first server turn,
    the injected bytes at the same sequence number."""
    em = M.Emitter(cv, real)
    em.handshake()
    fst = M.first_server_turn(cv)
    marks = set()
    for ti, t in enumerate(cv.turns):
        if t[0] == 'fin':
            em.send_fin(t[1])
            continue
        _k, d, start, end = t
        if ti == fst:
            src, dst, sp, dp = cv.sip, cv.cip, cv.sport, cv.cport
            seq = cv.isn[d] + 1 + start
            l4 = M.tcp_segment(src, dst, sp, dp, seq, em._ack_of(d), M.ACK | M.PSH, injected)
            if bad_sum:
                c = struct.unpack('!H', l4[16:18])[0] ^ 0x5a5a
                l4 = l4[:16] + struct.pack('!H', c) + l4[18:]
            frame = M.ether(M.ipv4_packet(src, dst, l4, em.ident[d], ttl=ttl_inj))
            em.ident[d] += 1
            marks.add(len(em.frames))
            em.frames.append((em.sec, em.usec, frame))
            em._tick()
            segs = [(start, real[d][start:end])]
        else:
            segs = [(a, real[d][a:b]) for a, b in M.chunks(start, end, M.MSS)]
        for i, (off, payload) in enumerate(segs):
            em.data(d, off, payload, push=(i == len(segs) - 1))
        em.ack(1 - d)
    frames = em.frames
    if lo:
        out = []
        for i, (sec, usec, fr) in enumerate(frames):
            if i in marks:
                _f, pattern = offload_pattern(fr)
                field = struct.unpack('!H', fr[14 + 20 + 16:14 + 20 + 18])[0]
                if field == pattern:
                    raise SystemExit('the injected checksum happens to be the offload pattern')
                out.append((sec, usec, fr))
            else:
                out.append((sec, usec, offload_pattern(fr)[0]))
        frames = out
    return frames


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    cv, _raw = M.parse_seed(argv[1], 8443)
    if cv.turns[M.first_server_turn(cv)][2] != 0:
        raise SystemExit('the server is expected to speak after the ClientHello only')
    t = cv.turns[M.first_server_turn(cv)]
    flight = cv.stream[M.S2C][t[2]:t[3]]
    rflight, known, rogue = rogue_flight(flight)
    real = [cv.stream[M.C2S], rflight + cv.stream[M.S2C][t[3]:]]
    os.makedirs(argv[2], exist_ok=True)
    cases = {
        'evasion_badsum': (flight, 64, True, False),
        'evasion_badsum_lo': (flight, 64, True, True),
        'inject_ttl': (flight, 60, False, False),
        'inject_alert': (flight + ALERT, 60, False, False),
    }
    for name, (inj, ttl, bad, lo) in cases.items():
        frames = build(cv, real, inj, ttl, bad, lo)
        M.write_pcap(os.path.join(argv[2], name + '.pcap'), M.LINKTYPE_ETHERNET, frames)
    print('flight %d bytes; known leaf %s; rogue leaf %s' %
          (len(flight), hashlib.sha256(known).hexdigest(), hashlib.sha256(rogue).hexdigest()))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
