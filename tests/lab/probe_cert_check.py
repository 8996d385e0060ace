#!/usr/bin/python3
"""probe_cert_check.py EVENT_FILE [options] -- judge one `mitmwatch probe cert --json` event.

Every given expectation is compared exactly; the first difference is printed and the exit
status is 1. Options:
  --chain FILE         lowercase SHA-256 of each served DER, one a line, presented order
  --version V          tls.version ("1.2", "1.3")
  --starttls P         mitmwatch.tls.starttls and network.protocol (absent/"tls" when "-")
  --sni NAME           tls.client.server_name ("-": absent)
  --alpn P             tls.next_protocol
  --target T           mitmwatch.probe.target
  --error TEXT         a failure event with exactly this mitmwatch.probe.error
  --expect PATH=JSON   the field at PATH (dotted) equals this JSON value (repeatable)

probe_cert_check.py --cross PASSIVE_EVENTS EVENT_FILE... -- the passive sensor's view of the
probes' own connections (a capture of the whole test read with mitmwatch -r): for each
successful probe, the mitmwatch.tls event of the same connection (matched by ports) must
agree on version, cipher, JA3, JA4, JA3S, SNI and STARTTLS protocol; for TLS 1.2 its
ALPN, chain, leaf, SCT and OCSP fields must equal the probe's byte for byte, for TLS 1.3 it must show
no ALPN, cert_visible false and an empty chain: what only the probe can see.
"""
import argparse
import json
import sys


def die(msg):
    print("probe_cert_check: " + msg, file=sys.stderr)
    sys.exit(1)


def get(ev, path, default=None):
    cur = ev
    for k in path.split("."):
        if not isinstance(cur, dict) or k not in cur:
            return default
        cur = cur[k]
    return cur


def expect(ev, path, want):
    got = get(ev, path, "<absent>")
    if got != want:
        die("%s: got %r, want %r" % (path, got, want))


def cross(passive_file, event_files):
    with open(passive_file) as f:
        pev = [json.loads(l) for l in f if l.strip()]
    tls = [e for e in pev if get(e, "event.dataset") == "mitmwatch.tls"]
    n = 0
    for fn in event_files:
        with open(fn) as f:
            ev = json.loads(f.read())
        if get(ev, "event.outcome") != "success":
            continue
        key = (get(ev, "source.port"), get(ev, "destination.port"))
        m = [p for p in tls if (get(p, "source.port"), get(p, "destination.port")) == key]
        if len(m) != 1:
            die("%s: expected one passive event for ports %r, got %d" % (fn, key, len(m)))
        p = m[0]
        for path in ("tls.version", "tls.cipher", "tls.client.ja3", "tls.client.ja3_string",
                     "tls.client.ja4", "tls.client.server_name", "tls.server.ja3s",
                     "tls.server.ja3s_string", "tls.resumed", "mitmwatch.tls.starttls",
                     "network.protocol"):
            if get(p, path, "<absent>") != get(ev, path, "<absent>"):
                die("%s: passive %s is %r, the probe's %r" % (fn, path, get(p, path, "<absent>"),
                                                            get(ev, path, "<absent>")))
        visible = get(ev, "tls.version") != "1.3"
        # TLS 1.3 carries the selected ALPN in the encrypted EncryptedExtensions
        if get(p, "tls.next_protocol") != (get(ev, "tls.next_protocol") if visible else None):
            die("%s: passive tls.next_protocol is %r" % (fn, get(p, "tls.next_protocol")))
        if get(p, "mitmwatch.tls.cert_visible") != visible:
            die("%s: passive cert_visible is %r" % (fn, get(p, "mitmwatch.tls.cert_visible")))
        if visible:
            for path in ("mitmwatch.tls.chain", "tls.server.hash", "tls.server.x509",
                         "tls.server.subject", "tls.server.issuer", "tls.server.not_before",
                         "tls.server.not_after", "mitmwatch.tls.scts",
                         "mitmwatch.tls.ocsp_stapled"):
                if get(p, path) != get(ev, path):
                    die("%s: passive %s differs from the probe's" % (fn, path))
        elif get(p, "mitmwatch.tls.chain") != [] or get(p, "tls.server.hash") is not None:
            die("%s: passive event shows a TLS 1.3 certificate" % fn)
        n += 1
        print("ok: passive agrees with %s (%s, cert_visible %s)" % (
            fn.rsplit("/", 1)[-1], get(ev, "tls.version"), str(visible).lower()))
    print("ok: %d probes cross-checked against the passive sensor" % n)


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--cross":
        cross(sys.argv[2], sys.argv[3:])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("event")
    ap.add_argument("--chain")
    ap.add_argument("--version")
    ap.add_argument("--starttls")
    ap.add_argument("--sni")
    ap.add_argument("--alpn")
    ap.add_argument("--target")
    ap.add_argument("--error")
    ap.add_argument("--expect", action="append", default=[])
    a = ap.parse_args()

    with open(a.event) as f:
        text = f.read()
    lines = [l for l in text.split("\n") if l]
    if len(lines) != 1:
        die("expected exactly one event line, got %d" % len(lines))
    ev = json.loads(lines[0])
    expect(ev, "event.kind", "event")
    expect(ev, "event.dataset", "mitmwatch.probe")
    expect(ev, "mitmwatch.probe.type", "cert")
    if not isinstance(get(ev, "mitmwatch.probe.duration_ms"), int):
        die("mitmwatch.probe.duration_ms missing")
    if a.target:
        expect(ev, "mitmwatch.probe.target", a.target)

    if a.error is not None:
        expect(ev, "event.outcome", "failure")
        expect(ev, "mitmwatch.probe.error", a.error)
        if get(ev, "tls") is not None:
            die("a failed probe carries tls fields")
        print("ok: failure event: %s" % a.error)
        return

    expect(ev, "event.outcome", "success")
    if get(ev, "mitmwatch.probe.error") is not None:
        die("success event with an error")
    expect(ev, "tls.established", True)
    expect(ev, "mitmwatch.tls.cert_visible", True)
    expect(ev, "mitmwatch.tls.complete", True)
    chain = get(ev, "mitmwatch.tls.chain", [])
    if a.chain:
        with open(a.chain) as f:
            want = [l.strip() for l in f if l.strip()]
        got = [c["sha256"] for c in chain]
        if got != want:
            die("chain sha256: got %r, want %r" % (got, want))
        expect(ev, "tls.server.hash.sha256", want[0].upper())
        expect(ev, "tls.server.subject", chain[0]["subject"])
        expect(ev, "tls.server.issuer", chain[0]["issuer"])
    if a.version:
        expect(ev, "tls.version", a.version)
        expect(ev, "tls.version_protocol", "tls")
    if a.starttls:
        if a.starttls == "-":
            expect(ev, "mitmwatch.tls.starttls", "<absent>")
            expect(ev, "network.protocol", "tls")
        else:
            expect(ev, "mitmwatch.tls.starttls", a.starttls)
            expect(ev, "mitmwatch.probe.starttls", a.starttls)
            expect(ev, "network.protocol", "postgresql" if a.starttls == "postgres" else a.starttls)
    if a.sni:
        expect(ev, "tls.client.server_name", "<absent>" if a.sni == "-" else a.sni)
    if a.alpn:
        expect(ev, "tls.next_protocol", a.alpn)
    for e in a.expect:
        path, _, val = e.partition("=")
        expect(ev, path, json.loads(val))

    print("ok: %s %s chain of %d%s" % (get(ev, "mitmwatch.probe.target"), get(ev, "tls.version"),
                                       len(chain), (" after " + a.starttls) if a.starttls and
                                       a.starttls != "-" else ""))


if __name__ == "__main__":
    main()
