#!/bin/sh
# Events on tests/data/demo.pcap: every alert's mitmwatch.handshake_id is the event.id of the
# handshake event just before it (same flow, same community_id), ids are unique and the same on
# a second run; the text view (-o text:PATH) gives exact lines; --summary prints the exact
# end-of-run summary.
set -eu
bin=$1
pcap=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" -r "$pcap" -o "$tmp/a.json" -o "text:$tmp/fast.log" -o "text:$tmp/all.log?handshakes=1"
"$bin" -r "$pcap" -o "$tmp/b.json"
# the same capture gives the same events and ids (the stats differ: other outputs)
grep -v '"mitmwatch.stats"' "$tmp/a.json" >"$tmp/a.ev"
grep -v '"mitmwatch.stats"' "$tmp/b.json" | cmp "$tmp/a.ev" -
python3 - "$tmp/a.json" <<'PY'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
hs, n = {}, 0
for e in evs:
    assert e["ecs"]["version"] == "8.11.0", e
    if e["event"]["dataset"] == "mitmwatch.tls":
        assert e["event"]["id"] not in hs, "duplicate event.id"
        hs[e["event"]["id"]] = e
        last = e
    elif e["event"]["dataset"] == "mitmwatch.alert":
        h = hs[e["mitmwatch"]["handshake_id"]]
        assert h is last, "alert not after its handshake"
        for k in ("source", "destination"):
            assert e[k] == h[k]
        assert e["network"]["community_id"] == h["network"]["community_id"]
        assert e["tls"]["server"]["hash"]["sha256"] == h["tls"]["server"]["hash"]["sha256"]
        assert "tls" not in e["mitmwatch"] and set(e["tls"]["server"]) == {"hash"}
        n += 1
assert len(hs) == 6 and n == 3, (len(hs), n)
first = evs[0]
assert first["event"]["id"] == "8ce494a4c2297b91abf2189f3706256d", first["event"]["id"]
assert first["network"]["community_id"] == "1:gBvwbyA1UpuNA0M/plNQHDZPxmU=", first["network"]
assert first["network"]["protocol"] == "tls" and "application" not in first["network"]
print("events_test: 6 handshakes, 3 alerts linked by event.id")
PY
cat > "$tmp/want" <<'TXT'
2026-11-28T14:28:09.736785Z [high] cert.chain_invalid rsa.lab.test 127.0.0.1:56406 -> 127.0.0.1:18443: The certificate chain presented for rsa.lab.test does not validate at capture time: unable to get local issuer certificate (at depth 1).
2026-11-28T14:28:10.359237Z [high] cert.chain_invalid chain.lab.test 127.0.0.1:44228 -> 127.0.0.1:18445: The certificate chain presented for chain.lab.test does not validate at capture time: unable to get local issuer certificate (at depth 2).
TXT
head -n 2 "$tmp/fast.log" | diff "$tmp/want" -
test "$(wc -l <"$tmp/fast.log")" -eq 3
test "$(wc -l <"$tmp/all.log")" -eq 9
line=$(sed -n 3p "$tmp/all.log")
test "$line" = "2026-11-28T14:28:09.943625Z [handshake] tls rsa.lab.test 127.0.0.1:56422 -> 127.0.0.1:18443: TLS 1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, leaf hidden, event.id fd62f05c51e7806abe1815b3c3951b62"
echo "events_test: text lines exact"

# The end-of-run summary (--summary; by default only when stderr is a terminal).
"$bin" -r "$pcap" -o /dev/null --summary 2>"$tmp/summary"
cat > "$tmp/want" <<'TXT'
mitmwatch summary: 6 handshakes, 3 distinct certificates, 3 alerts
  alerts cert.chain_invalid       3
  top services by handshakes:
    rsa.lab.test:18443                       2
    chain.lab.test:18445                     1
    chain.lab.test:18453                     1
    ecdsa.lab.test:18444                     1
    ecdsa.lab.test:18446                     1
TXT
diff "$tmp/want" "$tmp/summary"
"$bin" -r "$pcap" -o /dev/null 2>"$tmp/nosummary" </dev/null
test ! -s "$tmp/nosummary"
echo "events_test: summary exact"
