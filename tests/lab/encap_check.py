#!/usr/bin/env python3
"""encap_check.py EVENTS.json PCAP EXPECT.json -- the real-tunnel lab (encap_lab.sh): for each
tunnel in EXPECT.json ({"name": {"port": P, "encapsulation": [...]}}), mitmwatch's TLS event for
server port P must carry that mitmwatch.encapsulation, and its JA3, JA3S and certificate
SHA-256 list must equal what tshark finds for the TCP stream to port P in the same capture.
Prints a row per tunnel; exit 0 when all pass."""
import hashlib
import json
import subprocess
import sys


def tshark_by_port(pcap, ports):
    cmd = ["tshark", "-n", "-r", pcap, "-o", "tcp.reassemble_out_of_order:TRUE"]
    for p in ports:
        cmd += ["-d", "tcp.port==%d,tls" % p]
    cmd += ["-Y", "tls.handshake", "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,",
            "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tls.handshake.ja3", "-e", "tls.handshake.ja3s",
            "-e", "tls.handshake.certificate"]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True).stdout
    view = {}
    for line in out.splitlines():
        f = (line.split("|") + [""] * 5)[:5]
        # the innermost TCP header is the last occurrence
        sp, dp = int(f[0].split(",")[-1]), int(f[1].split(",")[-1])
        port = dp if dp in ports else sp
        v = view.setdefault(port, {"ja3": [], "ja3s": [], "chain": []})
        v["ja3"] += [x for x in f[2].split(",") if x]
        v["ja3s"] += [x for x in f[3].split(",") if x]
        v["chain"] += [hashlib.sha256(bytes.fromhex(x.replace(":", ""))).hexdigest() for x in f[4].split(",") if x]
    return view


def main():
    events, pcap, expect = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
    evs = [json.loads(line) for line in open(events) if line.strip()]
    tls = [e for e in evs if e["event"]["dataset"] == "mitmwatch.tls"]
    ts = tshark_by_port(pcap, [x["port"] for x in expect.values()])
    bad = 0
    print("%-12s %-36s %-8s %s" % ("tunnel", "mitmwatch.encapsulation", "tshark", "result"))
    for name, x in sorted(expect.items()):
        errs = []
        mine = [e for e in tls if e["destination"]["port"] == x["port"]]
        got_enc = mine[0].get("mitmwatch", {}).get("encapsulation") if mine else None
        if len(mine) != 1:
            errs.append("%d events for port %d" % (len(mine), x["port"]))
        elif got_enc != x["encapsulation"]:
            errs.append("encapsulation %s, want %s" % (got_enc, x["encapsulation"]))
        t = ts.get(x["port"], {"ja3": [], "ja3s": [], "chain": []})
        agree = "-"
        if mine:
            m = {"ja3": [mine[0]["tls"]["client"].get("ja3")], "ja3s": [mine[0]["tls"]["server"].get("ja3s")],
                 "chain": [c["sha256"].lower() for c in mine[0]["mitmwatch"]["tls"]["chain"]]}
            agree = "agrees" if m == t and t["ja3"] and t["chain"] else "DIFFERS"
            if agree != "agrees":
                errs.append("mitmwatch %s, tshark %s" % (m, t))
        print("%-12s %-36s %-8s %s" % (name, json.dumps(got_enc), agree, "ok" if not errs else "FAIL"))
        for e in errs:
            print("    " + e)
        bad += bool(errs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
