/* Test driver for the event outputs: sends events through an out_set to the sinks named by
 * --output specs, then prints the counters and the measured rates as one JSON object.
 *
 *   out_driver --output SPEC [--output SPEC...] [--count N | --input FILE] [--rate EPS]
 *              [--flush-ms MS] [--drain-ms MS] [--pad BYTES] [--stats FILE] [--start I]
 *              [--sensor-shutdown]
 *
 * --start I numbers the synthetic events from I (a second run continuing the first);
 * --sensor-shutdown shuts down as the sensor does: out_drain (each output's flush budget),
 * then out_close_ms with min(1 s, --flush-ms).
 * Synthetic event i (0-based) is deterministic, so the receivers' checks can recompute it:
 *   i % 50 == 49 -> metric (mitmwatch.stats); else i % 10 == 9 -> alert (mitmwatch.alert) with
 *   event.severity (i / 10) % 4 + 1 and rule.id RULES[(i / 10) % 4]; else event (mitmwatch.tls).
 *   event.id is the decimal i; @timestamp is 2026-11-28T14:10:45Z + i ms.
 * SIGHUP reopens the files (out_reopen) between two events, as the core does. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mw_buf.h"
#include "mw_encode.h"
#include "mw_json.h"
#include "out.h"

static const char *const RULES[4] = {"cert.unknown", "cert.expired", "tls.ja3s_changed",
                                     "cert.self_signed"};
static volatile sig_atomic_t got_hup;

static void on_hup(int sig) {
    (void)sig;
    got_hup = 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void synth(mw_json *j, uint64_t i, size_t pad, out_event *ev) {
    char ts[MW_TS_LEN], id[24];
    mw_ts_us(ts, 1795875045000000ull + i * 1000u); /* 2026-11-28T14:10:45Z */
    snprintf(id, sizeof id, "%llu", (unsigned long long)i);
    bool metric = i % 50 == 49, alert = !metric && i % 10 == 9;
    int sev = (int)((i / 10) % 4) + 1;
    const char *rule = RULES[(i / 10) % 4];
    ev->kind = metric ? OUT_KIND_METRIC : alert ? OUT_KIND_ALERT : OUT_KIND_EVENT;
    ev->dataset = metric ? "mitmwatch.stats" : alert ? "mitmwatch.alert" : "mitmwatch.tls";
    ev->severity = alert ? sev : 0;
    ev->rule_id = alert ? rule : NULL;

    mw_json_obj_begin(j);
    mw_json_kstr(j, "@timestamp", ts);
    mw_json_kobj(j, "event");
    mw_json_kstr(j, "kind", metric ? "metric" : alert ? "alert" : "event");
    mw_json_karr(j, "category");
    mw_json_str(j, "network");
    mw_json_arr_end(j);
    mw_json_kstr(j, "dataset", ev->dataset);
    mw_json_kstr(j, "id", id);
    if (alert) mw_json_kint(j, "severity", sev);
    mw_json_obj_end(j);
    mw_json_kobj(j, "observer");
    mw_json_kstr(j, "name", "sensor1");
    mw_json_obj_end(j);
    if (metric) {
        mw_json_kobj(j, "mitmwatch");
        mw_json_kobj(j, "stats");
        mw_json_kuint(j, "packets", i * 1000);
        mw_json_obj_end(j);
        mw_json_obj_end(j);
    } else {
        mw_json_kobj(j, "source");
        mw_json_kstr(j, "ip", "127.0.0.1");
        mw_json_kuint(j, "port", 40000 + i % 20000);
        mw_json_obj_end(j);
        mw_json_kobj(j, "destination");
        mw_json_kstr(j, "ip", "127.0.0.1");
        mw_json_kuint(j, "port", 8443);
        mw_json_obj_end(j);
        mw_json_kobj(j, "tls");
        mw_json_kstr(j, "version", "1.2");
        mw_json_kbool(j, "established", true);
        mw_json_kbool(j, "resumed", false);
        mw_json_kobj(j, "client");
        mw_json_kstr(j, "server_name", "www.ex\xc3\xa4mple.test");
        mw_json_kstr(j, "ja3", "e7d705a3286e19ea42f587b344ee6865");
        mw_json_obj_end(j);
        mw_json_obj_end(j);
        if (alert) {
            mw_json_kobj(j, "rule");
            mw_json_kstr(j, "id", rule);
            mw_json_obj_end(j);
            mw_json_kstr(j, "message", "quote \" backslash \\ tab \t bracket ] end");
        }
    }
    if (pad) {
        mw_json_key(j, "pad");
        mw_json_arr_begin(j);
        for (size_t k = 0; k < pad / 8; k++)
            mw_json_int(j, (int64_t)k);
        mw_json_arr_end(j);
    }
    mw_json_obj_end(j);
}

/* Routing facts of an input line (kind/dataset/severity/rule.id). */
static bool route_line(const char *line, size_t len, out_event *ev, char *ds, size_t dsl,
                       char *rule, size_t rl) {
    json_error_t e;
    json_t *r = json_loadb(line, len, 0, &e);
    if (!json_is_object(r)) {
        json_decref(r);
        return false;
    }
    json_t *evo = json_object_get(r, "event");
    const char *kind = json_string_value(json_object_get(evo, "kind"));
    const char *d = json_string_value(json_object_get(evo, "dataset"));
    const char *rid = json_string_value(json_object_get(json_object_get(r, "rule"), "id"));
    ev->kind = kind && !strcmp(kind, "alert")    ? OUT_KIND_ALERT
               : kind && !strcmp(kind, "metric") ? OUT_KIND_METRIC
                                                 : OUT_KIND_EVENT;
    snprintf(ds, dsl, "%s", d ? d : "");
    ev->dataset = ds;
    ev->severity = (int)json_integer_value(json_object_get(evo, "severity"));
    ev->rule_id = NULL;
    if (rid) {
        snprintf(rule, rl, "%s", rid);
        ev->rule_id = rule;
    }
    json_decref(r);
    return true;
}

static void usage(void) {
    fprintf(stderr, "usage: out_driver --output SPEC... [--count N | --input FILE] [--rate EPS] "
                    "[--flush-ms MS] [--drain-ms MS] [--pad BYTES] [--stats FILE]\n");
    exit(2);
}

static unsigned long long num(const char *s) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s) usage();
    return v;
}

int main(int argc, char **argv) {
    const char *specs[16];
    int nspecs = 0;
    unsigned long long count = 1000, rate = 0, pad = 0, flush_ms = 5000, drain_ms = 0, start = 0;
    bool sensor_shutdown = false;
    const char *input = NULL, *stats_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--sensor-shutdown")) {
            sensor_shutdown = true;
            continue;
        }
        if (i + 1 >= argc) usage();
        if (!strcmp(a, "--output") && nspecs < 16)
            specs[nspecs++] = argv[++i];
        else if (!strcmp(a, "--count"))
            count = num(argv[++i]);
        else if (!strcmp(a, "--rate"))
            rate = num(argv[++i]);
        else if (!strcmp(a, "--pad"))
            pad = num(argv[++i]);
        else if (!strcmp(a, "--flush-ms"))
            flush_ms = num(argv[++i]);
        else if (!strcmp(a, "--start"))
            start = num(argv[++i]);
        else if (!strcmp(a, "--drain-ms"))
            drain_ms = num(argv[++i]);
        else if (!strcmp(a, "--input"))
            input = argv[++i];
        else if (!strcmp(a, "--stats"))
            stats_path = argv[++i];
        else
            usage();
    }
    if (nspecs == 0) usage();
    struct sigaction sa = {0};
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    /* As in mitmwatch: a collector that closes its end must not kill the sensor (libcurl with
     * CURLOPT_NOSIGNAL and OpenSSL writes leave SIGPIPE to the application). */
    signal(SIGPIPE, SIG_IGN);

    out_set *o = out_set_new();
    out_set_flush_ms(o, (unsigned)flush_ms);
    char err[512];
    for (int i = 0; i < nspecs; i++) {
        out_sink_cfg cfg;
        out_sink_cfg_init(&cfg);
        if (!out_parse_spec(specs[i], &cfg, err, sizeof err) ||
            !out_add(o, &cfg, err, sizeof err)) {
            fprintf(stderr, "out_driver: %s\n", err);
            return 2;
        }
    }

    mw_buf b;
    mw_buf_init(&b, 16u << 20);
    FILE *in = NULL;
    if (input && !(in = fopen(input, "r"))) {
        fprintf(stderr, "out_driver: %s: %s\n", input, strerror(errno));
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    unsigned long long n = 0, hups = 0;
    double t0 = now_s(), emit_busy = 0;
    for (;;) {
        if (got_hup) {
            got_hup = 0;
            hups++;
            out_reopen(o);
        }
        out_event ev = {0};
        char ds[128], rule[128];
        if (in) {
            ssize_t l = getline(&line, &cap, in);
            if (l < 0) break;
            while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r'))
                line[--l] = '\0';
            if (l == 0 || !route_line(line, (size_t)l, &ev, ds, sizeof ds, rule, sizeof rule))
                continue;
            ev.json = line;
            ev.len = (size_t)l;
        } else {
            if (n >= count) break;
            mw_buf_reset(&b);
            mw_json j;
            mw_json_init(&j, &b);
            synth(&j, start + n, (size_t)pad, &ev);
            if (!j.ok) {
                fprintf(stderr, "out_driver: event too large\n");
                return 2;
            }
            ev.json = (const char *)b.data;
            ev.len = b.len;
        }
        double e0 = now_s();
        out_emit(o, &ev);
        emit_busy += now_s() - e0;
        n++;
        if (rate && n % 10 == 0) {
            double due = t0 + (double)n / (double)rate, now = now_s();
            if (due > now) {
                struct timespec d = {(time_t)(due - now),
                                     (long)((due - now - (double)(time_t)(due - now)) * 1e9)};
                nanosleep(&d, NULL);
            }
        }
    }
    double t_emit = now_s() - t0;
    bool drained = true;
    if (drain_ms) drained = out_flush_ms(o, (unsigned)drain_ms);
    double t_drain = now_s() - t0;
    if (sensor_shutdown) {
        out_drain(o);
        out_close_ms(o, flush_ms < 1000 ? (unsigned)flush_ms : 1000);
    } else {
        out_close(o);
    }
    double t_close = now_s() - t0;
    uint64_t lost = out_report_losses(o, "out_driver");

    mw_buf sb;
    mw_buf_init(&sb, 1u << 20);
    mw_json j;
    mw_json_init(&j, &sb);
    mw_json_obj_begin(&j);
    mw_json_kuint(&j, "emitted", n);
    mw_json_kuint(&j, "hups", hups);
    char num_s[64];
    int l;
#define KDBL(k, v)                                                                                 \
    l = snprintf(num_s, sizeof num_s, "%.6f", (double)(v));                                        \
    mw_json_key(&j, k);                                                                            \
    mw_json_raw(&j, num_s, (size_t)l)
    KDBL("emit_seconds", t_emit);
    KDBL("emit_busy_seconds", emit_busy);
    KDBL("emit_ns_per_event", n ? emit_busy * 1e9 / (double)n : 0);
    KDBL("drain_seconds", t_drain);
    KDBL("close_seconds", t_close);
    KDBL("shutdown_seconds", t_close - t_drain);
    KDBL("delivered_eps", t_drain > 0 ? (double)n / t_drain : 0);
    mw_json_kbool(&j, "drained", drained);
    mw_json_kuint(&j, "lost", lost);
    mw_json_key(&j, "outputs");
    out_stats_json(o, &j);
    mw_json_obj_end(&j);
    FILE *so = stats_path ? fopen(stats_path, "w") : stderr;
    if (!so || !j.ok) {
        fprintf(stderr, "out_driver: cannot write stats\n");
        return 2;
    }
    fwrite(sb.data, 1, sb.len, so);
    fputc('\n', so);
    if (so != stderr) fclose(so);
    out_set_free(o);
    mw_buf_free(&sb);
    mw_buf_free(&b);
    free(line);
    if (in) fclose(in);
    return 0;
}
