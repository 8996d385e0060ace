#!/usr/bin/python3
"""check_starttls_events.py EVENTS.json FLOWS.json TSHARK.json

Judges mitmwatch's output for the STARTTLS lab capture (starttls_capture.sh), exactly.

FLOWS.json   starttls_flows.py: per connection the server, whether a TLS handshake happened,
             the STARTTLS protocol, the expected network.protocol, version, served chain,
             edge case.
TSHARK.json  starttls_tshark_ref.sh: tshark 4.0's JA3/JA3S, cipher, certificates.

First the lab is checked against itself (tshark must agree with the plan: version, the
certificates on the wire, the server port). Then, per flow:
  handshake expected: exactly one mitmwatch.tls event with that source.ip/source.port, and
    mitmwatch.tls.starttls          == "xmpp"|"smtp"|"imap"|"pop3"|"ftp"|"ldap"|"postgres"|
                                       "mysql"; absent for direct TLS (XMPP on 5223)
    network.protocol                == the application protocol, lowercase: xmpp smtp imap
                                       pop3 ftp ldap postgresql mysql (not asserted for
                                       direct TLS, where only the port could tell)
    tls.server.ja3s / ja3s_string   == tshark (the ServerHello after the upgrade)
    tls.client.ja3 / ja3_string     == tshark
    tls.version, tls.cipher, tls.established, destination.ip/port
    mitmwatch.tls.cert_visible, mitmwatch.tls.chain[*].sha256 == the served chain in order
    ([] for TLS 1.3), tls.server.hash.sha256 == uppercase leaf SHA-256 (absent if hidden)
  no handshake (STARTTLS refused, endless greeting, plaintext after "220 Ready"): no
    mitmwatch.tls event for that connection at all.
Globally: no other mitmwatch.tls events; in the final mitmwatch.stats event handshakes ==
the number of handshake flows, the anomaly counters of the edge cases
(starttls_line_too_long, starttls_no_tls_after_upgrade) >= the number of such flows (>= 1),
and the tls_*_malformed counters == 0 (the refused and plaintext flows
must not be parsed as broken TLS). --no-stats skips the stats checks.

Prints every difference as expected vs got and a final "N passed, M failed" line (one item
per flow plus one for the global checks). Exit status 0 only if nothing failed.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_tls_events import (ABSENT, Item, by_connection, check_fingerprints_and_chain,  # noqa: E402
                              check_lab_fingerprints, conn_key, final_stats, get,
                              load_events, report, show)

STARTTLS_VALUES = {"xmpp", "smtp", "imap", "pop3", "ftp", "ldap", "postgres", "mysql"}
NETWORK_PROTOCOLS = {"xmpp", "smtp", "imap", "pop3", "ftp", "ldap", "postgresql", "mysql"}


def opt(v):
    return ABSENT if v is None else v


def check_lab(item, flow, ref):
    pre = "LAB (tshark vs plan) "
    item.eq(pre + "version", flow["version"], ref["version"])
    item.eq(pre + "certificates", flow["expect_chain_sha256"], ref["certificates_sha256"])
    item.eq(pre + "server_ip", flow["server_ip"], ref["server_ip"])
    item.eq(pre + "server_port", flow["server_port"], ref["server_port"])
    if not check_lab_fingerprints(item, ref, pre):
        return False
    if flow["starttls"] is not None and flow["starttls"] not in STARTTLS_VALUES:
        item.fail(f"{pre}unknown starttls value {flow['starttls']!r}")
    if flow["network_protocol"] is not None and flow["network_protocol"] not in NETWORK_PROTOCOLS:
        item.fail(f"{pre}unknown network.protocol {flow['network_protocol']!r}")
    return True


def check_event(item, flow, ref, ev):
    item.eq("event.kind", "event", get(ev, "event.kind"))
    item.eq("source.ip", flow["client_ip"], get(ev, "source.ip"))
    item.eq("destination.ip", flow["server_ip"], get(ev, "destination.ip"))
    item.eq("destination.port", flow["server_port"], get(ev, "destination.port"))
    item.eq("network.transport", "tcp", get(ev, "network.transport"))
    item.eq("mitmwatch.tls.starttls", opt(flow["starttls"]), get(ev, "mitmwatch.tls.starttls"))
    if flow["network_protocol"] is not None:
        item.eq("network.protocol", flow["network_protocol"], get(ev, "network.protocol"))
    item.eq("tls.version", flow["version"], get(ev, "tls.version"))
    item.eq("tls.version_protocol", "tls", get(ev, "tls.version_protocol"))
    item.eq("tls.cipher", ref["cipher"], get(ev, "tls.cipher"))
    item.eq("tls.established", True, get(ev, "tls.established"))
    check_fingerprints_and_chain(item, flow, ref, ev)


def check_stats(item, events, flows):
    st = final_stats(item, events)
    if st is None:
        return
    item.eq("stats.handshakes", sum(1 for f in flows if f["handshake"]), get(st, "handshakes"))
    wanted = {}
    for f in flows:
        if f["expect_anomaly"]:
            wanted[f["expect_anomaly"]] = wanted.get(f["expect_anomaly"], 0) + 1
    for name, n in sorted(wanted.items()):
        got = get(st, "anomalies." + name)
        if not isinstance(got, int) or isinstance(got, bool) or got < n:
            item.fail(f"stats.anomalies.{name}: expected >= {n} got {show(got)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    ap.add_argument("events")
    ap.add_argument("flows")
    ap.add_argument("tshark")
    ap.add_argument("--no-stats", action="store_true", help="skip the stats event checks")
    args = ap.parse_args()

    events = load_events(args.events)
    with open(args.flows, encoding="utf-8") as f:
        flows = json.load(f)["flows"]
    with open(args.tshark, encoding="utf-8") as f:
        tshark = json.load(f)
    refs = tshark["streams"]
    if not any(f["handshake"] for f in flows):
        sys.exit("check_starttls_events: FLOWS has no handshakes; a test that cannot fail "
                 "is no test")
    forced = set(tshark.get("forced_tls_ports", []))

    tls_events = [e for e in events if get(e, "event.dataset") == "mitmwatch.tls"]
    ref_by_port, ev_by_port = by_connection(refs, tls_events)

    items = []
    for flow in flows:
        port = flow["client_port"]
        what = (f"starttls {flow['starttls']}" if flow["starttls"] else
                "direct TLS" if flow["handshake"] else "no TLS")
        item = Item(f"{flow['id']} {flow['client_tool']} {flow['client_ip']}:{port} -> "
                    f"{flow['server']} {flow['server_ip']}:{flow['server_port']} ({what}"
                    f"{', TLS ' + flow['version'] if flow['version'] else ''}"
                    f"{', ' + flow['edge'] if flow['edge'] else ''}"
                    f"{', tshark needed decode-as' if port in forced else ''})")
        items.append(item)
        evs = ev_by_port.get(conn_key(flow), [])
        rs = ref_by_port.get(conn_key(flow), [])
        if not flow["handshake"]:
            if rs:
                item.fail("LAB: tshark found a TLS handshake on a connection without one")
            item.eq("mitmwatch.tls events", 0, len(evs))
            continue
        if len(rs) != 1:
            item.fail(f"LAB: tshark has {len(rs)} streams from client port {port}")
            continue
        if not check_lab(item, flow, rs[0]):
            continue
        if len(evs) != 1:
            item.fail(f"mitmwatch.tls events with source {flow['client_ip']}:{port}: "
                      f"expected 1 got {len(evs)}")
            if not evs:
                continue
        check_event(item, flow, rs[0], evs[0])

    glob = Item("global")
    items.append(glob)
    glob.eq("number of mitmwatch.tls events", sum(1 for f in flows if f["handshake"]),
            len(tls_events))
    known = {conn_key(f) for f in flows}
    for k in sorted(set(ev_by_port) - known, key=str):
        glob.fail(f"mitmwatch.tls event for a connection not in the lab: {k}")
    if not args.no_stats:
        check_stats(glob, events, flows)

    return report(items)


if __name__ == "__main__":
    sys.exit(main())
