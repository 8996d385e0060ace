#!/usr/bin/python3
"""Compares what a receiver got with what out_driver sent.

  check.py KIND RECEIVED REF STATS SINK [--filter KINDS] [--format 5424|3164] [--fault]
           [--unacked-max K] [--dropped-max N]
KIND: syslog (rsyslog file "PRI<TAB>MSGID<TAB>SD<TAB>APP<TAB>MSG"), fluentd, http.
REF is the driver's own JSON-lines file output of the same run (the events as sent), STATS its
counters. Without --fault: every expected event arrives exactly once, unchanged, and the sink
counted sent == received, dropped == rejected == 0. With --fault: duplicates are allowed
(at-least-once after a lost ack) and reported; every expected event is received except the
counted drops, plus at most K unacknowledged ones for syslog (--unacked-max), which are
reported as lost.
  check.py lines N FILE...   every line of every file is whole JSON; ids are exactly 0..N-1."""
import json, sys

SEV = {4: 2, 3: 3, 2: 4, 1: 5}
FACILITY = 16


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def same_order(a, b, path="$"):
    """a == b including object key order (the event shape is identical across outputs)."""
    if isinstance(a, dict):
        if not isinstance(b, dict) or list(a.keys()) != list(b.keys()):
            return "%s: keys %r != %r" % (path, list(b.keys()) if isinstance(b, dict) else b, list(a.keys()))
        for k in a:
            r = same_order(a[k], b[k], path + "." + k)
            if r:
                return r
        return None
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return "%s: %r != %r" % (path, b, a)
        for i, (x, y) in enumerate(zip(a, b)):
            r = same_order(x, y, "%s[%d]" % (path, i))
            if r:
                return r
        return None
    if type(a) != type(b) or a != b:
        return "%s: %r (%s) != %r (%s)" % (path, b, type(b).__name__, a, type(a).__name__)
    return None


def lines_check(n, files):
    seen = {}
    for f in files:
        data = open(f, "rb").read()
        if data and not data.endswith(b"\n"):
            fail("%s ends in a torn line" % f)
        for ln in data.split(b"\n")[:-1]:
            try:
                ev = json.loads(ln)
            except ValueError:
                fail("%s: torn or invalid line %r" % (f, ln[:80]))
            i = int(ev["event"]["id"])
            seen[i] = seen.get(i, 0) + 1
    dups = sum(c - 1 for c in seen.values())
    if dups or set(seen) != set(range(n)):
        fail("ids: %d distinct of %d, %d duplicates" % (len(seen), n, dups))
    print(json.dumps({"files": len(files), "lines": n, "torn": 0, "duplicates": 0}))


def main():
    a = sys.argv[1:]
    if a and a[0] == "lines":
        return lines_check(int(a[1]), a[2:])
    kind, recv_path, ref_path, stats_path, sink = a[:5]
    opts = a[5:]

    def opt(name, default=None):
        return opts[opts.index(name) + 1] if name in opts else default

    kinds = set((opt("--filter") or "event,alert,metric").split(","))
    fmt = opt("--format", "5424")
    fault = "--fault" in opts
    unacked_max = int(opt("--unacked-max", "0"))

    ref = {}
    for ln in open(ref_path, encoding="utf-8"):
        ln = ln.rstrip("\n")
        ev = json.loads(ln)
        ref[int(ev["event"]["id"])] = (ln, ev)
    expected = {i for i, (_, ev) in ref.items() if ev["event"]["kind"] in kinds}
    stats = json.load(open(stats_path))["outputs"][sink]

    got = {}
    problems = []
    for ln in open(recv_path, encoding="utf-8"):
        ln = ln.rstrip("\n")
        if not ln:
            continue
        if kind == "syslog":
            parts = ln.split("\t", 4)
            if len(parts) != 5:
                problems.append("bad rsyslog line %r" % ln[:100])
                continue
            pri, msgid, sd, app, msg = parts
            msg = msg.lstrip(" ")
            try:
                ev = json.loads(msg)
            except ValueError:
                problems.append("torn/invalid MSG %r" % msg[:100])
                continue
            i = int(ev["event"]["id"])
            if i not in ref:
                problems.append("unknown id %d" % i)
                continue
            text, rev = ref[i]
            if msg != text:
                problems.append("id %d: MSG differs from the event" % i)
            alert = rev["event"]["kind"] == "alert"
            sev = SEV[rev["event"]["severity"]] if alert else 6
            if int(pri) != FACILITY * 8 + sev:
                problems.append("id %d: PRI %s, expected %d" % (i, pri, FACILITY * 8 + sev))
            if app != "mitmwatch":
                problems.append("id %d: APP-NAME %r" % (i, app))
            if fmt == "5424":
                want_msgid = rev["rule"]["id"] if alert else rev["event"]["dataset"]
                want_sd = ('[mitmwatch@32473 rule.id="%s" severity="%d"]'
                           % (rev["rule"]["id"], rev["event"]["severity"])) if alert else "-"
                if msgid != want_msgid or sd != want_sd:
                    problems.append("id %d: MSGID/SD %r %r, expected %r %r" % (i, msgid, sd, want_msgid, want_sd))
        else:
            rec = json.loads(ln)
            ev = rec["record"] if kind == "fluentd" else rec["event"]
            i = int(ev["event"]["id"])
            if i not in ref:
                problems.append("unknown id %d" % i)
                continue
            text, rev = ref[i]
            d = same_order(rev, ev)
            if d:
                problems.append("id %d: %s" % (i, d))
            if kind == "fluentd":
                sec = rev["@timestamp"]
                import calendar, time
                s = calendar.timegm(time.strptime(sec[:19], "%Y-%m-%dT%H:%M:%S"))
                ns = int(sec[20:26]) * 1000
                if rec["time"] != [s, ns] or rec["tag"] != opt("--tag", "mitmwatch"):
                    problems.append("id %d: time/tag %r %r" % (i, rec["time"], rec["tag"]))
        got[i] = got.get(i, 0) + 1
        if len(problems) > 20:
            break
    if problems:
        fail("; ".join(problems[:10]))

    unique = set(got)
    dups = sum(c - 1 for c in got.values())
    stray = unique - expected
    missing = expected - unique
    res = {"expected": len(expected), "received": sum(got.values()), "unique": len(unique),
           "duplicates": dups, "missing": len(missing), "sent": stats["sent"],
           "dropped": stats["dropped"], "rejected": stats["rejected"], "retried": stats["retried"]}
    if stray:
        fail("filtered-out events arrived: %s" % sorted(stray)[:10])
    counted = stats["dropped"] + stats["rejected"]
    if not fault:
        if dups or missing or stats["sent"] != len(expected) or counted:
            fail("exact delivery: %s" % json.dumps(res))
    else:
        if stats["sent"] + counted != len(expected):
            fail("counters do not add up to the events offered: %s" % json.dumps(res))
        lost = len(missing) - counted
        res["lost_uncounted"] = lost
        if lost < 0 or lost > unacked_max:
            fail("missing %d != counted drops %d (+ at most %d unacknowledged): %s"
                 % (len(missing), counted, unacked_max, json.dumps(res)))
        if "--dropped-max" in opts and counted > int(opt("--dropped-max")):
            fail("more drops than allowed: %s" % json.dumps(res))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
