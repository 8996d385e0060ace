#!/usr/bin/python3
"""jabber_pki.py OUTDIR -- the PKI of the jabber.ru scenario (jabber_scenario.sh).

An ACME-like hierarchy as in 2023: root "ISRG Test Root X1" -> intermediate "R3" of
"Let's Encrypt Test". From R3, for xmpp.lab.test (ECDSA P-256, dates relative to now):
  genuine1  issued 70 days ago, 90 days   the admins' previous certificate (archive only)
  genuine   issued 10 days ago, 90 days   the admins' current one: served by the real server
  attacker  issued 2 days ago, 90 days    obtained by the box on the path: same CA, same name,
                                          valid, chains to the root, NOT in the known store
  expired   issued 100 days ago, 90 days  the attacker's older one, served after it expired
Writes OUTDIR/root.pem, OUTDIR/NAME.{pem,key,chain.pem} (chain = leaf + R3),
OUTDIR/letsencrypt (certbot's live/ and archive/ for genuine1, genuine: the known store) and
OUTDIR/facts.json: per certificate sha256, tbs_sha256, subject, issuer, not_before, not_after
as mitmwatch writes them, and the R3 subject.
"""
import datetime
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives import hashes, serialization

from verdicts_pki import DAY, NOW, builder, certbot_store, key, keypem, name, pem

HOST = "xmpp.lab.test"


def ts(d):
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    out = os.path.abspath(sys.argv[1])
    os.makedirs(out, exist_ok=True)
    root_key, r3_key, genuine_key, attacker_key = key(), key(), key(), key()
    root_name = name("ISRG Test Root X1", "ISRG Test")
    root = builder(root_name, root_name, root_key.public_key(), NOW - 2000 * DAY,
                   NOW + 2000 * DAY, True).sign(root_key, hashes.SHA256())
    r3 = builder(name("R3", "Let's Encrypt Test"), root_name, r3_key.public_key(),
                 NOW - 900 * DAY, NOW + 300 * DAY, True,
                 issuer_pub=root_key.public_key()).sign(root_key, hashes.SHA256())
    leaves = {}
    for n, age, k in [("genuine1", 70, genuine_key), ("genuine", 10, genuine_key),
                      ("attacker", 2, attacker_key), ("expired", 100, attacker_key)]:
        nb = NOW - age * DAY
        leaves[n] = (builder(name(HOST), r3.subject, k.public_key(), nb, nb + 90 * DAY, False,
                             [HOST], issuer_pub=r3_key.public_key()).sign(r3_key,
                                                                          hashes.SHA256()), k)
    with open(os.path.join(out, "root.pem"), "wb") as f:
        f.write(pem(root))
    facts = {"r3": r3.subject.rfc4514_string()}
    for n, (c, k) in leaves.items():
        for suffix, data in [(".pem", pem(c)), (".key", keypem(k)),
                             (".chain.pem", pem(c) + pem(r3))]:
            with open(os.path.join(out, n + suffix), "wb") as f:
                f.write(data)
        der = c.public_bytes(serialization.Encoding.DER)
        facts[n] = {"sha256": hashlib.sha256(der).hexdigest(),
                    "tbs_sha256": hashlib.sha256(c.tbs_certificate_bytes).hexdigest(),
                    "subject": "CN=" + HOST, "issuer": "CN=R3,O=Let's Encrypt Test",
                    "not_before": ts(c.not_valid_before),
                    "not_after": ts(c.not_valid_after)}
    certbot_store(os.path.join(out, "letsencrypt"), HOST,
                  [leaves["genuine1"][0], leaves["genuine"][0]], r3, genuine_key)
    with open(os.path.join(out, "facts.json"), "w") as f:
        json.dump(facts, f, indent=1)
    assert datetime.datetime.utcnow() > leaves["expired"][0].not_valid_after


if __name__ == "__main__":
    main()
