#!/usr/bin/python3
"""jabber_check.py FACTS EVENTS_A EVENTS_B EVENTS_C EVENTS_L EVENTS_N EVENTS_T -- the verdicts
of jabber_scenario.sh, exactly: every handshake event of each run in order (port, STARTTLS,
version, leaf SHA-256 or None for TLS 1.3, network.ttl), the rules each lists
(mitmwatch.verdict.rules), the exact multiset of alerts (rule.id, port, expected, observed),
the triggered certificate fetches (mitmwatch.probe events) and their links, and the final
stats' triggered_probes. Prints every alert line and "ok"/"FAIL" per assertion; exit 1 on any
failure. FACTS is jabber_pki.py's facts.json.
"""
import json
import sys

S2C = "server to client"
SRV = "203.0.113.2"


def load(path):
    return [json.loads(line) for line in open(path)]


def handshakes(events):
    out = []
    for e in events:
        if e["event"]["dataset"] != "mitmwatch.tls":
            continue
        h = e["tls"].get("server", {}).get("hash", {}).get("sha256")
        out.append([e["destination"]["port"], e["mitmwatch"]["tls"].get("starttls"),
                    e["tls"].get("version"), h.lower() if h else None, e["network"]["ttl"]])
    return out


def verdicts(events):
    return [e["mitmwatch"].get("verdict", {}).get("rules", []) for e in events
            if e["event"]["dataset"] == "mitmwatch.tls"]


def tls_ids(events):
    return [e["event"]["id"] for e in events if e["event"]["dataset"] == "mitmwatch.tls"]


def probes(events):
    """Each mitmwatch.probe event: outcome, target, starttls, leaf SHA-256, the trigger."""
    out = []
    for e in events:
        if e["event"]["dataset"] != "mitmwatch.probe":
            continue
        p = e["mitmwatch"]["probe"]
        h = e.get("tls", {}).get("server", {}).get("hash", {}).get("sha256")
        out.append([e["event"]["outcome"], p["target"], p.get("starttls"),
                    h.lower() if h else None, p.get("trigger")])
    return out


def trig_stats(events):
    st = [e for e in events if e["event"]["dataset"] == "mitmwatch.stats"][-1]
    return st["mitmwatch"]["stats"].get("triggered_probes")


def alert_links(events):
    """rule.id -> mitmwatch.handshake_id of each alert, in order."""
    return [[e["rule"]["id"], e["mitmwatch"].get("handshake_id")] for e in events
            if e["event"]["kind"] == "alert"]


def alerts(events):
    out = []
    for e in events:
        if e["event"]["kind"] != "alert":
            continue
        mw = e["mitmwatch"]
        exp = json.loads(json.dumps(mw["expected"]))
        if isinstance(exp.get("known_store"), dict):  # the store lists them in no given order
            exp["known_store"]["for_name"] = sorted(exp["known_store"].get("for_name", []))
        print("  alert %s port %d: %s\n    expected %s\n    observed %s" % (
            e["rule"]["id"], e["destination"]["port"], e["message"],
            json.dumps(mw["expected"]), json.dumps(mw["observed"])))
        out.append(json.dumps([e["rule"]["id"], e["destination"]["port"], exp, mw["observed"]],
                              sort_keys=True))
        if e["rule"]["id"] == "cert.expired":  # judged at capture time: the alert's own
            out[-1] = out[-1].replace(e["@timestamp"][:19] + "Z", "CAPTURE_TIME")
    return sorted(out)


def main():
    facts = json.load(open(sys.argv[1]))
    runs = {p: load(f) for p, f in zip("ABCLNT", sys.argv[2:8])}
    fails = 0

    def check(label, got, want):
        nonlocal fails
        if got == want:
            print("ok   " + label)
        else:
            fails += 1
            print("FAIL %s\n  got:  %s\n  want: %s" % (label, got, want))

    g, a, x = (facts[n]["sha256"] for n in ("genuine", "attacker", "expired"))
    web = [443, None, "1.2", g, 62]
    xmpp = [5222, "xmpp", "1.2", g, 62]
    probe = [5222, "xmpp", "1.3", None, 62]  # mitmwatch check: TLS 1.3, certificate hidden
    check("A: handshakes (curl 443, 3 slixmpp logins + s_client on 5222, check, 3 legacy, curl)",
          handshakes(runs["A"]), [web, web, xmpp, xmpp, xmpp, xmpp, probe] + [xmpp] * 3 + [web, web])
    check("control: handshakes, all genuine, 2 hops", handshakes(runs["C"]),
          [web, web, xmpp, xmpp, xmpp, probe, xmpp, web])
    m13 = [5222, "xmpp", "1.3", None, 63]
    check("B: handshakes (5222 answered by m: attacker, 1 hop; the triggered fetch; expired)",
          handshakes(runs["B"]),
          [web, web] + [[5222, "xmpp", "1.2", a, 63]] * 3 + [m13, m13,
                                                            [5222, "xmpp", "1.2", x, 63], web])
    print("phase A alerts:")
    check("A: no alert", alerts(runs["A"]), [])
    print("control alerts:")
    check("control: no alert", alerts(runs["C"]), [])
    check("control: nothing triggered, fetched or limited", [probes(runs["C"]),
          trig_stats(runs["C"])], [[], {"triggered": 0, "rate_limited": 0, "dropped": 0}])
    check("A: no fetch", [probes(runs["A"]), trig_stats(runs["A"])],
          [[], {"triggered": 0, "rate_limited": 0, "dropped": 0}])
    print("phase B alerts:")
    store = {"known_store": {"certificates": 3, "match": "sha256 or tbs_sha256",
                             "for_name": sorted([facts["genuine1"]["sha256"], g])}}

    def leaf(n, *keys):
        return {k: facts[n][k] for k in keys}
    ident = ("sha256", "tbs_sha256", "subject", "issuer", "not_before")
    want = [
        ["cert.unknown", 5222, store, leaf("attacker", *ident)],
        ["path.ttl_changed", 5222, {"direction": S2C, "hops": [2]}, {"direction": S2C, "hops": 1}],
        ["path.ttl_changed", 5222, {"direction": S2C, "hops": 2, "ports": [443]},
         {"direction": S2C, "hops": 1, "port": 5222}],
        ["cert.unknown", 5222, store, leaf("expired", *ident)],
        ["cert.expired", 5222, {"valid_at": "CAPTURE_TIME"}, leaf("expired", *ident, "not_after")],
        # the triggered fetch's certificate: its cert.unknown is the passive one's duplicate
        ["probe.cert_mismatch", 5222, {"known_store": True, "certificates": 3}, {"sha256": a}],
    ]
    check("B: exactly cert.unknown x2, path.ttl_changed x2, cert.expired, probe.cert_mismatch",
          alerts(runs["B"]), sorted(json.dumps(w, sort_keys=True) for w in want))
    # Every connection m answered is marked, not only the first.
    mitm12 = ["cert.unknown", "path.ttl_changed"]
    check("B: every intercepted connection lists its rules", verdicts(runs["B"]),
          [[], []] + [mitm12] * 3 + [["path.ttl_changed"]] * 2 +
          [["cert.unknown", "cert.expired", "path.ttl_changed"], []])
    # check's TLS 1.3 handshake (the 6th) triggered one fetch, with STARTTLS, from m.
    ids = tls_ids(runs["B"])
    trig = {"handshake_id": ids[5], "rule": "path.ttl_changed", "service": "xmpp.lab.test",
            "destination": {"ip": SRV, "port": 5222}}
    got = [[o, t, st, h, {k: v for k, v in (tr or {}).items() if k in trig}]
           for o, t, st, h, tr in probes(runs["B"])]
    check("B: one triggered fetch: m's certificate, STARTTLS xmpp, linked to check's handshake",
          got, [["success", SRV + ":5222", "xmpp", a, trig]])
    check("B: the fetch's probe.cert_mismatch names check's handshake",
          [l for l in alert_links(runs["B"]) if l[0] == "probe.cert_mismatch"],
          [["probe.cert_mismatch", ids[5]]])
    check("B: triggered 1, rate-limited 1 (the fetch's own handshake)", trig_stats(runs["B"]),
          {"triggered": 1, "rate_limited": 1, "dropped": 0})

    print("legacy alerts:")
    check("legacy: one handshake, answered by the box (1 hop)", handshakes(runs["L"]),
          [[5222, "xmpp", "1.2", a, 63]])
    # The legacy kind: the JA3 that A saw three times after check; the JA3S the server gave it.
    kinds = [(e["tls"]["client"]["ja3"], e["tls"]["server"]["ja3s"]) for e in runs["A"]
             if e["event"]["dataset"] == "mitmwatch.tls"][7:10]
    check("A: the legacy client kind, three times, one JA3S", len(set(kinds)), 1)
    ja3, ja3s_a = kinds[0]
    ja3s_l = [e["tls"]["server"]["ja3s"] for e in runs["L"]
              if e["event"]["dataset"] == "mitmwatch.tls"][0]
    check("legacy: the box's JA3S differs", ja3s_l != ja3s_a, True)
    want = [
        ["tls.ja3s_changed", 5222, {"ja3": ja3, "resumed": False, "ja3s": [ja3s_a]},
         {"ja3": ja3, "ja3s": ja3s_l}],
        ["path.ttl_changed", 5222, {"direction": S2C, "hops": [2]}, {"direction": S2C, "hops": 1}],
        ["cert.unknown", 5222, store, leaf("attacker", *ident)],
    ]
    check("legacy: exactly tls.ja3s_changed, path.ttl_changed, cert.unknown", alerts(runs["L"]),
          sorted(json.dumps(w, sort_keys=True) for w in want))
    check("legacy: the connection lists all three", verdicts(runs["L"]),
          [["cert.unknown", "path.ttl_changed", "tls.ja3s_changed"]])

    print("anon alerts:")
    failed = [5222, "xmpp", None, None, 63]
    check("anon: 3 logins to the server, then 2 handshakes the box refuses",
          handshakes(runs["N"]), [xmpp] * 3 + [failed] * 2)
    xja3 = [e["tls"]["client"]["ja3"] for e in runs["N"]
            if e["event"]["dataset"] == "mitmwatch.tls"]
    check("anon: one client kind", len(set(xja3)), 1)
    want = [
        ["path.ttl_changed", 5222, {"direction": S2C, "hops": [2]}, {"direction": S2C, "hops": 1}],
        ["tls.handshake_failures", 5222, {"completing": []},
         {"failure": "alert from the server",
          "failing": [{"ja3": xja3[0], "failed": 2, "completed": 3}]}],
    ]
    check("anon: exactly path.ttl_changed and tls.handshake_failures", alerts(runs["N"]),
          sorted(json.dumps(w, sort_keys=True) for w in want))
    check("anon: both refused connections are marked", verdicts(runs["N"])[3:],
          [["path.ttl_changed"], ["path.ttl_changed", "tls.handshake_failures"]])

    print("tls13 alerts:")
    t13 = [443, None, "1.3", None, 63]
    check("tls13: two curl handshakes and the fetch's, TLS 1.3, 1 hop", handshakes(runs["T"]),
          [t13, t13, t13])
    ids = tls_ids(runs["T"])
    first = [e for e in runs["T"] if e["event"]["dataset"] == "mitmwatch.tls"][0]
    trig = {"handshake_id": ids[0], "community_id": first["network"]["community_id"],
            "rule": "path.ttl_changed", "service": "xmpp.lab.test", "source": first["source"],
            "destination": {"ip": SRV, "port": 443}}
    check("tls13: one fetch of 443, the attacker's certificate, linked to the first handshake",
          probes(runs["T"]), [["success", SRV + ":443", None, a, trig]])
    check("tls13: triggered 1, rate-limited 2", trig_stats(runs["T"]),
          {"triggered": 1, "rate_limited": 2, "dropped": 0})
    links = alert_links(runs["T"])
    check("tls13: the fetched certificate's alerts name the triggering handshake",
          [l for l in links if l[0] != "path.ttl_changed"],
          [["cert.unknown", ids[0]], ["probe.cert_mismatch", ids[0]]])
    want = [
        ["path.ttl_changed", 443, {"direction": S2C, "hops": [2]}, {"direction": S2C, "hops": 1}],
        ["cert.unknown", 443, store, leaf("attacker", *ident)],
        ["probe.cert_mismatch", 443, {"known_store": True, "certificates": 3}, {"sha256": a}],
    ]
    check("tls13: exactly path.ttl_changed (passive) and, from the fetch, cert.unknown and "
          "probe.cert_mismatch", alerts(runs["T"]),
          sorted(json.dumps(w, sort_keys=True) for w in want))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
