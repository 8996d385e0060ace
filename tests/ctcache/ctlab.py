#!/usr/bin/python3
"""Test CT sources for the ctcache tests, on 127.0.0.1 only.

  ctlab.py gen DIR      CA, log keys, certificates (x509 and precertificates with their
                        final certificates), known store, manifest.json
  ctlab.py serve DIR    HTTP server: RFC 6962 logs (real Merkle tree, ECDSA-signed tree
                        heads, consistency proofs), static-ct-api tiles (signed-note
                        checkpoint, data and hash tiles, optionally gzip), crt.sh- and Cert
                        Spotter-shaped JSON, fault modes set through /_ctl/...; writes the
                        bound port to DIR/port
  ctlab.py loglist DIR URL OUT   a Google v3 log_list.json naming the test logs at URL
  ctlab.py pcap DIR OUT LABEL...   TLS 1.2 handshakes presenting certs/LABEL.pem, as a pcap
  ctlab.py vectors      Merkle consistency vectors for the C unit test (stdout)

Everything is computed here independently of the C code under test.
"""
import base64
import datetime
import gzip
import hashlib
import http.server
import json
import os
import struct
import sys
import threading
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ExtensionOID

# ---------------------------------------------------------------- Merkle tree (RFC 6962 2.1)


def H(b):
    return hashlib.sha256(b).digest()


def leaf_hash(d):
    return H(b"\x00" + d)


def mth(hs):
    """Root over leaf hashes."""
    n = len(hs)
    if n == 0:
        return H(b"")
    if n == 1:
        return hs[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return H(b"\x01" + mth(hs[:k]) + mth(hs[k:]))


def subproof(m, hs, b):
    n = len(hs)
    if m == n:
        return [] if b else [mth(hs)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return subproof(m, hs[:k], b) + [mth(hs[k:])]
    return subproof(m - k, hs[k:], False) + [mth(hs[:k])]


def consistency(m, hs):
    return subproof(m, hs, True)


# ---------------------------------------------------------------- TLS structures (RFC 6962 3)


def u16(n):
    return struct.pack(">H", n)


def u24(n):
    return struct.pack(">I", n)[1:]


def u64(n):
    return struct.pack(">Q", n)


def ts_entry_x509(ts, der):
    return u64(ts) + u16(0) + u24(len(der)) + der + u16(0)


def ts_entry_precert(ts, ikh, tbs):
    return u64(ts) + u16(1) + ikh + u24(len(tbs)) + tbs + u16(0)


def mtl(tsentry):
    return b"\x00\x00" + tsentry


def digitally_signed(key, data):
    sig = key.sign(data, ec.ECDSA(hashes.SHA256()))
    return b"\x04\x03" + u16(len(sig)) + sig


def sth_sign(key, ts, size, root):
    return digitally_signed(key, b"\x00\x01" + u64(ts) + u64(size) + root)


def spki_der(key):
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


# ---------------------------------------------------------------- certificates

BASE_TS = 1764000000000  # ms, 2025-11-24: entry timestamps
NOT_BEFORE = datetime.datetime(2025, 11, 20, 0, 0, 0)
NOT_AFTER = datetime.datetime(2026, 2, 18, 0, 0, 0)


def load_or_make_key(path):
    if os.path.exists(path):
        return serialization.load_pem_private_key(open(path, "rb").read(), None)
    k = ec.generate_private_key(ec.SECP256R1())
    open(path, "wb").write(k.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return k


def make_ca(d):
    key = load_or_make_key(os.path.join(d, "ca.key"))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mitmwatch test CA"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mitmwatch tests")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(datetime.datetime(2025, 1, 1)).not_valid_after(datetime.datetime(2035, 1, 1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def builder(ca_cert, serial, names, cn=None, nb=NOT_BEFORE):
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    subj = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn or names[0])])
    b = (x509.CertificateBuilder().subject_name(subj).issuer_name(ca_cert.subject)
         .public_key(leaf_key.public_key()).serial_number(serial)
         .not_valid_before(nb).not_valid_after(nb + datetime.timedelta(days=90))
         .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    b.leaf_key = leaf_key
    return b


def sct_list_ext(log_key, ts, ikh, tbs):
    """A real SCT over the precertificate, as its final certificate embeds it (RFC 6962 3.2)."""
    signed = b"\x00\x00" + u64(ts) + u16(1) + ikh + u24(len(tbs)) + tbs + u16(0)
    log_id = H(spki_der(log_key))
    sct = b"\x00" + log_id + u64(ts) + u16(0) + digitally_signed(log_key, signed)
    lst = u16(len(sct) + 2) + u16(len(sct)) + sct
    inner = b"\x04" + der_len(len(lst)) + lst  # extnValue holds an OCTET STRING
    return x509.UnrecognizedExtension(ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS, inner)


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def gen(d):
    os.makedirs(d, exist_ok=True)
    for sub in ("known", "certs"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    ca_key, ca = make_ca(d)
    open(os.path.join(d, "ca.pem"), "wb").write(pem(ca))
    ikh = H(spki_der(ca_key))
    logkeys = {}
    for name in ("a", "b", "t"):
        k = load_or_make_key(os.path.join(d, f"log-{name}.key"))
        logkeys[name] = k
        open(os.path.join(d, f"log-{name}.pub"), "wb").write(
            k.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo))

    certs = {}  # label -> dict(kind, der, tbs (CT TBS), names, known)
    serial = [100]

    def x509_cert(label, names, known, cn=None, nb=NOT_BEFORE):
        serial[0] += 1
        b = builder(ca, serial[0], names, cn, nb)
        c = b.sign(ca_key, hashes.SHA256())
        certs[label] = dict(kind="x509", der=der(c), tbs=c.tbs_certificate_bytes, names=names,
                            known=known, cert=c, key=b.leaf_key)
        return c

    def precert_pair(label, names, known, log_key, ts):
        """A precertificate and its final certificate with an embedded SCT, same TBS."""
        serial[0] += 1
        b = builder(ca, serial[0], names)
        pre = b.add_extension(x509.PrecertPoison(), critical=True).sign(ca_key, hashes.SHA256())
        # cryptography strips only an SCT list: take the TBS from a draft final certificate
        draft = b.add_extension(sct_list_ext(log_key, 0, ikh, b"x"), critical=False) \
                 .sign(ca_key, hashes.SHA256())
        tbs = draft.tbs_precertificate_bytes
        final = b.add_extension(sct_list_ext(log_key, ts, ikh, tbs), critical=False) \
                 .sign(ca_key, hashes.SHA256())
        assert final.tbs_precertificate_bytes == tbs
        certs[label + ".pre"] = dict(kind="precert", der=der(pre), tbs=tbs, names=names,
                                     known=False, cert=pre)
        certs[label] = dict(kind="x509", der=der(final), tbs=tbs, names=names, known=known,
                            cert=final, key=b.leaf_key)

    la = logkeys["a"]
    x509_cert("www", ["www.example.test"], True)
    x509_cert("other", ["other.test"], False)
    precert_pair("mail", ["mail.example.test"], True, la, BASE_TS + 2)
    x509_cert("unw1", ["unwatched.test", "foo.unwatched.test"], False)
    precert_pair("api", ["api.example.test"], False, la, BASE_TS + 5)  # the rogue issuance
    x509_cert("wild", ["*.example.test", "example.test"], True)
    x509_cert("vpn", ["vpn.corp.test"], True, cn="vpn.corp.test")
    x509_cert("deep", ["a.b.example.test"], False)
    x509_cert("shop", ["shop.example.test"], False)  # second rogue: acknowledged later
    x509_cert("unw2", ["unwatched2.test"], False)
    # not logged anywhere: the sensor must call it cert.not_in_ct
    x509_cert("unlogged", ["www.example.test"], False)
    # issued an hour ago: within the logs' merge delay, no alert yet
    x509_cert("fresh", ["www.example.test"], False,
              nb=datetime.datetime.utcnow().replace(microsecond=0) - datetime.timedelta(hours=1))

    # Log a: stage 1 = first 10 leaves, stage 2 = 14.
    bad_der = b"\x30\x82\x01\x00" + b"\x02" * 40  # claims 256 bytes, has 40: bad DER
    leaves = []

    def add(label):
        c = certs[label]
        ts = BASE_TS + len(leaves)
        if c["kind"] == "x509":
            leaves.append(mtl(ts_entry_x509(ts, c["der"])))
        else:
            leaves.append(mtl(ts_entry_precert(ts, ikh, c["tbs"])))

    for label in ("www", "other", "mail.pre", "mail", "unw1", "api.pre", "wild"):
        add(label)
    leaves.append(mtl(ts_entry_x509(BASE_TS + 7, bad_der)))  # 7: bad DER, in the tree
    leaves.append(b"\x00\x00" + u64(BASE_TS + 8) + u16(9) + b"\x00\x01\x02")  # 8: bad leaf
    add("vpn")  # 9
    for label in ("deep", "shop", "unw2"):
        add(label)
    add("other")  # 13: the same certificate twice in one log happens (resubmission)

    # Log b: same first 6 leaves; the rewritten history swaps leaf 3.
    leaves_b = leaves[:6]
    rewritten_b = list(leaves[:3]) + [mtl(ts_entry_x509(BASE_TS + 3, certs["deep"]["der"]))] \
        + leaves[4:9]

    # Log t (tiles): the first 10 leaves (a tiled log cannot hold an unparseable leaf: leaf 8
    # is a filler there), 250 unwatched fillers (a full tile and a partial one), then the
    # stage-2 leaves.
    filler = [mtl(ts_entry_x509(BASE_TS + 1000 + i, certs["unw2"]["der"])) for i in range(251)]
    leaves_t = leaves[:8] + filler[:1] + leaves[9:10] + filler[1:] + leaves[10:14]

    manifest = {
        "log_a": [base64.b64encode(x).decode() for x in leaves],
        "log_b": [base64.b64encode(x).decode() for x in leaves_b],
        "log_t": [base64.b64encode(x).decode() for x in leaves_t],
        "log_b_rewritten": [base64.b64encode(x).decode() for x in rewritten_b],
        "certs": {k: dict(kind=v["kind"], der=base64.b64encode(v["der"]).decode(),
                          tbs_sha256=H(v["tbs"]).hex(), cert_sha256=H(v["der"]).hex(),
                          names=v["names"], known=v["known"])
                  for k, v in certs.items()},
    }
    json.dump(manifest, open(os.path.join(d, "manifest.json"), "w"), indent=1)
    for k, v in certs.items():
        open(os.path.join(d, "certs", k + ".pem"), "wb").write(pem(v["cert"]))
        if "key" in v:
            open(os.path.join(d, "certs", k + ".key"), "wb").write(v["key"].private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()))
    # Known store laid out as certbot does: archive/ with the files, live/ with symlinks.
    arch = os.path.join(d, "known", "archive", "example.test")
    live = os.path.join(d, "known", "live", "example.test")
    os.makedirs(arch, exist_ok=True)
    os.makedirs(live, exist_ok=True)
    n = 0
    for k, v in certs.items():
        if v["known"]:
            n += 1
            p = os.path.join(arch, f"cert{n}.pem")
            open(p, "wb").write(pem(v["cert"]) + pem(ca))  # fullchain-like: leaf + CA
            link = os.path.join(live, f"{k}.pem")
            if not os.path.lexists(link):
                os.symlink(os.path.relpath(p, live), link)
    open(os.path.join(arch, "privkey1.pem"), "w").write("-----BEGIN PRIVATE KEY-----\nnot a cert\n"
                                                        "-----END PRIVATE KEY-----\n")


# ---------------------------------------------------------------- static-ct-api tiles


def note_key_id(key_name, log_id):
    """c2sp.org/static-ct-api "Checkpoints": the first four bytes of SHA-256(key name || 0x0A ||
    0x05 || the 32-byte RFC 6962 LogID), the LogID being SHA-256 of the key's SPKI."""
    return H(key_name.encode() + b"\n" + b"\x05" + log_id)[:4]


def tile_index(path):
    """"x001/x234/067" -> 1234067; None unless every element but the last has its x"""
    comps = path.split("/")
    n = 0
    for i, comp in enumerate(comps):
        last = i == len(comps) - 1
        if (comp.startswith("x") == last) or len(comp.lstrip("x")) != 3:
            return None
        n = n * 1000 + int(comp.lstrip("x"))
    return n


# ---------------------------------------------------------------- server


class Log:
    def __init__(self, key, leaves):
        self.key = key
        self.leaves = leaves
        self.size = len(leaves)
        self.ts = BASE_TS + 100000

    def hashes(self):
        return [leaf_hash(x) for x in self.leaves[:self.size]]

    def level_hash(self, level, i):
        """hash i of tile level `level`: MTH of leaves [i * 256^level, (i + 1) * 256^level)"""
        span = 256 ** level
        return mth([leaf_hash(x) for x in self.leaves[i * span:(i + 1) * span]])


class State:
    def __init__(self, d):
        self.d = d
        m = json.load(open(os.path.join(d, "manifest.json")))
        self.m = m
        dec = lambda lst: [base64.b64decode(x) for x in lst]
        ka = serialization.load_pem_private_key(open(os.path.join(d, "log-a.key"), "rb").read(), None)
        kb = serialization.load_pem_private_key(open(os.path.join(d, "log-b.key"), "rb").read(), None)
        kt = serialization.load_pem_private_key(open(os.path.join(d, "log-t.key"), "rb").read(), None)
        self.logs = {"a": Log(ka, dec(m["log_a"])), "b": Log(kb, dec(m["log_b"])),
                     "t": Log(kt, dec(m["log_t"]))}
        self.logs["a"].size = 10
        self.logs["t"].size = 260
        self.rewritten_b = dec(m["log_b_rewritten"])
        # Log t forked: leaf 3 swapped for another certificate, then the tree grows by 4
        unw2 = base64.b64decode(m["certs"]["unw2"]["der"])
        self.rewritten_t = list(self.logs["t"].leaves) + [
            mtl(ts_entry_x509(BASE_TS + 2000 + i, unw2)) for i in range(4)]
        self.rewritten_t[3] = mtl(ts_entry_x509(BASE_TS + 3, base64.b64decode(m["certs"]["deep"]["der"])))
        self.gzip = "off"  # data tiles: off, header (Content-Encoding: gzip), raw (no header)
        self.gzip_served = 0
        self.faults = {}  # name -> remaining count
        self.lock = threading.Lock()
        self.requests = []

    def take_fault(self, name):
        """True for the next n matching requests after skipping the first `skip`."""
        with self.lock:
            skip, n = self.faults.get(name, (0, 0))
            if n <= 0:
                return False
            if skip > 0:
                self.faults[name] = (skip - 1, n)
                return False
            self.faults[name] = (0, n - 1)
            return True


def crtsh_rows(st, q):
    rows = []
    like = q.startswith("%.")
    base = q[2:] if like else q
    for i, (label, c) in enumerate(sorted(st.m["certs"].items())):
        if label in ("unlogged", "fresh"):
            continue
        names = c["names"]
        hit = any((n.endswith("." + base) if like else n == base) for n in names)
        if hit:
            rows.append({"issuer_ca_id": 1, "issuer_name": "CN=mitmwatch test CA",
                         "common_name": names[0], "name_value": "\n".join(names),
                         "id": 1000 + i, "entry_timestamp": "2025-11-24T16:00:00.123",
                         "not_before": "2025-11-20T00:00:00", "not_after": "2026-02-18T00:00:00",
                         "serial_number": "65"})
    if "example" in q:
        rows.append({"issuer_name": "no id"})  # malformed row: counted, skipped
    return rows


def certspotter_issuances(st, domain, subdomains):
    out = []
    for i, (label, c) in enumerate(sorted(st.m["certs"].items())):
        if label in ("unlogged", "fresh") or c["kind"] == "precert":
            continue
        names = c["names"]
        match = any(n == domain or (subdomains and n.endswith("." + domain))
                    or (n.startswith("*.") and domain.endswith("." + n[2:])) for n in names)
        if not match:
            continue
        tbs = c["tbs_sha256"]
        if label == "shop":
            tbs = "00" * 32  # a lie the client must notice
        out.append({"id": str(5000 + i), "tbs_sha256": tbs, "cert_sha256": c["cert_sha256"],
                    "dns_names": names, "pubkey_sha256": "00" * 32,
                    "issuer": {"name": "CN=mitmwatch test CA"},
                    "not_before": "2025-11-20T00:00:00Z", "not_after": "2026-02-18T00:00:00Z",
                    "revoked": False, "cert_der": c["der"]})
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, body, ctype="application/json", headers=(), truncate=False):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        if truncate:
            # No length, then the connection closes early: to the client a complete 200 whose
            # body is cut short, the fault no transport error reveals.
            self.send_header("Connection", "close")
            body = body[: len(body) // 2]
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, obj):
        self.send(200, json.dumps(obj))

    def do_GET(self):
        st = self.server.st
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        p = u.path
        with st.lock:
            st.requests.append(self.path)
        try:
            if p.startswith("/_ctl/"):
                return self.ctl(st, p.split("/")[2:], q)
            parts = p.split("/")
            if len(parts) >= 5 and parts[1] in ("a", "b") and parts[2:4] == ["ct", "v1"]:
                return self.rfc6962(st, st.logs[parts[1]], parts[4], q)
            if len(parts) >= 3 and parts[1] == "t":
                return self.tiles(st, st.logs["t"], "/".join(parts[2:]))
            if p == "/crtsh/":
                return self.crtsh(st, q)
            if p == "/certspotter/v1/issuances":
                return self.certspotter(st, q)
            self.send(404, "not found", "text/plain")
        except (KeyError, ValueError, IndexError) as e:
            self.send(400, "bad request: %s" % e, "text/plain")

    def ctl(self, st, parts, q):
        cmd = parts[0]
        if cmd == "size":
            st.logs[parts[1]].size = int(q["n"][0])
            st.logs[parts[1]].ts += 1000
        elif cmd == "rewrite":
            lg = st.logs["b"]
            lg.leaves = st.rewritten_b
            lg.size = len(lg.leaves)
            lg.ts += 1000
        elif cmd == "rewrite_t":
            lg = st.logs["t"]
            lg.leaves = st.rewritten_t
            lg.size += 4
            lg.ts += 1000
        elif cmd == "gzip":
            st.gzip = q["mode"][0]
        elif cmd == "stats":
            return self.send_json({"gzip_served": st.gzip_served})
        elif cmd == "fault":
            with st.lock:
                st.faults[parts[1]] = (int(q.get("skip", ["0"])[0]), int(q.get("n", ["1"])[0]))
        elif cmd == "requests":
            with st.lock:
                r = list(st.requests)
                st.requests.clear()
            return self.send_json(r)
        self.send_json({"ok": True})

    def rfc6962(self, st, lg, ep, q):
        hs = lg.hashes()
        if ep == "get-sth":
            root = mth(hs)
            sig = sth_sign(lg.key, lg.ts, lg.size, root)
            if st.take_fault("badsig"):
                sig = sig[:-1] + bytes([sig[-1] ^ 1])
            return self.send_json({"tree_size": lg.size, "timestamp": lg.ts,
                                   "sha256_root_hash": base64.b64encode(root).decode(),
                                   "tree_head_signature": base64.b64encode(sig).decode()})
        if ep == "get-sth-consistency":
            first, second = int(q["first"][0]), int(q["second"][0])
            if not (0 < first <= second <= lg.size):
                return self.send(400, "bad range", "text/plain")
            proof = consistency(first, hs[:second])
            return self.send_json({"consistency": [base64.b64encode(x).decode() for x in proof]})
        if ep == "get-entries":
            start, end = int(q["start"][0]), int(q["end"][0])
            if st.take_fault("429"):
                return self.send(429, "slow down", "text/plain", [("Retry-After", "1")])
            if not (0 <= start <= end) or start >= lg.size:
                return self.send(400, "bad range", "text/plain")
            end = min(end, lg.size - 1, start + 3)  # at most 4 per response, like real logs cap
            ents = []
            for i in range(start, end + 1):
                leaf = lg.leaves[i]
                if i == start and st.take_fault("badleaf"):
                    leaf = leaf[:-40] + bytes([leaf[-40] ^ 0xFF]) + leaf[-39:]
                ents.append({"leaf_input": base64.b64encode(leaf).decode(),
                             "extra_data": base64.b64encode(u24(0)).decode()})
            body = json.dumps({"entries": ents})
            if st.take_fault("badjson"):
                body = body[: len(body) // 2]
            if st.take_fault("oversize"):
                body = body + " " * (2 << 20)
            return self.send(200, body, truncate=st.take_fault("truncjson"))
        self.send(404, "unknown endpoint", "text/plain")

    def tiles(self, st, lg, rest):
        origin = "127.0.0.1/t"
        if rest == "checkpoint":
            hs = lg.hashes()
            root = mth(hs)
            body = f"{origin}\n{lg.size}\n{base64.b64encode(root).decode()}\n"
            ds = sth_sign(lg.key, lg.ts, lg.size, root)
            sig = note_key_id(origin, H(spki_der(lg.key))) + u64(lg.ts) + ds
            if st.take_fault("tilesig"):
                sig = sig[:-1] + bytes([sig[-1] ^ 1])
            # a witness cosignature under another name comes first: it must be ignored
            other = "\u2014 witness.example/w " + base64.b64encode(b"\x01\x02\x03\x04" + b"x" * 72).decode()
            note = body + "\n" + other + "\n\u2014 " + origin + " " + base64.b64encode(sig).decode() + "\n"
            return self.send(200, note, "text/plain; charset=utf-8",
                             truncate=st.take_fault("trunccheckpoint"))
        if not rest.startswith("tile/"):
            return self.send(404, "not found", "text/plain")
        level, _, path = rest[len("tile/"):].partition("/")
        width = 256
        if ".p/" in path:
            path, w = path.split(".p/")
            if w != str(int(w)) or not 1 <= int(w) <= 255:
                return self.send(400, "bad width", "text/plain")
            width = int(w)
        n = tile_index(path)
        if n is None or not (level == "data" or level in ("0", "1", "2", "3", "4", "5")):
            return self.send(400, "bad tile path", "text/plain")
        if level == "data":
            start = n * 256
            if start + width > lg.size:
                return self.send(404, "no such tile", "text/plain")
            out = b""
            for i in range(start, start + width):
                te = lg.leaves[i][2:]  # TimestampedEntry
                typ = struct.unpack(">H", te[8:10])[0]
                extra = b""
                if typ == 1:
                    extra = u24(3) + b"\x30\x01\x00"  # pre_certificate (not parsed by clients)
                out += te + extra + u16(0)  # no chain fingerprints
            if st.take_fault("badtile"):
                out = out[:-60] + bytes([out[-60] ^ 1]) + out[-59:]  # in the last leaf
            headers = []
            if st.gzip != "off":
                out = gzip.compress(out)
                st.gzip_served += 1
                if st.gzip == "header":
                    headers = [("Content-Encoding", "gzip")]
            return self.send(200, out, "application/octet-stream", headers,
                             truncate=st.take_fault("trunctile"))
        lv = int(level)
        if (n * 256 + width) > (lg.size >> (8 * lv)):
            return self.send(404, "no such tile", "text/plain")
        out = b"".join(lg.level_hash(lv, i) for i in range(n * 256, n * 256 + width))
        if st.take_fault("badhashtile"):
            out = bytes([out[0] ^ 1]) + out[1:]
        return self.send(200, out, "application/octet-stream")

    def crtsh(self, st, q):
        if "d" in q:
            i = int(q["d"][0]) - 1000
            label, c = sorted(st.m["certs"].items())[i]
            return self.send(200, x509.load_der_x509_certificate(base64.b64decode(c["der"]))
                             .public_bytes(serialization.Encoding.PEM), "application/pkix-cert")
        rows = crtsh_rows(st, q["q"][0])
        return self.send_json(rows)

    def certspotter(self, st, q):
        if self.headers.get("Authorization") != "Bearer test-api-key":
            return self.send(401, json.dumps({"code": "unauthorized"}))
        if st.take_fault("cs429"):
            return self.send(429, "{}", headers=[("Retry-After", "1")])
        iss = certspotter_issuances(st, q["domain"][0], q.get("include_subdomains") == ["true"])
        after = q.get("after", [None])[0]
        if after is not None:
            iss = [x for x in iss if int(x["id"]) > int(after)]
        return self.send_json(iss[:2])  # pages of two


def loglist(d, url, out):
    """A Google v3 log list naming the test logs: a and t usable, b qualified; plus logs the
    client must leave out (pending, retired, a shard that ended, a key that is not the log's)."""
    def key(name):
        k = serialization.load_pem_private_key(open(os.path.join(d, f"log-{name}.key"), "rb").read(), None)
        return base64.b64encode(spki_der(k)).decode(), base64.b64encode(H(spki_der(k))).decode()
    ka, ida = key("a")
    kb, idb = key("b")
    kt, idt = key("t")
    usable = {"usable": {"timestamp": "2025-01-01T00:00:00Z"}}
    future = {"start_inclusive": "2025-01-01T00:00:00Z", "end_exclusive": "2099-01-01T00:00:00Z"}
    ended = {"start_inclusive": "2020-01-01T00:00:00Z", "end_exclusive": "2021-01-01T00:00:00Z"}
    lst = {"version": "1.0", "log_list_timestamp": "2026-01-01T00:00:00Z", "operators": [
        {"name": "Test operator A", "email": ["a@example.test"], "logs": [
            {"description": "log a", "log_id": ida, "key": ka, "url": url + "/a/", "mmd": 3600,
             "state": usable, "temporal_interval": future},
            {"description": "log a, an ended shard", "log_id": ida, "key": ka,
             "url": url + "/a-2020/", "mmd": 86400, "state": usable, "temporal_interval": ended},
            {"description": "log a, pending", "log_id": ida, "key": ka, "url": url + "/a-next/",
             "mmd": 86400, "state": {"pending": {"timestamp": "2025-01-01T00:00:00Z"}}},
            {"description": "wrong key for its log_id", "log_id": idb, "key": ka,
             "url": url + "/a-badkey/", "mmd": 86400, "state": usable}],
         "tiled_logs": [
            {"description": "log t", "log_id": idt, "key": kt, "submission_url": "https://127.0.0.1/t/",
             "monitoring_url": url + "/t/", "mmd": 60, "state": usable, "temporal_interval": future}]},
        {"name": "Test operator B", "email": ["b@example.test"], "logs": [
            {"description": "log b", "log_id": idb, "key": kb, "url": url + "/b/", "mmd": 86400,
             "state": {"qualified": {"timestamp": "2025-01-01T00:00:00Z"}}},
            {"description": "log b, retired", "log_id": idb, "key": kb, "url": url + "/b-old/",
             "mmd": 86400, "state": {"retired": {"timestamp": "2025-01-01T00:00:00Z"}}}],
         "tiled_logs": []}]}
    json.dump(lst, open(out, "w"), indent=1)


def serve(d):
    st = State(d)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.st = st
    srv.daemon_threads = True
    tmp = os.path.join(d, "port.tmp")
    open(tmp, "w").write(str(srv.server_address[1]))
    os.rename(tmp, os.path.join(d, "port"))
    srv.serve_forever()


def tls_pcap(d, out, labels):
    """One TLS 1.2 handshake per label (server certificate certs/LABEL.pem, SNI
    www.example.test), run between two in-memory ssl objects and framed as TCP/IPv4 over
    Ethernet into a classic pcap: the sensor reads it like any capture, no root needed."""
    import ssl

    def csum(b):
        if len(b) % 2:
            b += b"\0"
        s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
        while s >> 16:
            s = (s & 0xFFFF) + (s >> 16)
        return (~s) & 0xFFFF

    pkts = []
    t = [1764000000.0]

    def seg(src, dst, sport, dport, seq, ack, flags, data=b""):
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          5 << 4, flags, 65535, 0, 0)
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp) + len(data))
        c = csum(pseudo + tcp + data)
        tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(data), 0, 0x4000, 64, 6, 0,
                         src, dst)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
        t[0] += 0.001
        pkts.append((t[0], eth + ip + tcp + data))

    cli_ip, srv_ip = bytes([192, 0, 2, 10]), bytes([198, 51, 100, 20])
    for n, label in enumerate(labels):
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.maximum_version = ssl.TLSVersion.TLSv1_2  # the certificate is visible
        sctx.load_cert_chain(os.path.join(d, "certs", label + ".pem"),
                             os.path.join(d, "certs", label + ".key"))
        cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        cctx.check_hostname = False
        cctx.verify_mode = ssl.CERT_NONE
        sin, sout, cin, cout = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
        srv = sctx.wrap_bio(sin, sout, server_side=True)
        cli = cctx.wrap_bio(cin, cout, server_hostname="www.example.test")
        sport, dport = 40000 + n, 443
        cseq, sseq = 1000 * (n + 1), 5000 * (n + 1)
        seg(cli_ip, srv_ip, sport, dport, cseq, 0, 0x02)
        seg(srv_ip, cli_ip, dport, sport, sseq, cseq + 1, 0x12)
        cseq += 1
        sseq += 1
        seg(cli_ip, srv_ip, sport, dport, cseq, sseq, 0x10)
        done_c = done_s = False
        for _ in range(10):
            for obj in (cli, srv):
                try:
                    obj.do_handshake()
                    if obj is cli:
                        done_c = True
                    else:
                        done_s = True
                except ssl.SSLWantReadError:
                    pass
            data = cout.read()
            for i in range(0, len(data), 1400):
                seg(cli_ip, srv_ip, sport, dport, cseq, sseq, 0x18, data[i:i + 1400])
                cseq += len(data[i:i + 1400])
            sin.write(data)
            data = sout.read()
            for i in range(0, len(data), 1400):
                seg(srv_ip, cli_ip, dport, sport, sseq, cseq, 0x18, data[i:i + 1400])
                sseq += len(data[i:i + 1400])
            cin.write(data)
            if done_c and done_s:
                break
        seg(cli_ip, srv_ip, sport, dport, cseq, sseq, 0x11)
        seg(srv_ip, cli_ip, dport, sport, sseq, cseq + 1, 0x11)
        seg(cli_ip, srv_ip, sport, dport, cseq + 1, sseq + 1, 0x10)
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for ts, p in pkts:
            f.write(struct.pack("<IIII", int(ts), int((ts % 1) * 1e6), len(p), len(p)) + p)


def vectors():
    """first second root_first root_second proof... for every pair in trees up to 20 leaves,
    then 'bad' lines: a valid proof with one byte changed, which must not verify."""
    hs = [leaf_hash(bytes([i]) * (i % 7 + 1)) for i in range(20)]
    for n in range(1, 21):
        for m in range(1, n + 1):
            pr = consistency(m, hs[:n])
            print("ok", m, n, mth(hs[:m]).hex(), mth(hs[:n]).hex(), *[x.hex() for x in pr])
            if pr:
                bad = list(pr)
                bad[len(bad) // 2] = bytes([bad[len(bad) // 2][0] ^ 1]) + bad[len(bad) // 2][1:]
                print("bad", m, n, mth(hs[:m]).hex(), mth(hs[:n]).hex(), *[x.hex() for x in bad])
    for n in range(0, 21):
        print("root", n, mth(hs[:n]).hex())


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2])
    elif sys.argv[1] == "serve":
        serve(sys.argv[2])
    elif sys.argv[1] == "pcap":
        tls_pcap(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif sys.argv[1] == "vectors":
        vectors()
    elif sys.argv[1] == "loglist":
        loglist(sys.argv[2], sys.argv[3], sys.argv[4])
