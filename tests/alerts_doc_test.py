#!/usr/bin/env python3
"""rules/ALERTS.md, rules/rule_catalog.c and the code agree on the alert catalogue.

Every rule.id the code can emit (a C string literal that is exactly one of
(cert|tls|path|probe|sensor|ct).NAME, in the C sources outside tests/ and other than the
catalogue; #include lines aside) must be:
  - in a catalogue table of ALERTS.md (a table whose header is | rule.id | sev | ...),
  - in its "What to check first" table (| rule.id | check first |),
  - in rules/rule_catalog.c (so that its rule.name is not just the id).
And every id in those tables or in the catalogue must be one the code emits. Each problem is
named. The checker is also run on altered copies, to show it does catch each kind.

usage: alerts_doc_test.py SOURCE_DIR
"""
import os
import re
import sys

ID = r"(?:cert|tls|path|probe|sensor|ct)\.[a-z0-9_]+"
LITERAL = re.compile(r'"(' + ID + r')"')
INCLUDE = re.compile(r"^\s*#\s*include\b.*$", re.M)
ROW_ID = re.compile(r"^\|\s*`?(" + ID + r")`?(?:\s|\||\()")


def emitted_ids(src):
    """id -> files, from the C sources (not tests/, not the catalogue)."""
    found = {}
    for top, dirs, files in os.walk(src):
        rel = os.path.relpath(top, src)
        parts = rel.split(os.sep)
        if parts[0] in ("tests", ".git") or parts[0].startswith("build"):
            dirs[:] = []
            continue
        for f in files:
            if not f.endswith((".c", ".h")):
                continue
            path = os.path.join(top, f)
            relpath = os.path.relpath(path, src)
            if relpath == os.path.join("rules", "rule_catalog.c"):
                continue
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = INCLUDE.sub("", fh.read())  # "sensor.h" is a file, not a rule
                for m in LITERAL.finditer(text):
                    found.setdefault(m.group(1), set()).add(relpath)
    return found


def catalogue_ids(text):
    return set(LITERAL.findall(text))


def doc_tables(text):
    """(ids in catalogue tables, ids in the guidance table, ids in any table)."""
    catalogue, guidance, anywhere = set(), set(), set()
    kind = None
    for line in text.splitlines():
        if not line.startswith("|"):
            kind = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == "rule.id":
            kind = ("catalogue" if len(cells) > 1 and cells[1] == "sev" else
                    "guidance" if len(cells) > 1 and cells[1] == "check first" else "other")
            continue
        m = ROW_ID.match(line)
        if not m:
            continue
        anywhere.add(m.group(1))
        if kind == "catalogue":
            catalogue.add(m.group(1))
        elif kind == "guidance":
            guidance.add(m.group(1))
    return catalogue, guidance, anywhere


def check(emitted, catalogue_c, doc):
    problems = []
    cat_tab, guide_tab, anywhere = doc_tables(doc)
    code = set(emitted)
    for i in sorted(code - cat_tab):
        problems.append("%s (emitted in %s) is missing from ALERTS.md's catalogue tables"
                        % (i, ", ".join(sorted(emitted[i]))))
    for i in sorted(code - guide_tab):
        problems.append("%s has no row in ALERTS.md's \"What to check first\" table" % i)
    for i in sorted(code - catalogue_c):
        problems.append("%s (emitted in %s) is missing from rules/rule_catalog.c"
                        % (i, ", ".join(sorted(emitted[i]))))
    for i in sorted(anywhere - code):
        problems.append("%s is in ALERTS.md's tables but the code never emits it" % i)
    for i in sorted(catalogue_c - code):
        problems.append("%s is in rules/rule_catalog.c but the code never emits it" % i)
    return problems


def self_test(emitted, catalogue_c, doc):
    """The checker must name each kind of disagreement."""
    victim = "cert.not_in_ct"
    cases = [
        ("a row dropped from the catalogue table",
         emitted, catalogue_c,
         "\n".join(l for l in doc.splitlines()
                   if not (l.startswith("| " + victim + " | 3 |"))),
         victim + " (emitted in"),
        ("a guidance row dropped",
         emitted, catalogue_c,
         "\n".join(l for l in doc.splitlines()
                   if not (l.startswith("| " + victim + " | Is the snapshot"))),
         victim + " has no row"),
        ("an id the code never emits",
         emitted, catalogue_c, doc + "\n| rule.id | sev |\n|---|---|\n| tls.made_up | 1 |\n",
         "tls.made_up is in ALERTS.md"),
        ("an id missing from the catalogue",
         emitted, catalogue_c - {victim}, doc, victim + " (emitted in"),
        ("a new id in the code",
         dict(emitted, **{"sensor.made_up": {"x.c"}}), catalogue_c, doc,
         "sensor.made_up (emitted in x.c) is missing from ALERTS.md"),
    ]
    bad = 0
    for what, e, c, d, want in cases:
        got = check(e, c, d)
        if not any(want in p for p in got):
            print("SELF-TEST FAIL: %s not reported (got %s)" % (what, got))
            bad += 1
    return bad


def main():
    src = sys.argv[1]
    emitted = emitted_ids(src)
    with open(os.path.join(src, "rules", "rule_catalog.c"), encoding="utf-8") as fh:
        catalogue_c = catalogue_ids(fh.read())
    with open(os.path.join(src, "rules", "ALERTS.md"), encoding="utf-8") as fh:
        doc = fh.read()
    problems = check(emitted, catalogue_c, doc)
    for p in problems:
        print("FAIL: " + p)
    bad = self_test(emitted, catalogue_c, doc)
    if problems or bad:
        return 1
    print("ok: %d rule ids, each emitted by the code, in rules/rule_catalog.c, and in "
          "ALERTS.md's catalogue and guidance tables: %s" % (len(emitted), " ".join(sorted(emitted))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
