/* `mitmwatch-ct ARGS` = `mitmwatch ct ARGS`, for the stand-alone build only. */
int cmd_ct(int argc, char **argv);

int main(int argc, char **argv) {
    static char ct[] = "ct";
    argv[0] = ct;
    return cmd_ct(argc, argv);
}
