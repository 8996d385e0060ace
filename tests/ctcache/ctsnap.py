#!/usr/bin/python3
"""Summarise a ctcache snapshot for exact comparison in run_ct_tests.sh: one line per entry,
sorted, with the certificates named by their ctlab.py labels.
  ctsnap.py SNAPSHOT MANIFEST            entries: "LABEL cert=LABEL|- precert=0|1 src=KIND idx=N names=.."
  ctsnap.py SNAPSHOT MANIFEST sources    sources: "KIND tree_size=N next=N distrusted=0|1 after=.."
  ctsnap.py - MANIFEST tbs LABEL         the TBS hash of a label"""
import hashlib
import json
import sys

import msgpack

man = json.load(open(sys.argv[2]))
by_tbs = {}
by_cert = {}
for label, c in sorted(man["certs"].items()):
    by_tbs.setdefault(c["tbs_sha256"], label.replace(".pre", ""))
    by_cert[c["cert_sha256"]] = label
if len(sys.argv) > 4 and sys.argv[3] == "tbs":
    print(man["certs"][sys.argv[4]]["tbs_sha256"])
    sys.exit(0)
snap = msgpack.unpackb(open(sys.argv[1], "rb").read(), raw=False)
assert snap["format"] == "mitmwatch-ctcache" and snap["version"] == 1
if len(sys.argv) > 3 and sys.argv[3] == "sources":
    for s in snap["sources"]:
        print(s["kind"], s["key"] or "-", "tree_size=%d" % s["tree_size"], "next=%d" % s["next_index"],
              "distrusted=%d" % s["distrusted"], "after=%s" % (s["after"] or "-"))
    sys.exit(0)
lines = []
for e in snap["entries"]:
    tbs = e["tbs_sha256"].hex()
    cert = e["cert_sha256"].hex() if e["cert_sha256"] else None
    lines.append("%s cert=%s precert=%d src=%s idx=%d names=%s" % (
        by_tbs.get(tbs, "?" + tbs), by_cert.get(cert, "?") if cert else "-", e["precert"],
        e["source"].split(":")[0], e["index"], ",".join(e["names"])))
print("\n".join(sorted(lines)))
