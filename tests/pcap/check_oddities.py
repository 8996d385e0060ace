#!/usr/bin/env python3
"""Checks mitmwatch on the hand-made captures of make_oddities.py against oddities.json.

usage: check_oddities.py MITMWATCH WORKDIR [--write]

For every case: the exact number of mitmwatch.tls events, the exact value of each listed field
of the (first) event, the listed counters of the final stats event, and every anomaly counter
(unlisted ones must be 0). Where tshark is installed, its JA3, JA3S and certificate SHA-256
list for the capture must equal mitmwatch's ('tshark': 'full'), or tshark must show the
handshake without a JA3 ('tshark': 'no_ja3', the SSLv2-format hello that tshark 4.0 does not
fingerprint). --write prints a fresh oddities.json from what mitmwatch says (to review by hand).
Prints "N passed, M failed"; exit 0 when all passed.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIELDS = ["source.port", "destination.port", "tls.version", "tls.cipher", "tls.established",
          "tls.client.server_name", "tls.client.ja3", "tls.client.ja3_string", "tls.server.ja3s",
          "tls.server.ja3s_string", "mitmwatch.tls.complete", "mitmwatch.tls.partial",
          "mitmwatch.tls.sslv2_client_hello", "mitmwatch.proxy", "chain"]
STATS = ["tls_flows", "non_tls_flows", "proxy_flows", "proxy_tunnels", "proxy_refused",
         "proxy_not_tls", "handshakes", "certificates"]


def get(obj, path):
    if path == "chain":
        return [c.get("sha256") for c in get(obj, "mitmwatch.tls.chain") or []]
    for k in path.split("."):
        if not isinstance(obj, dict) or k not in obj:
            return None
        obj = obj[k]
    return obj


def run_mw(mw, pcap, out):
    if os.path.exists(out):
        os.unlink(out)  # mitmwatch -o appends
    subprocess.run([mw, "-r", pcap, "-o", out, "--observer", "oddities", "--no-ndpi"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    evs = [json.loads(l) for l in open(out)] if os.path.exists(out) else []
    tls = [e for e in evs if get(e, "event.dataset") == "mitmwatch.tls"]
    stats = [e for e in evs if get(e, "event.dataset") == "mitmwatch.stats"]
    sensor = [get(e, "rule.id") for e in evs if str(get(e, "rule.id")).startswith("sensor.")]
    return tls, (stats[-1] if stats else {}), sensor


def tshark(pcap):
    """JA3, JA3S and chain of the capture's single TCP stream, as tshark sees them."""
    def fields(flt, *names):
        cmd = ["tshark", "-n", "-r", pcap, "-o", "tcp.reassemble_out_of_order:TRUE",
               "-d", "tcp.port==443,tls", "-d", "tcp.port==40002,tls", "-Y", flt, "-T", "fields",
               "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"]
        for n in names:
            cmd += ["-e", n]
        r = subprocess.run(cmd, capture_output=True, text=True, check=False)
        return [l.split("|") for l in r.stdout.splitlines()]  # one line a packet, even empty
    ch = fields("tls.handshake.type == 1 or tls.handshake.cipher_spec_len", "tls.handshake.ja3")
    sh = fields("tls.handshake.type == 2", "tls.handshake.ja3s")
    ce = fields("tls.handshake.type == 11", "tls.handshake.certificate")
    chain = []
    for row in ce[:1]:
        chain = [hashlib.sha256(bytes.fromhex(h.replace(":", ""))).hexdigest()
                 for h in row[0].split(",") if h]
    return {"hello": bool(ch), "ja3": ch[0][0] or None if ch else None,
            "ja3s": sh[0][0] or None if sh else None, "chain": chain}


def main():
    mw, work = sys.argv[1], sys.argv[2]
    write = "--write" in sys.argv
    spec = json.load(open(os.path.join(HERE, "oddities.json")))
    os.makedirs(work, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(HERE, "make_oddities.py"), work], check=True)
    have_tshark = shutil.which("tshark") is not None
    passed = failed = 0
    fresh = {}
    table = []
    for name, case in spec["cases"].items():
        pcap = os.path.join(work, name + ".pcap")
        tls, stats, sensor = run_mw(mw, pcap, os.path.join(work, name + ".json"))
        ev = tls[0] if tls else {}
        st = get(stats, "mitmwatch.stats") or {}
        an = {k: v for k, v in (st.get("anomalies") or {}).items() if v}
        if write:
            fresh[name] = {"why": case.get("why", ""), "events": len(tls),
                           "fields": {f: get(ev, f) for f in FIELDS if get(ev, f) is not None},
                           "stats": {s: st.get(s) for s in STATS},
                           "anomalies": an, "tshark": case.get("tshark", "none")}
            continue
        fails = ["sensor alert %s: these captures are small and whole" % r for r in sensor]
        if len(tls) != case["events"]:
            fails.append("%d mitmwatch.tls events, expected %d" % (len(tls), case["events"]))
        for f, want in case.get("fields", {}).items():
            if get(ev, f) != want:
                fails.append("%s = %r, expected %r" % (f, get(ev, f), want))
        for s, want in case.get("stats", {}).items():
            if st.get(s) != want:
                fails.append("stats %s = %r, expected %r" % (s, st.get(s), want))
        if an != case.get("anomalies", {}):
            fails.append("anomalies %r, expected %r" % (an, case.get("anomalies", {})))
        mode = case.get("tshark", "none")
        agree = "-"
        if mode != "none" and have_tshark:
            t = tshark(pcap)
            if mode == "full":
                for k, mine in (("ja3", get(ev, "tls.client.ja3")),
                                ("ja3s", get(ev, "tls.server.ja3s")), ("chain", get(ev, "chain"))):
                    if t[k] != mine and not (k == "ja3" and t[k] is None and mine is None):
                        fails.append("tshark %s %r != mitmwatch %r" % (k, t[k], mine))
            elif mode == "no_ja3":
                if not t["hello"] or t["ja3"]:
                    fails.append("tshark: expected the hello without a JA3, got %r" % t)
                for k, mine in (("ja3s", get(ev, "tls.server.ja3s")), ("chain", get(ev, "chain"))):
                    if t[k] != mine:
                        fails.append("tshark %s %r != mitmwatch %r" % (k, t[k], mine))
            elif mode == "nothing" and (t["hello"] or t["ja3s"]):
                fails.append("tshark decodes a handshake: %r" % t)
            agree = "yes" if not any(x.startswith("tshark") for x in fails) else "NO"
        table.append((name, "ok" if not fails else "FAIL", mode, agree))
        if fails:
            failed += 1
            print("FAIL %s" % name)
            for x in fails:
                print("     " + x)
        else:
            passed += 1
            print("ok   %s" % name)
    if write:
        spec["cases"] = fresh
        print(json.dumps(spec, indent=1))
        return 0
    print("\n%-24s %-6s %-8s %s" % ("case", "result", "tshark", "tshark agrees"))
    for row in table:
        print("%-24s %-6s %-8s %s" % row)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
