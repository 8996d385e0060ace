#!/usr/bin/python3
"""starttls_flows.py PLAN.tsv PCAP PKIDIR OUT.json -- the STARTTLS lab's expectations, keyed
by client port (the same n-th SYN to n-th planned connection matching as lab_flows.py).

Per flow: client/server address, the expected mitmwatch.tls.starttls value (null for direct
TLS or no handshake), the expected network.protocol (null: not asserted), whether a
handshake and so one mitmwatch.tls event is expected, the TLS version, the served chain and
what a passive observer sees of it (full TLS 1.2 handshake: all of it; TLS 1.3: nothing),
and the edge case it stands for (or null).
"""
import os
import sys

from lab_flows import conn_fields, read_lines, run

COLUMNS = ["id", "client_tool", "server_ip", "server_port", "starttls", "network_protocol",
           "cert", "version", "handshake", "edge"]

SERVERS = {("127.0.0.1", 5222): "prosody", ("127.0.0.1", 5223): "prosody",
           ("127.0.0.1", 25): "postfix", ("127.0.0.1", 587): "postfix",
           ("127.0.0.5", 25): "postfix (TLS off)", ("127.0.0.1", 143): "dovecot",
           ("127.0.0.1", 110): "dovecot", ("127.0.0.1", 389): "slapd",
           ("127.0.0.1", 5432): "postgres", ("127.0.0.1", 21): "vsftpd",
           ("127.0.0.1", 2525): "postfix", ("127.0.0.1", 1143): "dovecot"}

# The anomaly counters (mitmwatch.stats anomalies) each edge case must raise.
EDGE_ANOMALIES = {"line_too_long": "starttls_line_too_long",
                  "no_tls_after_upgrade": "starttls_no_tls_after_upgrade"}


def read_plan(path):
    plan = []
    with open(path, encoding="ascii") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) != len(COLUMNS):
                sys.exit(f"starttls_flows: bad plan line: {line!r}")
            row = {k: (None if v == "-" else v) for k, v in zip(COLUMNS, cols)}
            row["server_port"] = int(row["server_port"])
            if row["handshake"] not in ("yes", "no"):
                sys.exit(f"starttls_flows: bad handshake column: {line!r}")
            row["handshake"] = row["handshake"] == "yes"
            plan.append(row)
    return plan


def make_flow(key, p, c, pki):
    hs = p["handshake"]
    served = read_lines(os.path.join(pki, p["cert"] + ".chain.sha256")) if hs else []
    visible = hs and p["version"] == "1.2"
    return {
        **conn_fields(p, c),
        "server": SERVERS.get(key, "starttls_edge.py"),
        "handshake": hs,
        "starttls": p["starttls"] if hs else None,
        "network_protocol": p["network_protocol"],
        "cert": p["cert"],
        "version": p["version"],
        "served_chain_sha256": served,
        "cert_visible": visible,
        "expect_chain_sha256": served if visible else [],
        "edge": p["edge"],
        "expect_anomaly": EDGE_ANOMALIES.get(p["edge"]),
    }


if __name__ == "__main__":
    run("starttls_flows", read_plan, make_flow)
