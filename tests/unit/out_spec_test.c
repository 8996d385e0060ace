/* out_parse_spec: every --output form maps onto the exact out_sink_cfg fields, and malformed
 * specs fail with a message naming the problem. Also out_event_time on the @timestamp prefix,
 * and the disk spool (out_spool.c): order, commit/rewind, reopen, a torn tail, the cap. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "out.h"
#include "out_sink.h"

static int failures;

#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);                    \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static out_sink_cfg parse_ok(const char *spec) {
    out_sink_cfg c;
    char err[256] = "";
    out_sink_cfg_init(&c);
    if (!out_parse_spec(spec, &c, err, sizeof err)) {
        fprintf(stderr, "spec %s failed: %s\n", spec, err);
        failures++;
    }
    return c;
}

static out_item *item(const char *json, const char *rule, const char *ds) {
    size_t jl = strlen(json), rl = rule ? strlen(rule) : 0, dl = strlen(ds);
    out_item *it = malloc(sizeof *it + jl + rl + dl + 3);
    it->len = (uint32_t)jl;
    it->kind = rule ? OUT_KIND_ALERT : OUT_KIND_EVENT;
    it->severity = rule ? 3 : 0;
    memcpy(it->data, json, jl + 1);
    it->rule_off = rule ? (uint32_t)jl + 1 : 0;
    memcpy(it->data + jl + 1, rule ? rule : "", rl + 1);
    it->ds_off = (uint32_t)(jl + 1 + rl + 1);
    memcpy(it->data + it->ds_off, ds, dl + 1);
    return it;
}

static bool same_item(const out_item *a, const out_item *b) {
    const char *ra = out_item_rule(a), *rb = out_item_rule(b);
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0 && a->kind == b->kind &&
           a->severity == b->severity && !ra == !rb && (!ra || strcmp(ra, rb) == 0) &&
           strcmp(out_item_dataset(a), out_item_dataset(b)) == 0;
}

static void spool_test(void) {
    char dir[] = "/tmp/mw-spool-test.XXXXXX";
    EXPECT(mkdtemp(dir) != NULL);
    char err[512];
    uint64_t pending = 99;
    out_spool *sp = out_spool_open(dir, 1u << 20, &pending, err, sizeof err);
    EXPECT(sp && pending == 0);
    if (!sp) return;
    uint64_t p2;
    EXPECT(out_spool_open(dir, 1u << 20, &p2, err, sizeof err) == NULL && strstr(err, "in use"));
    out_item *in[3] = {item("{\"a\":1}", NULL, "mitmwatch.tls"),
                       item("{\"b\":2}", "cert.unknown", "mitmwatch.alert"),
                       item("{\"c\":3}", NULL, "mitmwatch.stats")};
    EXPECT(out_spool_append(sp, in, 3) == 3);
    out_item *out[4] = {0};
    EXPECT(out_spool_read(sp, out, 2) == 2 && same_item(out[0], in[0]) && same_item(out[1], in[1]));
    free(out[0]);
    free(out[1]);
    out_spool_rewind(sp); /* not delivered: read again, in order */
    EXPECT(out_spool_read(sp, out, 4) == 3 && same_item(out[2], in[2]));
    for (int i = 0; i < 3; i++)
        free(out[i]);
    out_spool_rewind(sp);
    EXPECT(out_spool_read(sp, out, 1) == 1 && same_item(out[0], in[0]));
    free(out[0]);
    EXPECT(out_spool_commit(sp)); /* the first one delivered */
    out_spool_close(sp);
    sp = out_spool_open(dir, 1u << 20, &pending, err, sizeof err);
    EXPECT(sp && pending == 2);
    EXPECT(sp && out_spool_read(sp, out, 4) == 2 && same_item(out[0], in[1]) &&
           same_item(out[1], in[2]));
    free(out[0]);
    free(out[1]);
    out_spool_close(sp);
    /* A torn last record (a crash in the middle of an append) is cut at the next open. */
    char path[600];
    snprintf(path, sizeof path, "%s/spool.dat", dir);
    int fd = open(path, O_WRONLY | O_APPEND);
    EXPECT(fd >= 0 && write(fd, "\x40\0\0\0\0", 5) == 5);
    close(fd);
    sp = out_spool_open(dir, 1u << 20, &pending, err, sizeof err);
    EXPECT(sp && pending == 2);
    out_spool_close(sp);
    /* The cap: what does not fit is refused. */
    sp = out_spool_open(dir, 4096, &pending, err, sizeof err);
    out_item *many[100];
    for (int i = 0; i < 100; i++)
        many[i] = item("{\"padding\":\"0123456789012345678901234567890123456789\"}", NULL, "d");
    size_t fit = sp ? out_spool_append(sp, many, 100) : 0;
    EXPECT(fit > 10 && fit < 100);
    for (int i = 0; i < 100; i++)
        free(many[i]);
    out_spool_close(sp);
    for (int i = 0; i < 3; i++)
        free(in[i]);
    snprintf(path, sizeof path, "rm -rf %s", dir);
    EXPECT(system(path) == 0);
}

static void parse_bad(const char *spec, const char *want_in_err) {
    out_sink_cfg c;
    char err[256] = "";
    out_sink_cfg_init(&c);
    if (out_parse_spec(spec, &c, err, sizeof err)) {
        fprintf(stderr, "spec %s parsed, expected an error\n", spec);
        failures++;
    } else if (!strstr(err, want_in_err)) {
        fprintf(stderr, "spec %s: error \"%s\" lacks \"%s\"\n", spec, err, want_in_err);
        failures++;
    }
}

int main(void) {
    out_sink_cfg c = parse_ok("syslog+tcp://127.0.0.1:5514?filter=alert");
    EXPECT(c.type == OUT_SINK_SYSLOG && c.transport == OUT_SYSLOG_TCP);
    EXPECT(!strcmp(c.host, "127.0.0.1") && c.port == 5514);
    EXPECT(c.kinds_mask == 1u << OUT_KIND_ALERT && c.format == OUT_SYSLOG_5424);
    EXPECT(c.framing == OUT_FRAMING_OCTET && c.facility == 16);
    EXPECT(!strcmp(c.name, "syslog+tcp://127.0.0.1:5514"));

    c = parse_ok("syslog://[::1]?format=3164&facility=local3&framing=lf&app=mw");
    EXPECT(c.transport == OUT_SYSLOG_UDP && !strcmp(c.host, "::1") && c.port == 514);
    EXPECT(c.format == OUT_SYSLOG_3164 && c.facility == 19 && c.framing == OUT_FRAMING_LF);
    EXPECT(!strcmp(c.app_name, "mw"));

    c = parse_ok("syslog:///dev/log");
    EXPECT(c.transport == OUT_SYSLOG_UNIX && !strcmp(c.path, "/dev/log"));
    EXPECT(c.format == OUT_SYSLOG_3164);

    c = parse_ok("fluentd://127.0.0.1:24224?tag=mitmwatch&ack=1&queue=10k&batch=64");
    EXPECT(c.type == OUT_SINK_FLUENTD && c.port == 24224 && c.ack);
    EXPECT(!strcmp(c.tag, "mitmwatch") && c.queue_max == 10240 && c.batch_max == 64);

    c = parse_ok("hec+http://127.0.0.1:8088?token=XY%3DZ&dataset=mitmwatch.alert,mitmwatch.tls");
    EXPECT(c.type == OUT_SINK_HEC);
    EXPECT(!strcmp(c.url, "http://127.0.0.1:8088/services/collector/event"));
    EXPECT(!strcmp(c.token, "XY=Z") && c.ndatasets == 2);
    EXPECT(!strcmp(c.datasets[1], "mitmwatch.tls") && c.tls_verify);
    EXPECT(!strcmp(c.name, "hec+http://127.0.0.1:8088")); /* no token in the stats */

    c = parse_ok(
        "bulk+https://es.example.test:9200/logs/_bulk?index=mitmwatch-%Y.%m.%d&tls_verify=0"
        "&ca=/etc/ca.pem&user=u&password=p");
    EXPECT(c.type == OUT_SINK_BULK && !c.tls_verify);
    EXPECT(!strcmp(c.url, "https://es.example.test:9200/logs/_bulk"));
    EXPECT(!strcmp(c.index, "mitmwatch-%Y.%m.%d") && !strcmp(c.ca_file, "/etc/ca.pem"));
    EXPECT(!strcmp(c.user, "u") && !strcmp(c.password, "p"));

    c = parse_ok("bulk+http://127.0.0.1:9200");
    EXPECT(!strcmp(c.url, "http://127.0.0.1:9200/_bulk"));

    c = parse_ok("file:///var/log/x.json?rotate=100M&keep=3");
    EXPECT(c.type == OUT_SINK_FILE && !strcmp(c.path, "/var/log/x.json"));
    EXPECT(c.rotate_bytes == 100ull << 20 && c.rotate_keep == 3);

    c = parse_ok("/tmp/a?b.json");
    EXPECT(c.type == OUT_SINK_FILE && !strcmp(c.path, "/tmp/a?b.json"));
    c = parse_ok("-");
    EXPECT(c.type == OUT_SINK_STDOUT);

    parse_bad("hec+http://127.0.0.1:8088", "token");
    parse_bad("syslog+tcp://127.0.0.1:70000", "port");
    parse_bad("syslog+tcp://127.0.0.1:0", "port");
    parse_bad("fluentd://h:1?ack=maybe", "ack");
    parse_bad("fluentd://h:1?colour=red", "unknown output option");
    parse_bad("fluentd://h:1?filter=alerts", "unknown event.kind");
    parse_bad("fluentd://h:1?queue=12x", "bad number");
    parse_bad("kafka://h:1", "unknown scheme");
    parse_bad("syslog+tcp://[::1:514", "]");
    parse_bad("file:///x?keep=0", "keep");

    {
        out_sink_cfg r = parse_ok("relp://127.0.0.1?spool=/var/spool/mw&spool_max=1G&linger=5");
        EXPECT(r.type == OUT_SINK_RELP && r.port == 2514 && r.spool_max == (1ull << 30) &&
               strcmp(r.spool_dir, "/var/spool/mw") == 0 && r.linger_ms == 5);
        out_sink_cfg f = parse_ok("fluentd://h:1?ack=1&ack_timeout=700&flush_budget=2500");
        EXPECT(f.ack_timeout_ms == 700 && f.flush_ms == 2500 && f.linger_ms == 20);
        out_sink_cfg sy = parse_ok("syslog+tcp://h:1");
        EXPECT(sy.linger_ms == 0);
        parse_bad("file:///tmp/x.json?spool=/tmp/s", "spool=");
        parse_bad("relp://h?spool_max=100", "spool_max");
    }
    spool_test();

    int64_t sec;
    int32_t usec;
    const char *ev = "{\"@timestamp\":\"2026-11-28T14:10:45.123456Z\",\"event\":{}}";
    EXPECT(out_event_time(ev, strlen(ev), &sec, &usec) && sec == 1795875045 && usec == 123456);
    const char *ev2 = "{\"@timestamp\":\"2026-11-28T14:10:45Z\"}";
    EXPECT(out_event_time(ev2, strlen(ev2), &sec, &usec) && sec == 1795875045 && usec == 0);
    const char *ev3 = "{\"@timestamp\":\"2026-13-28T14:10:45Z\"}";
    EXPECT(!out_event_time(ev3, strlen(ev3), &sec, &usec));
    const char *ev4 = "{\"event\":{}}";
    EXPECT(!out_event_time(ev4, strlen(ev4), &sec, &usec));

    if (failures)
        fprintf(stderr, "%d failures\n", failures);
    else
        printf("out_spec_test: all passed\n");
    return failures ? 1 : 0;
}
