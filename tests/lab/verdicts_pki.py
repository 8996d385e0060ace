#!/usr/bin/python3
"""verdicts_pki.py OUTDIR -- the throwaway PKI, CT log and policy of the verdicts lab.

Makes, relative to now (the capture happens right after):
  - an ACME-like CA: root "Test ACME Root X1" -> intermediate "Test ACME R1";
  - a rogue CA "Rogue Root" that nobody trusts;
  - a test CT log (ECDSA P-256) in log_list.json (Google v3 format), and a second log key
    that the list does not contain;
  - leaf certificates with SCTs embedded per RFC 6962 3.2 (a precert_entry signed over
    issuer_key_hash + the TBSCertificate without the SCT list), or a TLS-extension SCT
    (x509_entry) in an s_server serverinfo file;
  - the known store in certbot's layout (live/ symlinks into archive/), plus a DER
    precertificate, and policy.yaml;
  - cases.json: per lab server, the certificate it serves, the SNI the client sends and the
    exact set of rule.ids mitmwatch must raise (run_verdicts_lab.sh serves and checks them).
Private keys are generated here and die with the lab directory; nothing is committed.
"""
import base64
import datetime
import hashlib
import json
import os
import struct
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

SCT_OID = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
UTC = datetime.timezone.utc
NOW = datetime.datetime.now(UTC).replace(microsecond=0)
DAY = datetime.timedelta(days=1)


def key():
    return ec.generate_private_key(ec.SECP256R1())


def spki_der(pub):
    return pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def name(cn, o=None):
    attrs = []
    if o:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, o))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def at03(days_before):
    """03:00 UTC, days_before days before today (negative: in the future)."""
    d = (NOW - days_before * DAY).replace(hour=3, minute=0, second=0)
    return d


SERIAL = [1000]


def builder(subject, issuer_name, pub, nb, na, ca, sans=None, issuer_pub=None):
    SERIAL[0] += 1
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
         .public_key(pub).serial_number(SERIAL[0]).not_valid_before(nb).not_valid_after(na))
    b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    b = b.add_extension(x509.KeyUsage(
        digital_signature=not ca, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False), critical=True)
    b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
    if issuer_pub is not None:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_pub),
                            critical=False)
    if not ca:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                            critical=False)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]),
                            critical=False)
    return b


def log_sign(log_key, data):
    return log_key.sign(data, ec.ECDSA(hashes.SHA256()))


def sct(log_key, ts_ms, entry, tamper=False):
    """One SCT v1 (RFC 6962 3.2). entry: the bytes after entry_type's position, i.e.
    entry_type(2) + signed_entry; the signature covers version, signature_type, timestamp,
    entry, and empty extensions."""
    signed = struct.pack(">BBQ", 0, 0, ts_ms) + entry + b"\x00\x00"
    if tamper:
        signed = bytearray(signed)
        signed[-30] ^= 1  # the log "signed" other bytes than this certificate's
        signed = bytes(signed)
    sig = log_sign(log_key, signed)
    log_id = hashlib.sha256(spki_der(log_key.public_key())).digest()
    return (struct.pack(">B", 0) + log_id + struct.pack(">QH", ts_ms, 0)
            + struct.pack(">BBH", 4, 3, len(sig)) + sig)


def sct_list(scts):
    body = b"".join(struct.pack(">H", len(s)) + s for s in scts)
    return struct.pack(">H", len(body)) + body


def der_octet_string(b):
    n = len(b)
    if n < 0x80:
        ln = bytes([n])
    elif n < 0x100:
        ln = bytes([0x81, n])
    else:
        ln = bytes([0x82, n >> 8, n & 0xFF])
    return b"\x04" + ln + b


def u24(b):
    return struct.pack(">I", len(b))[1:] + b


class Lab:
    def __init__(self, out):
        self.out = out
        self.root_key, self.inter_key, self.rogue_key = key(), key(), key()
        self.log_a, self.log_b = key(), key()
        self.leaf_key, self.other_key = key(), key()
        self.root = builder(name("Test ACME Root X1", "Test ACME"),
                            name("Test ACME Root X1", "Test ACME"), self.root_key.public_key(),
                            NOW - 1800 * DAY, NOW + 1800 * DAY, True).sign(
                                self.root_key, hashes.SHA256())
        self.inter = builder(name("Test ACME R1", "Test ACME"), self.root.subject,
                             self.inter_key.public_key(), NOW - 700 * DAY, NOW + 700 * DAY,
                             True, issuer_pub=self.root_key.public_key()).sign(
                                 self.root_key, hashes.SHA256())
        self.rogue = builder(name("Rogue Root", "Rogue Trust"), name("Rogue Root", "Rogue Trust"),
                             self.rogue_key.public_key(), NOW - 300 * DAY, NOW + 300 * DAY,
                             True).sign(self.rogue_key, hashes.SHA256())

    def leaf(self, host, nb, life_days, key=None, scts=("A",), precert=False, issuer="inter",
             sans=None):
        """A leaf for host. scts: "A" valid from the listed log, "T" tampered, "B" from the
        unlisted log. Returns (final certificate, precertificate or None)."""
        key = key or self.leaf_key
        if issuer == "inter":
            ik, icert = self.inter_key, self.inter
        elif issuer == "rogue":
            ik, icert = self.rogue_key, self.rogue
        else:  # self-signed
            ik, icert = key, None
        subj = name(host)
        b = builder(subj, icert.subject if icert else subj, key.public_key(), nb,
                    nb + life_days * DAY, False, sans or [host],
                    issuer_pub=ik.public_key() if icert else None)
        cert0 = b.sign(ik, hashes.SHA256())
        pre = None
        if precert:
            pre = b.add_extension(x509.PrecertPoison(), critical=True).sign(ik, hashes.SHA256())
        if not scts:
            return cert0, pre
        ikh = hashlib.sha256(spki_der(ik.public_key())).digest()
        entry = struct.pack(">H", 1) + ikh + u24(cert0.tbs_certificate_bytes)
        # logged two minutes after notBefore, but never later than an hour ago: a log does not
        # sign the future, and an SCT from after the capture is invalid
        ts = int((min(nb, NOW - 3720 * datetime.timedelta(seconds=1)).timestamp() + 120) * 1000)
        lst = [sct(self.log_b if s == "B" else self.log_a, ts, entry, tamper=(s == "T"))
               for s in scts]
        ext = x509.UnrecognizedExtension(SCT_OID, der_octet_string(sct_list(lst)))
        final = b.add_extension(ext, critical=False).sign(ik, hashes.SHA256())
        return final, pre

    def tls_sct_serverinfo(self, cert, path):
        """A TLS-extension SCT (x509_entry) for cert, as an s_server -serverinfo file."""
        ts = int((NOW.timestamp() - 3600) * 1000)
        entry = struct.pack(">H", 0) + u24(cert.public_bytes(serialization.Encoding.DER))
        data = sct_list([sct(self.log_a, ts, entry)])
        blob = struct.pack(">HH", 18, len(data)) + data
        with open(path, "w") as f:
            f.write("-----BEGIN SERVERINFO FOR CT-----\n")
            b64 = base64.b64encode(blob).decode()
            for i in range(0, len(b64), 64):
                f.write(b64[i:i + 64] + "\n")
            f.write("-----END SERVERINFO FOR CT-----\n")


def pem(c):
    return c.public_bytes(serialization.Encoding.PEM)


def keypem(k):
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())


def certbot_store(base, host, leaves, inter, leaf_key):
    """certbot's layout under base: archive/HOST/{cert,chain,fullchain,privkey}N.pem for the
    leaves (oldest first, N from 1) and live/HOST/*.pem symlinks to the newest."""
    arch = os.path.join(base, "archive", host)
    live = os.path.join(base, "live", host)
    os.makedirs(arch)
    os.makedirs(live)
    for i, leaf in enumerate(leaves, 1):
        for n, data in [("cert", pem(leaf)), ("chain", pem(inter)),
                        ("fullchain", pem(leaf) + pem(inter)), ("privkey", keypem(leaf_key))]:
            with open(os.path.join(arch, "%s%d.pem" % (n, i)), "wb") as f:
                f.write(data)
    for n in ["cert", "chain", "fullchain", "privkey"]:
        os.symlink("../../archive/%s/%s%d.pem" % (host, n, len(leaves)),
                   os.path.join(live, n + ".pem"))


def main():
    out = os.path.abspath(sys.argv[1])
    os.makedirs(out, exist_ok=True)
    lab = Lab(out)
    W = "www.example.test"
    certs = {
        "good": lab.leaf(W, at03(10), 90),
        "known2": lab.leaf(W, at03(70), 90),
        "known3": lab.leaf(W, at03(130), 90),
        "mitm": lab.leaf(W, at03(2), 90, key=lab.other_key),
        "odd": lab.leaf(W, at03(1) + 12 * 3600 * datetime.timedelta(seconds=1), 365,
                        key=lab.other_key),
        "fin": lab.leaf(W, at03(20), 90, precert=True),
        "expired": lab.leaf(W, at03(200), 90),
        "future": lab.leaf(W, at03(-5), 90),
        "self": lab.leaf(W, at03(2), 90, key=lab.other_key, scts=(), issuer="self"),
        "wrong": lab.leaf("other.example.test", at03(60), 90),
        "rogue": lab.leaf(W, at03(2), 90, key=lab.other_key, scts=(), issuer="rogue"),
        "tamper": lab.leaf(W, at03(30), 90, scts=("A", "T")),
        "unklog": lab.leaf(W, at03(40), 90, scts=("B",)),
        "nosct": lab.leaf(W, at03(50), 90, scts=()),
        "pinned": lab.leaf("pinned.example.test", at03(12), 90),
        "pinok": lab.leaf("pinok.example.test", at03(12), 90),
        "legacy": lab.leaf("legacy.example.test", at03(12), 90),
        "learn": lab.leaf("learn.example.test", at03(12), 90),
    }
    d = os.path.join(out, "certs")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(out, "root.pem"), "wb") as f:
        f.write(pem(lab.root))
    with open(os.path.join(d, "leaf.key"), "wb") as f:
        f.write(keypem(lab.leaf_key))
    with open(os.path.join(d, "other.key"), "wb") as f:
        f.write(keypem(lab.other_key))
    with open(os.path.join(d, "inter.pem"), "wb") as f:
        f.write(pem(lab.inter))
    with open(os.path.join(d, "rogueca.pem"), "wb") as f:
        f.write(pem(lab.rogue))
    for n, (c, _) in certs.items():
        with open(os.path.join(d, n + ".pem"), "wb") as f:
            f.write(pem(c))
        issuer = lab.rogue if n == "rogue" else (None if n == "self" else lab.inter)
        with open(os.path.join(d, n + ".chain.pem"), "wb") as f:
            f.write(pem(c) + (pem(issuer) if issuer else b""))
    lab.tls_sct_serverinfo(certs["nosct"][0], os.path.join(d, "nosct.serverinfo.pem"))

    # the known store: certbot (live/ -> archive/), acme.sh, lego, dehydrated, a DER precert
    k = os.path.join(out, "known")
    certbot_store(os.path.join(k, "letsencrypt"), W,
                  [certs[n][0] for n in ["known3", "known2", "good"]], lab.inter, lab.leaf_key)
    acme = os.path.join(k, "acme.sh", W)
    os.makedirs(acme)
    with open(os.path.join(acme, W + ".cer"), "wb") as f:
        f.write(pem(certs["expired"][0]))
    with open(os.path.join(acme, "ca.cer"), "wb") as f:
        f.write(pem(lab.inter))
    lego = os.path.join(k, ".lego", "certificates")
    os.makedirs(lego)
    with open(os.path.join(lego, W + ".crt"), "wb") as f:
        f.write(pem(certs["future"][0]) + pem(lab.inter))
    deh = os.path.join(k, "dehydrated", "certs")
    for n in ["wrong", "tamper", "unklog", "nosct", "pinned", "pinok", "legacy", "learn"]:
        os.makedirs(os.path.join(deh, n), exist_ok=True)
        with open(os.path.join(deh, n, "cert-1700000000.pem"), "wb") as f:
            f.write(pem(certs[n][0]))
    with open(os.path.join(k, "precert.der"), "wb") as f:
        f.write(certs["fin"][1].public_bytes(serialization.Encoding.DER))

    # the CT log list, Google v3 shape
    def log_entry(desc, lk):
        der = spki_der(lk.public_key())
        return {"description": desc, "log_id": base64.b64encode(hashlib.sha256(der).digest()).decode(),
                "key": base64.b64encode(der).decode(), "url": "https://ct.example.test/a/",
                "mmd": 86400, "state": {"usable": {"timestamp": "2026-01-01T00:00:00Z"}}}
    with open(os.path.join(out, "log_list.json"), "w") as f:
        json.dump({"version": "1.0", "log_list_timestamp": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
                   "operators": [{"name": "Test Operator", "email": ["ct@example.test"],
                                  "logs": [log_entry("Test Log A", lab.log_a)]}]}, f, indent=1)

    # the same log in OpenSSL's CTLOG config, for s_client -ct -ctlogfile
    with open(os.path.join(out, "ctlogs.cnf"), "w") as f:
        f.write("enabled_logs = a\n\n[a]\ndescription = Test Log A\nkey = %s\n" %
                base64.b64encode(spki_der(lab.log_a.public_key())).decode())

    other_spki = hashlib.sha256(spki_der(lab.other_key.public_key())).hexdigest()
    leaf_spki = hashlib.sha256(spki_der(lab.leaf_key.public_key())).hexdigest()
    with open(os.path.join(out, "policy.yaml"), "w") as f:
        f.write(f"""# verdicts lab policy (generated by verdicts_pki.py)
version: 1
observer: verdicts-lab
services:
  - name: www.example.test
  - name: pinned.example.test
    pins: [{other_spki}]
  - name: pinok.example.test
    pins: [{leaf_spki}]
  - name: legacy.example.test
    min_tls_version: "1.2"
  - name: learn.example.test
expect_issuers:
  - ca: Test ACME
known_certs: {k}
trust:
  ca_files: [{out}/root.pem]
ct:
  log_list: {out}/log_list.json
  min_scts: 1
alerts:
  suppress_window: 0
""")

    # cases: port, server, certificate, SNI, extra server/client args, expected rule.ids
    key_of = {n: ("other.key" if n in ("mitm", "odd", "self", "rogue") else "leaf.key")
              for n in certs}
    cases = []

    def case(port, server, cert, sni, expect, sargs=(), cargs=(), note=""):
        extra = {"rogue": "rogueca.pem", "self": None}.get(cert, "inter.pem")
        cases.append({"port": port, "server": server, "cert": cert, "key": key_of[cert],
                      "extra": extra,
                      "sni": sni, "expect": sorted(expect), "server_args": list(sargs),
                      "client_args": list(cargs), "note": note})

    case(19401, "nginx", "good", W, [], note="clean: ours, right CA, right name, valid SCT")
    case(19402, "nginx", "mitm", W, ["cert.unknown"],
         note="jabber.ru: right name, right CA, valid SCT, not in the known store")
    case(19403, "s_server", "fin", W, [], note="final certificate; only its precert is known")
    case(19404, "s_server", "odd", W, ["cert.issuance_odd", "cert.unknown"],
         note="issued at 15:00 for a year; known ones at 03:00 for 90 days")
    case(19405, "s_server", "expired", W, ["cert.expired"])
    case(19406, "s_server", "future", W, ["cert.not_yet_valid"])
    case(19407, "s_server", "self", W,
         ["cert.issuer_unexpected", "cert.self_signed", "cert.unknown"])
    case(19408, "s_server", "wrong", W, ["cert.name_mismatch"])
    case(19409, "s_server", "rogue", W, ["cert.chain_invalid", "cert.issuer_unexpected",
                                         "cert.sct_missing", "cert.unknown"])
    case(19410, "s_server", "tamper", W, ["cert.sct_invalid"])
    case(19411, "s_server", "unklog", W, ["cert.sct_missing"])
    case(19412, "s_server", "nosct", W, ["cert.sct_missing"])
    case(19413, "s_server", "nosct", W, [], sargs=["-serverinfo", "nosct.serverinfo.pem"],
         cargs=["-ct", "-ctlogfile", os.path.join(out, "ctlogs.cnf")],
         note="SCT delivered in the TLS extension")
    case(19414, "s_server", "good", W, ["tls.weak_or_null_cipher"],
         sargs=["-cipher", "ECDHE-ECDSA-NULL-SHA:@SECLEVEL=0"],
         cargs=["-cipher", "ECDHE-ECDSA-NULL-SHA:@SECLEVEL=0"])
    case(19415, "s_server", "pinned", "pinned.example.test", ["cert.spki_unpinned"])
    case(19416, "s_server", "pinok", "pinok.example.test", [])
    case(19417, "s_server", "legacy", "legacy.example.test", ["tls.version_downgrade"],
         sargs=["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"],
         cargs=["-cipher", "DEFAULT:@SECLEVEL=0"], note="TLS 1.1 below the policy's 1.2")
    # learned downgrade: the same port first speaks TLS 1.2, then (restarted) only TLS 1.1
    case(19418, "s_server", "learn", "learn.example.test", [], note="baseline TLS 1.2")
    case(19418, "s_server", "learn", "learn.example.test", ["tls.version_downgrade"],
         sargs=["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"],
         cargs=["-cipher", "DEFAULT:@SECLEVEL=0"], note="restarted with TLS 1.1 only")
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)


if __name__ == "__main__":
    main()
