/* Stand-alone `mitmwatch-trace` for the trace tests until tools/mitmwatch.c dispatches
 * `probe trace` to cmd_probe_trace (argv[0] is skipped either way). */
int cmd_probe_trace(int argc, char **argv);

int main(int argc, char **argv) {
    return cmd_probe_trace(argc, argv);
}
