#!/usr/bin/python3
"""verdicts_check.py EVENTS.json CASES.json [--cli] -- judge mitmwatch's verdicts on the lab capture.

--cli: the events came from the command-line policy (--watch www.example.test --known-certs
--expect-issuer --ca-file --ct-log-list, no file): the pinned and the TLS-minimum services
are not in it, so their connections raise nothing.

Each case of cases.json is one connection to its port, made in that order. For every
connection the mitmwatch.tls event must be there, and the alerts raised for that flow
(matched by source port) must be exactly the case's rule.id set: the clean cases prove that
nothing else fires. SCT statuses in the handshake events are checked where the case fixes
them. Exit 0 when everything matches, 1 otherwise (each difference printed).
"""
import json
import sys

SCT_STATUS = {  # case cert -> statuses of mitmwatch.tls.scts, in order
    "good": ["valid"], "mitm": ["valid"], "fin": ["valid"], "tamper": ["valid", "invalid"],
    "unklog": ["unknown_log"], "expired": ["valid"],
}


def main():
    events = [json.loads(l) for l in open(sys.argv[1])]
    cases = json.load(open(sys.argv[2]))
    if "--cli" in sys.argv[3:]:
        for c in cases:
            if c["port"] in (19415, 19417):
                c["expect"] = []
    tls = [e for e in events if e["event"]["dataset"] == "mitmwatch.tls"]
    alerts = [e for e in events if e["event"]["dataset"] == "mitmwatch.alert"]
    errors = []
    by_port = {}
    for e in tls:
        by_port.setdefault(e["destination"]["port"], []).append(e)
    seen = {}
    for c in cases:
        port = c["port"]
        i = seen.get(port, 0)
        seen[port] = i + 1
        flows = by_port.get(port, [])
        label = "port %d #%d (%s, %s)" % (port, i + 1, c["cert"], c.get("note") or "-")
        if i >= len(flows):
            errors.append("%s: no mitmwatch.tls event" % label)
            continue
        ev = flows[i]
        sport = ev["source"]["port"]
        got = sorted(a["rule"]["id"] for a in alerts
                     if a["destination"]["port"] == port and a["source"]["port"] == sport)
        if got != c["expect"]:
            errors.append("%s: rule.ids %s, expected %s" % (label, got, c["expect"]))
            for a in alerts:
                if a["destination"]["port"] == port and a["source"]["port"] == sport:
                    errors.append("    %s: %s" % (a["rule"]["id"], a["message"]))
        if ev["tls"].get("version") not in ("1.2", "1.1") or not ev["mitmwatch"]["tls"]["chain"]:
            errors.append("%s: expected a visible TLS 1.1/1.2 certificate" % label)
        scts = ev["mitmwatch"]["tls"]["scts"]
        want = SCT_STATUS.get(c["cert"])
        if c["port"] == 19413:
            want = ["valid"]
            if [s["source"] for s in scts] != ["tls"]:
                errors.append("%s: SCT sources %s, expected ['tls']" % (label, scts))
        names = ["Test Log A" if s["status"] in ("valid", "invalid") else None for s in scts]
        if [s.get("log_name") for s in scts] != names:
            errors.append("%s: SCT log names %s, expected %s" %
                          (label, [s.get("log_name") for s in scts], names))
        if want is not None and [s["status"] for s in scts] != want:
            errors.append("%s: SCT statuses %s, expected %s" %
                          (label, [s["status"] for s in scts], want))
        for a in alerts:
            if a["source"]["port"] != sport:
                continue
            mw = a["mitmwatch"]
            if not mw.get("expected") or not mw.get("observed") or len(a["message"]) < 30:
                errors.append("%s: alert %s lacks evidence or message" % (label, a["rule"]["id"]))
            if a["rule"]["id"] == "cert.unknown" and \
                    mw["expected"]["known_store"]["certificates"] != 15:
                errors.append("%s: known store holds %s certificates, expected 15 (14 distinct "
                              "leaves and precertificates + the intermediate)" %
                              (label, mw["expected"]["known_store"]["certificates"]))
            if not 1 <= a["event"]["severity"] <= 4 or a["event"]["kind"] != "alert":
                errors.append("%s: alert %s: bad event fields" % (label, a["rule"]["id"]))
    if len(tls) != len(cases):
        errors.append("%d handshake events for %d connections" % (len(tls), len(cases)))
    n_expected = sum(len(c["expect"]) for c in cases)
    if len(alerts) != n_expected:
        errors.append("%d alerts in all, expected %d" % (len(alerts), n_expected))
    if errors:
        print("verdicts_check: FAIL", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        return 1
    print("verdicts_check: %d connections, %d alerts, every rule.id set exact" %
          (len(cases), len(alerts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
