#!/usr/bin/python3
"""starttls_flows.py PLAN.tsv PCAP PKIDIR OUT.json -- the STARTTLS lab's expectations, keyed
by client port (the same n-th SYN to n-th planned connection matching as lab_flows.py).

Per flow: client/server address, the expected mitmwatch.tls.starttls value (null for direct
TLS or no handshake), the expected network.protocol (null: not asserted), whether a
handshake and so one mitmwatch.tls event is expected, the TLS version, the served chain and
what a passive observer sees of it (full TLS 1.2 handshake: all of it; TLS 1.3: nothing),
and the edge case it stands for (or null).
"""
import json
import os
import sys

from lab_flows import check_unique, match_plan, read_lines, syns

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


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: starttls_flows.py PLAN.tsv PCAP PKIDIR OUT.json")
    plan_path, pcap, pki, out = sys.argv[1:]
    plan = read_plan(plan_path)
    captured = syns(pcap)

    flows = []
    for key, p, c in match_plan(plan, captured, "starttls_flows"):
        hs = p["handshake"]
        served = read_lines(os.path.join(pki, p["cert"] + ".chain.sha256")) if hs else []
        visible = hs and p["version"] == "1.2"
        flows.append({
            "id": p["id"],
            "client_tool": p["client_tool"],
            "tcp_stream": c[0],
            "client_ip": c[1],
            "client_port": c[2],
            "server_ip": c[3],
            "server_port": c[4],
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
        })
    flows.sort(key=lambda f: f["tcp_stream"])
    check_unique(flows, "starttls_flows")
    with open(out, "w", encoding="ascii") as f:
        json.dump({"pcap": os.path.basename(pcap), "flows": flows}, f, indent=1)
        f.write("\n")
    print(f"starttls_flows: {len(flows)} flows -> {out}")


if __name__ == "__main__":
    main()
