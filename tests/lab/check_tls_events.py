#!/usr/bin/python3
"""check_tls_events.py EVENTS.json FLOWS.json TSHARK.json

Judges mitmwatch's output for a lab capture, exactly, flow by flow.

EVENTS.json  mitmwatch output: one JSON object per line (a JSON array is accepted too).
FLOWS.json   what each connection was (tls_capture.sh / lab_flows.py): server, served chain,
             version, SNI, ALPN, resumption, keyed by client port.
TSHARK.json  the independent reference (tshark_ref.sh): JA3/JA3S, cipher, certificates.

First the lab is checked against itself (tshark must agree with the plan, else the lab, not
mitmwatch, is broken). Then for every flow there must be exactly one mitmwatch.tls event with
that source.ip/source.port, and its fields must equal the expected values (event-schema.md):
  tls.client.ja3 / ja3_string      == tshark ja3 / ja3_full (first ClientHello)
  tls.server.ja3s / ja3s_string    == tshark ja3s / ja3s_full (last ServerHello)
  tls.version, tls.version_protocol, tls.cipher (IANA name = Wireshark's), tls.established
  tls.client.server_name           == SNI sent; absent when none was sent
  tls.next_protocol                == ALPN chosen; absent when none, and absent for TLS 1.3
                                      (the choice is inside the encrypted EncryptedExtensions)
  tls.resumed, mitmwatch.tls.cert_visible
  mitmwatch.tls.chain[*].sha256    == DER SHA-256 of the served chain, in order ([] if hidden)
  tls.server.hash.sha256           == uppercase leaf SHA-256; absent if hidden
  tls.server.x509.alternative_names == the leaf's SANs in certificate order (if in FLOWS)
No other mitmwatch.tls events may exist. If the last line is the mitmwatch.stats event its
handshake, hello_retry_requests and malformed counters are checked too (--no-stats skips).

Prints every difference as expected vs got and a final "N passed, M failed" line (one item
per flow plus one for the global checks). Exit status 0 only if nothing failed.
"""
import argparse
import hashlib
import json
import sys

ABSENT = object()


def get(obj, dotted):
    """Value at an ECS path, accepting nested objects or dotted keys at any level."""
    parts = dotted.split(".")
    cur = obj
    i = 0
    while i < len(parts):
        if not isinstance(cur, dict):
            return ABSENT
        for j in range(len(parts), i, -1):
            key = ".".join(parts[i:j])
            if key in cur:
                cur = cur[key]
                i = j
                break
        else:
            return ABSENT
    return cur


def show(v):
    return "<absent>" if v is ABSENT else json.dumps(v)


def load_events(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text.lstrip().startswith("["):
        return json.loads(text)
    events = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except ValueError as e:
            sys.exit(f"check_tls_events: {path}:{n}: not JSON: {e}")
    return events


class Item:
    """One flow's (or the global) list of differences."""

    def __init__(self, name):
        self.name = name
        self.diffs = []

    def eq(self, what, expected, got):
        if expected is ABSENT and got is ABSENT:
            return
        if expected is ABSENT or got is ABSENT or type(expected) is not type(got) \
                or expected != got:
            self.diffs.append(f"{what}: expected {show(expected)} got {show(got)}")

    def fail(self, text):
        self.diffs.append(text)


def opt(v):
    """Expected value for an optional field: None in FLOWS means the field is absent."""
    return ABSENT if v is None else v


def check_lab(item, flow, ref):
    """The lab's own consistency: the plan, the client's word and tshark must agree."""
    pre = "LAB (tshark vs plan) "
    item.eq(pre + "version", flow["version"], ref["version"])
    item.eq(pre + "sni", flow["sni"], ref["sni"])
    item.eq(pre + "alpn_offered", flow["alpn_offered"], ref["alpn_offered"])
    item.eq(pre + "alpn_selected(visible)", flow["expect_next_protocol"], ref["alpn_selected"])
    item.eq(pre + "resumed", flow["resumed"], ref["resumed"])
    item.eq(pre + "hello_retry_request", flow["hello_retry_request"],
            ref["hello_retry_request"])
    item.eq(pre + "certificates", flow["expect_chain_sha256"], ref["certificates_sha256"])
    item.eq(pre + "server_port", flow["server_port"], ref["server_port"])
    check_lab_fingerprints(item, ref, pre)


def check_lab_fingerprints(item, ref, pre):
    """tshark found every fingerprint, and each JA3/JA3S is the MD5 of its string (by
    definition; holds tshark to it too). False when something is missing."""
    for k in ("ja3", "ja3_full", "ja3s", "ja3s_full", "cipher"):
        if not ref.get(k):
            item.fail(f"{pre}tshark found no {k}")
            return False
    item.eq(pre + "md5(ja3_full)", ref["ja3"], hashlib.md5(ref["ja3_full"].encode()).hexdigest())
    item.eq(pre + "md5(ja3s_full)", ref["ja3s"],
            hashlib.md5(ref["ja3s_full"].encode()).hexdigest())
    return True


def check_event(item, flow, ref, ev):
    v = flow["version"]
    item.eq("source.ip", flow["client_ip"], get(ev, "source.ip"))
    item.eq("destination.ip", flow["server_ip"], get(ev, "destination.ip"))
    item.eq("destination.port", flow["server_port"], get(ev, "destination.port"))
    item.eq("network.transport", "tcp", get(ev, "network.transport"))
    item.eq("network.type", "ipv6" if ":" in flow["client_ip"] else "ipv4",
            get(ev, "network.type"))
    item.eq("event.kind", "event", get(ev, "event.kind"))
    item.eq("tls.version", v, get(ev, "tls.version"))
    item.eq("tls.version_protocol", "tls", get(ev, "tls.version_protocol"))
    item.eq("tls.cipher", ref["cipher"], get(ev, "tls.cipher"))
    item.eq("tls.established", True, get(ev, "tls.established"))
    item.eq("tls.resumed", flow["resumed"], get(ev, "tls.resumed"))
    item.eq("tls.next_protocol", opt(flow["expect_next_protocol"]),
            get(ev, "tls.next_protocol"))
    item.eq("tls.client.server_name", opt(flow["sni"]), get(ev, "tls.client.server_name"))
    check_fingerprints_and_chain(item, flow, ref, ev)
    sans = flow.get("leaf_alternative_names")
    if sans is not None:
        item.eq("tls.server.x509.alternative_names", sans if flow["cert_visible"] else ABSENT,
                get(ev, "tls.server.x509.alternative_names"))


def check_fingerprints_and_chain(item, flow, ref, ev):
    """JA3/JA3S as tshark has them, and the chain as served (what a passive observer sees)."""
    item.eq("tls.client.ja3", ref["ja3"], get(ev, "tls.client.ja3"))
    item.eq("tls.client.ja3_string", ref["ja3_full"], get(ev, "tls.client.ja3_string"))
    item.eq("tls.server.ja3s", ref["ja3s"], get(ev, "tls.server.ja3s"))
    item.eq("tls.server.ja3s_string", ref["ja3s_full"], get(ev, "tls.server.ja3s_string"))
    item.eq("mitmwatch.tls.cert_visible", flow["cert_visible"],
            get(ev, "mitmwatch.tls.cert_visible"))
    chain = get(ev, "mitmwatch.tls.chain")
    if not isinstance(chain, list):
        item.fail(f"mitmwatch.tls.chain: expected a list got {show(chain)}")
    else:
        got = [get(c, "sha256") for c in chain]
        item.eq("mitmwatch.tls.chain[*].sha256", flow["expect_chain_sha256"],
                [g if g is not ABSENT else None for g in got])
    chain_exp = flow["expect_chain_sha256"]
    item.eq("tls.server.hash.sha256", chain_exp[0].upper() if chain_exp else ABSENT,
            get(ev, "tls.server.hash.sha256"))


def check_stats(item, events, flows, refs):
    st = final_stats(item, events)
    if st is None:
        return
    item.eq("stats.handshakes", len(flows), get(st, "handshakes"))
    item.eq("stats.client_hellos", sum(len(r["client_hellos"]) for r in refs),
            get(st, "client_hellos"))
    item.eq("stats.hello_retry_requests", sum(1 for f in flows if f["hello_retry_request"]),
            get(st, "hello_retry_requests"))


def final_stats(item, events):
    """The final mitmwatch.stats event's counters (it must be the last line), None if absent.
    Checks that no TLS message was counted as malformed: every lab flow is well-formed."""
    stats = [e for e in events if get(e, "event.dataset") == "mitmwatch.stats"]
    if not stats:
        item.fail("no mitmwatch.stats event")
        return None
    if events[-1] is not stats[-1]:
        item.fail("the last line is not the mitmwatch.stats event")
    st = get(stats[-1], "mitmwatch.stats")
    for k in ("tls_record_malformed", "tls_client_hello_malformed",
              "tls_server_hello_malformed", "tls_certificate_malformed"):
        item.eq("stats.anomalies." + k, 0, get(st, "anomalies." + k))
    return st


def report(items):
    """Prints each item (ok, or FAIL with its differences) and the totals; the exit status."""
    passed = failed = 0
    for it in items:
        if it.diffs:
            failed += 1
            print(f"FAIL {it.name}")
            for d in it.diffs:
                print(f"    {d}")
        else:
            passed += 1
            print(f"ok   {it.name}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def by_connection(refs, tls_events):
    """tshark streams and mitmwatch.tls events, each indexed by their connection 4-tuple:
    the kernel may give two connections to different servers the same client port."""
    ref_by = {}
    for r in refs:
        ref_by.setdefault(conn_key(r), []).append(r)
    ev_by = {}
    for e in tls_events:
        ev_by.setdefault((get(e, "source.ip"), get(e, "source.port"),
                          get(e, "destination.ip"), get(e, "destination.port")),
                         []).append(e)
    return ref_by, ev_by


def conn_key(f):
    """(client ip, client port, server ip, server port) of a lab flow or tshark stream."""
    return (f["client_ip"], f["client_port"], f["server_ip"], f["server_port"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("events")
    ap.add_argument("flows")
    ap.add_argument("tshark")
    ap.add_argument("--no-stats", action="store_true", help="skip the stats event checks")
    args = ap.parse_args()

    events = load_events(args.events)
    with open(args.flows, encoding="utf-8") as f:
        flows = json.load(f)["flows"]
    with open(args.tshark, encoding="utf-8") as f:
        refs = json.load(f)["streams"]
    if not flows:
        sys.exit("check_tls_events: FLOWS has no flows; a test that cannot fail is no test")

    tls_events = [e for e in events if get(e, "event.dataset") == "mitmwatch.tls"]
    ref_by_port, ev_by_port = by_connection(refs, tls_events)

    items = []
    for flow in flows:
        port = flow["client_port"]
        item = Item(f"{flow['id']} {flow['client_ip']}:{port} -> "
                    f"{flow['server_ip']}:{flow['server_port']} ({flow['server']}, "
                    f"{flow['cert']}, TLS {flow['version']}"
                    f"{', resumed' if flow['resumed'] else ''}"
                    f"{', HRR' if flow['hello_retry_request'] else ''})")
        items.append(item)
        rs = ref_by_port.get(conn_key(flow), [])
        if len(rs) != 1:
            item.fail(f"LAB: tshark has {len(rs)} streams from client port {port}")
            continue
        check_lab(item, flow, rs[0])
        evs = ev_by_port.get(conn_key(flow), [])
        if len(evs) != 1:
            item.fail(f"mitmwatch.tls events with source {flow['client_ip']}:{port}: "
                      f"expected 1 got {len(evs)}")
            if not evs:
                continue
        check_event(item, flow, rs[0], evs[0])

    glob = Item("global")
    items.append(glob)
    glob.eq("number of mitmwatch.tls events", len(flows), len(tls_events))
    known = {conn_key(f) for f in flows}
    for k in sorted(set(ev_by_port) - known, key=str):
        glob.fail(f"mitmwatch.tls event for a connection not in the lab: {k}")
    if not args.no_stats:
        check_stats(glob, events, flows, refs)

    return report(items)


if __name__ == "__main__":
    sys.exit(main())
