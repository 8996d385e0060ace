#include "probe_cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define PROBE_TIMEOUT_MAX_MS 600000ul

static int parse_ms(const char *s, unsigned long max, int *out) {
    char *end = NULL;
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || !end || *end || v == 0 || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

int probe_cli_arg(probe_cli *c, int argc, char **argv, int i) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
        c->usage(stdout);
        c->exit_code = 0;
        return -1;
    }
    if (!strcmp(a, "-4")) {
        c->family = AF_INET;
        return 1;
    }
    if (!strcmp(a, "-6")) {
        c->family = AF_INET6;
        return 1;
    }
    if (!strcmp(a, "--timeout") && v) {
        unsigned long max = c->timeout_max_ms > 0 ? (unsigned long)c->timeout_max_ms
                                                  : PROBE_TIMEOUT_MAX_MS;
        if (parse_ms(v, max, &c->timeout_ms) != 0) {
            fprintf(stderr,
                    "mitmwatch %s: --timeout: not a number of milliseconds (1..%lu): %s\n",
                    c->cmd, max, v);
            c->exit_code = 2;
            return -1;
        }
        return 2;
    }
    if (a[0] != '-' && !c->target) {
        c->target = a;
        return 1;
    }
    return 0;
}

int probe_cli_reject(const probe_cli *c, const char *arg) {
    fprintf(stderr, "mitmwatch %s: unexpected argument: %s\n", c->cmd, arg);
    c->usage(stderr);
    return 2;
}

bool probe_cli_has_target(const probe_cli *c) {
    if (!c->target)
        c->usage(stderr);
    return c->target != NULL;
}
