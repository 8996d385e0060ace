#!/usr/bin/python3
"""lab_flows.py PLAN.tsv PCAP PKIDIR OUT.json -- the lab's expectations, keyed by client port.

tls_capture.sh makes its connections strictly one after another and writes them to
PLAN.tsv in that order. The client port is only known from the capture, so the n-th SYN to
a server address is matched to the n-th planned connection to that address; the counts
must agree exactly, else the capture holds traffic we did not plan (or lost some).
"""
import json
import os
import subprocess
import sys

NGINX_PORTS = range(18443, 18450)

COLUMNS = ["id", "client_tool", "server_port", "server_ip", "cert", "version", "sni",
           "alpn_offered", "alpn_selected", "resumed", "hrr"]


def read_plan(path):
    plan = []
    with open(path, encoding="ascii") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) != len(COLUMNS):
                sys.exit(f"lab_flows: bad plan line: {line!r}")
            row = dict(zip(COLUMNS, cols))
            for k in ("sni", "alpn_offered", "alpn_selected"):
                if row[k] == "-":
                    row[k] = None
            row["server_port"] = int(row["server_port"])
            row["resumed"] = row["resumed"] == "true"
            row["hrr"] = row["hrr"] == "true"
            plan.append(row)
    return plan


def syns(pcap):
    """Client SYNs in capture order: (stream, client ip, client port, server ip, port)."""
    cmd = ["tshark", "-n", "-r", pcap, "-Y", "tcp.flags.syn==1 && tcp.flags.ack==0",
           "-T", "fields", "-E", "separator=/t", "-e", "tcp.stream", "-e", "ip.src",
           "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst",
           "-e", "tcp.dstport"]
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    seen = {}
    rows = []
    for line in res.stdout.splitlines():
        stream, s4, s6, sport, d4, d6, dport = line.split("\t")
        if stream in seen:  # a retransmitted SYN is the same connection
            continue
        seen[stream] = True
        rows.append((int(stream), s4 or s6, int(sport), d4 or d6, int(dport)))
    return rows


def alternative_names(pem):
    """The leaf's SANs in certificate order, as ECS x509.alternative_names lists them."""
    res = subprocess.run(["openssl", "x509", "-in", pem, "-noout", "-ext", "subjectAltName"],
                         check=True, capture_output=True, text=True)
    lines = res.stdout.splitlines()
    if len(lines) != 2:
        sys.exit(f"lab_flows: unexpected SAN output for {pem}: {res.stdout!r}")
    names = []
    for part in lines[1].strip().split(", "):
        kind, _, value = part.partition(":")
        if kind not in ("DNS", "IP Address"):
            sys.exit(f"lab_flows: SAN type {kind} not handled in {pem}")
        names.append(value)
    return names


def match_plan(plan, captured, who):
    """(server key, planned row, captured SYN) per connection: the n-th SYN to a server
    address is the n-th planned connection to it; the counts must agree exactly."""
    by_server = {}
    for c in captured:
        by_server.setdefault((c[3], c[4]), []).append(c)
    planned = {}
    for p in plan:
        planned.setdefault((p["server_ip"], p["server_port"]), []).append(p)
    if sorted(by_server) != sorted(planned) or any(
            len(by_server[k]) != len(planned[k]) for k in planned):
        sys.exit(f"{who}: capture has connections "
                 f"{ {k: len(v) for k, v in by_server.items()} } but the plan has "
                 f"{ {k: len(v) for k, v in planned.items()} }")
    return [(key, p, c) for key, plist in planned.items() for p, c in zip(plist, by_server[key])]


def check_unique(flows, who):
    """Exits when two flows share a connection 4-tuple: they could not be told apart."""
    conns = [(f["client_ip"], f["client_port"], f["server_ip"], f["server_port"])
             for f in flows]
    if len(set(conns)) != len(conns):
        sys.exit(f"{who}: a connection 4-tuple was reused; flows would be ambiguous")


def read_lines(path):
    with open(path, encoding="ascii") as f:
        return [ln.strip() for ln in f if ln.strip()]


def conn_fields(p, c):
    """The planned connection's id and client, and where the capture saw it."""
    return {"id": p["id"], "client_tool": p["client_tool"], "tcp_stream": c[0],
            "client_ip": c[1], "client_port": c[2], "server_ip": c[3], "server_port": c[4]}


def make_flow(_key, p, c, pki):
    visible = p["version"] == "1.2" and not p["resumed"]
    chain = read_lines(os.path.join(pki, p["cert"] + ".chain.sha256"))
    flow = {
        **conn_fields(p, c),
        "server": "nginx" if c[4] in NGINX_PORTS else "openssl s_server",
        "cert": p["cert"],
        "version": p["version"],
        "sni": p["sni"],
        "alpn_offered": p["alpn_offered"].split(",") if p["alpn_offered"] else [],
        "alpn_selected": p["alpn_selected"],
        # In TLS 1.3 the server's ALPN choice travels in the encrypted
        # EncryptedExtensions, so a passive sensor cannot know it.
        "expect_next_protocol": p["alpn_selected"] if p["version"] == "1.2" else None,
        "resumed": p["resumed"],
        "hello_retry_request": p["hrr"],
        # The chain the server is configured with, whether or not it is on the wire.
        "served_chain_sha256": chain,
        # What a passive observer sees: the Certificate message only in a full
        # TLS 1.2 handshake (TLS 1.3 encrypts it; resumptions skip it).
        "cert_visible": visible,
        "expect_chain_sha256": chain if visible else [],
        "leaf_alternative_names": alternative_names(
            os.path.join(pki, p["cert"] + ".pem")),
    }
    return flow


def run(who, read_plan_fn, make_flow_fn):
    """The command line both flow scripts share: PLAN.tsv PCAP PKIDIR OUT.json; one flow per
    planned connection (make_flow_fn(server key, plan row, captured SYN, PKIDIR)), in
    capture order, written as {"pcap", "flows"}."""
    if len(sys.argv) != 5:
        sys.exit(f"usage: {who}.py PLAN.tsv PCAP PKIDIR OUT.json")
    plan_path, pcap, pki, out = sys.argv[1:]
    flows = [make_flow_fn(key, p, c, pki)
             for key, p, c in match_plan(read_plan_fn(plan_path), syns(pcap), who)]
    flows.sort(key=lambda f: f["tcp_stream"])
    check_unique(flows, who)
    with open(out, "w", encoding="ascii") as f:
        json.dump({"pcap": os.path.basename(pcap), "flows": flows}, f, indent=1)
        f.write("\n")
    print(f"{who}: {len(flows)} flows -> {out}")


if __name__ == "__main__":
    run("lab_flows", read_plan, make_flow)
