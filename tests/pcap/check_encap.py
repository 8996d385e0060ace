#!/usr/bin/env python3
"""check_encap.py MITMWATCH DIR [CASE...] -- the captures make_encap.py wrote in DIR against
DIR/cases.json: mitmwatch's TLS events (JA3, JA3S, certificate SHA-256 list, and
mitmwatch.encapsulation, outermost first, absent for a flow outside tunnels), its anomaly
counters and alerts; and, where the case says tshark "full", that tshark finds the same JA3,
JA3S and certificates in the same file. Prints a table row per case; exit 0 when all pass,
1 otherwise."""
import hashlib
import json
import os
import shutil
import subprocess
import sys


def run_mitmwatch(mw, pcap, out):
    if os.path.exists(out):
        os.unlink(out)
    p = subprocess.run([mw, "-r", pcap, "-o", out, "--observer", "encap", "--stats-interval", "0"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    evs = []
    if os.path.exists(out):
        with open(out) as f:
            evs = [json.loads(line) for line in f if line.strip()]
    return p.returncode, p.stderr, evs


def tshark_view(pcap, extra):
    """JA3s, JA3Ss and certificate SHA-256s tshark finds, in frame order"""
    cmd = ["tshark", "-n", "-r", pcap] + extra + ["-d", "tcp.port==8443,tls", "-o", "tcp.reassemble_out_of_order:TRUE",
           "-Y", "tls.handshake", "-T", "fields", "-E", "separator=|", "-E", "occurrence=a",
           "-E", "aggregator=,", "-e", "tls.handshake.ja3", "-e", "tls.handshake.ja3s",
           "-e", "tls.handshake.certificate"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True)
    ja3, ja3s, chain = [], [], []
    for line in p.stdout.splitlines():
        a, b, c = (line.split("|") + ["", "", ""])[:3]
        ja3 += [x for x in a.split(",") if x]
        ja3s += [x for x in b.split(",") if x]
        chain += [hashlib.sha256(bytes.fromhex(x.replace(":", ""))).hexdigest() for x in c.split(",") if x]
    return ja3, ja3s, chain


def event_facts(e):
    return {"ja3": e.get("tls", {}).get("client", {}).get("ja3"),
            "ja3s": e.get("tls", {}).get("server", {}).get("ja3s"),
            "chain": [c["sha256"].lower() for c in e.get("mitmwatch", {}).get("tls", {}).get("chain", [])],
            "encapsulation": e.get("mitmwatch", {}).get("encapsulation")}


def check(mw, d, name, c, seeds, tmp):
    errs = []
    pcap = os.path.join(d, c["file"])
    rc, err, evs = run_mitmwatch(mw, pcap, os.path.join(tmp, name + ".json"))
    if rc != c.get("exit", 0):
        errs.append("exit %d, want %d: %s" % (rc, c.get("exit", 0), err.strip()))
    if c.get("stderr") and c["stderr"] not in err:
        errs.append("stderr lacks %r: %s" % (c["stderr"], err.strip()))
    tls = [e for e in evs if e["event"]["dataset"] == "mitmwatch.tls"]
    alerts = sorted(e["rule"]["id"] for e in evs if e["event"]["dataset"] == "mitmwatch.alert" and
                    e["rule"]["id"].startswith("sensor."))
    stats = [e for e in evs if e["event"]["dataset"] == "mitmwatch.stats"]
    want_n = c.get("events", 1)
    if len(tls) != want_n:
        errs.append("%d TLS events, want %d" % (len(tls), want_n))
    wants = c.get("multi") or ([{"seed": c["seed"], "encapsulation": c["encapsulation"]}] if want_n else [])
    got = [event_facts(e) for e in tls]
    for w in wants:
        s = seeds[w["seed"]]
        want = {"ja3": s["ja3"], "ja3s": s["ja3s"], "chain": s["chain"], "encapsulation": w["encapsulation"]}
        if want not in got:
            errs.append("no event %s (got %s)" % (want, got))
    if stats:
        an = stats[-1]["mitmwatch"]["stats"]["anomalies"]
        for k, v in (c.get("anomalies") or {}).items():
            if an.get(k) != v:
                errs.append("anomaly %s = %s, want %s" % (k, an.get(k), v))
    elif c.get("exit", 0) == 0:
        errs.append("no stats event")
    if sorted(c.get("alerts", [])) != alerts:
        errs.append("sensor alerts %s, want %s" % (alerts, c.get("alerts", [])))
    ts = "-"
    if c.get("tshark") == "full":
        if not shutil.which("tshark"):
            ts = "skipped"
        else:
            ja3, ja3s, chain = tshark_view(pcap, c.get("tshark_args", []))
            ss = [seeds[w["seed"]] for w in wants]
            mine = [(f["ja3"], f["ja3s"], f["chain"]) for f in got]
            if sorted(ja3) == sorted(s["ja3"] for s in ss) and sorted(ja3s) == sorted(s["ja3s"] for s in ss) and \
                    sorted(chain) == sorted(h for s in ss for h in s["chain"]) and \
                    all((s["ja3"], s["ja3s"], s["chain"]) in mine for s in ss):
                ts = "agrees"
            else:
                ts = "DIFFERS"
                errs.append("tshark: ja3 %s ja3s %s chain %s" % (ja3, ja3s, chain))
    return errs, ts


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: check_encap.py MITMWATCH DIR [CASE...]")
    mw, d = sys.argv[1], sys.argv[2]
    with open(os.path.join(d, "cases.json")) as f:
        spec = json.load(f)
    names = sys.argv[3:] or sorted(spec["cases"])
    tmp = os.path.join(d, "out")
    os.makedirs(tmp, exist_ok=True)
    bad = 0
    print("%-24s %-48s %-8s %s" % ("case", "encapsulation", "tshark", "result"))
    for n in names:
        c = spec["cases"][n]
        errs, ts = check(mw, d, n, c, spec["seeds"], tmp)
        enc = c.get("encapsulation") if "multi" not in c else [m["encapsulation"] for m in c["multi"]]
        print("%-24s %-48s %-8s %s" % (n, json.dumps(enc), ts, "ok" if not errs else "FAIL"))
        for e in errs:
            print("    " + e)
        bad += bool(errs)
    print("%d of %d cases failed" % (bad, len(names)) if bad else "all %d cases passed" % len(names))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
