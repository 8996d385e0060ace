/* The command-line options every `mitmwatch probe` command shares: the positional target,
 * -4/-6, --timeout MS, -h/--help. Each command keeps its own options and usage text. */
#ifndef PROBE_CLI_H
#define PROBE_CLI_H

#include <stdbool.h>
#include <stdio.h>

typedef struct {
    const char *cmd;    /* "probe cert": the prefix of every message */
    const char *target; /* the positional HOST[:PORT...], NULL until seen */
    int family;         /* AF_UNSPEC, or AF_INET / AF_INET6 from -4 / -6 */
    int timeout_ms;     /* --timeout, 0 when not given */
    int timeout_max_ms; /* the largest --timeout taken; 0: 600000 (10 minutes) */
    void (*usage)(FILE *);
    int exit_code; /* set when probe_cli_arg returns -1: 0 after --help, 2 after an error */
} probe_cli;

/* Looks at argv[i]: returns how many arguments a shared option took (1 or 2), 0 when argv[i]
 * is none of them (the command's own option, or an error for the caller to report), -1 when
 * the command is to exit with c->exit_code (usage printed for -h/--help, one line on stderr
 * for a bad value). */
int probe_cli_arg(probe_cli *c, int argc, char **argv, int i);
/* An argument neither the shared nor the command's options took: one line, the usage, 2. */
int probe_cli_reject(const probe_cli *c, const char *arg);
/* After the option loop: true when a target was given, else the usage on stderr. */
bool probe_cli_has_target(const probe_cli *c);

#endif
