/* out_parse_spec: every --output form maps onto the exact out_sink_cfg fields, and malformed
 * specs fail with a message naming the problem. Also out_event_time on the @timestamp prefix. */
#include <stdio.h>
#include <string.h>

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
    {
        out_sink_cfg t = parse_ok("text:/var/log/mw/fast.log?handshakes=1&rotate=10M");
        EXPECT(t.type == OUT_SINK_FILE && t.text && t.text_handshakes);
        EXPECT(!strcmp(t.path, "/var/log/mw/fast.log") && t.rotate_bytes == 10u << 20);
        EXPECT(!strcmp(t.name, "text:/var/log/mw/fast.log"));
        t = parse_ok("text:-");
        EXPECT(t.type == OUT_SINK_STDOUT && t.text && !t.text_handshakes);
        parse_bad("text:", "text:PATH or text:-");
    }
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
