/* Stand-alone entry for the certificate fetch, until tools/mitmwatch.c dispatches
 * "mitmwatch probe cert" to cmd_probe_cert. Accepts the same command line:
 * mitmwatch-probe-cert probe cert HOST[:PORT] ... (or without "probe cert"). */
#include <string.h>

int cmd_probe_cert(int argc, char **argv);

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "probe") == 0 && strcmp(argv[2], "cert") == 0)
        return cmd_probe_cert(argc - 2, argv + 2);
    return cmd_probe_cert(argc, argv);
}
