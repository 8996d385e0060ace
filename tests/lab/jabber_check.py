#!/usr/bin/python3
"""jabber_check.py FACTS EVENTS_A EVENTS_B EVENTS_C -- the passive verdicts of
jabber_scenario.sh, exactly: every handshake event of each run in order (port, STARTTLS,
version, leaf SHA-256 or None for TLS 1.3, network.ttl), and the exact multiset of alerts
(rule.id, port, expected, observed). Prints every alert line and "ok"/"FAIL" per assertion;
exit 1 on any failure. FACTS is jabber_pki.py's facts.json.
"""
import json
import sys

S2C = "server to client"


def load(path):
    return [json.loads(line) for line in open(path)]


def handshakes(events):
    out = []
    for e in events:
        if e["event"]["dataset"] != "mitmwatch.tls":
            continue
        h = e["tls"].get("server", {}).get("hash", {}).get("sha256")
        out.append([e["destination"]["port"], e["mitmwatch"]["tls"].get("starttls"),
                    e["tls"]["version"], h.lower() if h else None, e["network"]["ttl"]])
    return out


def alerts(events):
    out = []
    for e in events:
        if e["event"]["kind"] != "alert":
            continue
        mw = e["mitmwatch"]
        exp = json.loads(json.dumps(mw["expected"]))
        if "known_store" in exp:  # the store lists its certificates in no particular order
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
    runs = {p: load(f) for p, f in zip("ABC", sys.argv[2:5])}
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
    check("A: handshakes (curl 443, 3 slixmpp logins + s_client on 5222, check, curl)",
          handshakes(runs["A"]), [web, web, xmpp, xmpp, xmpp, xmpp, probe, web, web])
    check("control: handshakes, all genuine, 2 hops", handshakes(runs["C"]),
          [web, web, xmpp, xmpp, xmpp, probe, xmpp, web])
    check("B: handshakes (5222 answered by m: attacker, 1 hop; then expired)",
          handshakes(runs["B"]),
          [web, web] + [[5222, "xmpp", "1.2", a, 63]] * 3 + [[5222, "xmpp", "1.3", None, 63],
                                                            [5222, "xmpp", "1.2", x, 63], web])
    print("phase A alerts:")
    check("A: no alert", alerts(runs["A"]), [])
    print("control alerts:")
    check("control: no alert", alerts(runs["C"]), [])
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
    ]
    check("B: exactly cert.unknown x2, path.ttl_changed x2, cert.expired, all on 5222",
          alerts(runs["B"]), sorted(json.dumps(w, sort_keys=True) for w in want))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
