#!/bin/bash
# ctcache end to end: test CT log, crt.sh and Cert Spotter servers (ctlab.py) on 127.0.0.1,
# `ct sync|audit|show|check` against them, exact values asserted.
# usage: run_ct_tests.sh MITMWATCH_OR_CT_BINARY [WORKDIR]     exit 0 pass, 1 fail, 77 skip
set -u
BIN=$1
WORK=${2:-$(mktemp -d /tmp/ct-tests.XXXXXX)}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
if ! [ -x "$PY" ] || ! "$PY" -c 'import cryptography, msgpack' 2>/dev/null; then
    echo "SKIP: needs /usr/bin/python3 with python3-cryptography and python3-msgpack"
    exit 77
fi
case "$(basename "$BIN")" in
mitmwatch-ct) ct() { "$BIN" "$@"; } ;;
*) ct() { "$BIN" ct "$@"; } ;;
esac

rm -rf "$WORK"
mkdir -p "$WORK"
LAB=$WORK/lab
"$PY" "$HERE/ctlab.py" gen "$LAB" || exit 1
"$PY" "$HERE/ctlab.py" serve "$LAB" 2>"$WORK/server.log" &
SRV=$!
trap 'kill $SRV 2>/dev/null; wait $SRV 2>/dev/null' EXIT
for _ in $(seq 50); do [ -s "$LAB/port" ] && break; sleep 0.1; done
[ -s "$LAB/port" ] || { echo "FAIL: the test server did not start"; cat "$WORK/server.log"; exit 1; }
URL=http://127.0.0.1:$(cat "$LAB/port")
MAN=$LAB/manifest.json

FAILS=0
PASSES=0
eq() { # eq DESCRIPTION ACTUAL EXPECTED
    if [ "$2" == "$3" ]; then
        PASSES=$((PASSES + 1))
    else
        FAILS=$((FAILS + 1))
        printf 'FAIL: %s\n  expected: %s\n  actual:   %s\n' "$1" "$3" "$2"
    fi
}
stat() { grep -o "\"$1\":[0-9]*" "$WORK/err" | tail -1 | cut -d: -f2; }
ctl() { "$PY" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1]).read()" "$URL/_ctl/$1"; }
ctlget() { "$PY" -c "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1]).read().decode())" "$URL/_ctl/$1"; }
# the alerts on stdout: rule severity source status verified_tree_size tree_size (- when absent)
alerts() { "$PY" -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    c = e["mitmwatch"]["ct"]
    assert e["event"]["kind"] == "alert" and e["rule"]["name"]
    print(e["rule"]["id"], e["event"]["severity"], c["source"], c["status"],
          c.get("verified_tree_size", "-"), c.get("tree_size", "-"))' "$WORK/out"; }
reason() { "$PY" -c 'import json, sys; [print(json.loads(l)["mitmwatch"]["ct"]["reason"]) for l in open(sys.argv[1])]' "$WORK/out"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
tbs() { "$PY" "$HERE/ctsnap.py" - "$MAN" tbs "$1"; }
snap() { "$PY" "$HERE/ctsnap.py" "$1" "$MAN" ${2:-}; }
WATCH=(--watch '*.example.test' --watch .corp.test)
LOGA=(--log "$URL/a/,$LAB/log-a.pub")
S=$WORK/a.ctcache
sync_a() { ct sync --ctcache "$S" "${WATCH[@]}" "${LOGA[@]}" --batch 3 --checkpoint 4 \
    --backoff 100 --no-progress "$@" >"$WORK/out" 2>"$WORK/err"; }

# ---- 1. first sync of log a (10 leaves: x509 and precert entries, one with bad DER, one
#         malformed leaf, watched and unwatched names)
sync_a
eq "sync 1 exit" $? 0
eq "sync 1 fetched" "$(stat entries_fetched)" 10
eq "sync 1 watched leaves" "$(stat entries_watched)" 6
eq "sync 1 new issuances" "$(stat entries_new)" 5
eq "sync 1 precert+final merged" "$(stat issuances_merged)" 1
eq "sync 1 bad DER counted" "$(stat der_malformed)" 1
eq "sync 1 bad leaf counted" "$(stat leaf_malformed)" 1
# sth + 4 batches (3,3,3,1) + one consistency proof for the checkpoint at 6
eq "sync 1 requests" "$(stat http_requests)" 6
eq "sync 1 snapshot" "$(snap "$S")" \
"api cert=- precert=1 src=rfc6962 idx=5 names=api.example.test
mail cert=mail precert=1 src=rfc6962 idx=2 names=mail.example.test
vpn cert=vpn precert=0 src=rfc6962 idx=9 names=vpn.corp.test
wild cert=wild precert=0 src=rfc6962 idx=6 names=*.example.test,example.test
www cert=www precert=0 src=rfc6962 idx=0 names=www.example.test"
eq "sync 1 source state" "$(snap "$S" sources)" "rfc6962 - tree_size=10 next=10 distrusted=0 after=-"
LOGID=$(openssl pkey -pubin -in "$LAB/log-a.pub" -outform DER | sha256sum | cut -d' ' -f1)
eq "log id in entries" "$(ct show api.example.test --ctcache "$S" 2>/dev/null | grep -o '"log_id":"[0-9a-f]*"' | sort -u)" "\"log_id\":\"$LOGID\""

# ---- 2. audit: the rogue precertificate for api.example.test is the only finding
audit() { ct audit --ctcache "$S" "${WATCH[@]}" --known-certs "$LAB/known" "$@" >"$WORK/out" 2>"$WORK/err"; }
findings() { grep -o '"observed":"[0-9a-f]*"' "$WORK/out" | cut -d'"' -f4 | sort | tr '\n' ' '; }
audit
eq "audit 1 exit" $? 2
eq "audit 1 findings" "$(findings)" "$(tbs api) "
eq "audit 1 rule" "$(grep -c '"rule":{"id":"ct.unknown_issuance"' "$WORK/out")" 1

# ---- 3. show
eq "show www" "$(ct show www.example.test --ctcache "$S" 2>/dev/null | grep -o '"tbs_sha256":"[0-9a-f]*"' | cut -d'"' -f4 | sort | tr '\n' ' ')" \
   "$(printf '%s\n' "$(tbs www)" "$(tbs wild)" | sort | tr '\n' ' ')"
eq "show .corp.test" "$(ct show .corp.test --ctcache "$S" 2>/dev/null | grep -c vpn.corp.test)" 1
eq "show unknown name" "$(ct show nothing.test --ctcache "$S" 2>/dev/null | wc -l)" 0

# ---- 4. look-ups as the sensor does them (x509_info TBS hash of a presented certificate)
check() { ct check "$LAB/certs/$1.pem" --ctcache "$S" 2>"$WORK/err"; }
out=$(check mail); rc=$?
eq "check final cert with embedded SCT" "$rc $out" "0 $(tbs mail) logged"
out=$(check mail.pre); rc=$?
eq "check precertificate" "$rc $out" "0 $(tbs mail) logged"
out=$(check unlogged); rc=$?
eq "check unlogged cert (cert.not_in_ct)" "$rc $out" "2 $(tbs unlogged) not_in_ct"
out=$(check fresh); rc=$?
eq "check fresh cert within merge delay" "$rc $out" "3 $(tbs fresh) grace"

# ---- 5. faults while the log grows to 14. A 200 whose body is cut short or does not parse is
#         asked for again with the same backoff; a sync that fails leaves the snapshot untouched
#         and raises probe.failed.
ctl "size/a?n=14"
GOOD=$(sha "$S")
cp "$S" "$WORK/a5.ctcache"
ctl "fault/truncjson"
ct sync --ctcache "$WORK/a5.ctcache" "${WATCH[@]}" "${LOGA[@]}" --batch 3 --backoff 100 --no-progress \
    >"$WORK/out" 2>"$WORK/err"
eq "truncated body retried" \
    "$? $(stat http_invalid) $(stat json_malformed) $(stat http_retries) $(stat entries_fetched)" "0 1 1 1 4"
eq "truncated body retried: no alert" "$(wc -c <"$WORK/out")" 0
ctl "fault/badjson?n=2"
sync_a --retries 1
eq "malformed JSON twice" "$? $(stat json_malformed) $(stat http_invalid) $(stat http_retries)" "1 2 2 1"
eq "malformed JSON keeps snapshot" "$(sha "$S")" "$GOOD"
eq "malformed JSON raises probe.failed" "$(alerts)" "probe.failed 2 rfc6962 failed 10 14"
eq "probe.failed reason" "$(reason | sed 's/at line.*(after/... (after/')" \
    "$URL/a/ct/v1/get-entries?start=10&end=12: invalid response body: malformed JSON ... (after 2 attempts)"
ctl "fault/oversize"
sync_a --max-bytes 1048576
eq "oversize exit" $? 1
eq "oversize counted" "$(stat http_too_big)" 1
eq "oversize keeps snapshot" "$(sha "$S")" "$GOOD"
ctl "fault/badleaf"
sync_a
eq "altered leaf exit" $? 1
eq "altered leaf detected" "$(stat root_mismatch)" 1
eq "altered leaf keeps snapshot" "$(sha "$S")" "$GOOD"
ctl "fault/badsig"
sync_a
eq "bad STH signature exit" $? 1
eq "bad STH signature counted" "$(stat sth_invalid)" 1
eq "bad STH signature keeps snapshot" "$(sha "$S")" "$GOOD"
eq "bad STH signature raises probe.failed" "$(alerts)" "probe.failed 2 rfc6962 failed 10 -"

# ---- 6. 429 with Retry-After: 1, then success; consistency 10 -> 14 verified
ctl "fault/429"
t0=$(date +%s%N)
sync_a
rc=$?
t1=$(date +%s%N)
eq "429 exit" $rc 0
eq "429 counted" "$(stat http_rate_limited) $(stat http_retries)" "1 1"
eq "429 waited Retry-After" "$(( (t1 - t0) >= 1000000000 ))" 1
eq "sync 2 fetched" "$(stat entries_fetched)" 4
eq "sync 2 new" "$(stat entries_new)" 1
eq "sync 2 source state" "$(snap "$S" sources)" "rfc6962 - tree_size=14 next=14 distrusted=0 after=-"
audit
eq "audit 2 exit" $? 2
eq "audit 2 findings" "$(findings)" "$(printf '%s\n' "$(tbs api)" "$(tbs shop)" | sort | tr '\n' ' ')"
printf '# acknowledged: the shop was issued by us\n%s shop.example.test\n' "$(tbs shop)" >"$WORK/ack"
audit --ack "$WORK/ack"
eq "audit with ack exit" $? 2
eq "audit with ack findings" "$(findings)" "$(tbs api) "
echo "$(tbs api)" >>"$WORK/ack"
audit --ack "$WORK/ack"
eq "audit all acknowledged exit" $? 0
eq "audit all acknowledged output" "$(wc -c <"$WORK/out")" 0
echo "not-a-hash" >>"$WORK/ack"
audit --ack "$WORK/ack"
eq "bad ack file exit" $? 1
eq "bad ack file message" "$(cat "$WORK/err")" "mitmwatch ct audit: $WORK/ack:4: expected a TBS SHA-256 in hex (64 digits)"

# ---- 6b. retries exhausted, and a Retry-After longer than allowed: the source fails
SR=$WORK/r.ctcache
cp "$S" "$SR"
sync_r() { ct sync --ctcache "$SR" "${WATCH[@]}" --log "$URL/b/,$LAB/log-b.pub" --batch 3 \
    --no-progress "$@" >"$WORK/out" 2>"$WORK/err"; }
ctl "fault/429?n=5"
sync_r --retries 1 --backoff 100
eq "retries exhausted" "$? $(stat http_rate_limited) $(stat http_retries) $(stat http_failures)" "1 2 1 1"
ctl "fault/429?n=5"
sync_r --max-retry-after 0
eq "Retry-After over the limit" "$? $(stat http_rate_limited) $(stat http_retries)" "1 1 0"
grep -q "Retry-After 1 s is over the limit of 0 s" "$WORK/err"
eq "Retry-After over the limit message" $? 0
ctl "fault/429?n=0"

# ---- 6c. an interrupted sync keeps what it verified and resumes there: at a --checkpoint,
#          and when a batch will not come, the leaves read before it once the log proves them
#          a prefix of its signed tree
SI=$WORK/i.ctcache
ctl "fault/truncjson?skip=2&n=2"
ct sync --ctcache "$SI" "${WATCH[@]}" "${LOGA[@]}" --batch 3 --checkpoint 4 --retries 1 \
    --backoff 100 --no-progress >"$WORK/out" 2>"$WORK/err"
eq "interrupted sync exit" $? 1
eq "interrupted sync kept the checkpoint" "$(snap "$SI" sources)" \
   "rfc6962 - tree_size=14 next=6 distrusted=0 after=-"
eq "interrupted sync entries" "$(snap "$SI" | cut -d' ' -f1 | tr '\n' ' ')" "api mail www "
ct sync --ctcache "$SI" "${WATCH[@]}" "${LOGA[@]}" --batch 3 --checkpoint 4 --no-progress \
    >"$WORK/out" 2>"$WORK/err"
eq "resumed sync" "$? $(stat entries_fetched)" "0 8"
eq "resumed sync equals the straight one" "$(snap "$SI")" "$(snap "$S")"
SJ=$WORK/j.ctcache
ctl "fault/truncjson?skip=1&n=2"
ct sync --ctcache "$SJ" "${WATCH[@]}" "${LOGA[@]}" --batch 3 --retries 1 --backoff 100 \
    --no-progress >"$WORK/out" 2>"$WORK/err"
# sth, entries 0-2, entries 3-5 twice (cut short), the consistency proof 3 -> 14
eq "batch lost" "$? $(stat http_requests) $(stat http_invalid)" "1 5 2"
eq "batch lost: the leaves before it proven and kept" "$(snap "$SJ" sources)" \
   "rfc6962 - tree_size=14 next=3 distrusted=0 after=-"
eq "batch lost: entries kept" "$(snap "$SJ" | cut -d' ' -f1 | tr '\n' ' ')" "mail www "
eq "batch lost: said so" "$(grep -c 'entries 0\.\.2 verified and kept' "$WORK/err")" 1
ct sync --ctcache "$SJ" "${WATCH[@]}" "${LOGA[@]}" --batch 3 --no-progress >"$WORK/out" 2>"$WORK/err"
eq "batch lost: resumed" "$? $(stat entries_fetched)" "0 11"
eq "batch lost: resumed equals the straight one" "$(snap "$SJ")" "$(snap "$S")"

# ---- 7. nothing new: no write, same bytes
GOOD=$(sha "$S")
sync_a
eq "idle sync exit" $? 0
eq "idle sync keeps bytes" "$(sha "$S")" "$GOOD"

# ---- 8. a log that rewrites its history is detected and distrusted
SB=$WORK/b.ctcache
sync_b() { ct sync --ctcache "$SB" "${WATCH[@]}" --log "$URL/b/,$LAB/log-b.pub" --no-progress \
    >"$WORK/out" 2>"$WORK/err"; }
sync_b
eq "log b first sync" "$? $(stat entries_new)" "0 3"
ctl "rewrite"
sync_b
eq "rewrite exit" $? 2
eq "rewrite counted" "$(stat consistency_failed)" 1
eq "rewrite alert" "$(alerts)" "ct.log_inconsistent 4 rfc6962 inconsistent 6 9"
eq "rewrite keeps entries" "$(snap "$SB" | wc -l)" 3
eq "rewrite distrusts" "$(snap "$SB" sources)" "rfc6962 - tree_size=6 next=6 distrusted=1 after=-"
ctl requests >/dev/null
sync_b
eq "distrusted log exit" $? 1
eq "distrusted log raises probe.failed" "$(alerts)" "probe.failed 2 rfc6962 distrusted 6 -"
eq "distrusted log not asked" "$("$PY" -c "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1]).read().decode())" "$URL/_ctl/requests")" "[\"/_ctl/requests\"]"

# ---- 9. crt.sh-shaped JSON
SC=$WORK/c.ctcache
ct sync --ctcache "$SC" "${WATCH[@]}" --crtsh "$URL/crtsh/" --no-progress >"$WORK/out" 2>"$WORK/err"
eq "crt.sh exit" $? 0
eq "crt.sh downloads" "$(stat entries_fetched)" 8
eq "crt.sh malformed row" "$(stat json_malformed)" 1
eq "crt.sh merged" "$(stat issuances_merged)" 2
eq "crt.sh snapshot" "$(snap "$SC")" \
"api cert=api precert=1 src=crtsh idx=1000 names=api.example.test
mail cert=mail precert=1 src=crtsh idx=1004 names=mail.example.test
shop cert=shop precert=0 src=crtsh idx=1007 names=shop.example.test
vpn cert=vpn precert=0 src=crtsh idx=1011 names=vpn.corp.test
wild cert=wild precert=0 src=crtsh idx=1012 names=*.example.test,example.test
www cert=www precert=0 src=crtsh idx=1013 names=www.example.test"
ct sync --ctcache "$SC" "${WATCH[@]}" --crtsh "$URL/crtsh/" --no-progress >"$WORK/out" 2>"$WORK/err"
eq "crt.sh resync fetches nothing new" "$? $(stat entries_fetched)" "0 0"

# ---- 10. Cert Spotter-shaped JSON: API key, after= paging, a lying tbs_sha256
SS=$WORK/s.ctcache
echo test-api-key >"$WORK/key"
ct sync --ctcache "$SS" "${WATCH[@]}" --certspotter "$URL/certspotter/" --no-progress \
    >"$WORK/out" 2>"$WORK/err"
eq "certspotter without key" $? 1
eq "certspotter without key raises probe.failed" "$(alerts)" "probe.failed 2 certspotter failed - -"
eq "probe.failed names the source" "$("$PY" -c 'import json, sys
c = json.loads(open(sys.argv[1]).readline())["mitmwatch"]["ct"]
print(c["url"], "log" in c, c["fetched"], c["watched"])' "$WORK/out")" "$URL/certspotter/ False 0 0"
ct sync --ctcache "$SS" "${WATCH[@]}" --certspotter "$URL/certspotter/" --certspotter-key "$WORK/key" \
    --no-progress >"$WORK/out" 2>"$WORK/err"
eq "certspotter exit" $? 0
# example.test: 6 issuances in pages of 2, then an empty page; corp.test: 1, then empty
eq "certspotter requests" "$(stat http_requests)" 6
eq "certspotter fetched" "$(stat entries_fetched)" 7
eq "certspotter lying hash" "$(stat hash_mismatch)" 1
eq "certspotter snapshot" "$(snap "$SS")" \
"api cert=api precert=0 src=certspotter idx=0 names=api.example.test
mail cert=mail precert=0 src=certspotter idx=0 names=mail.example.test
vpn cert=vpn precert=0 src=certspotter idx=0 names=vpn.corp.test
wild cert=wild precert=0 src=certspotter idx=0 names=*.example.test,example.test
www cert=www precert=0 src=certspotter idx=0 names=www.example.test"
eq "certspotter cursors" "$(snap "$SS" sources)" \
"certspotter example.test tree_size=0 next=0 distrusted=0 after=5013
certspotter corp.test tree_size=0 next=0 distrusted=0 after=5011"

# ---- 11. a corrupt snapshot is refused and never overwritten
head -c 100 "$S" >"$WORK/trunc.ctcache"
cp "$WORK/trunc.ctcache" "$WORK/trunc.orig"
ct sync --ctcache "$WORK/trunc.ctcache" "${WATCH[@]}" "${LOGA[@]}" --no-progress >"$WORK/out" 2>"$WORK/err"
eq "truncated snapshot refused" $? 1
eq "truncated snapshot untouched" "$(sha "$WORK/trunc.ctcache")" "$(sha "$WORK/trunc.orig")"
ct show www.example.test --ctcache "$WORK/trunc.ctcache" >"$WORK/out" 2>"$WORK/err"
eq "truncated snapshot show" "$? $(cat "$WORK/err")" "1 mitmwatch ct show: $WORK/trunc.ctcache: not a complete msgpack document (truncated or corrupt)"

# ---- 13. static-ct-api tiles: signed-note checkpoint (key ID from the key name and the
#          LogID), a full data tile and partial ones; consistency from the hash tiles
ST=$WORK/t.ctcache
TILES=(--tiles "$URL/t/,$LAB/log-t.pub,127.0.0.1/t")
sync_t() { ct sync --ctcache "$ST" "${WATCH[@]}" "${TILES[@]}" --backoff 100 --no-progress "$@" \
    >"$WORK/out" 2>"$WORK/err"; }
sync_t
eq "tiles exit" $? 0
eq "tiles fetched" "$(stat entries_fetched)" 260
eq "tiles requests (checkpoint, tile 000, tile 001.p/4)" "$(stat http_requests)" 3
eq "tiles bad DER counted" "$(stat der_malformed)" 1
TILES_SNAP="api cert=- precert=1 src=tiles idx=5 names=api.example.test
mail cert=mail precert=1 src=tiles idx=2 names=mail.example.test
vpn cert=vpn precert=0 src=tiles idx=9 names=vpn.corp.test
wild cert=wild precert=0 src=tiles idx=6 names=*.example.test,example.test
www cert=www precert=0 src=tiles idx=0 names=www.example.test"
eq "tiles snapshot" "$(snap "$ST")" "$TILES_SNAP"
ctl "size/t?n=264"
GOOD=$(sha "$ST")
ctl "fault/badtile"
sync_t
eq "altered tile exit" $? 1
eq "altered tile detected" "$(stat root_mismatch)" 1
eq "altered tile keeps snapshot" "$(sha "$ST")" "$GOOD"
ctl "fault/tilesig"
sync_t
eq "bad checkpoint signature exit" $? 1
eq "bad checkpoint signature counted" "$(stat sth_invalid)" 1
eq "bad checkpoint keeps snapshot" "$(sha "$ST")" "$GOOD"
ct sync --ctcache "$ST" "${WATCH[@]}" --tiles "$URL/t/,$LAB/log-t.pub" --no-progress >"$WORK/out" 2>"$WORK/err"
eq "checkpoint for another origin refused, not retried" "$? $(stat sth_invalid) $(stat http_requests)" "1 1 1"
ctl "fault/badhashtile"
sync_t
eq "altered hash tile: failed, not a fork" "$? $(stat root_mismatch) $(stat consistency_failed)" "1 1 0"
eq "altered hash tile raises probe.failed" "$(alerts)" "probe.failed 2 tiles failed 260 264"
eq "altered hash tile reason" "$(reason)" \
    "consistency 260 -> 264: the hash tiles do not hash to the checkpoint of size 264 (altered or stale tiles)"
eq "altered hash tile keeps snapshot" "$(sha "$ST")" "$GOOD"
ctl "fault/trunccheckpoint"
sync_t
eq "tiles grow exit" $? 0
# checkpoint twice (cut short once), hash tiles 0/001.p/8 and 1/000.p/1, data tile 001.p/8
eq "tiles grow fetched (partial tile 001 again, 4 new)" \
    "$(stat entries_fetched) $(stat http_requests) $(stat http_invalid)" "4 5 1"
eq "tiles grow new" "$(stat entries_new)" 1
eq "tiles source state" "$(snap "$ST" sources)" "tiles - tree_size=264 next=264 distrusted=0 after=-"

# ---- 13b. gzip data tiles, with Content-Encoding and without it (the spec lets logs send
#           gzip unasked); a compressed tile cut short is asked for again
for mode in header raw; do
    ctl "gzip?mode=$mode"
    SG=$WORK/g-$mode.ctcache
    ct sync --ctcache "$SG" "${WATCH[@]}" "${TILES[@]}" --no-progress >"$WORK/out" 2>"$WORK/err"
    eq "gzip ($mode) tiles" "$? $(stat entries_fetched) $(stat http_invalid)" "0 264 0"
    eq "gzip ($mode) tiles: same snapshot" "$(snap "$SG")" "$(snap "$ST")"
    ctl "fault/trunctile"
    ct sync --ctcache "$SG.2" "${WATCH[@]}" "${TILES[@]}" --backoff 100 --no-progress >"$WORK/out" 2>"$WORK/err"
    eq "gzip ($mode) tile cut short: retried" "$? $(stat entries_fetched) $(stat http_retries)" "0 264 1"
done
# per mode: 2 tiles, then 2 more and the one cut short again
eq "gzip tiles served" "$(ctlget stats)" '{"gzip_served": 10}'
ctl "gzip?mode=off"

# ---- 13c. an interrupted tiled sync keeps the tiles the log proves and resumes after them;
#           --checkpoint proofs from the hash tiles on the way
ST5=$WORK/t5.ctcache
ctl "fault/trunctile?skip=1&n=2"
ct sync --ctcache "$ST5" "${WATCH[@]}" "${TILES[@]}" --retries 1 --backoff 100 --no-progress \
    >"$WORK/out" 2>"$WORK/err"
eq "tile lost" "$? $(stat http_invalid)" "1 2"
eq "tile lost: tile 000 proven and kept" "$(snap "$ST5" sources)" \
   "tiles - tree_size=264 next=256 distrusted=0 after=-"
eq "tile lost: entries kept" "$(snap "$ST5")" "$TILES_SNAP"
eq "tile lost: said so" "$(grep -c 'entries 0\.\.255 verified and kept' "$WORK/err")" 1
ct sync --ctcache "$ST5" "${WATCH[@]}" "${TILES[@]}" --no-progress >"$WORK/out" 2>"$WORK/err"
eq "tile lost: resumed" "$? $(stat entries_fetched) $(stat http_requests)" "0 8 2"
eq "tile lost: resumed equals the straight one" "$(snap "$ST5")" "$(snap "$ST")"
ct sync --ctcache "$WORK/t6.ctcache" "${WATCH[@]}" "${TILES[@]}" --checkpoint 256 --no-progress \
    >"$WORK/out" 2>"$WORK/err"
# checkpoint, tile 000, its proof 256 -> 264 (hash tiles 1/000.p/1, 0/001.p/8), tile 001.p/8
eq "tiles --checkpoint 256" "$? $(stat http_requests)" "0 5"
eq "tiles --checkpoint 256: same snapshot" "$(snap "$WORK/t6.ctcache")" "$(snap "$ST")"

# ---- 13d. a tiled log that rewrites its history (leaf 3 swapped, then 4 more): the hash tiles
#           prove the signed tree holds another tree at the verified size: ct.log_inconsistent,
#           exit 2, distrusted for good, as for an RFC 6962 log
N_BEFORE=$(snap "$ST" | wc -l)
ctl "rewrite_t"
sync_t
eq "tiled fork exit" $? 2
eq "tiled fork counted" "$(stat consistency_failed) $(stat root_mismatch)" "1 0"
eq "tiled fork alert" "$(alerts)" "ct.log_inconsistent 4 tiles inconsistent 264 268"
eq "tiled fork reason" "$(reason)" \
    "checkpoint of size 268 is not consistent with the verified one of size 264: the log rewrote its history"
eq "tiled fork keeps entries" "$(snap "$ST" | wc -l)" "$N_BEFORE"
eq "tiled fork distrusts" "$(snap "$ST" sources)" "tiles - tree_size=264 next=264 distrusted=1 after=-"
ctl requests >/dev/null
sync_t
eq "distrusted tiled log" "$? $(alerts)" "1 probe.failed 2 tiles distrusted 264 -"
eq "distrusted tiled log not asked" "$(ctlget requests)" '["/_ctl/requests"]'

# ---- 14. the log list: every usable log, RFC 6962 and tiled, without per-log options; keys in
#          the list's format (base64 DER) on the command line give the same snapshot
"$PY" "$HERE/ctlab.py" loglist "$LAB" "$URL" "$WORK/log_list.json"
SL=$WORK/l.ctcache
ct sync --ctcache "$SL" "${WATCH[@]}" --ct-log-list "$WORK/log_list.json" --no-progress \
    >"$WORK/out" 2>"$WORK/err"
eq "log list sync exit" $? 0
eq "log list picked" "$(grep '^ct: log list' "$WORK/err")" \
    "ct: log list $WORK/log_list.json: 2 RFC 6962 and 1 static-ct-api logs usable; left out 2 pending, rejected or retired, 1 ended shards, 1 invalid"
eq "log list sources" "$(snap "$SL" sources)" \
"rfc6962 - tree_size=14 next=14 distrusted=0 after=-
rfc6962 - tree_size=9 next=9 distrusted=0 after=-
tiles - tree_size=268 next=268 distrusted=0 after=-"
b64() { openssl pkey -pubin -in "$LAB/log-$1.pub" -outform DER | base64 -w0; }
SK=$WORK/k.ctcache
ct sync --ctcache "$SK" "${WATCH[@]}" --log "$URL/a/,$(b64 a)" --log "$URL/b,$(b64 b)" \
    --tiled "$URL/t/,$(b64 t),https://127.0.0.1/t/" --no-progress >"$WORK/out" 2>"$WORK/err"
eq "base64 keys exit" $? 0
eq "base64 keys: the log list's snapshot" "$(snap "$SK")" "$(snap "$SL")"
eq "--tiled is an alias, with a note" "$(grep -c -- '--tiled is deprecated, use --tiles' "$WORK/err")" 1
ct sync --ctcache "$SL" "${WATCH[@]}" --ct-log-list "$WORK/log_list.json" --log "$URL/a,$LAB/log-a.pub" \
    --no-progress >"$WORK/out" 2>"$WORK/err"
eq "a log given twice is synced once" "$? $(grep -c 'ct sync: rfc6962' "$WORK/err")" "0 2"
ct sync --ctcache "$WORK/x.ctcache" "${WATCH[@]}" --log "$URL/a/,notakey" --no-progress \
    >"$WORK/out" 2>"$WORK/err"
eq "bad key" "$? $(alerts)" "1 probe.failed 2 rfc6962 failed 0 -"
eq "bad key reason" "$(reason)" "notakey: neither a base64 DER public key (as in the log list) nor a readable file"
printf 'enabled_logs = a\n[a]\nkey = QUJD\n' >"$WORK/ctlog.cnf"
ct sync --ctcache "$WORK/x.ctcache" "${WATCH[@]}" --ct-log-list "$WORK/ctlog.cnf" --no-progress \
    >"$WORK/out" 2>"$WORK/err"
eq "an OpenSSL CTLOG file has no URLs" "$? $(sed 's/ (.*)//' "$WORK/err")" \
    "1 mitmwatch ct sync: CT log list $WORK/ctlog.cnf: not a Google v3 log_list.json; an OpenSSL CTLOG file has no log URLs to sync from"

# ---- 15. help: what each subcommand does, -c
ct --help >"$WORK/out" 2>"$WORK/err"
eq "help exit" $? 0
eq "help lines" "$(grep -cE '^  (sync|audit|show|check) |-c, --config FILE|--ct-log-list FILE|--tiled is a deprecated' "$WORK/out")" 7

# ---- 12. the sensor's TBS hash of a captured certificate is the snapshot's key: TLS 1.2
#          handshakes presenting www (logged), unlogged, mail (final certificate whose
#          precertificate was logged) and fresh, read by `mitmwatch -r` when given as MITMWATCH
MW=${MITMWATCH:-}
[ -z "$MW" ] && [ "$(basename "$BIN")" = mitmwatch ] && MW=$BIN
"$PY" "$HERE/ctlab.py" pcap "$LAB" "$WORK/handshakes.pcap" www unlogged mail fresh
if [ -n "$MW" ]; then
    "$MW" -r "$WORK/handshakes.pcap" --stats-interval 0 -o "$WORK/events" 2>"$WORK/err"
    eq "sensor exit" $? 0
    got=$("$PY" -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["event"]["kind"] == "event" and "tls" in e:
        print(e["source"]["port"], e["mitmwatch"]["tls"]["chain"][0]["tbs_sha256"])' "$WORK/events")
    eq "sensor TBS hashes" "$got" "40000 $(tbs www)
40001 $(tbs unlogged)
40002 $(tbs mail)
40003 $(tbs fresh)"
else
    echo "note: sensor hash check skipped (give MITMWATCH=path/to/mitmwatch)"
fi
for c in www:0:logged unlogged:2:not_in_ct mail:0:logged fresh:3:grace; do
    IFS=: read -r label want_rc want <<<"$c"
    out=$(check "$label"); rc=$?
    eq "sensor decision for $label" "$rc $out" "$want_rc $(tbs "$label") $want"
done

# ---- the same sync and audit from a policy file (ct sync|audit -c): services are the watched
#      names, known_certs the store, ctcache the snapshot, ct.sources the logs
SX=$WORK/cli.ctcache SY=$WORK/cfg.ctcache
cat >"$WORK/policy.yaml" <<YAML
version: 1
services:
  - name: "*.example.test"
  - name: .corp.test
known_certs: ["$LAB/known"]
ctcache: $SY
ct:
  sources:
    - rfc6962: $URL/a/
      key: $LAB/log-a.pub
YAML
ct sync --ctcache "$SX" "${WATCH[@]}" "${LOGA[@]}" --no-progress >/dev/null 2>&1
ct sync -c "$WORK/policy.yaml" --no-progress >"$WORK/out" 2>"$WORK/err"
eq "sync -c exit" $? 0
eq "sync -c: the same snapshot as with options" "$(snap "$SY")" "$(snap "$SX")"
ct audit -c "$WORK/policy.yaml" >"$WORK/out" 2>"$WORK/err"
eq "audit -c exit" $? 2
cfg_findings=$(findings)
ct audit --ctcache "$SX" "${WATCH[@]}" --known-certs "$LAB/known" >"$WORK/out" 2>"$WORK/err"
eq "audit -c: the same findings as with options" "$cfg_findings" "$(findings)"
printf 'version: 1\nct:\n  sources:\n    - rfc6962: http://127.0.0.1:1/\n' >"$WORK/bad.yaml"
ct sync -c "$WORK/bad.yaml" --ctcache "$WORK/x" >"$WORK/out" 2>"$WORK/err"
eq "a source without its key is refused with its line" "$? $(cat "$WORK/err")" \
    "1 mitmwatch ct sync: $WORK/bad.yaml:4: key 'rfc6962': expected key: the log's public key (PEM file)"

echo "run_ct_tests: $PASSES passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
