/* Test helper: print the registry name tls_cipher_name() gives for hex ids.
 *   tls_names_lookup 0xC02F 1301 ...     ids from the command line
 *   tls_names_lookup < ids               one id a line when there are no arguments
 * Each output line is "0xXXXX NAME", or "0xXXXX -" when the value has no name.
 * Exit 2 on an id that is not 1-4 hex digits with an optional 0x. */
#include "tls_names.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int lookup(const char *arg) {
    const char *p = arg;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) p += 2;
    size_t n = strspn(p, "0123456789abcdefABCDEF");
    if (n == 0 || n > 4 || p[n] != '\0') {
        fprintf(stderr, "tls_names_lookup: not a 16-bit hex id: '%s'\n", arg);
        return 2;
    }
    errno = 0;
    unsigned long v = strtoul(p, NULL, 16);
    if (errno != 0 || v > 0xFFFF) {
        fprintf(stderr, "tls_names_lookup: not a 16-bit hex id: '%s'\n", arg);
        return 2;
    }
    const char *name = tls_cipher_name((uint16_t)v);
    printf("0x%04lX %s\n", v, name ? name : "-");
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            if (lookup(argv[i]) != 0) return 2;
        }
        return 0;
    }
    char line[64];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0') continue;
        if (lookup(line) != 0) return 2;
    }
    return 0;
}
