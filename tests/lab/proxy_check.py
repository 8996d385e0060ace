#!/usr/bin/env python3
"""proxy_check.py PCAP EVENTS PLAN -- judges proxy_lab.sh's run.

PLAN: one line a client run, in order: TYPE TARGET_HOST TARGET_PORT SNI EVENT(yes|no) STATUS.
The n-th mitmwatch.tls event (by time) belongs to the n-th run with EVENT yes; each must carry
mitmwatch.proxy {type, target_host, target_port}, the SNI, sni_matches_target where the target
is a name, and the JA3, JA3S and certificate SHA-256 list tshark computes for the same TCP
stream (matched by the client's port). The final stats must count every tunnel and refusal.
Prints a table (proxy, tshark agrees) and "N passed, M failed"; exit 1 on a failure.
"""
import hashlib
import json
import subprocess
import sys


def get(o, path):
    for k in path.split("."):
        if not isinstance(o, dict) or k not in o:
            return None
        o = o[k]
    return o


def tshark(pcap):
    def rows(flt, *names):
        cmd = ["tshark", "-n", "-r", pcap, "-o", "tcp.reassemble_out_of_order:TRUE", "-Y", flt,
               "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,",
               "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.dstport"]
        for n in names:
            cmd += ["-e", n]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        return [l.split("|") for l in out.splitlines()]
    by = {}
    for s, sp, _dp, ja3 in rows("tls.handshake.type == 1", "tls.handshake.ja3"):
        by.setdefault(s, {})["client_port"] = int(sp)
        by[s]["ja3"] = ja3
    for s, _sp, _dp, ja3s in rows("tls.handshake.type == 2", "tls.handshake.ja3s"):
        by.setdefault(s, {})["ja3s"] = ja3s
    for s, _sp, _dp, certs in rows("tls.handshake.type == 11", "tls.handshake.certificate"):
        if "chain" not in by.setdefault(s, {}):
            by[s]["chain"] = [hashlib.sha256(bytes.fromhex(c.replace(":", ""))).hexdigest()
                              for c in certs.split(",") if c]
    return {v["client_port"]: v for v in by.values() if "client_port" in v}


def main():
    pcap, events, plan = sys.argv[1:4]
    runs = [l.split() for l in open(plan) if l.strip()]
    evs = [json.loads(l) for l in open(events)]
    tls = sorted((e for e in evs if get(e, "event.dataset") == "mitmwatch.tls"),
                 key=lambda e: e["@timestamp"])
    stats = [e for e in evs if get(e, "event.dataset") == "mitmwatch.stats"][-1]
    ts = tshark(pcap)
    passed = failed = 0
    table = []
    want_ev = [r for r in runs if r[4] == "yes"]
    if len(tls) != len(want_ev):
        print("FAIL %d mitmwatch.tls events, expected %d" % (len(tls), len(want_ev)))
        failed += 1
    for i, r in enumerate(want_ev):
        typ, host, port, sni, _ev, status = r
        fails = []
        if status != "ok":
            fails.append("the client itself failed")
        e = tls[i] if i < len(tls) else {}
        px = get(e, "mitmwatch.proxy") or {}
        if px.get("type") != typ or px.get("target_host") != host or px.get("target_port") != int(port):
            fails.append("proxy %r, expected %s %s:%s" % (px, typ, host, port))
        if get(e, "tls.client.server_name") != sni:
            fails.append("SNI %r, expected %s" % (get(e, "tls.client.server_name"), sni))
        if host[0].isalpha() and px.get("sni_matches_target") != (sni == host):
            fails.append("sni_matches_target %r, expected %r" % (px.get("sni_matches_target"), sni == host))
        t = ts.get(get(e, "source.port"))
        agree = "no handshake"
        if t is None:
            fails.append("tshark has no handshake from client port %s" % get(e, "source.port"))
        else:
            mine = {"ja3": get(e, "tls.client.ja3"), "ja3s": get(e, "tls.server.ja3s"),
                    "chain": [c["sha256"] for c in get(e, "mitmwatch.tls.chain") or []]}
            tt = dict(t, chain=t.get("chain") or [])  # TLS 1.3: neither sees a certificate
            bad = [k for k in mine if mine[k] != tt.get(k)]
            for k in bad:
                fails.append("%s: mitmwatch %r, tshark %r" % (k, mine[k], t.get(k)))
            agree = "yes (JA3, JA3S, chain)" if not bad else "NO: " + ",".join(bad)
            tls13 = get(e, "tls.version") == "1.3"
            if not mine["chain"] and not tls13:
                fails.append("no certificate seen")
            if tls13 and (mine["chain"] or not mine["ja3s"]):
                fails.append("TLS 1.3: a chain or no JA3S")
        name = "%s %s:%s sni=%s" % (typ, host, port, sni)
        table.append((name, "ok" if not fails else "FAIL", agree))
        if fails:
            failed += 1
            print("FAIL " + name)
            for f in fails:
                print("     " + f)
        else:
            passed += 1
    st = get(stats, "mitmwatch.stats")
    refused = sum(1 for r in runs if r[4] == "no")
    for k, want in (("proxy_tunnels", len(want_ev)), ("proxy_refused", refused),
                    ("proxy_flows", len(runs)), ("proxy_not_tls", 0)):
        if st.get(k) != want:
            print("FAIL stats %s = %r, expected %d" % (k, st.get(k), want))
            failed += 1
        else:
            passed += 1
    for r in runs:
        if r[4] == "no":
            table.append(("%s %s:%s refused" % (r[0], r[1], r[2]), "ok" if st.get("proxy_refused") == refused else "FAIL",
                          "no TLS (tshark: none)"))
    print("%-52s %-6s %s" % ("proxy run", "result", "tshark agrees"))
    for row in table:
        print("%-52s %-6s %s" % row)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
