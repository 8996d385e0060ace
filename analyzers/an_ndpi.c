#include "an_ndpi.h"

#include <ctype.h>
#include <ndpi/ndpi_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DPI_MAX_PACKETS 32 /* per flow, whatever nDPI would still like to see */
#define DPI_POOL_MAX 1024u /* released flow states kept for reuse */

struct dpi_ctx {
    struct ndpi_detection_module_struct *ndpi;
    dpi_flow *free_flows;
    unsigned nfree;
};

struct dpi_flow {
    struct dpi_flow *next_free;
    uint32_t packets;
    bool done;
    bool stopped; /* by dpi_stop: nDPI did not see the rest of the handshake */
    bool settled; /* done: the verdict below is final and nDPI's buffers are freed */
    ndpi_protocol proto;
    ndpi_protocol final_proto; /* settled: proto, or nDPI's give-up answer when unknown */
    ndpi_risk final_risk;
    struct ndpi_flow_struct flow[]; /* sized by ndpi_detection_get_sizeof_ndpi_flow_struct() */
};

dpi_ctx *dpi_new(void) {
    dpi_ctx *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->ndpi = ndpi_init_detection_module(ndpi_no_prefs);
    if (!d->ndpi) {
        free(d);
        return NULL;
    }
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(d->ndpi, &all);
    ndpi_finalize_initialization(d->ndpi);
    return d;
}

void dpi_free(dpi_ctx *d) {
    if (!d)
        return;
    while (d->free_flows) {
        dpi_flow *f = d->free_flows;
        d->free_flows = f->next_free;
        free(f);
    }
    ndpi_exit_detection_module(d->ndpi);
    free(d);
}

/* nDPI will see no more of this flow: its answer is taken now (what dpi_result would compute
 * later from the same state: nothing changes it once no packet is fed) and its per-flow
 * allocations (the TLS message reassembly buffer, up to tens of KiB a flow, outside the
 * sensor's budget) are freed at once instead of when the flow ends. */
static void settle(dpi_ctx *d, dpi_flow *f) {
    if (f->settled)
        return;
    ndpi_protocol p = f->proto;
    if (p.app_protocol == NDPI_PROTOCOL_UNKNOWN && p.master_protocol == NDPI_PROTOCOL_UNKNOWN) {
        uint8_t guessed = 0;
        p = ndpi_detection_giveup(d->ndpi, f->flow, 0, &guessed);
    }
    f->final_proto = p;
    f->final_risk = f->flow->risk;
    ndpi_free_flow_data(f->flow);
    memset(f->flow, 0, ndpi_detection_get_sizeof_ndpi_flow_struct());
    f->settled = true;
}

bool dpi_packet(dpi_ctx *d, dpi_flow **fp, const uint8_t *l3, uint32_t l3_len, uint64_t ts_us) {
    dpi_flow *f = *fp;
    if (!d)
        return false;
    if (!f) {
        size_t sz = sizeof *f + ndpi_detection_get_sizeof_ndpi_flow_struct();
        if (d->free_flows) {
            f = d->free_flows;
            d->free_flows = f->next_free;
            d->nfree--;
            memset(f, 0, sz);
        } else if (!(f = calloc(1, sz))) {
            return false;
        }
        *fp = f;
    }
    if (f->done)
        return false;
    if (l3_len > 0xffff)
        l3_len = 0xffff;
    f->proto = ndpi_detection_process_packet(d->ndpi, f->flow, l3, (unsigned short)l3_len,
                                             ts_us / 1000);
    f->packets++;
    bool classified = f->proto.app_protocol != NDPI_PROTOCOL_UNKNOWN ||
                      f->proto.master_protocol != NDPI_PROTOCOL_UNKNOWN;
    if ((classified && !ndpi_extra_dissection_possible(d->ndpi, f->flow)) ||
        f->packets >= DPI_MAX_PACKETS) {
        f->done = true;
        settle(d, f);
    }
    return !f->done;
}

void dpi_result(dpi_ctx *d, dpi_flow *f, char *name, size_t namelen, uint64_t *risks) {
    name[0] = '\0';
    *risks = 0;
    if (!d || !f)
        return;
    if (!f->settled) {
        f->done = true; /* asked for the answer: nDPI is shown no more */
        settle(d, f);
    }
    ndpi_protocol p = f->final_proto;
    uint16_t id = p.app_protocol != NDPI_PROTOCOL_UNKNOWN ? p.app_protocol : p.master_protocol;
    if (id != NDPI_PROTOCOL_UNKNOWN) {
        const char *n = ndpi_get_proto_name(d->ndpi, id);
        snprintf(name, namelen, "%s", n ? n : "");
        for (char *c = name; *c; c++)
            *c = (char)tolower((unsigned char)*c);
    }
    *risks = f->final_risk;
}

void dpi_stop(dpi_ctx *d, dpi_flow *f) {
    if (f && !f->done) {
        f->done = true;
        f->stopped = true;
    }
    if (d && f)
        settle(d, f);
}

/* What nDPI 4.2's TLS dissector (protocols/tls.c) said of the packets up to the ServerHello's
 * when it was fed them: a weak negotiated suite (ndpi_is_safe_ssl_cipher, as it calls it on the
 * ServerHello) and a fatal alert. */
uint64_t dpi_unseen_risks(const dpi_flow *f, bool have_sh, uint16_t cipher, bool fatal_alert) {
    uint64_t r = 0;
    if (!f || !f->stopped)
        return 0;
    if (have_sh && ndpi_is_safe_ssl_cipher(cipher) == NDPI_CIPHER_WEAK)
        r |= 1ull << NDPI_TLS_WEAK_CIPHER;
    if (fatal_alert)
        r |= 1ull << NDPI_TLS_FATAL_ALERT;
    return r;
}

bool dpi_classified(const dpi_flow *f) {
    return f && (f->proto.app_protocol != NDPI_PROTOCOL_UNKNOWN ||
                 f->proto.master_protocol != NDPI_PROTOCOL_UNKNOWN);
}

void dpi_flow_free(dpi_flow *f) {
    if (!f)
        return;
    ndpi_free_flow_data(f->flow);
    free(f);
}

void dpi_flow_release(dpi_ctx *d, dpi_flow *f) {
    if (!f)
        return;
    if (!d || d->nfree >= DPI_POOL_MAX) {
        dpi_flow_free(f);
        return;
    }
    ndpi_free_flow_data(f->flow);
    f->next_free = d->free_flows;
    d->free_flows = f;
    d->nfree++;
}

const char *dpi_risk_name(unsigned i) {
    return i < NDPI_MAX_RISK ? ndpi_risk2str((ndpi_risk_enum)i) : "unknown";
}
