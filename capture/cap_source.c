#include "cap_source.h"

#include <errno.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#ifdef __linux__
#include <linux/if_packet.h>
#endif

struct dispatch_ctx {
    cap_source *src;
    cap_frame_fn fn;
    void *user;
};

static void on_pcap(u_char *u, const struct pcap_pkthdr *h, const u_char *data) {
    struct dispatch_ctx *d = (struct dispatch_ctx *)u;
    uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
    d->fn(d->user, d->src->dlt, ts, data, h->caplen, h->len);
}

bool cap_source_open_file(cap_source *src, const char *path, char *err, size_t errlen) {
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    memset(src, 0, sizeof *src);
    FILE *f = fopen(path, "rb");
    int first = -1;
    /* A source is read by one thread. Once the process has threads, glibc locks the FILE on
     * every fread (libpcap makes two a record): 11% of the reader's time with workers. */
    if (f) __fsetlocking(f, FSETLOCKING_BYCALLER);
    if (f && cap_pcapng_mixed(f, &first)) {
        src->ng = cap_pcapng_open(f);
        if (!src->ng) {
            snprintf(err, errlen, "cannot read %s: out of memory", path);
            return false;
        }
        src->dlt = first;
        snprintf(src->name, sizeof src->name, "%s", path);
        return true;
    }
    if (f) fclose(f);
    /* libpcap reads a file through stdio, whose buffer is a page: 128,000 read(2) calls for a
     * 500 MB capture. A 1 MiB buffer (src->iobuf) makes that 500. */
    f = fopen(path, "rb");
    if (f) __fsetlocking(f, FSETLOCKING_BYCALLER);
    src->iobuf = f ? malloc(CAP_SOURCE_IOBUF) : NULL; /* glibc ignores the size without one */
    if (src->iobuf && setvbuf(f, src->iobuf, _IOFBF, CAP_SOURCE_IOBUF) == 0)
        src->p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
    if (!src->p) {
        if (f) fclose(f); /* not taken by libpcap when it failed */
        free(src->iobuf);
        src->iobuf = NULL;
        /* libpcap's own open says why, in its words */
        src->p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
    }
    if (!src->p) {
        snprintf(err, errlen, "cannot read %s: %s", path, ebuf);
        return false;
    }
    src->dlt = pcap_datalink(src->p);
    snprintf(src->name, sizeof src->name, "%s", path);
    return true;
}

bool cap_source_open_live(cap_source *src, const char *iface, const char *bpf, int snaplen,
                          char *err, size_t errlen) {
    return cap_source_open_live_ex(src, iface, bpf, snaplen, 64 << 20, 0, err, errlen);
}

/* PACKET_FANOUT (packet(7)): the group's sockets share the interface's packets by a hash of
 * the flow, the same for both directions; fragments are reassembled first so that a datagram's
 * pieces hash alike. Joined after pcap_activate, on the socket libpcap opened. */
static bool join_fanout(cap_source *src, unsigned group, char *err, size_t errlen) {
#ifdef PACKET_FANOUT
    int arg = (int)((group & 0xffffu) |
                    ((unsigned)(PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16));
    if (setsockopt(pcap_fileno(src->p), SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) != 0) {
        snprintf(err, errlen, "cannot join fanout group %u on %s: %s", group, src->name,
                 strerror(errno));
        return false;
    }
    return true;
#else
    snprintf(err, errlen, "%s: this system has no PACKET_FANOUT (group %u)", src->name, group);
    return false;
#endif
}

bool cap_source_open_live_ex(cap_source *src, const char *iface, const char *bpf, int snaplen,
                             int buffer_bytes, unsigned fanout_group, char *err, size_t errlen) {
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    memset(src, 0, sizeof *src);
    src->live = true;
    snprintf(src->name, sizeof src->name, "%s", iface);
    src->p = pcap_create(iface, ebuf);
    if (!src->p) {
        snprintf(err, errlen, "cannot open interface %s: %s", iface, ebuf);
        return false;
    }
    pcap_set_snaplen(src->p, snaplen);
    pcap_set_promisc(src->p, 1);
    pcap_set_timeout(src->p, 100);
    pcap_set_buffer_size(src->p, buffer_bytes);
    pcap_set_tstamp_precision(src->p, PCAP_TSTAMP_PRECISION_MICRO);
    int rc = pcap_activate(src->p);
    if (rc < 0) {
        snprintf(err, errlen, "cannot capture on %s: %s", iface, pcap_geterr(src->p));
        pcap_close(src->p);
        src->p = NULL;
        return false;
    }
    src->dlt = pcap_datalink(src->p);
    if ((fanout_group && !join_fanout(src, fanout_group, err, errlen)) ||
        (bpf && *bpf && !cap_source_filter(src, bpf, err, errlen))) {
        pcap_close(src->p);
        src->p = NULL;
        return false;
    }
    return true;
}

/* The filter for link type dlt of a cap_pcapng source, compiled the first time; NULL when it
 * cannot be (then no frame of that type passes). */
static const struct bpf_program *ng_filter(cap_source *src, int dlt) {
    for (int i = 0; i < src->nfilters; i++)
        if (src->filters[i].dlt == dlt) return src->filters[i].ok ? &src->filters[i].prog : NULL;
    if (src->nfilters == CAP_SOURCE_MAX_FILTERS) return NULL;
    int i = src->nfilters++;
    src->filters[i].dlt = dlt;
    pcap_t *dead = pcap_open_dead(dlt, 262144);
    src->filters[i].ok =
        dead && pcap_compile(dead, &src->filters[i].prog, src->bpf, 1, PCAP_NETMASK_UNKNOWN) == 0;
    if (dead) pcap_close(dead);
    return src->filters[i].ok ? &src->filters[i].prog : NULL;
}

bool cap_source_filter(cap_source *src, const char *bpf, char *err, size_t errlen) {
    struct bpf_program prog;
    if (src->ng) {
        /* checked once against the first link type, so a typo is still an error at start */
        pcap_t *dead = pcap_open_dead(src->dlt, 262144);
        bool ok = dead && pcap_compile(dead, &prog, bpf, 1, PCAP_NETMASK_UNKNOWN) == 0;
        if (ok)
            pcap_freecode(&prog);
        else
            snprintf(err, errlen, "bad filter '%s': %s", bpf, dead ? pcap_geterr(dead) : "?");
        if (dead) pcap_close(dead);
        if (ok) src->bpf = strdup(bpf);
        return ok && src->bpf;
    }
    if (pcap_compile(src->p, &prog, bpf, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(err, errlen, "bad filter '%s': %s", bpf, pcap_geterr(src->p));
        return false;
    }
    int rc = pcap_setfilter(src->p, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
        snprintf(err, errlen, "cannot set filter on %s: %s", src->name, pcap_geterr(src->p));
        return false;
    }
    return true;
}

static int ng_dispatch(cap_source *src, int max, cap_frame_fn fn, void *user, char *err,
                       size_t errlen) {
    int n = 0;
    while ((max <= 0 || n < max) && !src->ng_stop) {
        int dlt;
        uint64_t ts;
        const uint8_t *data;
        uint32_t caplen, wire;
        char why[128];
        int rc = cap_pcapng_next(src->ng, &dlt, &ts, &data, &caplen, &wire, why, sizeof why);
        if (rc == 0) return n > 0 ? n : -1;
        if (rc < 0) {
            snprintf(err, errlen, "%s: %s", src->name, why);
            return -2;
        }
        if (src->bpf) {
            const struct bpf_program *prog = ng_filter(src, dlt);
            struct pcap_pkthdr h = {.caplen = caplen, .len = wire};
            if (!prog || !pcap_offline_filter(prog, &h, data)) continue;
        }
        fn(user, dlt, ts, data, caplen, wire);
        n++;
    }
    if (src->ng_stop) {
        src->ng_stop = 0;
        return -3;
    }
    return n;
}

int cap_source_dispatch(cap_source *src, int max, cap_frame_fn fn, void *user, char *err,
                        size_t errlen) {
    if (src->ng) return ng_dispatch(src, max, fn, user, err, errlen);
    struct dispatch_ctx d = {src, fn, user};
    int n = pcap_dispatch(src->p, max, on_pcap, (u_char *)&d);
    if (n == PCAP_ERROR) {
        snprintf(err, errlen, "%s: %s", src->name, pcap_geterr(src->p));
        return -2;
    }
    if (n == PCAP_ERROR_BREAK) return -3;
    if (n == 0 && !src->live) return -1;
    return n;
}

void cap_source_break(cap_source *src) {
    if (src->ng) src->ng_stop = 1;
    if (src->p) pcap_breakloop(src->p);
}

void cap_source_stats(cap_source *src, cap_stats *st) {
    struct pcap_stat ps;
    if (src->live && src->p && pcap_stats(src->p, &ps) == 0) {
        st->pcap_recv += ps.ps_recv;
        st->pcap_drop += ps.ps_drop;
        st->pcap_ifdrop += ps.ps_ifdrop;
    }
}

void cap_source_close(cap_source *src) {
    if (src->p) pcap_close(src->p);
    src->p = NULL;
    free(src->iobuf); /* after pcap_close closed its FILE */
    src->iobuf = NULL;
    cap_pcapng_close(src->ng);
    src->ng = NULL;
    for (int i = 0; i < src->nfilters; i++)
        if (src->filters[i].ok) pcap_freecode(&src->filters[i].prog);
    src->nfilters = 0;
    free(src->bpf);
    src->bpf = NULL;
}
