/* Fuzz target: the CT log list loader (rules/rule_ct.c) on arbitrary file contents: Google's
 * v3 log_list.json (walked with jansson, converted to OpenSSL's CTLOG config, whose text must
 * stay a config of exactly the listed logs whatever the descriptions hold) or a CTLOG config
 * given as is. Whatever the input, the load either succeeds or fills an error naming the
 * list; nothing leaks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mw_buf.h"
#include "rule_ct.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* the converter alone, on the bytes as given */
    mw_buf conf;
    char err[512] = "";
    mw_buf_init(&conf, 1u << 24);
    if (rule_ct_convert((const char *)data, size, &conf, err, sizeof err) &&
        memchr(conf.data, '\0', conf.len))
        abort(); /* the config text is one C string */
    mw_buf_free(&conf);

    /* the whole load from a file, as the sensor does it */
    char path[] = "/tmp/mitmwatch-fuzz-loglist-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(fd);
    err[0] = '\0';
    rule_ctlogs *l = rule_ctlogs_load(path, err, sizeof err);
    unlink(path);
    if (!l && strncmp(err, "CT log list", 11) != 0 && strcmp(err, "out of memory") != 0)
        abort(); /* every failure says what failed */
    rule_ctlogs_free(l);
    return 0;
}
